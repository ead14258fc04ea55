"""The part-dependency graph: millions of nodes as memory-mapped CSR arrays.

An edge `u -> v` means "u must be done before v". `upstream` is everything that must come before,
`downstream` everything that waits. Queries are vectorised over whole frontiers; networkx is used
only for bounded subgraphs (`subgraph`, `block_graph`).

```python
from knowledge import PartGraph
g = PartGraph.open(".shipbrain/yards/demo")
block = g.id_of("B012")
parts_before = g.upstream([block], kinds=["part"])
g.codes_of(parts_before[:3])
```
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np
import numpy.typing as npt

from knowledge import _csr, _mapped
from knowledge.errors import InputError, SubgraphTooLargeError, UnknownCodeError, YardIntegrityError
from knowledge.layout import NODE_KINDS, NodeKind, YardLayout
from knowledge.yarddir import (
    GRAPH_FILES,
    TABLES,
    Manifest,
    load_layout,
    load_npy,
    read_manifest,
    read_table,
    verify_files,
)

if TYPE_CHECKING:
    import networkx as nx
    import pyarrow as pa

__all__ = ["DEFAULT_SUBGRAPH_LIMIT", "CriticalPath", "PartGraph", "RollupLevel", "Verify"]

DEFAULT_SUBGRAPH_LIMIT: Final = 200_000
"""Largest node count `subgraph` turns into networkx (about 100 MB of Python objects)."""

Verify = Literal["quick", "full"]
RollupLevel = Literal["block", "assembly", "work_package"]
IdArray = npt.NDArray[np.int32]
_SMALL_TABLE_ROWS: Final = 1 << 20
"""Tables up to this many rows (one Parquet row group) are read whole with `ParquetFile` (see `_read_parquet`)."""
_TRADE_OF_KIND = {"block": 3, "assembly": 1, "sub_assembly": 0, "part": 0}  # ERE, ASM, PNL, PNL


@dataclass(frozen=True)
class CriticalPath:
    """The longest chain of work through the graph, weighted by node durations."""

    node_ids: IdArray
    """The chain from its first node to its last."""
    length: float
    """Sum of the chain's durations (the unit of the durations given)."""
    finish: npt.NDArray[np.float64]
    """Earliest finish of every node, if every node starts as soon as its predecessors finish."""


