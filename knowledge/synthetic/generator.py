"""The synthetic yard: a seeded, vectorised model of a large cruise ship under construction.

No real yard data can be shipped, so Shipbrain generates a believable ship (figures from
`shared/YARD_FACTS.md`) from 5,000 to 25,000,000 parts. The same spec gives the same yard, byte
for byte. Structure:

- **Blocks** (about 214 at 25M parts, fewer and coarser for smaller yards) on a grid of stations
  (fore-aft) and levels: bottom, side, deck, superstructure. Erection starts at a key block in the
  bottom row slightly aft of midship; a block rests on the block below it and on its neighbour
  towards the key station, and is erected after both (through an erection joint).
- **Hull**: 90 % of the parts. Each block's share follows its weight (30-300 t); a block has
  assemblies (about cube root of its parts / 2.2), an assembly has sub-assemblies (about square
  root of its parts / 5.3), and each sub-assembly's first part is its base plate. Parts are plates
  (35 %), profiles (45 %) and brackets (20 %) with thickness, length, width, weight and steel grade
  (higher-strength AH/DH/EH grades in bottom and side blocks, mild A steel above).
- **Weld joints** at four levels: in a sub-assembly every part after the first joins an earlier
  one (a tree: about one joint per part; butt between two plates, else fillet); sub-assemblies of
  an assembly, and assemblies of a block, are joined the same way; one erection joint joins each
  block to each block it rests on. Process, position, one-sidedness and access are drawn per level
  (panel-line welds are mostly flat SAW, erection welds vertical one-sided FCAW on ceramic backing).
- **Outfitting items**: 10 % of the parts; pipe spools, cable trays, HVAC ducts and equipment of
  65 systems, denser in machinery (bottom) and accommodation (superstructure) blocks; each has a
  zone (main vertical zone and level) and an installation stage (on-unit, on-block, on-board).
- **Work packages**: five per block, one per trade (PNL panel and sub-assembly fabrication, ASM
  assembly and block welding, OFB on-unit and on-block outfitting, ERE erection, OBD on-board
  outfitting), each on a yard resource (2 panel lines, 3 workshops, 2 outfitting halls, 2 gantry
  cranes, 1 building dock). The yard's vocabulary is data, as a real yard's would be: the `trades`
  table lists the trades in the order a block goes through them, with the kind of resource each runs
  on and the node kinds its work packages make, and the `resources` table the resources and their kinds.

Precedence edges (`u -> v`: u must be done before v) are the transitive reduction of what the
structure implies: part -> joint -> the sub-assembly it closes (or part -> sub-assembly for a part
with no joint), sub-assembly -> assembly joint -> assembly, assembly -> block joint -> block,
lower block -> erection joint -> upper block, assembly -> on-block item -> block, on-unit item ->
block, block -> on-board item.

**Ground truth of the recorded actuals** (formulas in `knowledge.synthetic.truth`; per joint, the
`ground_truth` table holds the expected hours before welder skill and noise and the defect log-odds
before the welder effect, so training can report the noise floor a model could reach):

- weld hours = 0.25 + length * weld metal per metre / (deposition rate * arc-time share) * position
  factor * access factor * one-sided factor, times a welder-skill factor per work package and
  lognormal noise: they grow with length and thickness squared and fall with the process's
  deposition rate (SAW 8 > FCAW 4 > GMAW 3 > SMAW 1.5 kg/h);
- weld defects found at NDT: logistic in position (overhead worst), process, thickness past 10 mm,
  one-sidedness, access, high-strength steel, fit-up gap past 2 mm, and a welder effect per work
  package, for a yard repair rate of 1-3 % with local peaks past 25 % (TWI); a defect class drawn
  from the joint;
- outfitting stage by a noisy rule (small equipment on-unit, items spanning blocks on-board...),
  hours that grow 2.5x on-board, and rework odds that rise on-board, for spanning items and in
  congested blocks;
- dates: blocks erected one every 1.25 days from 2025-03-03 in an order that respects what rests on
  what; fabrication planned backwards from erection; actual starts slip (60 % on time, 30 % 1-4
  days, 10 % long) and slips propagate, since no work package starts before the one it waits on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from knowledge._csr import IdArray, Indptr, build_csr
from knowledge.errors import InvalidYardSpecError
from knowledge.synthetic._hull import Blocks, Hull, make_blocks, make_hull
from knowledge.synthetic._joints import make_joints
from knowledge.synthetic._layout import YardLayout
from knowledge.synthetic._outfitting import make_items
from knowledge.synthetic._packages import Packages, make_packages, trades_table
from knowledge.synthetic._sampling import rank_in_group
from knowledge.synthetic.vocabulary import (
    ACCESS,
    BLOCK_TYPES,
    DEFECT_CLASSES,
    GRADES,
    ITEM_KINDS,
    JOINT_LEVELS,
    JOINT_TYPES,
    PART_KINDS,
    POSITIONS,
    PROCESSES,
    STAGES,
    SYSTEMS,
)

__all__ = ["GENERATOR_VERSION", "MAX_PARTS", "MIN_PARTS", "GeneratedYard", "YardSpec", "generate_yard"]

GENERATOR_VERSION = "4"
"""4: the `trades` and `ground_truth` tables (the other tables as in 3)."""
MIN_PARTS = 5_000
MAX_PARTS = 25_000_000
GENERATE_STEPS = ("blocks and hull", "weld joints", "outfitting items", "work packages", "tables", "graph")

ProgressCallback = Callable[[str], None]
Edges = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]
"""Precedence edges as (first nodes, second nodes)."""


class YardSpec(BaseModel):
    """What to generate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    parts: int = Field(ge=MIN_PARTS, le=MAX_PARTS)
    """Physical parts: hull parts (90 %) plus outfitting items (10 %). Joints, sub-assemblies,
    assemblies and blocks come on top."""
    seed: int = Field(default=0, ge=0, le=2**32 - 1)
    """Random seed; the same spec gives the same yard, byte for byte."""
    blocks: int | None = Field(default=None, ge=4, le=999)
    """Number of blocks; by default about 214 * (parts / 25M) ** 0.4 (214 at 25M parts). Setting it
    gives, say, a full ship's 200 blocks with few parts each, for scheduling studies."""

    @model_validator(mode="after")
    def _enough_parts_per_block(self) -> YardSpec:
        if self.blocks is not None and self.parts * 0.9 < 25 * self.blocks:
            raise ValueError(f"{self.blocks} blocks need at least {self.blocks * 28:,} parts")
        return self

    @classmethod
    def checked(cls, **values: int | None) -> YardSpec:
        """Validate, raising `InvalidYardSpecError` with a one-line reason."""
        try:
            return cls(**values)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            if not where:  # a check across fields
                raise InvalidYardSpecError(err["msg"].removeprefix("Value error, ")) from None
            raise InvalidYardSpecError(
                f"{where}={err.get('input')!r}: {err['msg']} (parts run {MIN_PARTS:,}-{MAX_PARTS:,}, blocks 4-999)"
            ) from None


