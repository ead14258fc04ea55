"""Writes the sample yard "Hull H1042": a Supramax bulk carrier as another design system would export it.

The yard is in the open yard format (`knowledge.yardformat`) but shaped like a hull-and-outfitting export from a
design system, not like Shipbrain's synthetic yard: the hull number and slashes in the hull's ids (`H1042/DB03`,
`H1042/DB03-P04 PL0202`), welds as `W-DB03-00017`, pipe spools as `SP-301-07 2"`; the yard's own kinds (`BLK`,
`PANEL`, `CPANEL`, `SUB`, `PLATE`, `PROFILE`, `SEAM`, `SPOOL`, `TRAY`, `DUCT`, `EQUIP`, `WP`, `RES`, `SYS`,
`PIPELINE`) and columns (weld thickness in inches, seam length and part sizes in mm, weights in kg, the yard's
welding process codes, ISO 6947 positions, class-society steel names, booked time in minutes). The nodes come in
one table per object class, as such exports do: `hull` (blocks, panels, sub-assemblies, plates, profiles),
`seams`, `outfit` (systems, pipelines, spools, cable trays, ducts, equipment), `work_packages` (the one CSV) and
`resources`; plus `edges`, `calendar` and `actuals`.

As an ERP's planning export would, it carries the plan: each seam's and item's planning norm (`NORM_MH`, man-hours),
each item's outfitting stage (`INSTALL`: PRE-OUTFIT, BLOCK-OUTFIT, ONBOARD), block and zone, the work package
that makes each hull node or erects each block (`WP_REF`), and each work package's block, work centre, crane,
crew, estimate (at least the norms of its seams and items) and planned dates. The plan is a feasible schedule:
each block's packages follow one another (fabrication, assembly, block outfitting, painting, erection: the `WP`
edges), each erection follows the blocks it rests on, each on-board package the erection of the blocks its items
sit on, every package on the yard's working days and within its resources' capacity.

Everything comes from one seeded generator and is written in a fixed order, so running the script again gives the
same bytes (with the same pyarrow: a Parquet file names its writer's version).

Usage: `python knowledge/samples/bulk_carrier/make.py [--out DIR]` (default: this script's directory).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

__all__ = ["SEED", "main", "write_yard"]

SEED: Final = 1042
HULL: Final = "H1042"
DAY0: Final = dt.date(2025, 9, 1)
"""Steel cutting: day 0 of the plan."""
EXPORTED: Final = dt.date(2026, 1, 9)
"""The day of the export, half-way through erection: actuals exist for work started by then."""
ROW_GROUP: Final = 1 << 15

SPEC: Final = """\
# Hull H1042, a 63,500 dwt bulk carrier: written by make.py (seed 1042); see README.md.
format = "shipbrain-yard/1"
name = "Hull H1042, 63,500 dwt bulk carrier"
day0 = 2025-09-01
kinds = ["SYS", "PIPELINE"]

[roles]
block = "BLK"
assembly = ["PANEL", "CPANEL"]
sub_assembly = "SUB"
part = ["PLATE", "PROFILE"]
joint = "SEAM"
outfitting_item = ["SPOOL", "TRAY", "DUCT", "EQUIP"]
work_package = "WP"
resource = "RES"

[hierarchies]
system = "SYSTEM_REF"            # spool -> pipeline -> system; tray, duct, equipment -> system

[tables]
nodes = ["hull", "seams", "outfit", "work_packages", "resources"]
edges = "edges"
calendar = "calendar"
actuals = "actuals"

[columns.block]
block_type = { column = "BLOCK_CAT", values = { BTM = "bottom", HOP = "bottom", SHL = "side", BHD = "side", \
TST = "side", DCK = "deck", HCO = "deck", ACC = "superstructure" } }
zone = "ZONE"
weight_t = { column = "WEIGHT_KG", unit = "kg" }
erection_sequence = "ERECT_SEQ"
planned_erection = "ERECT_DATE"
work_package = "WP_REF"          # the package that erects it

[columns.assembly]
weight_t = { column = "WEIGHT_KG", unit = "kg" }
work_package = "WP_REF"          # the package that makes it, as for sub-assemblies and parts

[columns.sub_assembly]
weight_t = { column = "WEIGHT_KG", unit = "kg" }
work_package = "WP_REF"

[columns.part]
work_package = "WP_REF"
grade = { column = "MATERIAL", values = { "NV-A" = "A", "NV-A32" = "AH32", "NV-A36" = "AH36", \
"NV-D36" = "DH36", "NV-E36" = "EH36" } }
thickness_mm = "THK_MM"
length_m = { column = "LEN_MM", unit = "mm" }
width_m = { column = "WIDTH_MM", unit = "mm" }
weight_kg = "WEIGHT_KG"

[columns.joint]
level = { column = "WELD_STAGE", values = { SUB = "sub_assembly", ASM = "assembly", BLK = "block", \
ERC = "erection" } }
joint_type = { column = "SEAM_TYPE", values = { BW = "butt", FW = "fillet", DFW = "fillet" } }
process = { column = "WELD_PROC", values = { "SAW-T" = "SAW", "SAW-S" = "SAW", "FCAW-G" = "FCAW", \
"GMAW-P" = "GMAW", "SMAW-7018" = "SMAW" } }
position = { column = "WPOS", values = { "PA-BW" = "1G", "PC-BW" = "2G", "PF-BW" = "3G", "PE-BW" = "4G", \
"PA-FW" = "1F", "PB-FW" = "2F", "PF-FW" = "3F", "PD-FW" = "4F" } }
access = { column = "ACCESSIBILITY", values = { OPEN = "good", CONFINED = "restricted", TANK = "poor" } }
one_sided = "ONE_SIDED"
grade = { column = "BASE_MAT", values = { "NV-A" = "A", "NV-A32" = "AH32", "NV-A36" = "AH36", \
"NV-D36" = "DH36", "NV-E36" = "EH36" } }
thickness_mm = { column = "T_IN", unit = "in" }
length_m = { column = "SEAM_LEN_MM", unit = "mm" }
fit_up_gap_mm = "GAP_MM"
work_package = "WP_REF"
norm_hours = "NORM_MH"

[columns.outfitting_item]
item_kind = { column = "ITEM_CLASS", values = { PIPE = "pipe_spool", CABLEWAY = "cable_tray", VENT = "hvac_duct", \
EQUIPMENT = "equipment" } }
system = "SYSTEM_DESC"
length_m = { column = "LENGTH_MM", unit = "mm" }
diameter_mm = { column = "DIA_IN", unit = "in" }
weight_t = { column = "WEIGHT_KG", unit = "kg" }
work_package = "WP_REF"
norm_hours = "NORM_MH"
stage = { column = "INSTALL", values = { PRE-OUTFIT = "on-unit", BLOCK-OUTFIT = "on-block", ONBOARD = "on-board" } }
block = "BLOCK_REF"
zone = "ZONE"

[columns.work_package]
trade = { column = "CRAFT", values = { HUL = "hull fabrication", WLD = "welding", OFT = "block outfitting", \
PNT = "painting", ERC = "erection", PIP = "piping", ELE = "electrical", HVC = "hvac", MEC = "mechanical" } }
estimated_hours = "EST_MH"
resource = "WORKCENTER"
crane = "CRANE"
block = "BLOCK_REF"
crew = "CREW_SIZE"
planned_start = "PLAN_START"
planned_finish = "PLAN_END"

[columns.resource]
resource_kind = "RES_TYPE"
capacity = "CAPACITY"
lift_capacity_t = "SWL_T"

[columns.actuals]
hours = { column = "BOOKED_MIN", unit = "min" }
start = "ACT_START"
finish = "ACT_FINISH"
defect = { column = "NDT_RESULT", values = { ACC = false, REJ = true } }
defect_class = "DEFECT"
rework = "REPAIRED"
"""


# -- tables ---------------------------------------------------------------------------------------------------


class Rows:
    """One table's columns, filled a few rows at a time; a column not given in `add` gets nulls."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.columns: dict[str, list[object]] = {name: [] for name in schema.names}
        self.count = 0

    def add(self, n: int = 1, **values: object) -> None:
        """Append `n` rows: each value is a sequence of `n` values or one value for every row."""
        unknown = values.keys() - self.columns.keys()
        if unknown:
            raise KeyError(f"no columns {sorted(unknown)} in this table")
        for name, column in self.columns.items():
            value = values.get(name)
            if isinstance(value, np.ndarray):
                column.extend(value.tolist())
            elif isinstance(value, list | tuple):
                column.extend(value)
            else:
                column.extend([value] * n)
            if len(column) != self.count + n:
                raise ValueError(f"column {name!r}: {len(column) - self.count} values for {n} rows")
        self.count += n

    def table(self) -> pa.Table:
        """The rows as an Arrow table of the schema's types."""
        arrays = [pa.array(self.columns[f.name], type=f.type) for f in self.schema]
        return pa.Table.from_arrays(arrays, schema=self.schema)