class PartGraph:
    """A yard's part-dependency graph, opened from a yard directory."""

    def __init__(self, path: Path, manifest: Manifest, layout: YardLayout, arrays: dict[str, npt.NDArray[Any]]) -> None:
        self.path = path
        self.manifest = manifest
        self.layout = layout
        self._fwd = (arrays["forward_indptr"], arrays["forward_indices"])
        self._rev = (arrays["reverse_indptr"], arrays["reverse_indices"])
        weakref.finalize(self, _mapped.forget, list(arrays.values()))

    # ---- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, *, verify: Verify = "quick") -> PartGraph:
        """Open a yard directory, memory-mapping its edge arrays.

        Args:
            path: the yard directory.
            verify: "quick" checks the manifest, every file's presence and size, and the arrays'
                shapes (milliseconds at any size); "full" also checks every SHA-256, every edge's
                end points and that the graph has no cycle (seconds at 25M parts).

        Raises:
            YardNotFoundError, ManifestError, YardIntegrityError, GraphCycleError.
        """
        path = Path(path)
        manifest = read_manifest(path)
        verify_files(path, manifest, checksums=verify == "full")
        layout = load_layout(path)
        arrays = {
            name: load_npy(path, f"graph/{name}.npy", mmap=True, dtype=(np.int32, np.int64)) for name in GRAPH_FILES
        }
        graph = cls(path, manifest, layout, arrays)
        graph._check_shapes()
        if verify == "full":
            graph._check_edges()
        return graph

    def _check_shapes(self) -> None:
        n, m = self.manifest.num_nodes, self.manifest.num_edges
        problems = []
        if self.layout.num_nodes != n or self.layout.counts != self.manifest.counts:
            problems.append(f"layout counts {self.layout.counts} differ from the manifest's {self.manifest.counts}")
        for label, (indptr, indices) in (("forward", self._fwd), ("reverse", self._rev)):
            if len(indptr) != n + 1 or len(indices) != m or indptr[0] != 0 or int(indptr[-1]) != m:
                problems.append(f"{label} arrays do not describe {n:,} nodes and {m:,} edges")
        if problems:
            raise YardIntegrityError(f"yard {str(self.path)!r}: {'; '.join(problems)}; regenerate it")

    def _check_edges(self) -> None:
        for label, (indptr, indices) in (("forward", self._fwd), ("reverse", self._rev)):
            if np.any(np.diff(indptr) < 0) or (len(indices) and (indices.min() < 0 or indices.max() >= self.num_nodes)):
                raise YardIntegrityError(f"yard {str(self.path)!r}: {label} edge arrays point outside the graph")
        self.topological_levels()

    # ---- size and kinds ----------------------------------------------------------------------

    @property
    def num_nodes(self) -> int:
        """Nodes of every kind."""
        return self.manifest.num_nodes

    @property
    def num_edges(self) -> int:
        """Precedence edges."""
        return self.manifest.num_edges

    @property
    def counts(self) -> dict[NodeKind, int]:
        """Nodes of each kind."""
        return dict(self.manifest.counts)

    def kind_of(self, node_id: int) -> NodeKind:
        """Kind of one node."""
        return self.layout.kind_of(int(node_id))

    def kinds_of(self, ids: npt.ArrayLike) -> list[NodeKind]:
        """Kind of each node."""
        return [NODE_KINDS[k] for k in self.layout.kind_codes(self._checked_ids(ids))]

    def ids_of_kind(self, kind: NodeKind) -> IdArray:
        """Every node of one kind, ascending."""
        return self.layout.ids_of_kind(self._checked_kinds([kind])[0])

    # ---- codes -------------------------------------------------------------------------------

    def id_of(self, code: str) -> int:
        """Id of a code such as `B214`, `B214-A07-S03-P0042`, `J214-000042` or `O214-00042`."""
        return self.layout.id_of(code)

    def ids_of(self, codes: Iterable[str]) -> IdArray:
        """Ids of several codes, in order."""
        return np.fromiter((self.layout.id_of(c) for c in codes), dtype=np.int32)

    def code_of(self, part_id: int) -> str:
        """Code of one node."""
        return self.layout.code_of(int(part_id))

    def codes_of(self, ids: npt.ArrayLike) -> list[str]:
        """Codes of several nodes, in order."""
        return [self.layout.code_of(int(i)) for i in self._checked_ids(ids)]

    # ---- traversal ---------------------------------------------------------------------------

    def upstream(
        self, ids: npt.ArrayLike, depth: int | None = None, kinds: Iterable[NodeKind] | None = None
    ) -> IdArray:
        """Everything that must be done before any of `ids` (the ids themselves excluded), ascending.

        Args:
            ids: node ids.
            depth: follow at most this many edges (None: the whole closure).
            kinds: keep only nodes of these kinds (the walk still passes through every kind).
        """
        return self._walk(self._rev, ids, depth, kinds)

    def downstream(
        self, ids: npt.ArrayLike, depth: int | None = None, kinds: Iterable[NodeKind] | None = None
    ) -> IdArray:
        """Everything that waits on any of `ids` (the ids themselves excluded), ascending."""
        return self._walk(self._fwd, ids, depth, kinds)

    def predecessors(self, node_id: int) -> IdArray:
        """Direct predecessors of one node."""
        return self.upstream([node_id], depth=1)

    def successors(self, node_id: int) -> IdArray:
        """Direct successors of one node."""
        return self.downstream([node_id], depth=1)

    def _walk(
        self,
        csr: tuple[npt.NDArray[Any], IdArray],
        ids: npt.ArrayLike,
        depth: int | None,
        kinds: Iterable[NodeKind] | None,
    ) -> IdArray:
        seeds = self._checked_ids(ids)
        if depth is not None and depth < 0:
            raise InputError(f"depth must be 0 or more, got {depth!r}")
        found = _csr.closure(csr[0], csr[1], seeds, self.num_nodes, depth)
        return found if kinds is None else found[self._kind_mask(found, kinds)]

    def shortest_path(self, source: int, target: int) -> IdArray:
        """A shortest chain of edges from `source` to `target` (empty if `target` does not wait on `source`)."""
        seeds = self._checked_ids([source, target])
        return _csr.shortest_path(*self._fwd, int(seeds[0]), int(seeds[1]), self.num_nodes)

    def members(self, node_id: int, kinds: Iterable[NodeKind] | None = None) -> IdArray:
        """Nodes that belong to a block, assembly or sub-assembly by the hierarchy (not by precedence)."""
        node = int(self._checked_ids([node_id])[0])
        kind = self.kind_of(node)
        lay = self.layout
        local = node - int(lay.kind_start[NODE_KINDS.index(kind)])
        spans: list[tuple[NodeKind, int, int]] = []
        if kind == "block":
            a0, a1 = int(lay.block_assembly_start[local]), int(lay.block_assembly_start[local + 1])
            spans.append(("assembly", a0, a1))
            spans.append(("joint", *self._span(lay.block_joint_start, local)))
            spans.append(("outfitting_item", *self._span(lay.block_item_start, local)))
        elif kind == "assembly":
            a0, a1 = local, local + 1
        else:
            a0 = a1 = -1
        if a0 >= 0:
            s0, s1 = int(lay.assembly_sub_start[a0]), int(lay.assembly_sub_start[a1])
            spans.append(("sub_assembly", s0, s1))
        elif kind == "sub_assembly":
            s0, s1 = local, local + 1
        else:
            what = kind.replace("_", " ")
            raise InputError(
                f"{self.code_of(node)!r} is a {what}; only blocks, assemblies and sub-assemblies have members"
            )
        spans.append(("part", int(lay.sub_part_start[s0]), int(lay.sub_part_start[s1])))
        pieces = [np.arange(lo, hi, dtype=np.int32) + int(lay.kind_start[NODE_KINDS.index(k)]) for k, lo, hi in spans]
        if kind != "block":  # the joints that close this assembly or sub-assembly and its members
            block = int(lay.block_index_of([node])[0])
            j0, j1 = self._span(lay.block_joint_start, block)
            joint_base = int(lay.kind_start[NODE_KINDS.index("joint")])
            owners = self._joint_owner[j0:j1]
            closing = np.isin(owners, np.concatenate([[node], pieces[0]]).astype(np.int32))
            pieces.append((joint_base + j0 + np.flatnonzero(closing)).astype(np.int32))
        out = np.concatenate(pieces)
        out.sort()
        return out if kinds is None else out[self._kind_mask(out, kinds)]

    @cached_property
    def _joint_owner(self) -> IdArray:
        return np.asarray(self.table("joints", ["owner_id"]).column(0).to_numpy(), dtype=np.int32)

    @staticmethod
    def _span(starts: npt.NDArray[np.int64], i: int) -> tuple[int, int]:
        return int(starts[i]), int(starts[i + 1])

    # ---- whole-graph views -------------------------------------------------------------------

    def edge_arrays(self) -> tuple[IdArray, IdArray]:
        """All edges as (src, dst) int32 arrays, grouped by src."""
        indptr, indices = self._fwd
        src = np.repeat(np.arange(self.num_nodes, dtype=np.int32), np.diff(indptr))
        return src, np.asarray(indices, dtype=np.int32)

    def subgraph(self, ids: npt.ArrayLike, limit: int = DEFAULT_SUBGRAPH_LIMIT) -> nx.DiGraph:
        """The induced subgraph on `ids` as a networkx DiGraph with `code` and `kind` node attributes.

        Raises:
            SubgraphTooLargeError: more than `limit` nodes.
        """
        nodes = np.unique(self._checked_ids(ids))
        if len(nodes) > limit:
            raise SubgraphTooLargeError(
                f"a subgraph of {len(nodes):,} nodes is over its limit of {limit:,}; narrow the set (one block or "
                "assembly, `kinds=`, `depth=`) or use the vectorised queries"
            )
        import networkx as nx  # imported here: it costs 60 ms that the vectorised queries never need

        src, dst = _csr.edges_from(*self._fwd, nodes)
        keep = np.isin(dst, nodes)
        graph = nx.DiGraph()
        kinds = self.layout.kind_codes(nodes)
        graph.add_nodes_from(
            (int(n), {"code": self.layout.code_of(int(n)), "kind": NODE_KINDS[k]})
            for n, k in zip(nodes.tolist(), kinds.tolist(), strict=True)
        )
        graph.add_edges_from(zip(src[keep].tolist(), dst[keep].tolist(), strict=True))
        return graph

    def block_graph(self) -> nx.DiGraph:
        """Blocks and which is erected after which (through their erection joints)."""
        lower, upper = self._erection_edges
        blocks = self.ids_of_kind("block")
        import networkx as nx

        graph = nx.DiGraph()
        graph.add_nodes_from((int(b), {"code": self.layout.block_code(int(b))}) for b in blocks)
        graph.add_edges_from(zip(lower.tolist(), upper.tolist(), strict=True))
        return graph

    @cached_property
    def _erection_edges(self) -> tuple[IdArray, IdArray]:
        """(lower block, upper block) through each erection joint: read once per graph (the joints table is big).

        The level column is compared chunk by chunk (each with its own dictionary), never concatenated: at 25M parts
        0.76 s -> 0.22 s.
        """
        joints = self.table("joints", ["joint_id", "level"])
        found = [np.zeros(0, dtype=np.int32)]
        for ids, level in zip(joints.column("joint_id").chunks, joints.column("level").chunks, strict=True):
            names = level.dictionary.to_pylist()
            if "erection" in names:
                rows = np.flatnonzero(level.indices.to_numpy(zero_copy_only=False) == names.index("erection"))
                found.append(np.asarray(ids.to_numpy(zero_copy_only=False), dtype=np.int32)[rows])
        jids = np.concatenate(found)
        _, lower = _csr.edges_from(*self._rev, jids)
        _, upper = _csr.edges_from(*self._fwd, jids)
        return np.asarray(lower, dtype=np.int32), np.asarray(upper, dtype=np.int32)

    def topological_levels(self) -> npt.NDArray[np.int32]:
        """Each node's level: the longest chain of edges leading to it (sources are level 0).

        Raises:
            GraphCycleError: the graph has a cycle.
        """
        return self._levels

    @cached_property
    def _levels(self) -> npt.NDArray[np.int32]:
        return _csr.topological_levels(self._fwd[0], self._fwd[1], self._rev[0], self.num_nodes)

    def topological_order(self) -> IdArray:
        """Every node, each after all its predecessors (by level, then id)."""
        levels = self._levels
        if levels.max(initial=0) < np.iinfo(np.int16).max:
            levels = levels.astype(np.int16)  # numpy radix-sorts 16-bit keys: linear time
        return np.argsort(levels, kind="stable").astype(np.int32)

    def critical_path(self, durations: npt.ArrayLike, end: int | None = None) -> CriticalPath:
        """The longest chain of work, each node taking its duration after all its predecessors finish.

        Args:
            durations: one non-negative duration per node (e.g. hours; 0 for milestones).
            end: end the chain at this node instead of the node that finishes last.
        """
        finish, best_pred = self.longest_paths(durations)
        return self.chain_of(finish, best_pred, end=end)

    def longest_paths(self, durations: npt.ArrayLike) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.integer[Any]]]:
        """Every node's earliest finish and the predecessor it waits on last (-1: none), for `chain_of`.

        The whole graph in one pass (seconds at 25M parts): keep the arrays to answer many chains from them.
        """
        dur = np.asarray(durations, dtype=np.float64)
        if dur.shape != (self.num_nodes,):
            raise InputError(f"durations must have one value per node ({self.num_nodes:,}), got shape {dur.shape}")
        if not np.all(np.isfinite(dur)) or np.any(dur < 0):
            raise InputError("durations must be finite and non-negative")
        finish, best_pred = _csr.longest_path(self._levels, self._rev[0], self._rev[1], dur)
        return finish, best_pred

    def chain_of(
        self, finish: npt.NDArray[np.float64], best_pred: npt.NDArray[np.integer[Any]], end: int | None = None
    ) -> CriticalPath:
        """The longest chain ending at `end` (default: the node that finishes last), from `longest_paths`' arrays."""
        last = int(np.argmax(finish)) if end is None else int(self._checked_ids([end])[0])
        chain = [last]
        while best_pred[chain[-1]] >= 0:
            chain.append(int(best_pred[chain[-1]]))
        return CriticalPath(np.asarray(chain[::-1], dtype=np.int32), float(finish[last]), finish)

    def rollup(self, values: npt.ArrayLike, to: RollupLevel = "block", ids: npt.ArrayLike | None = None) -> pa.Table:
        """Sum values over blocks, assemblies or work packages.

        Args:
            values: one value per node, or one per id in `ids`. NaN values are skipped.
            to: "block", "assembly" or "work_package".
            ids: the nodes `values` belong to (default: every node).

        Returns:
            A table with `code`, `total` and `count` (nodes summed) per group, in group order.
            Nodes outside every group of that level (e.g. a block for "assembly") are left out.
        """
        import pyarrow as pa  # here, not at the top: opening and walking a graph need no pyarrow

        vals = np.asarray(values, dtype=np.float64)
        nodes = np.arange(self.num_nodes, dtype=np.int32) if ids is None else self._checked_ids(ids)
        if vals.shape != nodes.shape:
            raise InputError(f"rollup needs one value per node: got {vals.shape[0]:,} values for {len(nodes):,} nodes")
        group, codes = self._groups(to)
        g = group[nodes]
        keep = (g >= 0) & ~np.isnan(vals)
        totals = np.bincount(g[keep], weights=vals[keep], minlength=len(codes))
        counts = np.bincount(g[keep], minlength=len(codes))
        return pa.table({"code": codes, "total": totals, "count": counts.astype(np.int64)})

    def _groups(self, to: RollupLevel) -> tuple[npt.NDArray[np.int64], list[str]]:
        if to == "block":
            return self._block_of_all, [self.layout.block_code(b) for b in range(self.counts["block"])]
        if to == "assembly":
            return self._assembly_of_all, self.codes_of(self.ids_of_kind("assembly"))
        if to == "work_package":
            return self._work_package_of_all, self.table("work_packages", ["code"]).column("code").to_pylist()
        raise InputError(f"cannot roll up to {to!r}; choose block, assembly or work_package")

    @cached_property
    def _block_of_all(self) -> npt.NDArray[np.int64]:
        return self.layout.block_index_of(np.arange(self.num_nodes))

    @cached_property
    def _assembly_of_all(self) -> npt.NDArray[np.int64]:
        import pyarrow.compute as pc

        out = self.layout.assembly_index_of_hull(np.arange(self.num_nodes))
        asm_base = int(self.layout.kind_start[NODE_KINDS.index("assembly")])
        owner_asm = self.layout.assembly_index_of_hull(self._joint_owner)  # -1 for block and erection joints
        out[self.ids_of_kind("joint")] = owner_asm
        parent = pc.fill_null(self.table("outfitting_items", ["assembly_id"]).column(0), -1).to_numpy().astype(np.int64)
        out[self.ids_of_kind("outfitting_item")] = np.where(
            parent >= 0, parent - asm_base, -1
        )  # -1: not on an assembly
        return out

    @cached_property
    def _work_package_of_all(self) -> npt.NDArray[np.int64]:
        block = self._block_of_all
        kinds = self.layout.kind_codes(np.arange(self.num_nodes))
        out = block * 5 + np.asarray([_TRADE_OF_KIND.get(k, -1) for k in NODE_KINDS])[kinds]
        out[self.ids_of_kind("joint")] = self.table("joints", ["work_package_id"]).column(0).to_numpy()
        out[self.ids_of_kind("outfitting_item")] = (
            self.table("outfitting_items", ["work_package_id"]).column(0).to_numpy()
        )
        return out.astype(np.int64)

    # ---- attributes --------------------------------------------------------------------------

    def table(
        self, name: str, columns: Sequence[str] | None = None, where: tuple[str, Sequence[int]] | None = None
    ) -> pa.Table:
        """An attribute table of the yard (see `knowledge.yarddir.TABLES`), or some of its columns.

        `where=(column, values)` reads only the rows whose column holds one of the values, by Parquet row groups.
        """
        wanted = None if where is None else (where[0], [int(v) for v in where[1]])
        cols = None if columns is None else list(columns)
        if name not in TABLES:
            return read_table(self.path, name, cols, wanted)  # it says which tables there are
        import pyarrow as pa

        try:
            found = _read_parquet(self.path / f"{name}.parquet", cols, wanted)
        except (pa.ArrowException, OSError, KeyError, ValueError, StopIteration):
            found = None
        return read_table(self.path, name, cols, wanted) if found is None else found  # it says what is wrong

    # ---- input checks ------------------------------------------------------------------------

    def _checked_ids(self, ids: npt.ArrayLike) -> IdArray:
        arr = np.atleast_1d(np.asarray(ids))
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise InputError(f"node ids must be integers, got {arr.dtype}; use ids_of(codes) for codes")
        arr = arr.astype(np.int64, copy=False)
        bad = (arr < 0) | (arr >= self.num_nodes)
        if bad.any():
            first = int(arr[bad][0])
            raise UnknownCodeError(str(first), f"unknown id {first!r}; ids run 0-{self.num_nodes - 1:,}")
        return arr.astype(np.int32)

    def _checked_kinds(self, kinds: Iterable[str]) -> list[NodeKind]:
        out: list[NodeKind] = []
        for kind in kinds:
            if kind not in NODE_KINDS:
                raise InputError(f"unknown node kind {kind!r}; kinds: {', '.join(NODE_KINDS)}")
            out.append(kind)
        return out

    def _kind_mask(self, ids: IdArray, kinds: Iterable[str]) -> npt.NDArray[np.bool_]:
        wanted = {NODE_KINDS.index(k) for k in self._checked_kinds(kinds)}
        mask = np.zeros(len(ids), dtype=bool)
        starts = self.layout.kind_start
        for k in wanted:  # kinds are contiguous id ranges
            mask |= (ids >= starts[k]) & (ids < starts[k + 1])
        return mask

    def __repr__(self) -> str:
        return f"PartGraph({str(self.path)!r}, nodes={self.num_nodes:,}, edges={self.num_edges:,})"