@dataclass
class GeneratedYard:
    """A generated yard in memory, ready to be written in the open yard format (`yardformat.write_format`)."""

    spec: YardSpec
    layout: YardLayout
    tables: dict[str, pa.Table]
    forward: tuple[Indptr, IdArray]
    """CSR (`indptr`, `indices`) of the precedence edges grouped by their first node."""
    reverse: tuple[Indptr, IdArray]
    """The same edges grouped by their second node."""
    generator_version: str = GENERATOR_VERSION

    @property
    def num_edges(self) -> int:
        """Number of precedence edges."""
        return len(self.forward[1])


def _dict(codes: npt.NDArray[np.integer], words: tuple[str, ...]) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(np.asarray(codes, dtype=np.int8)), pa.array(list(words)))


def _nullable_ids(ids: npt.NDArray[np.integer]) -> pa.Array:
    return pa.array(ids.astype(np.int32), mask=ids < 0)


def generate_yard(spec: YardSpec, progress: ProgressCallback | None = None) -> GeneratedYard:
    """Generate a yard in memory; `progress` is called with each step's name as it starts."""
    step = progress or (lambda _name: None)
    rng = np.random.default_rng(spec.seed)
    hull_parts = round(spec.parts * 0.9)

    step(GENERATE_STEPS[0])
    blocks = make_blocks(rng, spec.parts, spec.blocks)
    hull = make_hull(rng, blocks, hull_parts)
    nb, na, ns = blocks.count, len(hull.assembly_sub_start) - 1, len(hull.sub_part_start) - 1
    kind_start = {"block": 0, "assembly": nb, "sub_assembly": nb + na, "part": nb + na + ns}
    kind_start["joint"] = kind_start["part"] + hull_parts

    step(GENERATE_STEPS[1])
    joints = make_joints(rng, blocks, hull, kind_start)
    kind_start["outfitting_item"] = kind_start["joint"] + int(joints.block_joint_start[-1])

    step(GENERATE_STEPS[2])
    items = make_items(rng, blocks, hull.block_assembly_start, spec.parts - hull_parts, kind_start)
    layout = YardLayout(
        block_assembly_start=hull.block_assembly_start,
        assembly_sub_start=hull.assembly_sub_start,
        sub_part_start=hull.sub_part_start,
        block_joint_start=joints.block_joint_start,
        block_item_start=items.block_item_start,
    )

    step(GENERATE_STEPS[3])
    per_block_parts = np.bincount(hull.part_block, minlength=nb)
    per_block_asm = np.diff(hull.block_assembly_start)
    jc, ic = joints.columns, items.columns
    packages = make_packages(
        rng,
        blocks,
        per_block_parts,
        per_block_asm,
        [
            (jc["work_package_id"], jc["norm_hours"], jc["actual_hours"]),
            (ic["work_package_id"], ic["norm_hours"], ic["actual_hours"]),
        ],
    )

    step(GENERATE_STEPS[4])
    tables = _tables(blocks, hull, joints.columns, items.columns, layout, kind_start, packages)
    tables["work_packages"] = packages.work_packages
    tables["resources"] = packages.resources
    tables["trades"] = trades_table()
    tables["ground_truth"] = pa.table(
        {
            "joint_id": tables["joints"].column("joint_id"),
            "expected_hours": pa.array(jc["expected_hours"]),
            "defect_logit": pa.array(jc["defect_logit"]),
        }
    )

    step(GENERATE_STEPS[5])
    src, dst = _edges(hull, layout, kind_start, joints.edges, items.edges)
    n = layout.num_nodes
    forward = build_csr(src, dst, n)
    reverse = build_csr(dst, src, n)
    return GeneratedYard(spec, layout, tables, forward, reverse)


