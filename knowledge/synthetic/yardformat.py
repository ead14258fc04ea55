"""The synthetic yard written in the open yard format (`knowledge.yardformat`): one yard among others.

`write_format(yard, out)` takes a generated yard (`generate_yard`, in memory) and writes it the way a shipyard
would export its own: `yard.toml`, `nodes.parquet`, `edges.parquet`, `work_packages.parquet`, `resources.parquet`
and `actuals.parquet`. `knowledge.importer.import_yard` then reads it like any other yard
(`knowledge.synthetic.pipeline.generate_store` does all three). The same seed gives the same bytes.

**What goes where.**

- *Ids* are the generator's codes (`B214`, `B214-A07-S03-P0042`, `J214-000042`, `O214-00042`, `WP-B214-ERE`,
  the resources' names `PL-1`, `DOCK-1`), made here and nowhere else outside `knowledge.synthetic`.
- *Kinds* are the generator's own words, each its role's name (`block`, ..., `outfitting_item`, `work_package`,
  `resource`), and `system` (no role): one node per ship system (id: its name, `fire main`).
- *Production parents*: an assembly's block, a sub-assembly's assembly, a part's sub-assembly; a joint's owner
  (the sub-assembly, assembly or block it closes: the upper block for an erection joint); an on-unit or on-block
  outfitting item's block. On-board items (fitted after erection), work packages, resources and systems are
  roots. An item's `block` column names its block whatever its stage.
- *The `system` hierarchy*: an item's `system` column is the id of its system node (and the outfitting model's
  `system` field).
- *Edges* are the generator's precedence edges less the links the production hierarchy already implies (child
  -> parent: a joint -> its owner, a lone part -> its sub-assembly, an on-unit item -> its block...), which the
  importer adds back to every child. Then the work packages' own order: each block's packages one after another
  in the order of the trades, and each block's erection after the erection of every block it rests on.
- *Columns* are the generator's, one wide node table (a row leaves the other kinds' columns empty): a column
  whose name is a reserved word or is used by two kinds with two meanings is renamed (a part's `kind` is
  `part_kind`, an item's `item_kind`, a resource's `resource_kind`, a block's `level` is `block_level`), and ids
  become codes (`part_a`, `part_b`, `work_package`, `block`, `assembly`). `[columns.<role>]` maps every field
  the models read, so the welding, outfitting and scheduling models are unlocked.
- *Actuals* (`actuals.parquet`): recorded hours, NDT findings and rework of joints and items, the work packages'
  hours and dates, each block's erection day, and each joint's ground truth (`expected_hours`, `defect_logit`:
  what only a simulated yard knows). *Calendar*: none (the synthetic yard works every day). The generator's
  `trades` table is not part of the format: its order is the work packages' edges, what each trade makes is the
  `work_package` field of the kinds it makes.

**Streaming.** Rows are made and written by chunks of `CHUNK` nodes or edges (codes by pyarrow compute on whole
arrays, never a Python loop per node): besides the generated yard itself, what is held at once is a chunk, the
layout and one int32 per node (the production parent, to tell the implied edges apart).
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from knowledge.synthetic._layout import NODE_KINDS, YardLayout
from knowledge.synthetic.generator import GeneratedYard
from knowledge.synthetic.vocabulary import STAGES, TRADE_NAMES
from knowledge.yarddir import replace_directory

__all__ = ["CHUNK", "FILES", "FORMAT_STEPS", "node_codes", "write_format"]

CHUNK: Final = 1 << 20
"""Rows per chunk and per Parquet row group."""
FILES: Final = (
    "yard.toml",
    "nodes.parquet",
    "work_packages.parquet",
    "resources.parquet",
    "edges.parquet",
    "actuals.parquet",
)
"""What `write_format` writes."""
FORMAT_STEPS: Final = ("work packages and resources", "production parents", "nodes and actuals", "edges")
"""The steps of `write_format`, in order (its `progress` hears each name as the step starts)."""
_SYSTEM: Final = "system"

I64 = npt.NDArray[np.int64]
Progress = Callable[[str], None]

_NODE_SCHEMA: Final = pa.schema(
    [
        ("id", pa.string()),
        ("kind", pa.string()),
        ("parent", pa.string()),
        # blocks
        ("station", pa.int16()),
        ("block_level", pa.int8()),
        ("block_type", pa.string()),
        ("mvz", pa.int8()),
        ("zone", pa.string()),
        ("weight_t", pa.float32()),
        ("length_m", pa.float32()),
        ("n_assemblies", pa.int16()),
        ("n_sub_assemblies", pa.int16()),
        ("n_parts", pa.int32()),
        ("erection_sequence", pa.int16()),
        ("planned_erection", pa.date32()),
        # parts
        ("part_kind", pa.string()),
        ("grade", pa.string()),
        ("thickness_mm", pa.float32()),
        ("width_m", pa.float32()),
        ("weight_kg", pa.float32()),
        # joints
        ("level", pa.string()),
        ("part_a", pa.string()),
        ("part_b", pa.string()),
        ("joint_type", pa.string()),
        ("process", pa.string()),
        ("position", pa.string()),
        ("fit_up_gap_mm", pa.float32()),
        ("one_sided", pa.bool_()),
        ("access", pa.string()),
        ("work_package", pa.string()),
        ("norm_hours", pa.float32()),
        # outfitting items (and systems: item_kind)
        ("block", pa.string()),
        ("assembly", pa.string()),
        ("item_kind", pa.string()),
        ("system", pa.string()),
        ("diameter_mm", pa.float32()),
        ("spans_blocks", pa.bool_()),
        ("stage", pa.string()),
    ]
)


def _same(*columns: str) -> dict[str, str]:
    return {c: c for c in columns}


_COPIED: Final[dict[str, dict[str, str]]] = {
    "block": {
        **_same("station"),
        "level": "block_level",
        **_same("block_type", "mvz", "zone", "weight_t", "length_m", "n_assemblies", "n_parts"),
        **_same("erection_sequence", "planned_erection"),
    },
    "assembly": _same("n_sub_assemblies", "n_parts"),
    "sub_assembly": _same("n_parts"),
    "part": {"kind": "part_kind", **_same("grade", "thickness_mm", "length_m", "width_m", "weight_kg")},
    "joint": _same(
        "level",
        "joint_type",
        "process",
        "position",
        "thickness_mm",
        "length_m",
        "fit_up_gap_mm",
        "grade",
        "one_sided",
        "access",
        "norm_hours",
    ),
    "outfitting_item": {
        "kind": "item_kind",
        **_same("system", "zone", "length_m", "diameter_mm", "weight_t", "spans_blocks", "stage", "norm_hours"),
    },
}
"""Per kind, generator column -> node column: the values as they are (a reserved or ambiguous name renamed)."""
_REFS: Final[dict[str, dict[str, str]]] = {
    "joint": {"part_a_id": "part_a", "part_b_id": "part_b", "work_package_id": "work_package"},
    "outfitting_item": {"block_id": "block", "assembly_id": "assembly", "work_package_id": "work_package"},
}
"""Per kind, generator column of ids (nodes or work packages) -> node column of codes."""
_RECORDED: Final[dict[str, dict[str, str]]] = {
    "block": {"actual_erection": "actual_start"},
    "joint": _same("actual_hours", "defect", "defect_class"),
    "outfitting_item": _same("actual_hours", "rework"),
}
"""Per kind, generator column -> column of the actuals table."""
_TABLE_OF: Final = {
    "block": "blocks",
    "assembly": "assemblies",
    "sub_assembly": "sub_assemblies",
    "part": "parts",
    "joint": "joints",
    "outfitting_item": "outfitting_items",
}
_WORK_PACKAGE_SCHEMA: Final = pa.schema(
    [
        ("id", pa.string()),
        ("kind", pa.string()),
        ("parent", pa.string()),
        ("block", pa.string()),
        ("trade", pa.string()),
        ("trade_name", pa.string()),
        ("resource", pa.string()),
        ("crane", pa.string()),
        ("crew", pa.int16()),
        ("estimated_hours", pa.float32()),
        ("planned_start", pa.date32()),
        ("planned_finish", pa.date32()),
    ]
)
_RESOURCE_SCHEMA: Final = pa.schema(
    [
        ("id", pa.string()),
        ("kind", pa.string()),
        ("parent", pa.string()),
        ("resource_kind", pa.string()),
        ("capacity", pa.int16()),
        ("lift_capacity_t", pa.float32()),
    ]
)
_ACTUALS_SCHEMA: Final = pa.schema(
    [
        ("id", pa.string()),
        ("actual_hours", pa.float32()),
        ("actual_start", pa.date32()),
        ("actual_finish", pa.date32()),
        ("defect", pa.bool_()),
        ("defect_class", pa.string()),
        ("rework", pa.bool_()),
        ("expected_hours", pa.float32()),
        ("defect_logit", pa.float32()),
    ]
)
_UNIQUE: Final = frozenset({"id", "part_a", "part_b", "before", "after"})
"""Columns of node ids, nearly all distinct: written without a dictionary."""

_SPEC: Final = """\
# The synthetic yard (generator {generator}, {parts:,} parts, seed {seed}), written by knowledge.synthetic.yardformat
format = "shipbrain-yard/1"
name = "{name}"
day0 = {day0}
kinds = ["system"]