def _read_parquet(path: Path, columns: list[str] | None, where: tuple[str, list[int]] | None) -> pa.Table | None:
    """`knowledge.yarddir.read_table`'s rows, read with `pyarrow.parquet.ParquetFile`; None: let it read them.

    `where` picks the row groups by the column's min/max statistics (pyarrow's dataset filter does not prune a
    nullable column's row groups: a part's joints by `part_a_id` read the whole 22.5M-row table, 0.4-0.8 s, and
    now two row groups, 30 ms). Small tables are read whole here too, without `pyarrow.dataset` (its import, with
    pandas, costs a first question 0.3-0.6 s); big ones whole by `read_table`, whose threaded scan is faster.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    names = set(file.schema_arrow.names)
    if not names.issuperset(columns or ()) or (where is not None and where[0] not in names):
        raise KeyError("a column the table lacks")  # read_table says which
    if where is None:
        return file.read(columns=columns) if file.metadata.num_rows <= _SMALL_TABLE_ROWS else None
    column, values = where
    meta = file.metadata
    leaf = next(i for i in range(meta.num_columns) if meta.schema.column(i).path == column)
    wanted = np.unique(np.asarray(values, dtype=np.int64))
    groups = []
    for group in range(meta.num_row_groups):
        stats = meta.row_group(group).column(leaf).statistics
        if stats is None or not stats.has_min_max:
            groups.append(group)
            continue
        first = int(np.searchsorted(wanted, int(stats.min), side="left"))
        if first < len(wanted) and wanted[first] <= int(stats.max):
            groups.append(group)
    table = file.read_row_groups(groups, columns=None if columns is None else list(dict.fromkeys([*columns, column])))
    table = table.filter(
        pc.is_in(table.column(column), value_set=pa.array(wanted, type=table.schema.field(column).type))
    )
    return table if columns is None else table.select(columns)