def _edges(
    hull: Hull, layout: YardLayout, kind_start: dict[str, int], joint_edges: Edges, item_edges: Edges
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """All precedence edges: members with no joint go straight to their parent."""
    per_sub = np.diff(layout.sub_part_start)
    per_asm = np.diff(layout.assembly_sub_start)
    per_block = np.diff(layout.block_assembly_start)
    lone_sub = np.flatnonzero(per_sub == 1)
    lone_asm = np.flatnonzero(per_asm == 1)
    lone_block = np.flatnonzero(per_block == 1)
    src = [
        kind_start["part"] + layout.sub_part_start[lone_sub],
        kind_start["sub_assembly"] + layout.assembly_sub_start[lone_asm],
        kind_start["assembly"] + layout.block_assembly_start[lone_block],
        joint_edges[0],
        item_edges[0],
    ]
    dst = [
        kind_start["sub_assembly"] + lone_sub,
        kind_start["assembly"] + lone_asm,
        kind_start["block"] + lone_block,
        joint_edges[1],
        item_edges[1],
    ]
    return np.concatenate(src).astype(np.int32), np.concatenate(dst).astype(np.int32)


def _tables(
    blocks: Blocks,
    hull: Hull,
    jc: dict[str, npt.NDArray[Any]],
    ic: dict[str, npt.NDArray[Any]],
    layout: YardLayout,
    kind_start: dict[str, int],
    packages: Packages,
) -> dict[str, pa.Table]:
    nb = blocks.count
    per_block_asm = np.diff(layout.block_assembly_start)
    per_asm_sub = np.diff(layout.assembly_sub_start)
    per_sub_part = np.diff(layout.sub_part_start)
    asm_block = np.repeat(np.arange(nb, dtype=np.int32), per_block_asm)
    sub_asm = np.repeat(np.arange(len(per_asm_sub), dtype=np.int32), per_asm_sub)
    asm_parts = np.add.reduceat(per_sub_part, layout.assembly_sub_start[:-1]) if len(per_sub_part) else per_sub_part
    zone = [f"MVZ{m}-L{lv}" for m, lv in zip(blocks.mvz.tolist(), blocks.level.tolist(), strict=True)]
    block_codes = [f"B{b + 1:03d}" for b in range(nb)]
    asm_codes = [
        f"{block_codes[b]}-A{r + 1:02d}" for b, r in zip(asm_block.tolist(), _ranks(per_block_asm), strict=True)
    ]
    sub_codes = [f"{asm_codes[a]}-S{r + 1:02d}" for a, r in zip(sub_asm.tolist(), _ranks(per_asm_sub), strict=True)]

    def dates(days: npt.NDArray[np.integer]) -> pa.Array:
        return pa.array(days.astype(np.int32)).cast(pa.date32())

    tables = {
        "blocks": pa.table(
            {
                "block_id": pa.array(kind_start["block"] + np.arange(nb, dtype=np.int32)),
                "code": block_codes,
                "station": pa.array(blocks.station.astype(np.int16)),
                "level": pa.array(blocks.level.astype(np.int8)),
                "block_type": _dict(blocks.block_type, BLOCK_TYPES),
                "mvz": pa.array(blocks.mvz.astype(np.int8)),
                "zone": zone,
                "weight_t": pa.array(blocks.weight_t),
                "length_m": pa.array(blocks.length_m),
                "n_assemblies": pa.array(per_block_asm.astype(np.int16)),
                "n_parts": pa.array(np.bincount(hull.part_block, minlength=nb).astype(np.int32)),
                "erection_sequence": pa.array(packages.erection_sequence.astype(np.int16)),
                "planned_erection": dates(packages.planned_erection),
                "actual_erection": dates(packages.actual_erection),
            }
        ),
        "assemblies": pa.table(
            {
                "assembly_id": pa.array(kind_start["assembly"] + np.arange(len(asm_block), dtype=np.int32)),
                "code": asm_codes,
                "block_id": pa.array(kind_start["block"] + asm_block),
                "n_sub_assemblies": pa.array(per_asm_sub.astype(np.int16)),
                "n_parts": pa.array(np.asarray(asm_parts, dtype=np.int32)),
            }
        ),
        "sub_assemblies": pa.table(
            {
                "sub_assembly_id": pa.array(kind_start["sub_assembly"] + np.arange(len(sub_asm), dtype=np.int32)),
                "code": sub_codes,
                "assembly_id": pa.array(kind_start["assembly"] + sub_asm),
                "block_id": pa.array(kind_start["block"] + asm_block[sub_asm]),
                "n_parts": pa.array(per_sub_part.astype(np.int32)),
            }
        ),
        "parts": pa.table(
            {
                "part_id": pa.array(kind_start["part"] + np.arange(len(hull.kind), dtype=np.int32)),
                "sub_assembly_id": pa.array(kind_start["sub_assembly"] + hull.part_sub),
                "block_id": pa.array(kind_start["block"] + hull.part_block),
                "kind": _dict(hull.kind, PART_KINDS),
                "grade": _dict(hull.grade, GRADES),
                "thickness_mm": pa.array(hull.thickness_mm),
                "length_m": pa.array(hull.length_m),
                "width_m": pa.array(hull.width_m),
                "weight_kg": pa.array(hull.weight_kg),
            }
        ),
        "joints": pa.table(
            {
                "joint_id": pa.array(kind_start["joint"] + np.arange(len(jc["block_id"]), dtype=np.int32)),
                "block_id": pa.array(kind_start["block"] + jc["block_id"]),
                "level": _dict(jc["level"], JOINT_LEVELS),
                "owner_id": pa.array(jc["owner_id"]),
                "part_a_id": _nullable_ids(np.where(jc["part_a_id"] >= 0, kind_start["part"] + jc["part_a_id"], -1)),
                "part_b_id": _nullable_ids(np.where(jc["part_b_id"] >= 0, kind_start["part"] + jc["part_b_id"], -1)),
                "joint_type": _dict(jc["joint_type"], JOINT_TYPES),
                "process": _dict(jc["process"], PROCESSES),
                "position": _dict(jc["position"], POSITIONS),
                "thickness_mm": pa.array(jc["thickness_mm"]),
                "length_m": pa.array(jc["length_m"]),
                "fit_up_gap_mm": pa.array(jc["fit_up_gap_mm"]),
                "grade": _dict(jc["grade"], GRADES),
                "one_sided": pa.array(jc["one_sided"]),
                "access": _dict(jc["access"], ACCESS),
                "work_package_id": pa.array(jc["work_package_id"]),
                "norm_hours": pa.array(jc["norm_hours"]),
                "actual_hours": pa.array(jc["actual_hours"]),
                "defect": pa.array(jc["defect"]),
                "defect_class": _dict(jc["defect_class"], DEFECT_CLASSES),
            }
        ),
        "outfitting_items": pa.table(
            {
                "item_id": pa.array(kind_start["outfitting_item"] + np.arange(len(ic["kind"]), dtype=np.int32)),
                "block_id": pa.array(ic["block_id"]),
                "assembly_id": _nullable_ids(ic["assembly_id"]),
                "kind": _dict(ic["kind"], ITEM_KINDS),
                "system": pa.DictionaryArray.from_arrays(pa.array(ic["system"]), pa.array(_system_names())),
                "zone": pa.DictionaryArray.from_arrays(pa.array(ic["block_id"].astype(np.int16)), pa.array(zone)),
                "length_m": pa.array(ic["length_m"]),
                "diameter_mm": pa.array(ic["diameter_mm"]),
                "weight_t": pa.array(ic["weight_t"]),
                "spans_blocks": pa.array(ic["spans_blocks"]),
                "stage": _dict(ic["stage"], STAGES),
                "work_package_id": pa.array(ic["work_package_id"]),
                "norm_hours": pa.array(ic["norm_hours"]),
                "actual_hours": pa.array(ic["actual_hours"]),
                "rework": pa.array(ic["rework"]),
            }
        ),
        "systems": pa.table(
            {
                "system_id": pa.array(np.arange(len(_system_names()), dtype=np.int16)),
                "name": _system_names(),
                "item_kind": [k for k in ITEM_KINDS for _ in SYSTEMS[k]],
            }
        ),
    }
    return tables


def _system_names() -> list[str]:
    return [name for kind in ITEM_KINDS for name in SYSTEMS[kind]]


def _ranks(counts: npt.NDArray[np.integer]) -> list[int]:
    return rank_in_group(counts).tolist()