[roles]
block = "block"
assembly = "assembly"
sub_assembly = "sub_assembly"
part = "part"
joint = "joint"
outfitting_item = "outfitting_item"
work_package = "work_package"
resource = "resource"

[hierarchies]
system = "system"

[tables]
nodes = ["nodes", "work_packages", "resources"]
edges = "edges"
actuals = "actuals"

[columns.block]
block_type = "block_type"
zone = "zone"
weight_t = "weight_t"
erection_sequence = "erection_sequence"
planned_erection = "planned_erection"
work_package = "work_package"

[columns.assembly]
work_package = "work_package"

[columns.sub_assembly]
work_package = "work_package"

[columns.part]
work_package = "work_package"
grade = "grade"
thickness_mm = "thickness_mm"
length_m = "length_m"
width_m = "width_m"
weight_kg = "weight_kg"

[columns.joint]
level = "level"
joint_type = "joint_type"
process = "process"
position = "position"
access = "access"
one_sided = "one_sided"
grade = "grade"
thickness_mm = "thickness_mm"
length_m = "length_m"
fit_up_gap_mm = "fit_up_gap_mm"
work_package = "work_package"
norm_hours = "norm_hours"

[columns.outfitting_item]
item_kind = "item_kind"
system = "system"
length_m = "length_m"
diameter_mm = "diameter_mm"
weight_t = "weight_t"
spans_blocks = "spans_blocks"
work_package = "work_package"
norm_hours = "norm_hours"
stage = "stage"
block = "block"
zone = "zone"