def _schema(*columns: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([pa.field(name, kind) for name, kind in columns])


S, F, INT, D = pa.string(), pa.float64(), pa.int32(), pa.date32()
_CORE = (("id", S), ("kind", S), ("parent", S))
HULL_SCHEMA: Final = _schema(
    *_CORE,
    ("name", S),
    ("BLOCK_CAT", S),
    ("ZONE", S),
    ("ERECT_SEQ", INT),
    ("ERECT_DATE", D),
    ("PART_TYPE", S),
    ("SECTION", S),
    ("MATERIAL", S),
    ("THK_MM", F),
    ("LEN_MM", INT),
    ("WIDTH_MM", INT),
    ("WEIGHT_KG", F),
    ("WP_REF", S),
)
SEAM_SCHEMA: Final = _schema(
    *_CORE,
    ("SEAM_TYPE", S),
    ("WELD_PROC", S),
    ("WPOS", S),
    ("WELD_STAGE", S),
    ("ACCESSIBILITY", S),
    ("ONE_SIDED", S),
    ("BASE_MAT", S),
    ("T_IN", F),
    ("SEAM_LEN_MM", INT),
    ("GAP_MM", F),
    ("NDT_REQ", S),
    ("WP_REF", S),
    ("NORM_MH", F),
)
OUTFIT_SCHEMA: Final = _schema(
    *_CORE,
    ("name", S),
    ("SYSTEM_REF", S),
    ("SYSTEM_DESC", S),
    ("ITEM_CLASS", S),
    ("INSTALL", S),
    ("BLOCK_REF", S),
    ("ZONE", S),
    ("PIPE_CLASS", S),
    ("DIA_IN", F),
    ("TRAY_W_MM", INT),
    ("LENGTH_MM", INT),
    ("WEIGHT_KG", F),
    ("WP_REF", S),
    ("NORM_MH", F),
)
WP_SCHEMA: Final = _schema(
    *_CORE,
    ("name", S),
    ("CRAFT", S),
    ("BLOCK_REF", S),
    ("WORKCENTER", S),
    ("CRANE", S),
    ("CREW_SIZE", INT),
    ("EST_MH", F),
    ("PLAN_START", D),
    ("PLAN_END", D),
    ("STATUS", S),
)
RES_SCHEMA: Final = _schema(*_CORE, ("name", S), ("RES_TYPE", S), ("CAPACITY", INT), ("SWL_T", F))
EDGE_SCHEMA: Final = _schema(("before", S), ("after", S), ("LINK", S))
CALENDAR_SCHEMA: Final = _schema(("date", D), ("resource", S), ("REASON", S))
ACTUALS_SCHEMA: Final = _schema(
    ("id", S),
    ("BOOKED_MIN", F),
    ("ACT_START", D),
    ("ACT_FINISH", D),
    ("NDT_RESULT", S),
    ("DEFECT", S),
    ("REPAIRED", S),
)


# -- the hull: blocks and their erection ----------------------------------------------------------------------


@dataclass
class Block:
    """One hull block and what the script knows about it while writing."""

    code: str
    """Block code without the hull number (`DB03`)."""
    cat: str
    """The yard's block category (`BLOCK_CAT`)."""
    ring: int
    """Ring along the ship: 0 aft body, 1 engine room, 2-6 holds 5 to 1, 7 fore body."""
    tier: int
    """Height in the ring: 0 bottom ... 5 hatch coaming; superstructure decks above."""
    side: str
    """P, S or C (centre / full breadth)."""
    zone: str
    name: str
    thickness: tuple[float, float]
    """Range of its plates' thickness, mm."""
    grades: tuple[str, ...]
    """Its plates' steel, as the yard names it (`NV-A36`), most used first."""
    curved: bool = False
    seq: int = 0
    supports: list[Block] = field(default_factory=list)
    panels: list[str] = field(default_factory=list)
    panel_thk: list[float] = field(default_factory=list)
    weight_kg: float = 0.0
    row: int = 0
    """Its row in the hull table (its planned erection day is written there once planned)."""
    seam_count: int = 0
    parts: int = 0
    items: int = 0
    item_hours: float = 0.0
    """Norm hours of the items fitted on it before erection."""
    erect: dt.date = DAY0
    """Planned erection day in the dock (the first day of its erection package), once planned."""

    @property
    def id(self) -> str:
        """The block's node id."""
        return f"{HULL}/{self.code}"

    @property
    def family(self) -> str:
        """The block code's letters (`DB`, `SS`, `ER`...)."""
        return self.code[:2]


_HIGH = ("NV-A36", "NV-A32", "NV-D36")
_DECK = ("NV-D36", "NV-A36", "NV-E36")
_MILD = ("NV-A", "NV-A32")


def blocks() -> list[Block]:
    """The 81 blocks of the hull, in the order the design system lists them (aft to fore, bottom to top)."""
    out = [
        Block("AB01", "BTM", 0, 0, "C", "AFT BODY", "Stern bottom", (12, 18), _HIGH, curved=True),
        Block("AB02", "BTM", 0, 0, "C", "AFT BODY", "Rudder trunk and skeg", (14, 25), _HIGH, curved=True),
        Block("AB03", "SHL", 0, 1, "C", "AFT BODY", "Aft peak tank", (11, 16), _HIGH, curved=True),
        Block("AB04", "SHL", 0, 2, "C", "AFT BODY", "Stern frame and transom", (12, 20), _HIGH, curved=True),
        Block("AB05", "DCK", 0, 3, "C", "AFT BODY", "Steering gear flat", (9, 13), _MILD),
        Block("AB06", "DCK", 0, 4, "C", "AFT BODY", "Poop deck, aft", (9, 13), _MILD),
        Block("ER01", "BTM", 1, 0, "C", "ENGINE ROOM", "Engine room double bottom, aft", (12, 22), _HIGH),
        Block("ER02", "BTM", 1, 0, "C", "ENGINE ROOM", "Engine room double bottom, fwd", (12, 22), _HIGH),
        Block("ER03", "DCK", 1, 1, "C", "ENGINE ROOM", "Engine room floor flat", (9, 14), _MILD),
        Block("ER04", "SHL", 1, 2, "P", "ENGINE ROOM", "Engine room side, port", (11, 16), _HIGH),
        Block("ER05", "SHL", 1, 2, "S", "ENGINE ROOM", "Engine room side, starboard", (11, 16), _HIGH),
        Block("ER06", "DCK", 1, 3, "C", "ENGINE ROOM", "Engine room 2nd deck", (9, 13), _MILD),
        Block("ER07", "DCK", 1, 4, "C", "ENGINE ROOM", "Upper deck over engine room", (10, 16), _HIGH),
        Block("ER08", "SHL", 1, 5, "C", "ENGINE ROOM", "Engine casing", (7, 10), _MILD),
    ]
    decks = ("거주구 A 갑판", "거주구 B 갑판", "거주구 C 갑판", "거주구 D 갑판", "항해 선교 갑판", "연돌 (funnel)")
    out += [Block(f"SU0{i + 1}", "ACC", 1, 6 + i, "C", "ACCOMMODATION", n, (6, 9), _MILD) for i, n in enumerate(decks)]
    for hold in (5, 4, 3, 2, 1):
        ring = 7 - hold
        where = f"hold {hold}"
        db = 2 * hold - 1
        out += [
            Block(f"DB{db:02d}", "BTM", ring, 0, "C", f"HOLD {hold}", f"Double bottom, {where} aft", (12, 20), _HIGH),
            Block(
                f"DB{db + 1:02d}", "BTM", ring, 0, "C", f"HOLD {hold}", f"Double bottom, {where} fwd", (12, 20), _HIGH
            ),
            Block(
                f"BH{hold}", "BHD", ring, 1, "C", f"HOLD {hold}", f"Corrugated bulkhead aft of {where}", (14, 22), _HIGH
            ),
        ]
        for side, word in (("P", "port"), ("S", "starboard")):
            out += [
                Block(
                    f"HP{hold:02d}{side}",
                    "HOP",
                    ring,
                    1,
                    side,
                    f"HOLD {hold}",
                    f"Hopper tank, {where}, {word}",
                    (12, 18),
                    _HIGH,
                ),
                Block(
                    f"SS{hold:02d}{side}",
                    "SHL",
                    ring,
                    2,
                    side,
                    f"HOLD {hold}",
                    f"Side shell, {where}, {word}",
                    (14, 19),
                    _HIGH,
                ),
                Block(
                    f"TS{hold:02d}{side}",
                    "TST",
                    ring,
                    3,
                    side,
                    f"HOLD {hold}",
                    f"Topside tank, {where}, {word}",
                    (11, 16),
                    _HIGH,
                ),
            ]
        out += [
            Block(f"DK{hold:02d}", "DCK", ring, 4, "C", f"HOLD {hold}", f"Cross deck fwd of {where}", (14, 25), _DECK),
            Block(f"HC{hold}", "HCO", ring, 5, "C", f"HOLD {hold}", f"Hatch coaming, {where}", (15, 30), _DECK),
        ]
    out.append(Block("BH6", "BHD", 6, 1, "C", "HOLD 1", "Bulkhead fwd of hold 1", (14, 20), _HIGH))
    out += [
        Block("FB01", "BTM", 7, 0, "C", "FORE BODY", "Bulbous bow", (13, 20), _HIGH, curved=True),
        Block("FB02", "SHL", 7, 1, "C", "FORE BODY", "Fore peak tank", (12, 17), _HIGH, curved=True),
        Block("FB03", "SHL", 7, 2, "C", "FORE BODY", "Bosun store", (10, 14), _MILD, curved=True),
        Block("FB04", "DCK", 7, 3, "C", "FORE BODY", "Forecastle deck", (10, 14), _HIGH),
        Block("FB05", "DCK", 7, 4, "C", "FORE BODY", "Windlass deck", (12, 18), _HIGH),
    ]
    _erection(out)
    return out


_RING_RANK: Final = {2: 0, 1: 1, 3: 2, 4: 3, 0: 4, 5: 5, 6: 6, 7: 7}
"""Erection starts at hold 5 next to the engine room and spreads aft and forward; the superstructure goes last."""


def _sides_meet(a: Block, b: Block) -> bool:
    return a.side == "C" or b.side == "C" or a.side == b.side


def _erection(blocks: list[Block]) -> None:
    """Number the erection sequence and find what each block is erected onto (always blocks erected earlier)."""
    ordered = sorted(blocks, key=lambda b: (8 if b.cat == "ACC" else _RING_RANK[b.ring], b.tier, b.code))
    for i, b in enumerate(ordered):
        b.seq = i + 1
    for b in blocks:
        below = [o for o in blocks if o.ring == b.ring and o.tier < b.tier and _sides_meet(o, b)]
        top = max((o.tier for o in below), default=-1)
        supports = [o for o in below if o.tier == top]
        supports += [
            o for o in blocks if abs(o.ring - b.ring) == 1 and o.tier == b.tier and o.seq < b.seq and _sides_meet(o, b)
        ]
        supports += [
            o for o in blocks if o.ring == b.ring and o.tier == b.tier and o.side == b.side and o.seq == b.seq - 1
        ]
        b.supports = sorted(supports, key=lambda o: o.seq)


# -- the hull: panels, sub-assemblies, plates, profiles and their seams ---------------------------------------


def _pick(rng: np.random.Generator, words: Sequence[str], p: Sequence[float], n: int) -> list[str]:
    cdf = np.cumsum(p[: len(words)])  # the first weights, as many as there are words
    return [words[i] for i in np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right").tolist()]


_STEEL: Final = 7.85e-6
"""kg per mm^3 of steel."""
_PROFILE_TYPES: Final = ("HP", "FB", "T", "L")


@dataclass
class Parts:
    """Some parts of one owner (a panel or a sub-assembly), as columns."""

    ids: list[str]
    kind: list[str]
    part_type: list[str]
    section: list[str | None]
    material: list[str]
    thk: list[float]
    length: list[int]
    width: list[int | None]
    weight: list[float]

    @property
    def mass(self) -> float:
        """Their weight, kg."""
        return float(sum(self.weight))


class Hull:
    """Writes the hull table's rows and the seams that join them."""

    def __init__(self, rng: np.random.Generator, hull: Rows, seams: Rows, edges: Rows) -> None:
        self.rng = rng
        self.hull = hull
        self.seams = seams
        self.edges = edges
        self.part_no = 0

    # -- parts ----------------------------------------------------------------------------------------------
    def _numbers(self, n: int) -> list[int]:
        first = self.part_no + 1
        self.part_no += n
        return list(range(first, first + n))

    def plates(self, owner: str, b: Block, n: int, thk: float, part_type: str = "PL") -> Parts:
        rng = self.rng
        t = np.clip(thk + rng.choice([0.0, 0.0, 0.0, 1.0, 2.0, -1.0], size=n), 5.0, 40.0)
        if part_type == "PL":
            length = np.round(rng.uniform(6000, 12000, size=n), -1).astype(int)
            width = np.round(rng.uniform(1800, 3000, size=n), -1).astype(int)
            grades = _pick(rng, b.grades, (0.7, 0.2, 0.1), n)
        else:  # webs of sub-assemblies, brackets
            big = 3000 if part_type == "WB" else 1200
            length = np.round(rng.uniform(300, big, size=n), -1).astype(int)
            width = np.round(rng.uniform(300, 900, size=n), -1).astype(int)
            t = np.minimum(t, 14.0) if part_type == "BK" else t
            grades = _pick(rng, _MILD if b.cat == "ACC" else ("NV-A32", "NV-A"), (0.6, 0.4), n)
        weight = np.round(length * width * t * _STEEL, 1)
        return Parts(
            ids=[f"{owner} {part_type}{k:04d}" for k in self._numbers(n)],
            kind=["PLATE"] * n,
            part_type={"PL": ["PLATE"], "WB": ["WEB"], "BK": ["BKT"]}[part_type] * n,
            section=[None] * n,
            material=grades,
            thk=t.tolist(),
            length=length.tolist(),
            width=width.tolist(),
            weight=weight.tolist(),
        )

    def profiles(self, owner: str, b: Block, n: int) -> Parts:
        rng = self.rng
        kinds = _pick(rng, _PROFILE_TYPES, (0.6, 0.15, 0.15, 0.1), n)
        light = b.cat == "ACC"
        height = rng.integers(6, 11, size=n) * 20 if light else rng.integers(8, 16, size=n) * 20
        web = rng.integers(7, 10, size=n) if light else rng.integers(9, 14, size=n)
        length = np.round(rng.uniform(1500, 4500, size=n), -1).astype(int)
        sections: list[str | None] = []
        per_m: list[float] = []
        for kind, h, t in zip(kinds, height.tolist(), web.tolist(), strict=True):
            if kind == "HP":
                sections.append(f"HP{h}x{t}")
                per_m.append(h * t * 1.25 * 7.85e-3)
            elif kind == "FB":
                sections.append(f"FB{h // 2 + 50}x{t}")
                per_m.append((h // 2 + 50) * t * 7.85e-3)
            elif kind == "T":
                sections.append(f"T{2 * h}x{t}+{h // 2}x{t + 4}")
                per_m.append((2 * h * t + h // 2 * (t + 4)) * 7.85e-3)
            else:
                sections.append(f"L{h}x{h // 2}x{t}")
                per_m.append(1.5 * h * t * 7.85e-3)
        grades = _pick(rng, _MILD if light else ("NV-A36", "NV-A32"), (0.7, 0.3), n)
        return Parts(
            ids=[f"{owner} {kind}{k:04d}" for kind, k in zip(kinds, self._numbers(n), strict=True)],
            kind=["PROFILE"] * n,
            part_type=kinds,
            section=sections,
            material=grades,
            thk=[float(t) for t in web.tolist()],
            length=length.tolist(),
            width=[None] * n,
            weight=np.round(length / 1000 * np.asarray(per_m), 1).tolist(),
        )

    def add_parts(self, b: Block, parent: str, parts: Parts) -> None:
        b.parts += len(parts.ids)
        self.hull.add(
            len(parts.ids),
            id=parts.ids,
            kind=parts.kind,
            parent=parent,
            WP_REF=f"WP-{b.code}-FAB",  # cut, then welded into panels and sub-assemblies on the panel line
            PART_TYPE=parts.part_type,
            SECTION=parts.section,
            MATERIAL=parts.material,
            THK_MM=parts.thk,
            LEN_MM=parts.length,
            WIDTH_MM=parts.width,
            WEIGHT_KG=parts.weight,
        )

    # -- seams ----------------------------------------------------------------------------------------------
    def add_seams(
        self,
        b: Block,
        parent: str,
        stage: str,
        members: list[tuple[str, ...]],
        *,
        seam_type: list[str],
        proc: list[str],
        pos: list[str],
        access: list[str],
        one_sided: list[str],
        grade: list[str],
        thk_mm: list[float],
        length: list[int],
        ids: list[str] | None = None,
    ) -> None:
        """Seams welded in `parent` at `stage`; each done after its `members` (edges member -> seam)."""
        rng = self.rng
        n = len(members)
        if not n:
            return
        if ids is None:
            ids = [f"W-{b.code}-{b.seam_count + i + 1:05d}" for i in range(n)]
            b.seam_count += n
        backed = (np.asarray(one_sided) == "Y") & (np.asarray(proc) != "SAW-S")  # on ceramic backing: a root gap
        gap = np.round(np.where(backed, rng.uniform(4.0, 7.0, size=n), rng.uniform(0.0, 1.5, size=n)), 1)
        ndt = [
            ("UT" if t >= 15 else "RT") if st == "BW" else ("MT" if u < 0.1 else "VT")
            for st, t, u in zip(seam_type, thk_mm, rng.random(n).tolist(), strict=True)
        ]
        # panels are welded on the panel line; sub-assemblies (DFW) are fitted onto them in the assembly hall
        wp = "ASM" if stage == "BLK" or seam_type[0] == "DFW" else "ERC" if stage == "ERC" else "FAB"
        self.seams.add(
            n,
            id=ids,
            kind="SEAM",
            parent=parent,
            SEAM_TYPE=seam_type,
            WELD_PROC=proc,
            WPOS=pos,
            WELD_STAGE=stage,
            ACCESSIBILITY=access,
            ONE_SIDED=one_sided,
            BASE_MAT=grade,
            T_IN=[round(t / 25.4, 4) for t in thk_mm],
            SEAM_LEN_MM=length,
            GAP_MM=gap,
            NDT_REQ=ndt,
            WP_REF=f"WP-{b.code}-{wp}",
        )
        before = [m for ms in members for m in ms]
        after = [s for s, ms in zip(ids, members, strict=True) for _ in ms]
        self.edges.add(len(before), before=before, after=after, LINK="WELD")

    def fillets(
        self, b: Block, parent: str, stage: str, onto: Parts, parts: Parts, *, manual: bool, seam_type: str = "FW"
    ) -> None:
        """Each of `parts` fillet-welded onto one of `onto`."""
        rng = self.rng
        n = len(parts.ids)
        if not n:
            return
        base = rng.integers(0, len(onto.ids), size=n).tolist()
        light = b.cat == "ACC"
        if manual:
            proc = _pick(rng, ("FCAW-G", "SMAW-7018", "GMAW-P"), (0.85, 0.1, 0.3 if light else 0.05), n)
            pos = _pick(rng, ("PB-FW", "PF-FW", "PD-FW"), (0.5, 0.4, 0.1), n)
            access = _pick(rng, ("OPEN", "CONFINED", "TANK"), (0.6, 0.35, 0.05), n)
        else:
            proc = _pick(rng, ("FCAW-G", "GMAW-P"), (0.5, 0.5) if light else (0.85, 0.15), n)
            pos = ["PB-FW"] * n
            access = ["OPEN"] * n
        self.add_seams(
            b,
            parent,
            stage,
            [(p, onto.ids[k]) for p, k in zip(parts.ids, base, strict=True)],
            seam_type=[seam_type] * n,
            proc=proc,
            pos=pos,
            access=access,
            one_sided=["N"] * n,
            grade=parts.material,
            thk_mm=[min(t, onto.thk[k]) for t, k in zip(parts.thk, base, strict=True)],
            length=[int(length + (w or 0)) for length, w in zip(parts.length, parts.width, strict=True)],
        )

    def butts(self, b: Block, parent: str, stage: str, plates: Parts, *, curved: bool, shop: str = "SAW-T") -> None:
        """Consecutive plates butt-welded into one skin."""
        rng = self.rng
        n = len(plates.ids) - 1
        if n < 1:
            return
        if curved:
            proc, pos, side = ["FCAW-G"] * n, _pick(rng, ("PA-BW", "PF-BW"), (0.6, 0.4), n), ["Y"] * n
        else:
            proc = _pick(rng, (shop, "SAW-S"), (0.85, 0.15), n)
            pos = ["PA-BW"] * n
            side = _pick(rng, ("Y", "N"), (0.6, 0.4), n)
        self.add_seams(
            b,
            parent,
            stage,
            [(plates.ids[i], plates.ids[i + 1]) for i in range(n)],
            seam_type=["BW"] * n,
            proc=proc,
            pos=pos,
            access=["OPEN"] * n,
            one_sided=side,
            grade=plates.material[:n],
            thk_mm=[min(plates.thk[i], plates.thk[i + 1]) for i in range(n)],
            length=plates.length[:n],
        )

    # -- a block --------------------------------------------------------------------------------------------
    def block(self, b: Block) -> None:
        rng = self.rng
        b.row = row = self.hull.count
        self.part_no = 0
        self.hull.add(
            id=b.id,
            kind="BLK",
            name=b.name,
            BLOCK_CAT=b.cat,
            ZONE=b.zone,
            ERECT_SEQ=b.seq,
            WP_REF=f"WP-{b.code}-ERC",  # ERECT_DATE: once the work packages are planned
        )
        for p in range(1, int(rng.integers(8, 15)) + 1):
            self.panel(b, f"{b.id}-P{p:02d}", curved=b.curved and rng.random() < 0.6)
        self.hull.columns["WEIGHT_KG"][row] = round(b.weight_kg, 1)
        self.block_seams(b)

    def panel(self, b: Block, panel: str, *, curved: bool) -> None:
        rng = self.rng
        row = self.hull.count
        # a panel is finished in the assembly hall, where its sub-assemblies are fitted onto it
        self.hull.add(id=panel, kind="CPANEL" if curved else "PANEL", parent=b.id, WP_REF=f"WP-{b.code}-ASM")
        thk = round(float(rng.uniform(*b.thickness)) * 2) / 2
        plates = self.plates(panel, b, int(rng.integers(4, 11)), thk)
        profiles = self.profiles(panel, b, int(rng.integers(15, 51)))
        brackets = self.plates(panel, b, int(rng.integers(6, 21)), thk, "BK")
        weight = plates.mass + profiles.mass + brackets.mass
        subs: list[tuple[str, Parts]] = []
        for s in range(1, int(rng.integers(0, 5)) + 1):
            sub = f"{panel}-S{s}"
            webs = self.plates(sub, b, int(rng.integers(1, 3)), max(thk - 2, 6.0), "WB")
            face = self.profiles(sub, b, int(rng.integers(2, 7)))
            sub_brackets = self.plates(sub, b, int(rng.integers(1, 6)), thk, "BK")
            mass = webs.mass + face.mass + sub_brackets.mass
            self.hull.add(id=sub, kind="SUB", parent=panel, WEIGHT_KG=round(mass, 1), WP_REF=f"WP-{b.code}-FAB")
            for parts in (webs, face, sub_brackets):
                self.add_parts(b, sub, parts)
            self.butts(b, sub, "SUB", webs, curved=False, shop="SAW-S")
            self.fillets(b, sub, "SUB", webs, face, manual=False)
            self.fillets(b, sub, "SUB", webs, sub_brackets, manual=True)
            subs.append((sub, webs))
            weight += mass
        self.hull.columns["WEIGHT_KG"][row] = round(weight, 1)
        for parts in (plates, profiles, brackets):
            self.add_parts(b, panel, parts)
        self.butts(b, panel, "ASM", plates, curved=curved)
        self.fillets(b, panel, "ASM", plates, profiles, manual=False)
        self.fillets(b, panel, "ASM", profiles, brackets, manual=True)
        for sub, webs in subs:
            length = [int(rng.uniform(3000, 9000))]
            unit = Parts([sub], ["SUB"], [""], [None], webs.material[:1], webs.thk[:1], length, [None], [0.0])
            self.fillets(b, panel, "ASM", plates, unit, manual=True, seam_type="DFW")
        b.panels.append(panel)
        b.panel_thk.append(thk)
        b.weight_kg += weight

    def block_seams(self, b: Block) -> None:
        """Panels joined into the block in the assembly hall."""
        rng = self.rng
        pairs = [(i, i + 1) for i in range(len(b.panels) - 1)]
        pairs += [(i, i + 2) for i in range(len(b.panels) - 2) if rng.random() < 0.3]
        self.joins(b, b.id, "BLK", [(b.panels[i], b.panels[j], b.panel_thk[i], b.panel_thk[j]) for i, j in pairs])

    def joins(
        self,
        b: Block,
        parent: str,
        stage: str,
        pairs: list[tuple[str, str, float, float]],
        ids: list[str] | None = None,
    ) -> None:
        """Seams joining two structures in place: butts and fillets in every position."""
        rng = self.rng
        n = len(pairs)
        tank = b.cat in ("BTM", "HOP", "TST")
        seam_type = _pick(rng, ("BW", "FW"), (0.7, 0.3) if stage == "ERC" else (0.6, 0.4), n)
        light = b.cat == "ACC"
        proc = _pick(rng, ("FCAW-G", "SMAW-7018", "GMAW-P"), (0.85, 0.07, 0.4 if light else 0.03), n)
        butt_pos = _pick(rng, ("PA-BW", "PC-BW", "PF-BW", "PE-BW"), (0.1, 0.3, 0.45, 0.15), n)
        fillet_pos = _pick(rng, ("PB-FW", "PF-FW", "PD-FW"), (0.3, 0.5, 0.2), n)
        access = _pick(rng, ("OPEN", "CONFINED", "TANK"), (0.3, 0.45, 0.25) if tank else (0.55, 0.45, 0.0), n)
        one_sided = [("Y" if rng.random() < 0.6 else "N") if t == "BW" else "N" for t in seam_type]
        self.add_seams(
            b,
            parent,
            stage,
            [(x, y) for x, y, _, _ in pairs],
            seam_type=seam_type,
            proc=proc,
            pos=[bp if t == "BW" else fp for t, bp, fp in zip(seam_type, butt_pos, fillet_pos, strict=True)],
            access=access,
            one_sided=one_sided,
            grade=_pick(rng, b.grades, (0.7, 0.2, 0.1), n),
            thk_mm=[min(tx, ty) for _, _, tx, ty in pairs],
            length=np.round(rng.uniform(3000, 16000, size=n), -1).astype(int).tolist(),
            ids=ids,
        )

    def erection_seams(self, b: Block) -> None:
        """Seams that join a block to the blocks it is erected onto, welded in the dock."""
        rng = self.rng
        pairs: list[tuple[str, str, float, float]] = []
        ids: list[str] = []
        for s in b.supports:
            for k in range(1, int(rng.integers(2, 5)) + 1):
                panel = int(rng.integers(0, len(b.panels)))
                pairs.append((s.id, b.panels[panel], s.panel_thk[-1], b.panel_thk[panel]))
                ids.append(f"WE-{s.code}/{b.code}-{k}")
        self.joins(b, b.id, "ERC", pairs, ids=ids)


# -- outfitting: systems, pipelines, spools, cable trays, ducts, equipment ------------------------------------


@dataclass(frozen=True)
class System:
    """One ship system of the outfitting model and where its items go."""

    code: str
    desc: str
    item_class: str
    """The yard's item class (`ITEM_CLASS`): PIPE, CABLEWAY, VENT or EQUIPMENT."""
    hosts: tuple[str, ...]
    """Block families its items are fitted in."""
    sizes: tuple[float, ...] = ()
    """Pipe (NPS) or duct diameters, inches."""
    count: int = 0
    """Pipelines of a piping system; items of a cable or ventilation system."""
    pipe_class: str | None = None
    craft: str = "PIP"

    @property
    def id(self) -> str:
        """The system's node id."""
        return f"SYS-{self.code}"


SYSTEMS: Final = (
    System("BW", "Ballast water", "PIPE", ("DB", "HP", "TS", "ER"), (6, 8, 10, 12, 14), 30, "CS-STD"),
    System("BIL", "Bilge", "PIPE", ("DB", "ER", "AB", "FB"), (2, 3, 4, 5, 6), 16, "CS-XS"),
    System("FM", "Fire main and deck wash", "PIPE", ("DK", "ER", "SU", "AB", "FB", "HC"), (2, 3, 4, 6), 20, "GALV"),
    System("FO", "Fuel oil", "PIPE", ("ER", "AB", "DB"), (1, 1.5, 2, 3, 4, 6), 24, "CS-XS"),
    System("LO", "Lubricating oil", "PIPE", ("ER",), (1, 1.5, 2, 3, 4, 6), 14, "SS316L"),
    System("CW", "Sea and fresh cooling water", "PIPE", ("ER",), (2, 3, 4, 6, 8, 10, 12), 22, "CuNi 90/10"),
    System("ST", "Steam and condensate", "PIPE", ("ER", "SU"), (0.75, 1, 1.5, 2, 3, 4), 10, "CS-XS"),
    System("CA", "Compressed air", "PIPE", ("ER", "DK"), (0.75, 1, 1.5, 2), 8, "CS-XS"),
    System("SD", "Air vents and sounding", "PIPE", ("DB", "HP", "TS", "DK"), (2, 3, 4), 20, "GALV"),
    System("HYD", "Hatch cover hydraulics", "PIPE", ("HC", "DK"), (1, 1.5), 8, "SS316L"),
    System("SAN", "Fresh water and sanitary", "PIPE", ("SU", "ER"), (1, 1.5, 2, 3), 14, "GALV"),
    System("EXH", "Exhaust gas", "PIPE", ("ER", "SU"), (20, 24, 32), 4, "CS-STD"),
    System("EL-PWR", "Power distribution", "CABLEWAY", ("ER", "SU", "DK", "AB", "FB"), count=320, craft="ELE"),
    System("EL-LGT", "Lighting", "CABLEWAY", ("SU", "ER", "DK", "HC", "AB", "FB", "SS"), count=260, craft="ELE"),
    System("AUT", "Automation and alarm", "CABLEWAY", ("ER", "SU", "DK"), count=200, craft="ELE"),
    System("NAV", "Navigation and communication", "CABLEWAY", ("SU",), count=120, craft="ELE"),
    System("HVAC", "Accommodation air conditioning", "VENT", ("SU",), (6, 8, 10, 12, 16), 300, craft="HVC"),
    System("VENT-ER", "Engine room ventilation", "VENT", ("ER",), (16, 20, 24, 32), 200, craft="HVC"),
    System("VENT-HOLD", "Cargo hold ventilation", "VENT", ("DK", "HC"), (12, 16, 20), 100, craft="HVC"),
    System("PROP", "Propulsion", "EQUIPMENT", ("ER",), craft="MEC"),
    System("PWR", "Power generation", "EQUIPMENT", ("ER",), craft="MEC"),
    System("CARGO", "Cargo hatches and cranes", "EQUIPMENT", ("HC", "DK"), craft="MEC"),
    System("MOOR", "Anchoring and mooring", "EQUIPMENT", ("FB", "AB"), craft="MEC"),
)


@dataclass(frozen=True)
class Equipment:
    """A type of equipment: its tag, names, how many, weight (kg) and length (mm) ranges, host families."""

    system: str
    tag: str
    name: str
    local_name: str | None
    """The name the yard's drawings use (Korean), for some."""
    count: int
    weight_kg: tuple[int, int]
    length_mm: tuple[int, int]
    hosts: tuple[str, ...]


EQUIPMENT: Final = (
    Equipment("PROP", "ME", "Main engine", "주기관", 1, (238000, 242000), (8800, 9200), ("ER",)),
    Equipment("PROP", "SHAFT", "Intermediate shaft", None, 1, (14000, 16000), (7000, 7500), ("ER",)),
    Equipment("PROP", "PROP", "Propeller", "프로펠러", 1, (21000, 23000), (6200, 6400), ("AB",)),
    Equipment("PWR", "DG", "Diesel generator", "발전기", 3, (22000, 26000), (5200, 5800), ("ER",)),
    Equipment("PWR", "EDG", "Emergency generator", None, 1, (3500, 4500), (2500, 3000), ("SU",)),
    Equipment("EL-PWR", "MSB", "Main switchboard", "주 배전반", 1, (9000, 11000), (8000, 9000), ("ER",)),
    Equipment("EL-PWR", "DSB", "Distribution board", None, 20, (150, 600), (600, 1200), ("ER", "SU", "DK")),
    Equipment("BW", "P-BW", "Ballast pump", "밸러스트 펌프", 2, (3500, 4500), (1500, 2000), ("ER",)),
    Equipment("BW", "BWTS", "Ballast water treatment unit", None, 1, (6000, 7000), (3000, 4000), ("ER",)),
    Equipment("BW", "V-BW", "Ballast valve, remote operated", None, 70, (60, 450), (300, 700), ("DB", "HP", "TS")),
    Equipment("BIL", "P-BIL", "Bilge pump", None, 2, (600, 900), (900, 1200), ("ER",)),
    Equipment("BIL", "OWS", "Oily water separator", None, 1, (1200, 1500), (1800, 2200), ("ER",)),
    Equipment("BIL", "V-BIL", "Bilge valve", None, 24, (30, 120), (250, 450), ("DB", "ER")),
    Equipment("FM", "P-FM", "Fire pump", "소방 펌프", 2, (1500, 1900), (1400, 1700), ("ER",)),
    Equipment("FM", "P-EFP", "Emergency fire pump", None, 1, (900, 1200), (1200, 1500), ("FB",)),
    Equipment("FM", "FH", "Fire hydrant", None, 30, (20, 45), (300, 500), ("DK", "HC", "SU", "ER")),
    Equipment("FO", "PUR-FO", "Fuel oil purifier", None, 2, (1400, 1800), (1500, 1800), ("ER",)),
    Equipment("FO", "P-FO", "Fuel oil transfer pump", None, 2, (400, 600), (900, 1100), ("ER",)),
    Equipment("FO", "V-QC", "Quick-closing valve", None, 20, (40, 150), (300, 500), ("ER",)),
    Equipment("LO", "PUR-LO", "Lube oil purifier", None, 1, (1300, 1600), (1500, 1800), ("ER",)),
    Equipment("LO", "P-LO", "Main lube oil pump", None, 2, (900, 1200), (1100, 1400), ("ER",)),
    Equipment("CW", "P-SW", "Sea water cooling pump", None, 3, (1100, 1500), (1200, 1500), ("ER",)),
    Equipment("CW", "HE-CFW", "Central fresh water cooler", None, 2, (3000, 3800), (2500, 3000), ("ER",)),
    Equipment("ST", "BLR", "Auxiliary boiler", "보조 보일러", 1, (14000, 16000), (3500, 4000), ("ER",)),
    Equipment("ST", "EGE", "Exhaust gas economiser", None, 1, (9000, 11000), (3000, 3500), ("ER",)),
    Equipment("CA", "AC", "Main air compressor", None, 2, (1300, 1700), (1500, 1800), ("ER",)),
    Equipment("CA", "AR", "Main air receiver", None, 2, (2200, 2800), (3500, 4000), ("ER",)),
    Equipment("SAN", "STP", "Sewage treatment plant", None, 1, (2500, 3200), (2200, 2600), ("ER",)),
    Equipment("SAN", "FWG", "Fresh water generator", None, 1, (1800, 2400), (2000, 2400), ("ER",)),
    Equipment("HYD", "HPU", "Hatch cover hydraulic power unit", None, 1, (3000, 3800), (2200, 2600), ("DK",)),
    Equipment("CARGO", "HCV", "Hatch cover, folding", None, 10, (38000, 52000), (14000, 16000), ("HC",)),
    Equipment("CARGO", "CR", "Deck crane, 30 t", "데크 크레인", 4, (78000, 84000), (4000, 4500), ("DK",)),
    Equipment("MOOR", "WL", "Windlass", "양묘기", 2, (14000, 16000), (3500, 4000), ("FB",)),
    Equipment("MOOR", "MW", "Mooring winch", None, 6, (8000, 10000), (3000, 3500), ("FB", "AB")),
    Equipment("NAV", "RADAR", "Radar", None, 2, (120, 250), (800, 1200), ("SU",)),
    Equipment("NAV", "ECDIS", "ECDIS", None, 2, (60, 90), (600, 900), ("SU",)),
    Equipment("HVAC", "AHU", "Air handling unit", "공조기", 2, (2200, 2800), (3000, 3500), ("SU",)),
    Equipment("HVAC", "ACU", "Air conditioning condensing unit", None, 2, (900, 1200), (1500, 1800), ("SU",)),
    Equipment("VENT-ER", "FAN-ER", "Engine room supply fan", None, 4, (700, 900), (1200, 1500), ("ER",)),
    Equipment("VENT-HOLD", "FAN-H", "Hold ventilation fan", None, 10, (120, 200), (600, 800), ("DK", "HC")),
)

_ON_BLOCK: Final = {"DB": 0.75, "HP": 0.75, "TS": 0.75, "ER": 0.6, "SU": 0.5}
"""Share of items fitted before erection (the rest on board after it), by host family; else 0.6."""
_ON_UNIT: Final = {"ER": 0.45, "SU": 0.3}
"""Of the pipe spools and equipment fitted before erection in these families, the share pre-outfitted in units
(pump and valve units, built in the outfitting hall and landed on the block whole)."""
_STAGE_NORM: Final = {"PRE-OUTFIT": 0.8, "BLOCK-OUTFIT": 1.0, "ONBOARD": 1.6}
"""The planning norm's stage factor: fitting in a unit on the shop floor is quickest, on board in the ship
slowest (access, staging, lifting through hatches)."""


def item_norms(item_class: str, length_mm: npt.ArrayLike, size: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The yard's planning norm for fitting items on the block, man-hours, by class, length and size.

    `size` is the pipe's NPS or the duct's diameter (inches), the tray's width (mm), or the equipment's weight (kg).
    """
    length_m = np.asarray(length_mm, dtype=float) / 1000
    size = np.asarray(size, dtype=float)
    if item_class == "PIPE":
        return 1.5 + 0.5 * length_m * (0.5 + size / 6)
    if item_class == "CABLEWAY":
        return 1.0 + 0.5 * length_m * (1 + size / 1000)
    if item_class == "VENT":
        return 1.5 + 0.5 * length_m * (0.5 + size / 16)
    return 10 + size / 1000  # equipment: a day's setting-up, an hour a tonne


def _nps(size: float) -> str:
    whole, part = int(size), size - int(size)
    frac = {0.0: "", 0.5: "1/2", 0.75: "3/4"}[part]
    return f"{whole}-{frac}" if whole and frac else frac or str(whole)


def _zone_group(b: Block) -> str:
    return {"ENGINE ROOM": "ER", "AFT BODY": "ER", "ACCOMMODATION": "ACC", "FORE BODY": "FWD"}.get(b.zone, "CARGO")


@dataclass
class OnBoard:
    """An on-board work package of one system in one zone: its items' hours and the blocks they sit on."""

    system: System
    zone: str
    hours: float = 0.0
    """Norm hours of its items."""
    hosts: dict[str, Block] = field(default_factory=dict)
    """The blocks its items sit on, by code: it starts once they are all erected."""

    @property
    def id(self) -> str:
        """The work package's node id."""
        return f"WP-OB-{self.system.code}-{self.zone}"


class Outfit:
    """Writes the outfitting table's rows and the edges to the structure they sit on."""

    def __init__(self, rng: np.random.Generator, blocks: list[Block], outfit: Rows, edges: Rows) -> None:
        self.rng = rng
        self.blocks = blocks
        self.outfit = outfit
        self.edges = edges
        self.on_board: dict[str, OnBoard] = {}
        self.spools_on_board: dict[str, list[str]] = {}
        self.run_no: dict[str, int] = {}

    def hosts(self, families: tuple[str, ...]) -> list[Block]:
        return [b for b in self.blocks if b.family in families]

    def place(
        self,
        system: System,
        item_ids: list[str],
        hosts: list[Block],
        norms: npt.NDArray[np.float64],
        on_board: list[bool] | None = None,
    ) -> dict[str, list[object]]:
        """Fit items on their host blocks or on board after them: the edges from the structure; the items' columns.

        An item fitted on the block is a child of the block, after the panel it sits on; one pre-outfitted in a
        unit is a child of the block the unit is landed on; one fitted on board has no production parent and
        comes after its block (and, for a run that spans two, the block below). `norms` are the on-block norms;
        the columns hold each item's norm for its stage.
        """
        rng = self.rng
        placed: dict[str, list[object]] = {c: [] for c in ("parent", "WP_REF", "INSTALL", "BLOCK_REF", "ZONE")}
        hours: list[float] = []
        before: list[str] = []
        after: list[str] = []
        runs = on_board is None  # spools, trays and ducts; a run fitted on board may span two blocks
        if on_board is None:
            on_board = [rng.random() >= _ON_BLOCK.get(b.family, 0.6) for b in hosts]
        units = system.item_class in ("PIPE", "EQUIPMENT")
        for item, b, norm, board in zip(item_ids, hosts, norms.tolist(), on_board, strict=True):
            unit = not board and units and rng.random() < _ON_UNIT.get(b.family, 0.0)
            stage = "ONBOARD" if board else "PRE-OUTFIT" if unit else "BLOCK-OUTFIT"
            h = round(norm * _STAGE_NORM[stage], 1)
            hours.append(h)
            placed["INSTALL"].append(stage)
            placed["BLOCK_REF"].append(b.id)
            placed["ZONE"].append(b.zone)
            if board:
                placed["parent"].append(None)
                zone = _zone_group(b)
                wp = self.on_board.setdefault(f"{system.code}/{zone}", OnBoard(system, zone))
                wp.hours += h
                spans = [o for o in b.supports[:1] if runs and rng.random() < 0.3]
                for host in (b, *spans):
                    before.append(host.id)
                    after.append(item)
                    wp.hosts.setdefault(host.code, host)
                placed["WP_REF"].append(wp.id)
                continue
            placed["parent"].append(b.id)
            placed["WP_REF"].append(f"WP-{b.code}-OUT")
            b.items += 1
            b.item_hours += h
            if not unit:  # a unit is landed on the block whole, not fitted onto one panel
                before.append(b.panels[int(rng.integers(0, len(b.panels)))])
                after.append(item)
        placed["NORM_MH"] = list(hours)
        self.edges.add(len(before), before=before, after=after, LINK="OUTFIT")
        return placed

    def system(self, system: System) -> None:
        """The system's node, then its pipelines and spools, trays or ducts, then its equipment."""
        self.outfit.add(id=system.id, kind="SYS", name=system.desc)
        hosts = self.hosts(system.hosts)
        if system.item_class == "PIPE":
            first_line = 100 * (SYSTEMS.index(system) + 1)
            for line in range(first_line + 1, first_line + system.count + 1):
                self.pipeline(system, line, hosts)
        elif system.item_class in ("CABLEWAY", "VENT"):
            self.runs(system, hosts)
        for kind in EQUIPMENT:
            if kind.system == system.code:
                self.equipment(system, kind)

    def pipeline(self, system: System, line: int, hosts: list[Block]) -> None:
        rng = self.rng
        nominal = float(rng.choice(system.sizes))
        pipeline = f"{system.code}-{line}"
        self.outfit.add(
            id=pipeline, kind="PIPELINE", name=f'{system.desc}, line {line}, {_nps(nominal)}"', SYSTEM_REF=system.id
        )
        n = int(rng.integers(6, 25))
        smaller = [s for s in system.sizes if s < nominal] or [nominal]
        sizes = [nominal if rng.random() < 0.8 else float(rng.choice(smaller)) for _ in range(n)]
        ids = [f'SP-{line}-{k:02d} {_nps(s)}"' for k, s in zip(range(1, n + 1), sizes, strict=True)]
        start = int(rng.integers(0, len(hosts)))
        at = [hosts[min(start + j, len(hosts) - 1)] for j in rng.integers(0, 3, size=n).tolist()]
        length = np.round(rng.uniform(400, 6000, size=n), -1).astype(int)
        nps = np.asarray(sizes)
        weight = np.round(length / 1000 * (1.5 + 0.9 * nps**1.75) + 2 * (1.5 + 0.5 * nps**1.8), 1)
        placed = self.place(system, ids, at, item_norms("PIPE", length, nps))
        self.spools_on_board.setdefault(system.code, []).extend(
            i for i, p in zip(ids, placed["parent"], strict=True) if not p
        )
        self.outfit.add(
            n,
            **self.common(system, "SPOOL", "PIPE", ids, placed),
            SYSTEM_REF=pipeline,
            PIPE_CLASS=system.pipe_class,
            DIA_IN=sizes,
            LENGTH_MM=length,
            WEIGHT_KG=weight,
        )

    def runs(self, system: System, hosts: list[Block]) -> None:
        """Cable trays or ducts, numbered by the block they run in."""
        rng = self.rng
        n = system.count
        at = [hosts[i] for i in rng.integers(0, len(hosts), size=n).tolist()]
        tray = system.item_class == "CABLEWAY"
        ids = []
        for b in at:
            key = f"{'CT' if tray else 'VD'}-{b.code}"
            self.run_no[key] = self.run_no.get(key, 0) + 1
            ids.append(f"{key}-{self.run_no[key]:04d}")
        if tray:
            length = np.round(rng.uniform(1000, 6000, size=n), -1).astype(int)
            width = rng.integers(2, 10, size=n) * 100
            weight = np.round(length / 1000 * (6 + 0.012 * width), 1)
            size: dict[str, object] = {"TRAY_W_MM": width}
            norms = item_norms("CABLEWAY", length, width)
        else:
            length = np.round(rng.uniform(500, 3000, size=n), -1).astype(int)
            dia = rng.choice(np.asarray(system.sizes, dtype=float), size=n)
            weight = np.round(length / 1000 * (2 + 0.45 * dia), 1)
            size = {"DIA_IN": dia}
            norms = item_norms("VENT", length, dia)
        placed = self.place(system, ids, at, norms)
        kind = "TRAY" if tray else "DUCT"
        self.outfit.add(
            n,
            **self.common(system, kind, system.item_class, ids, placed),
            SYSTEM_REF=system.id,
            LENGTH_MM=length,
            WEIGHT_KG=weight,
            **size,
        )

    def equipment(self, system: System, kind: Equipment) -> None:
        rng = self.rng
        n = kind.count
        hosts = self.hosts(kind.hosts)
        at = [hosts[i] for i in rng.integers(0, len(hosts), size=n).tolist()]
        ids = [f"{kind.tag}-{k:02d}" for k in range(1, n + 1)]
        names = [
            f"{kind.local_name} {k}호기" if kind.local_name else f"{kind.name}{f' No.{k}' if n > 1 else ''}"
            for k in range(1, n + 1)
        ]
        weight = np.round(rng.uniform(*kind.weight_kg, size=n), 0)
        length = np.round(rng.uniform(*kind.length_mm, size=n), -1).astype(int)
        heavy = (weight > 5000).tolist()  # lifted in on board, once the structure around it is erected
        placed = self.place(system, ids, at, item_norms("EQUIPMENT", length, weight), heavy)
        self.outfit.add(
            n,
            **self.common(system, "EQUIP", "EQUIPMENT", ids, placed),
            name=names,
            SYSTEM_REF=system.id,
            LENGTH_MM=length,
            WEIGHT_KG=weight,
        )
        spools = self.spools_on_board.get(system.code, [])
        for i in np.flatnonzero(heavy).tolist():
            if spools:  # the spools that connect to it are fitted after it
                links = sorted({int(j) for j in rng.integers(0, len(spools), size=2).tolist()})
                self.edges.add(len(links), before=ids[i], after=[spools[j] for j in links], LINK="CONNECT")

    @staticmethod
    def common(
        system: System, kind: str, item_class: str, ids: list[str], placed: dict[str, list[object]]
    ) -> dict[str, object]:
        """The columns every outfitting item has."""
        return {"id": ids, "kind": kind, "SYSTEM_DESC": system.desc, "ITEM_CLASS": item_class, **placed}


# -- welding time and NDT findings ----------------------------------------------------------------------------

_MIN_PER_M: Final = {"SAW-T": 2.0, "SAW-S": 3.0, "FCAW-G": 6.0, "GMAW-P": 5.0, "SMAW-7018": 13.0}
_POSITION: Final = {
    "PA-BW": 1.0,
    "PA-FW": 1.0,
    "PB-FW": 1.1,
    "PC-BW": 1.4,
    "PF-BW": 1.9,
    "PF-FW": 1.6,
    "PE-BW": 2.4,
    "PD-FW": 2.0,
}
_ACCESS: Final = {"OPEN": 1.0, "CONFINED": 1.3, "TANK": 1.7}
_DEFECT_BY_PROCESS: Final = {"SAW-T": 0.6, "SAW-S": 0.6, "FCAW-G": 1.3, "GMAW-P": 1.5, "SMAW-7018": 2.0}
_DEFECT_CLASSES: Final = {
    "SAW-T": ("2011 gas pore", "301 slag inclusion", "402 lack of penetration"),
    "SAW-S": ("2011 gas pore", "301 slag inclusion", "402 lack of penetration"),
    "FCAW-G": ("301 slag inclusion", "401 lack of fusion", "2011 gas pore", "5011 undercut"),
    "GMAW-P": ("401 lack of fusion", "2011 gas pore", "5011 undercut"),
    "SMAW-7018": ("301 slag inclusion", "2011 gas pore", "5011 undercut", "100 crack"),
}


def _lookup(table: dict[str, float], words: list[object]) -> npt.NDArray[np.float64]:
    return np.asarray([table[str(w)] for w in words], dtype=float)


def seam_norms(seams: Rows) -> npt.NDArray[np.float64]:
    """Each seam's planning norm, man-hours: the yard's minutes a metre for its process, thickness and position.

    The norm table knows nothing of access, one-sided welding on backing or the dock: what the seams really take
    (`seam_effort`) is more where those bite, which is what a model of the booked hours can learn.
    """
    c = seams.columns
    butt = np.asarray(c["SEAM_TYPE"]) == "BW"
    thk = np.asarray(c["T_IN"], dtype=float) * 25.4
    length_m = np.asarray(c["SEAM_LEN_MM"], dtype=float) / 1000
    per_m = _lookup(_MIN_PER_M, c["WELD_PROC"]) * np.where(butt, (thk / 12) ** 1.3, (thk / 12) ** 0.6)
    return np.round((8 + length_m * per_m * _lookup(_POSITION, c["WPOS"])) / 60, 2)


def seam_effort(seams: Rows) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Each seam's planned welding minutes and its chance of an NDT finding, from its columns."""
    c = seams.columns
    butt = np.asarray(c["SEAM_TYPE"]) == "BW"
    thk = np.asarray(c["T_IN"], dtype=float) * 25.4
    length_m = np.asarray(c["SEAM_LEN_MM"], dtype=float) / 1000
    position = _lookup(_POSITION, c["WPOS"])
    access = _lookup(_ACCESS, c["ACCESSIBILITY"])
    one_sided = np.asarray(c["ONE_SIDED"]) == "Y"
    erection = np.asarray(c["WELD_STAGE"]) == "ERC"
    minutes = 8 + length_m * _lookup(_MIN_PER_M, c["WELD_PROC"]) * np.where(
        butt, (thk / 12) ** 1.3, (thk / 12) ** 0.6
    ) * position * access * np.where(one_sided, 1.15, 1.0) * np.where(erection, 1.25, 1.0)
    chance = (
        0.012
        * _lookup(_DEFECT_BY_PROCESS, c["WELD_PROC"])
        * position**1.2
        * access**1.5
        * np.where(one_sided, 1.4, 1.0)
        * np.where(thk > 20, 1.3, 1.0)
        * np.where(np.asarray(c["GAP_MM"], dtype=float) > 5, 1.2, 1.0)
        * np.where(erection, 1.4, 1.0)
        * (np.maximum(length_m, 0.2) / 5) ** 0.3
    )
    return minutes, np.minimum(chance, 0.6)


# -- work packages, resources, calendar -----------------------------------------------------------------------

RESOURCES: Final = (
    ("PL-1", "Flat panel line 1", "panel line", 2, None),
    ("PL-2", "Flat panel line 2", "panel line", 2, None),
    ("CPL-1", "Curved panel line", "panel line", 2, None),
    ("SAS-1", "Sub-assembly shop", "workshop", 6, None),
    ("AH-1", "Assembly hall 1", "assembly hall", 3, None),
    ("AH-2", "Assembly hall 2", "assembly hall", 3, None),
    ("AH-3", "Assembly hall 3", "assembly hall", 2, None),
    ("PS-1", "Pipe shop", "workshop", 40, None),
    ("OH-1", "Pre-outfitting area", "outfitting hall", 8, None),
    ("PC-1", "Paint cell 1", "paint cell", 2, None),
    ("PC-2", "Paint cell 2", "paint cell", 2, None),
    ("GC-1", "골리앗 크레인 900톤 (goliath crane)", "crane", 1, 900.0),
    ("GC-2", "Goliath crane 2, 450 t", "crane", 1, 450.0),
    ("TC-1", "Tower crane 1", "crane", 1, 50.0),
    ("TC-2", "Tower crane 2", "crane", 1, 50.0),
    ("DOCK-2", "Building dock 2", "dock", 3, None),
    ("QUAY-3", "Outfitting quay 3", "quay", 1, None),
    ("CREW-PI", "On-board piping crew", "pipe fitters", 5, None),
    ("CREW-EL", "Electrical crew", "electricians", 4, None),
    ("CREW-HV", "HVAC crew", "HVAC fitters", 2, None),
    ("CREW-ME", "Mechanical fitting crew", "mechanical fitters", 3, None),
)
"""id, name, kind (free text), capacity (work packages at once), safe working load (t) of a crane."""

_HOLIDAYS: Final = (
    ("2025-10-03", "National Foundation Day"),
    ("2025-10-06", "Chuseok"),
    ("2025-10-07", "Chuseok"),
    ("2025-10-08", "Chuseok (substitute)"),
    ("2025-10-09", "Hangul Day"),
    ("2025-12-25", "Christmas"),
    ("2026-01-01", "New Year"),
    ("2026-02-16", "Seollal"),
    ("2026-02-17", "Seollal"),
    ("2026-02-18", "Seollal"),
    ("2026-03-02", "Independence Movement Day (substitute)"),
    ("2026-05-05", "Children's Day"),
    ("2026-05-25", "Buddha's Birthday (substitute)"),
    ("2026-08-17", "Liberation Day (substitute)"),
    ("2026-09-24", "Chuseok"),
    ("2026-09-25", "Chuseok"),
    ("2026-10-05", "National Foundation Day (substitute)"),
    ("2026-10-09", "Hangul Day"),
    ("2026-12-25", "Christmas"),
)
_SHUTDOWNS: Final = (
    (None, "2026-07-27", "2026-08-08", "Summer shutdown"),
    ("PL-1", "2026-01-05", "2026-01-07", "Panel line gantry overhaul"),
    ("PC-2", "2026-03-09", "2026-03-13", "Paint cell filter change"),
    ("GC-1", "2026-04-13", "2026-04-14", "Goliath crane load test"),
    ("DOCK-2", "2026-10-19", "2026-10-23", "Dock gate maintenance"),
)
_LAST_DAY: Final = dt.date(2026, 12, 31)


def days_off() -> dict[tuple[dt.date, str | None], str]:
    """The yard's days off: (day, resource) -> reason.

    Sundays and public holidays of the whole yard (resource None), and shutdowns of the yard or of one resource
    (a resource's shutdown on a yard holiday is not listed again).
    """
    days: dict[tuple[dt.date, str | None], str] = {}
    day = DAY0 + dt.timedelta(days=(6 - DAY0.weekday()) % 7)
    while day <= _LAST_DAY:
        days[(day, None)] = "Sunday"
        day += dt.timedelta(days=7)
    for text, reason in _HOLIDAYS:
        days.setdefault((dt.date.fromisoformat(text), None), reason)
    for resource, first, last, reason in _SHUTDOWNS:
        day, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
        while day <= end:
            if (day, None) not in days:
                days[(day, resource)] = reason
            day += dt.timedelta(days=1)
    return days


def calendar(rows: Rows) -> None:
    """The calendar table: every day off, by day."""
    for (day, resource), reason in sorted(days_off().items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        rows.add(date=day, resource=resource, REASON=reason)


@dataclass(frozen=True)
class Phase:
    """One of the five work packages every block goes through, in this order."""

    code: str
    """The last part of the package's id (`WP-DB03-FAB`)."""
    craft: str
    """The yard's trade code (`CRAFT`)."""
    days: int
    """The working days the planner sizes its crew for."""
    crew: tuple[int, int]
    """Fewest and most people on it."""
    what: str


_PHASES: Final = (
    Phase("FAB", "HUL", 8, (6, 20), "Panel and sub-assembly fabrication"),
    Phase("ASM", "WLD", 6, (6, 24), "Block assembly"),
    Phase("OUT", "OFT", 5, (4, 16), "On-block outfitting"),
    Phase("PNT", "PNT", 4, (6, 16), "Blasting and painting"),
    Phase("ERC", "ERC", 2, (10, 30), "Erection and erection welding"),
)
_ON_BOARD: Final = Phase("OB", "", 10, (6, 24), "On-board outfitting")
_ON_BOARD_CENTRE: Final = {"PIP": "CREW-PI", "ELE": "CREW-EL", "HVC": "CREW-HV", "MEC": "CREW-ME"}
_LEAD: Final = 36
"""Working days from a block's first fabrication to its erection, as the planner allows (the work is about 25)."""
_PACE: Final = 1.7
"""Working days between two erections the planner aims at."""
_STAGING: Final = 2
"""Working days between a block's painting and its erection (transport, pre-erection checks)."""
_AFTER_ERECTION: Final = 3
"""Working days between the last erection of an on-board package's blocks and its start."""
HOURS_PER_DAY: Final = 8.0


@dataclass
class Package:
    """A work package while the script plans it."""

    id: str
    name: str
    craft: str
    block: str | None
    """The block it works on (node id); none for an on-board package, which works in many."""
    centre: str
    crane: str | None
    crew: int
    hours: float
    first: int
    """Its first working day (index into the planner's working days)."""
    days: int
    """Its working days."""
    start: dt.date = DAY0
    finish: dt.date = DAY0
    """Its last working day."""

    @property
    def end(self) -> int:
        """The working day after its last."""
        return self.first + self.days


def crew_and_days(hours: float, phase: Phase) -> tuple[int, int]:
    """The crew the planner gives a package (sized to take `phase.days`) and the working days it then takes."""
    low, high = phase.crew
    crew = int(np.clip(math.ceil(hours / (HOURS_PER_DAY * phase.days)), low, high))
    return crew, max(1, math.ceil(hours / (crew * HOURS_PER_DAY) - 1e-9))


class Planner:
    """Books work packages on the yard's working days, each on its resources within their capacity."""

    def __init__(self) -> None:
        off = days_off()
        every = (DAY0 + dt.timedelta(days=k) for k in range((_LAST_DAY - DAY0).days + 1))
        self.days = [d for d in every if (d, None) not in off]
        index = {d: i for i, d in enumerate(self.days)}
        self.free = {r[0]: np.full(len(self.days), r[3], dtype=np.int64) for r in RESOURCES}
        for day, resource in off:
            if resource is not None and day in index:
                self.free[resource][index[day]] = 0

    def earliest(self, resources: Sequence[str], first: int, days: int) -> int:
        """The first working day from `first` on which all `resources` have room for `days` working days."""
        start = first
        while start + days <= len(self.days):
            full = [np.flatnonzero(self.free[r][start : start + days] <= 0) for r in resources]
            last = max((int(f[-1]) for f in full if len(f)), default=-1)
            if last < 0:
                return start
            start += last + 1
        raise ValueError(f"the plan runs past {_LAST_DAY}")

    def book(self, options: Sequence[tuple[str, ...]], first: int, days: int) -> tuple[int, tuple[str, ...]]:
        """Book the option (a set of resources) that can start earliest, the first listed on a tie."""
        start, chosen = min(((self.earliest(o, first, days), o) for o in options), key=lambda sc: sc[0])
        for r in chosen:
            self.free[r][start : start + days] -= 1
        return start, chosen


def _hours(phase: str, b: Block, norms: dict[str, float]) -> float:
    """A block package's estimate: the norms of its seams or items, and the work no norm covers."""
    norm = norms.get(f"WP-{b.code}-{phase}", 0.0)
    hours = {
        "FAB": 1.8 * norm + 0.25 * b.parts + 40,  # fitting, handling and grinding on top of the welding
        "ASM": 2.0 * norm + 12 * len(b.panels) + 60,
        "OUT": 1.15 * b.item_hours + 30,
        "PNT": 1.2 * b.weight_kg / 1000 + 30,
        "ERC": 2.5 * norm + 120,  # rigging, fit-up and fairing besides the erection welding
    }[phase]
    return math.ceil(hours * 2) / 2


def _centres(phase: str, b: Block) -> list[tuple[str, ...]]:
    """The resources a block package may be planned on (each option a set of resources), preferred first."""
    if phase == "ERC":  # the smallest crane that lifts it (with 10 % for the rigging): the big one for the heaviest
        cranes = [r for r in RESOURCES if r[2] == "crane" and (r[4] or 0.0) >= 1.1 * b.weight_kg / 1000]
        return [("DOCK-2", crane[0]) for crane in sorted(cranes, key=lambda r: r[4] or 0.0)]
    shops: dict[str, list[tuple[str, ...]]] = {
        "FAB": [("CPL-1",)] if b.curved else [("PL-1",), ("PL-2",)],
        "ASM": [("AH-1",), ("AH-2",), ("AH-3",)],
        "OUT": [("OH-1",)],
        "PNT": [("PC-1",), ("PC-2",)],
    }
    return shops[phase]


def work_packages(
    blocks: list[Block], on_board: list[OnBoard], norms: dict[str, float]
) -> tuple[list[Package], list[tuple[str, str]]]:
    """Every block's five work packages and the on-board ones, planned, with their precedence.

    The planner goes through the blocks in erection order: each block's packages one after the other on the
    working days, on the resource of their kind that is free first; its erection after its painting, after the
    erection of the blocks it rests on and of the block before it in the sequence, with the dock and a crane
    that can lift it. An on-board package starts once every block its items sit on is erected.
    """
    planner = Planner()
    packages: list[Package] = []
    links: list[tuple[str, str]] = []
    erection: dict[str, Package] = {}
    last_erection = 0
    for b in sorted(blocks, key=lambda b: b.seq):
        target = _LEAD + round((b.seq - 1) * _PACE)
        ready = max(0, target - _LEAD)
        previous: Package | None = None
        for phase in _PHASES:
            hours = _hours(phase.code, b, norms)
            crew, days = crew_and_days(hours, phase)
            if phase.code == "ERC":
                supports = [erection[s.code].end for s in b.supports]
                ready = max(ready + _STAGING, target, last_erection, *supports)
            first, (centre, *crane) = planner.book(_centres(phase.code, b), ready, days)
            wp = Package(
                f"WP-{b.code}-{phase.code}",
                f'{phase.what}, {b.code} "{b.name}"',
                phase.craft,
                b.id,
                centre,
                crane[0] if crane else None,
                crew,
                hours,
                first,
                days,
            )
            packages.append(wp)
            if previous is not None:
                links.append((previous.id, wp.id))
            previous, ready = wp, wp.end
        erection[b.code] = packages[-1]  # the last phase, ERC
        last_erection = erection[b.code].first
        b.erect = planner.days[last_erection]
        links += [(erection[s.code].id, erection[b.code].id) for s in b.supports]
    for ob in on_board:
        if not ob.hosts:  # every on-board package is made for an item on some block
            raise ValueError(f"on-board work package {ob.id!r} has no block")
        hosts = sorted(ob.hosts.values(), key=lambda b: b.seq)
        hours = math.ceil((1.2 * ob.hours + 20) * 2) / 2
        crew, days = crew_and_days(hours, _ON_BOARD)
        centre = _ON_BOARD_CENTRE[ob.system.craft]
        ready = max(erection[h.code].end for h in hosts) + _AFTER_ERECTION
        first, _ = planner.book([(centre,)], ready, days)
        name = f"On-board {ob.system.desc.lower()}, {ob.zone}"
        packages.append(Package(ob.id, name, ob.system.craft, None, centre, None, crew, hours, first, days))
        links += [(erection[h.code].id, ob.id) for h in hosts]
    for wp in packages:
        wp.start, wp.finish = planner.days[wp.first], planner.days[wp.end - 1]
    return packages, links


# -- actuals --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """What happened to a work package by the day of the export."""

    status: str
    start: dt.date | None
    finish: dt.date | None
    hours: float | None


def progress(rng: np.random.Generator, wp: Package) -> Progress:
    """The package's actual dates and booked hours: late or early by a few days, a little over its estimate."""
    start = wp.start + dt.timedelta(days=int(rng.integers(-3, 7)))
    finish = max(wp.finish + dt.timedelta(days=int(rng.integers(-2, 12))), start)
    overrun = float(rng.lognormal(0.08, 0.18))
    if start > EXPORTED:
        return Progress("RELEASED" if wp.start <= EXPORTED + dt.timedelta(days=30) else "PLANNED", None, None, None)
    if finish <= EXPORTED:
        return Progress("CLOSED", start, finish, round(wp.hours * overrun, 1))
    done = (EXPORTED - start).days / max((finish - start).days, 1)
    return Progress("STARTED", start, None, round(wp.hours * overrun * done, 1))


def seam_actuals(rng: np.random.Generator, seams: Rows, done: dict[str, Progress], actuals: Rows) -> None:
    """Booked time and NDT findings of the seams of closed work packages."""
    minutes, chance = seam_effort(seams)
    c = seams.columns
    n = seams.count
    noise = rng.lognormal(0.0, 0.25, size=n)
    draw = rng.random(n)
    rework = rng.uniform(60, 240, size=n)
    pick = rng.random(n)
    when = rng.random(n)
    rows: dict[str, list[object]] = {name: [] for name in ACTUALS_SCHEMA.names}
    for i in range(n):
        wp = done.get(str(c["WP_REF"][i]))
        if wp is None or wp.status != "CLOSED" or wp.start is None or wp.finish is None:
            continue
        tested = c["NDT_REQ"][i] != "VT"
        defect = tested and draw[i] < chance[i]
        classes = _DEFECT_CLASSES[str(c["WELD_PROC"][i])]
        day = wp.start + dt.timedelta(days=int(when[i] * ((wp.finish - wp.start).days + 1)))
        rows["id"].append(c["id"][i])
        rows["BOOKED_MIN"].append(round(float(minutes[i] * noise[i] + (rework[i] if defect else 0.0)), 1))
        rows["ACT_START"].append(day)
        rows["ACT_FINISH"].append(day)
        rows["NDT_RESULT"].append(("REJ" if defect else "ACC") if tested else None)
        rows["DEFECT"].append(classes[int(pick[i] * len(classes))] if defect else None)
        rows["REPAIRED"].append("Y" if defect else "N")
    actuals.add(len(rows["id"]), **rows)


# -- the yard -------------------------------------------------------------------------------------------------


def build(seed: int = SEED) -> dict[str, pa.Table]:
    """Every table of the yard, by file name."""
    rng = np.random.default_rng(seed)
    hull, seams, outfit = Rows(HULL_SCHEMA), Rows(SEAM_SCHEMA), Rows(OUTFIT_SCHEMA)
    packages, resources, edges = Rows(WP_SCHEMA), Rows(RES_SCHEMA), Rows(EDGE_SCHEMA)
    days, actuals = Rows(CALENDAR_SCHEMA), Rows(ACTUALS_SCHEMA)

    ship = blocks()
    writer = Hull(rng, hull, seams, edges)
    for b in ship:
        writer.block(b)
    for b in sorted(ship, key=lambda b: b.seq):
        writer.erection_seams(b)
        edges.add(len(b.supports), before=[s.id for s in b.supports], after=b.id, LINK="ERECTION")

    fitting = Outfit(rng, ship, outfit, edges)
    for system in SYSTEMS:
        fitting.system(system)

    seam_norm = seam_norms(seams).tolist()
    seams.columns["NORM_MH"] = list(seam_norm)
    norms: dict[str, float] = {}
    for wp, h in zip(seams.columns["WP_REF"], seam_norm, strict=True):
        norms[str(wp)] = norms.get(str(wp), 0.0) + h
    plan, links = work_packages(ship, list(fitting.on_board.values()), norms)
    for b in ship:
        hull.columns["ERECT_DATE"][b.row] = b.erect
    done: dict[str, Progress] = {}
    for wp in plan:
        done[wp.id] = progress(rng, wp)
        packages.add(
            id=wp.id,
            kind="WP",
            name=wp.name,
            CRAFT=wp.craft,
            BLOCK_REF=wp.block,
            WORKCENTER=wp.centre,
            CRANE=wp.crane,
            CREW_SIZE=wp.crew,
            EST_MH=wp.hours,
            PLAN_START=wp.start,
            PLAN_END=wp.finish,
            STATUS=done[wp.id].status,
        )
    edges.add(len(links), before=[a for a, _ in links], after=[b for _, b in links], LINK="WP")
    for wp in plan:
        p = done[wp.id]
        if p.start is not None:
            actuals.add(
                id=wp.id,
                BOOKED_MIN=None if p.hours is None else round(p.hours * 60, 0),
                ACT_START=p.start,
                ACT_FINISH=p.finish,
            )
    seam_actuals(rng, seams, done, actuals)

    for rid, name, kind, capacity, swl in RESOURCES:
        resources.add(id=rid, kind="RES", name=name, RES_TYPE=kind, CAPACITY=capacity, SWL_T=swl)
    calendar(days)
    return {
        "hull.parquet": hull.table(),
        "seams.parquet": seams.table(),
        "outfit.parquet": outfit.table(),
        "work_packages.csv": packages.table(),
        "resources.parquet": resources.table(),
        "edges.parquet": edges.table(),
        "calendar.parquet": days.table(),
        "actuals.parquet": actuals.table(),
    }


def write_yard(out: Path, seed: int = SEED) -> dict[str, int]:
    """Write the yard's `yard.toml` and tables into `out`; the node count of each kind."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "yard.toml").write_text(SPEC, encoding="utf-8")
    counts: dict[str, int] = {}
    for name, table in build(seed).items():
        path = out / name
        if name.endswith(".csv"):
            pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="needed"))
        else:
            pq.write_table(table, path, compression="zstd", row_group_size=ROW_GROUP)
        if "kind" in table.column_names:
            for kind, count in zip(
                *np.unique(table.column("kind").to_numpy(zero_copy_only=False), return_counts=True), strict=True
            ):
                counts[str(kind)] = counts.get(str(kind), 0) + int(count)
        else:
            counts[name] = table.num_rows
    return counts


def main(argv: Sequence[str] | None = None) -> None:
    """Write the sample yard (into this script's directory unless `--out` says where)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, help="the yard's directory")
    args = parser.parse_args(argv)
    for what, count in write_yard(args.out).items():
        print(f"{what:>18} {count:>8,}")


if __name__ == "__main__":
    main()