[columns.work_package]
trade = "trade"
resource = "resource"
crane = "crane"
block = "block"
crew = "crew"
estimated_hours = "estimated_hours"
planned_start = "planned_start"
planned_finish = "planned_finish"

[columns.resource]
resource_kind = "resource_kind"
capacity = "capacity"
lift_capacity_t = "lift_capacity_t"

[columns.actuals]
hours = "actual_hours"
start = "actual_start"
finish = "actual_finish"
defect = "defect"
defect_class = "defect_class"
rework = "rework"
expected_hours = "expected_hours"
defect_logit = "defect_logit"
"""


# ---- codes ---------------------------------------------------------------------------------------------------


def _joined(*pieces: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*pieces, "")


def _take(strings: pa.Array, index: npt.NDArray[np.integer]) -> pa.Array:
    return strings.take(pa.array(index))


def _group(starts: I64, local: I64) -> tuple[I64, I64]:
    """The group (of `starts`, a CSR-like offset array) of each local index, and its rank in the group."""
    group = np.searchsorted(starts, local, side="right") - 1
    return group, local - starts[group]


class _Namer:
    """Codes of node ids by arithmetic on the layout, whole arrays at a time.

    The codes of blocks, assemblies and sub-assemblies (some 60,000 at 25M parts) and the zero-padded numbers are
    made once; a part's code is then its sub-assembly's code joined to its padded number, both taken by index.
    """

    def __init__(self, layout: YardLayout) -> None:
        self.layout = layout
        self.kind_start = np.asarray(layout.kind_start, dtype=np.int64)
        self._numbers: dict[int, pa.Array] = {}
        counts = layout.counts
        blocks = self._padded(np.arange(1, counts["block"] + 1), 3)
        self.blocks = _joined("B", blocks)
        self.joint_prefix = _joined("J", blocks, "-")
        self.item_prefix = _joined("O", blocks, "-")
        block, rank = _group(layout.block_assembly_start, np.arange(counts["assembly"], dtype=np.int64))
        self.assemblies = _joined(_take(self.blocks, block), "-A", self._padded(rank + 1, 2))
        assembly, rank = _group(layout.assembly_sub_start, np.arange(counts["sub_assembly"], dtype=np.int64))
        self.sub_assemblies = _joined(_take(self.assemblies, assembly), "-S", self._padded(rank + 1, 2))
        self.part_prefix = _joined(self.sub_assemblies, "-P")

    def _padded(self, numbers: npt.NDArray[np.integer], width: int) -> pa.Array:
        """Each number as text, zero-padded to `width` digits (taken from a table of them made once)."""
        table = self._numbers.get(width)
        top = int(numbers.max()) + 1 if len(numbers) else 0
        if table is None or len(table) < top:
            table = pc.utf8_lpad(pc.cast(pa.array(np.arange(top, dtype=np.int64)), pa.string()), width, "0")
            self._numbers[width] = table
        return _take(table, numbers)

    def codes(self, ids: npt.ArrayLike) -> pa.Array:
        """The code of every id (ids of any kinds, in any order)."""
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return pa.array([], pa.string())
        kind = np.searchsorted(self.kind_start, ids, side="right") - 1
        first, last = int(kind.min()), int(kind.max())
        if first == last:
            return self._of_kind(first, ids - self.kind_start[first])
        order = np.argsort(kind, kind="stable")
        bounds = np.searchsorted(kind[order], np.arange(first, last + 2))
        pieces = [
            self._of_kind(k, ids[order[lo:hi]] - self.kind_start[k])
            for k, lo, hi in zip(range(first, last + 1), bounds[:-1], bounds[1:], strict=True)
            if hi > lo
        ]
        inverse = np.empty(len(ids), dtype=np.int64)
        inverse[order] = np.arange(len(ids))
        return pa.concat_arrays(pieces).take(pa.array(inverse))

    def nullable_codes(self, ids: npt.NDArray[np.integer]) -> pa.Array:
        """Codes, null where the id is negative."""
        missing = ids < 0
        if not missing.any():
            return self.codes(ids)
        codes = self.codes(np.where(missing, 0, ids))
        return pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), codes)

    def _of_kind(self, k: int, local: I64) -> pa.Array:
        lay = self.layout
        kind = NODE_KINDS[k]
        if kind == "block":
            return _take(self.blocks, local)
        if kind == "assembly":
            return _take(self.assemblies, local)
        if kind == "sub_assembly":
            return _take(self.sub_assemblies, local)
        if kind == "part":
            sub, rank = _group(lay.sub_part_start, local)
            return _joined(_take(self.part_prefix, sub), self._padded(rank + 1, 4))
        if kind == "joint":
            block, rank = _group(lay.block_joint_start, local)
            return _joined(_take(self.joint_prefix, block), self._padded(rank + 1, 6))
        block, rank = _group(lay.block_item_start, local)
        return _joined(_take(self.item_prefix, block), self._padded(rank + 1, 5))


def node_codes(layout: YardLayout, ids: npt.ArrayLike) -> pa.Array:
    """The synthetic code of each node id of a generated yard (the ids the format's rows carry)."""
    return _Namer(layout).codes(ids)


# ---- sources -------------------------------------------------------------------------------------------------


def _decoded(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(array.type):
        return array.dictionary_decode()
    return array


def _ints(column: pa.Array | pa.ChunkedArray) -> I64:
    return np.asarray(_decoded(column).fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)


class _Source:
    """A generated yard's tables and graph, read by chunks (a table sliced, never copied)."""

    def __init__(self, yard: GeneratedYard) -> None:
        self.layout = yard.layout
        self.forward: tuple[npt.NDArray[np.integer], npt.NDArray[np.integer]] = yard.forward
        self._tables: dict[str, pa.Table] = dict(yard.tables)
        self.seed, self.parts, self.blocks = yard.spec.seed, yard.spec.parts, yard.spec.blocks
        self.generator = yard.generator_version

    def table(self, name: str) -> pa.Table:
        """A small table whole."""
        return self._tables[name]

    def chunks(self, name: str, columns: list[str]) -> Iterator[pa.Table]:
        """The table's `columns` by chunks of exactly `CHUNK` rows (the last one shorter)."""
        table = self._tables[name].select(columns)
        for lo in range(0, table.num_rows, CHUNK):
            yield table.slice(lo, CHUNK)


# ---- writing -------------------------------------------------------------------------------------------------


class _Writer:
    """A Parquet file written by row groups of exactly `CHUNK` rows, whatever the sizes handed to it."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.schema = schema
        # a dictionary of ids would hold every value once: Parquet tries it and falls back, for nothing
        worded = [name for name in schema.names if name not in _UNIQUE]
        self.writer = pq.ParquetWriter(path, schema, compression="zstd", use_dictionary=worded)
        self.held: list[pa.Table] = []
        self.rows = 0

    def write(self, columns: dict[str, pa.Array]) -> None:
        n = len(next(iter(columns.values())))
        arrays = [columns[f.name].cast(f.type) if f.name in columns else pa.nulls(n, f.type) for f in self.schema]
        self.held.append(pa.Table.from_arrays(arrays, schema=self.schema))
        self.rows += n
        if self.rows >= CHUNK:
            table = pa.concat_tables(self.held)
            whole = (self.rows // CHUNK) * CHUNK
            self.writer.write_table(table.slice(0, whole), row_group_size=CHUNK)
            rest = table.slice(whole)
            self.held, self.rows = [rest], rest.num_rows

    def close(self) -> None:
        if self.rows:
            self.writer.write_table(pa.concat_tables(self.held), row_group_size=CHUNK)
        self.writer.close()


def _parents(source: _Source) -> npt.NDArray[np.int32]:
    """The production parent of every node of the generated yard (-1 for a root)."""
    lay = source.layout
    start: dict[str, int] = {kind: int(s) for kind, s in zip(NODE_KINDS, lay.kind_start, strict=False)}
    parent = np.full(lay.num_nodes, -1, dtype=np.int32)
    counts: dict[str, int] = {kind: int(c) for kind, c in lay.counts.items()}
    levels = (
        ("assembly", "block", lay.block_assembly_start),
        ("sub_assembly", "assembly", lay.assembly_sub_start),
        ("part", "sub_assembly", lay.sub_part_start),
    )
    for kind, up, starts in levels:
        local = np.arange(counts[kind], dtype=np.int64)
        parent[start[kind] : start[kind] + counts[kind]] = start[up] + _group(starts, local)[0]
    lo = start["joint"]
    for chunk in source.chunks("joints", ["owner_id"]):
        parent[lo : lo + chunk.num_rows] = _ints(chunk.column("owner_id"))
        lo += chunk.num_rows
    lo = start["outfitting_item"]
    for chunk in source.chunks("outfitting_items", ["block_id", "stage"]):
        on_board = np.asarray(pc.equal(_decoded(chunk.column("stage")), STAGES[2]).to_numpy(zero_copy_only=False))
        parent[lo : lo + chunk.num_rows] = np.where(on_board, -1, _ints(chunk.column("block_id")))
        lo += chunk.num_rows
    return parent


def _write_nodes(source: _Source, parent: npt.NDArray[np.int32], names: _Namer, tmp: Path) -> None:
    """`nodes.parquet` and `actuals.parquet`: every node of the generated yard, kind by kind, then the systems."""
    lay = source.layout
    wp = source.table("work_packages")
    wp_codes = _decoded(wp.column("code"))  # in work-package id order
    nodes = _Writer(tmp / "nodes.parquet", _NODE_SCHEMA)
    actuals = _Writer(tmp / "actuals.parquet", _ACTUALS_SCHEMA)
    made_by = _made_by(source)
    for k, kind in enumerate(NODE_KINDS):
        copied, recorded, refs = _COPIED[kind], _RECORDED.get(kind, {}), _REFS.get(kind, {})
        lo = int(lay.kind_start[k])
        truth = source.chunks("ground_truth", ["expected_hours", "defect_logit"]) if kind == "joint" else None
        for chunk in source.chunks(_TABLE_OF[kind], [*copied, *recorded, *refs]):
            ids = np.arange(lo, lo + chunk.num_rows, dtype=np.int64)
            lo += chunk.num_rows
            own = names.codes(ids)
            row = {
                "id": own,
                "kind": pa.repeat(pa.scalar(kind), chunk.num_rows),
                "parent": names.nullable_codes(parent[ids]),
            }
            row |= {target: _decoded(chunk.column(column)) for column, target in copied.items()}
            for column, target in refs.items():
                numbers = _ints(chunk.column(column))
                row[target] = (
                    wp_codes.take(pa.array(numbers)) if target == "work_package" else names.nullable_codes(numbers)
                )
            if kind in made_by:  # a hull node's work package: its block's of the trade that makes its kind
                rows = made_by[kind][lay.block_index_of(ids)]
                row["work_package"] = pc.if_else(
                    pa.array(rows < 0), pa.scalar(None, pa.string()), wp_codes.take(pa.array(np.maximum(rows, 0)))
                )
            nodes.write(row)
            if recorded:
                found = {"id": own} | {t: _decoded(chunk.column(c)) for c, t in recorded.items()}
                if truth is not None:  # the ground truth rows are the joints', in the same order
                    known = next(truth)
                    found |= {c: _decoded(known.column(c)) for c in ("expected_hours", "defect_logit")}
                actuals.write(found)
    systems = source.table("systems")
    nodes.write(
        {
            "id": _decoded(systems.column("name")),
            "kind": pa.repeat(pa.scalar(_SYSTEM), systems.num_rows),
            "item_kind": _decoded(systems.column("item_kind")),
        }
    )
    actuals.write(
        {"id": wp_codes} | {c: _decoded(wp.column(c)) for c in ("actual_hours", "actual_start", "actual_finish")}
    )
    nodes.close()
    actuals.close()


def _made_by(source: _Source) -> dict[str, npt.NDArray[np.int64]]:
    """Per hull kind that a trade makes, the work package (row) of each block that makes it (-1: none)."""
    wp = source.table("work_packages")
    trades = source.table("trades").to_pylist()
    blocks = _ints(wp.column("block_id"))
    trade = _decoded(wp.column("trade")).to_pylist()
    out: dict[str, npt.NDArray[np.int64]] = {}
    for t in trades:
        for kind in (k.strip() for k in str(t["makes"] or "").split(",") if k.strip()):
            rows = np.full(source.layout.counts["block"], -1, dtype=np.int64)
            mine = np.flatnonzero(np.asarray([x == t["trade"] for x in trade], dtype=bool))
            rows[blocks[mine]] = mine
            out[kind] = rows
    return out


def _package_edges(source: _Source) -> tuple[pa.Array, pa.Array]:
    """The work packages' own order as edges between them (codes).

    Each block's packages follow one another in the order of the trades, and each block's erection follows that of
    every block it rests on (through its erection joints).
    """
    wp = source.table("work_packages")
    codes = _decoded(wp.column("code"))
    blocks = _ints(wp.column("block_id"))
    trades = sorted(source.table("trades").to_pylist(), key=lambda t: t["sequence"])
    place = {t["trade"]: i for i, t in enumerate(trades)}
    trade = _decoded(wp.column("trade")).to_pylist()
    order = np.lexsort((np.asarray([place[t] for t in trade]), blocks))
    same = blocks[order][1:] == blocks[order][:-1]
    before, after = list(order[:-1][same]), list(order[1:][same])
    erects = [t["trade"] for t in trades if "block" in str(t["makes"] or "").split(",")]
    if erects:
        erection = np.full(source.layout.counts["block"], -1, dtype=np.int64)
        mine = np.flatnonzero(np.asarray([x == erects[0] for x in trade], dtype=bool))
        erection[blocks[mine]] = mine
        for lower, upper in _erection_pairs(source):
            if erection[lower] >= 0 and erection[upper] >= 0:
                before.append(erection[lower])
                after.append(erection[upper])
    return codes.take(pa.array(before, pa.int64())), codes.take(pa.array(after, pa.int64()))


def _erection_pairs(source: _Source) -> list[tuple[int, int]]:
    """(lower block, upper block) of each erection joint, by block index, each pair once, sorted."""
    lay = source.layout
    indptr, indices = source.forward
    nblocks = lay.counts["block"]
    j0, j1 = int(lay.kind_start[NODE_KINDS.index("joint")]), int(lay.kind_start[NODE_KINDS.index("joint") + 1])
    pairs: set[tuple[int, int]] = set()
    pieces = []
    for chunk in source.chunks("joints", ["owner_id", "level"]):
        level = np.asarray(pc.equal(_decoded(chunk.column("level")), "erection").to_numpy(zero_copy_only=False))
        pieces.append(np.where(level, _ints(chunk.column("owner_id")), -1))
    owners = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
    for b in range(nblocks):
        succ = np.asarray(indices[int(indptr[b]) : int(indptr[b + 1])], dtype=np.int64)
        joints = succ[(succ >= j0) & (succ < j1)]
        for j in joints.tolist():
            upper = int(owners[j - j0])
            if 0 <= upper < nblocks and upper != b:
                pairs.add((b, upper))
    return sorted(pairs)


def _write_edges(source: _Source, parent: npt.NDArray[np.int32], names: _Namer, path: Path) -> int:
    """`edges.parquet`: the precedence edges (in the CSR's order) but those the production hierarchy implies.

    Then the work packages' own order (`_package_edges`).
    """
    indptr, indices = source.forward
    total = len(indices)
    edges = _Writer(path, pa.schema([("before", pa.string()), ("after", pa.string())]))
    kept = 0
    for e0 in range(0, total, CHUNK):
        e1 = min(total, e0 + CHUNK)
        first = int(np.searchsorted(indptr, e0, side="right")) - 1
        last = int(np.searchsorted(indptr, e1 - 1, side="right")) - 1
        starts = np.asarray(indptr[first : last + 2], dtype=np.int64)
        per_node = np.minimum(starts[1:], e1) - np.maximum(starts[:-1], e0)
        src = np.repeat(np.arange(first, last + 1, dtype=np.int64), per_node)
        dst = np.asarray(indices[e0:e1], dtype=np.int64)
        own = parent[src] != dst
        if own.any():
            edges.write({"before": names.codes(src[own]), "after": names.codes(dst[own])})
            kept += int(np.count_nonzero(own))
    before, after = _package_edges(source)
    if len(before):
        edges.write({"before": before, "after": after})
        kept += len(before)
    edges.close()
    return kept


def _write_small_tables(source: _Source, tmp: Path) -> dt.date:
    """`work_packages` and `resources`; day 0 of the plan (the first planned start)."""
    wp = source.table("work_packages")
    trade = _decoded(wp.column("trade"))
    blocks = _ints(wp.column("block_id"))
    n = wp.num_rows
    packages = _Writer(tmp / "work_packages.parquet", _WORK_PACKAGE_SCHEMA)
    packages.write(
        {
            "id": _decoded(wp.column("code")),
            "kind": pa.repeat(pa.scalar("work_package"), n),
            "block": _Namer(source.layout).codes(blocks),
            "trade": trade,
            "trade_name": pa.array([TRADE_NAMES.get(t, "") for t in trade.to_pylist()], pa.string()),
        }
        | {c: _decoded(wp.column(c)) for c in ("resource", "crane", "crew", "estimated_hours")}
        | {c: _decoded(wp.column(c)) for c in ("planned_start", "planned_finish")}
    )
    packages.close()
    res = source.table("resources")
    resources = _Writer(tmp / "resources.parquet", _RESOURCE_SCHEMA)
    resources.write(
        {
            "id": _decoded(res.column("resource")),
            "kind": pa.repeat(pa.scalar("resource"), res.num_rows),
            "resource_kind": _decoded(res.column("kind")),
            "capacity": _decoded(res.column("capacity")),
            "lift_capacity_t": _decoded(res.column("lift_capacity_t")),
        }
    )
    resources.close()
    first = pc.min(wp.column("planned_start")).as_py()
    assert isinstance(first, dt.date), "a generated yard's work packages all have planned starts"
    return first


def write_format(yard: GeneratedYard, out: Path, *, overwrite: bool = False, progress: Progress | None = None) -> Path:
    """Write a generated yard to `out` in the open yard format; `progress` hears each of `FORMAT_STEPS` as it starts.

    The files (`FILES`) are written to a temporary sibling renamed into place at the end, so a failed write
    leaves nothing at `out`. The same yard gives the same bytes.

    Raises:
        FileExistsError: `out` exists and `overwrite` is false.
    """
    step = progress or (lambda _what: None)
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{str(out)!r} already exists; pass --force to replace it")
    source = _Source(yard)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.writing-", dir=out.parent))
    try:
        tmp.chmod(0o755)
        step(FORMAT_STEPS[0])
        day0 = _write_small_tables(source, tmp)
        step(FORMAT_STEPS[1])
        parent = _parents(source)
        names = _Namer(source.layout)
        step(FORMAT_STEPS[2])
        _write_nodes(source, parent, names, tmp)
        step(FORMAT_STEPS[3])
        _write_edges(source, parent, names, tmp / "edges.parquet")
        del parent
        asked = "" if source.blocks is None else f", {source.blocks} blocks"  # the generator's default otherwise
        name = f"synthetic cruise ship, {source.parts:,} parts{asked}, seed {source.seed}"
        spec = _SPEC.format(generator=source.generator, parts=source.parts, seed=source.seed, name=name, day0=day0)
        (tmp / "yard.toml").write_text(spec, encoding="utf-8")
        replace_directory(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
