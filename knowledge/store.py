"""An imported yard's store, opened for graph questions: the yard's own ids, kinds and roles, nothing synthetic.

`YardStore.open` memory-maps what `shipbrain yard import` wrote (`knowledge.importer`, store format 4): the id
index, the per-node kind, parent and subtree-end arrays, and the CSR graph. Ids are the yard's strings; kinds are
the yard's words; a kind's role (block, assembly, part, joint, ...) comes from its `yard.toml`.

Every production subtree is one node range (`subtree`), so "what is inside" is a slice, not a walk.

```python
from knowledge.store import YardStore

store = YardStore.open(".shipbrain/yards/hull-1042")
block = store.node_of("H1042/DB03")
store.kind_of(block), store.role_of(block)        # ('BLK', 'block')
store.members(block, kinds=["PLATE"])             # the plates inside the block: a slice of its range
store.group_members(store.node_of("BALLAST"))    # what a system groups ([hierarchies] system = "SYSTEM")
store.ids_of(store.upstream([block], depth=1))    # what must be done right before it
before = store.upstream_ranges([block])           # everything before it, as a few node ranges
len(before), before.counts["PLATE"]               # counted without listing the nodes
```

Everything upstream of a node holds the node's whole subtree (a child is done before its parent), so an upstream
closure is a union of subtrees: `upstream_ranges` walks subtree roots and returns sorted disjoint ranges
(`knowledge._ranges`); a downstream closure comes back as the runs of its ids.
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from knowledge import _csr, _mapped, _ranges
from knowledge.errors import InputError, MissingFieldError, SubgraphTooLargeError, YardIntegrityError
from knowledge.idindex import IdIndex
from knowledge.importer import ImportManifest, check_store_files, read_import_manifest
from knowledge.words import with_article
from knowledge.yardformat.fields import ACTUALS, FIELDS, ROLES

if TYPE_CHECKING:
    import networkx as nx
    import pyarrow as pa

    from knowledge.yardformat.spec import YardSpec

__all__ = ["DEFAULT_SUBGRAPH_LIMIT", "Closure", "CriticalPath", "YardStore"]

DEFAULT_SUBGRAPH_LIMIT = 200_000
"""Largest node count `subgraph` turns into networkx (about 100 MB of Python objects)."""


@dataclass(frozen=True)
class CriticalPath:
    """The longest chain of work through the graph, weighted by node durations."""

    node_ids: IdArray
    """The chain from its first node to its last."""
    length: float
    """Sum of the chain's durations (the unit of the durations given)."""
    finish: npt.NDArray[np.float64]
    """Earliest finish of every node, if every node starts as soon as its predecessors finish."""


IdArray = npt.NDArray[np.int32]
_GRAPH: tuple[str, ...] = ("forward_indptr", "forward_indices", "reverse_indptr", "reverse_indices")


@dataclass(frozen=True, eq=False)
class Closure:
    """A closure as sorted disjoint node ranges [starts[i], stops[i]), with its size and its nodes by kind."""

    starts: IdArray
    stops: IdArray
    count: int
    """Nodes in the closure (of the kinds asked for, when some were)."""
    counts: dict[str, int]
    """Nodes of each of the yard's kinds in the closure (kinds with none left out)."""

    def __len__(self) -> int:
        return self.count

    def ids(self) -> IdArray:
        """Every node of the closure, ascending (materialised: use the ranges to count or filter)."""
        return _ranges.ranges_to_ids(self.starts, self.stops)

    def contains(self, nodes: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Whether each node is in the closure (binary search on the ranges)."""
        return _ranges.contains(self.starts, self.stops, np.asarray(nodes).ravel())


class YardStore:
    """An imported yard: its ids, kinds, roles, production hierarchy and precedence graph."""

    def __init__(self, path: Path, manifest: ImportManifest, index: IdIndex, arrays: dict[str, npt.NDArray[Any]]):
        self.path = path
        self.manifest = manifest
        self.ids = index
        """The id index: the yard's ids <-> nodes, loose and fuzzy lookups."""
        self._kind = arrays["kind"]
        self._parent = arrays["parent"]
        self._end = arrays["end"]
        self._fwd = (arrays["forward_indptr"], arrays["forward_indices"])
        self._rev = (arrays["reverse_indptr"], arrays["reverse_indices"])
        self._role_of_kind = {kind: role for role, kinds in manifest.roles.items() for kind in kinds}
        self._lock = threading.RLock()
        """Guards what is read on first use (the service asks from several threads)."""
        self._role_nodes: dict[str, IdArray] = {}
        self._fields: dict[str, tuple[str, ...]] = {}
        self._columns: dict[tuple[str, str], npt.NDArray[Any]] = {}
        self._row_groups: dict[str, npt.NDArray[np.int64]] = {}
        self._role_blocks: dict[str, IdArray] = {}
        self._groups: dict[str, IdArray] = {}
        weakref.finalize(self, _mapped.forget, list(arrays.values()))

    @classmethod
    def open(cls, path: str | Path) -> YardStore:
        """Open an imported store, memory-mapped (milliseconds at any size).

        Raises:
            YardDataError: no imported store there.
            YardIntegrityError: a file missing or of the wrong size or shape.
        """
        path = Path(path)
        manifest = read_import_manifest(path)
        check_store_files(path, manifest)
        arrays: dict[str, npt.NDArray[Any]] = {}
        for name in ("kind", "parent", "end"):
            arrays[name] = np.load(path / "nodes" / f"{name}.npy", mmap_mode="r")
        for name in _GRAPH:
            arrays[name] = np.load(path / "graph" / f"{name}.npy", mmap_mode="r")
        store = cls(path, manifest, IdIndex.open(path / "ids"), arrays)
        store._check_shapes()
        return store

    def _check_shapes(self) -> None:
        n, m = self.manifest.num_nodes, self.manifest.num_edges
        problems = [
            f"{name} has {len(a):,} rows"
            for name, a in (("kind", self._kind), ("parent", self._parent), ("end", self._end))
            if len(a) != n
        ]
        arrays = {
            "nodes/kind": (self._kind, (np.int16,)),
            "nodes/parent": (self._parent, (np.int32,)),
            "nodes/end": (self._end, (np.int32,)),
            "graph/forward_indptr": (self._fwd[0], (np.int32, np.int64)),
            "graph/forward_indices": (self._fwd[1], (np.int32,)),
            "graph/reverse_indptr": (self._rev[0], (np.int32, np.int64)),
            "graph/reverse_indices": (self._rev[1], (np.int32,)),
        }
        problems += [
            f"{name}.npy holds {a.dtype}, not {' or '.join(np.dtype(t).name for t in types)}"
            for name, (a, types) in arrays.items()
            if a.dtype not in types or a.ndim != 1
        ]
        for label, (indptr, indices) in (("forward", self._fwd), ("reverse", self._rev)):
            if len(indptr) != n + 1 or len(indices) != m:
                problems.append(f"{label} arrays do not describe {n:,} nodes and {m:,} edges")
        if len(self.ids) != n:
            problems.append(f"the id index has {len(self.ids):,} ids")
        if problems:
            raise YardIntegrityError(f"yard {str(self.path)!r}: {'; '.join(problems)}; import it again")

    # ---- size, kinds and roles ---------------------------------------------------------------------

    @property
    def num_nodes(self) -> int:
        """Nodes of every kind."""
        return self.manifest.num_nodes

    @property
    def num_edges(self) -> int:
        """Precedence edges: the yard's own and one child -> parent per node under a parent."""
        return self.manifest.num_edges

    @property
    def kinds(self) -> list[str]:
        """The yard's kinds, as it names them."""
        return list(self.manifest.kinds)

    def kind_of(self, node: int) -> str:
        """The kind of one node, as the yard names it."""
        return self.manifest.kinds[int(self._kind[self._checked(node)])]

    def role_of(self, node: int) -> str | None:
        """The role of one node's kind (block, assembly, part, joint, ...), None for a kind with no role."""
        return self._role_of_kind.get(self.kind_of(node))

    def kinds_of(self, nodes: npt.ArrayLike) -> list[str]:
        """The kind of each node."""
        kinds = self.manifest.kinds
        return [kinds[k] for k in np.asarray(self._kind)[self._checked_many(nodes)].tolist()]

    def nodes_of_kind(self, kind: str) -> IdArray:
        """Every node of one kind (a kind of the yard's, or a role: every kind that plays it), ascending."""
        codes = self._kind_codes([kind])
        return np.flatnonzero(np.isin(self._kind, codes)).astype(np.int32)

    @property
    def name(self) -> str:
        """The yard's name, from its `yard.toml`."""
        return self.manifest.name

    @cached_property
    def day0(self) -> date:
        """Calendar date of schedule day 0 (the yard's `day0`)."""
        return date.fromisoformat(self.manifest.day0)

    @cached_property
    def spec(self) -> YardSpec:
        """The yard's `yard.toml` as imported (roles, hierarchies, column mappings, its own `[ndt]` rules)."""
        from knowledge.yardformat.spec import load_spec

        return load_spec(self.path)

    @property
    def roles(self) -> dict[str, list[str]]:
        """Each role the yard plays (block, joint, ...) and the yard's kinds that play it."""
        return {role: list(kinds) for role, kinds in self.manifest.roles.items()}

    @property
    def counts(self) -> dict[str, int]:
        """Nodes of each of the yard's kinds."""
        return dict(self.manifest.counts)

    def count(self, kind: str) -> int:
        """Nodes of one kind, or of one role (every kind that plays it); 0 for a role the yard does not map."""
        if kind in self.manifest.counts:
            return int(self.manifest.counts[kind])
        if kind in ROLES:
            return sum(int(self.manifest.counts.get(k, 0)) for k in self.manifest.roles.get(kind, []))
        raise InputError(f"no kind or role {kind!r} in this yard; kinds: {', '.join(self.manifest.kinds)}")

    @cached_property
    def _role_of_code(self) -> npt.NDArray[np.int8]:
        """Per kind code, the index of its role in `ROLES` (-1: no role)."""
        return np.asarray(
            [ROLES.index(r) if (r := self._role_of_kind.get(k)) in ROLES else -1 for k in self.manifest.kinds],
            dtype=np.int8,
        )

    def role_codes(self, nodes: npt.ArrayLike) -> npt.NDArray[np.int8]:
        """Per node, the index of its role in `knowledge.yardformat.ROLES` (-1 for a kind with no role)."""
        return self._role_of_code[np.asarray(self._kind)[self._checked_many(nodes)]]

    def nodes_of_role(self, role: str) -> IdArray:
        """Every node whose kind plays `role`, ascending (empty for a role the yard does not map); kept once read."""
        if role not in ROLES:
            raise InputError(f"no role {role!r}; roles: {', '.join(ROLES)}")
        with self._lock:
            found = self._role_nodes.get(role)
            if found is None:
                kinds = self.manifest.roles.get(role, [])
                found = self.nodes_of_kind(role) if kinds else np.zeros(0, dtype=np.int32)
                self._role_nodes[role] = found
            return found

    def role_rows(self, role: str, nodes: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Each node's row in `role_table(role)` (rows are in node order), -1 for a node not of that role."""
        members = self.nodes_of_role(role)
        array = self._checked_many(nodes).astype(np.int64)
        at = np.searchsorted(members, array)
        inside = at < len(members)
        hit = np.zeros(len(array), dtype=bool)
        hit[inside] = members[at[inside]] == array[inside]
        return np.where(hit, at, -1).astype(np.int64)

    def _kind_codes(self, kinds: Iterable[str]) -> npt.NDArray[np.int16]:
        index = {k: i for i, k in enumerate(self.manifest.kinds)}
        codes: list[int] = []
        for kind in kinds:
            if kind in index:
                codes.append(index[kind])
            elif kind in self.manifest.roles:
                codes.extend(index[k] for k in self.manifest.roles[kind])
            else:
                raise InputError(
                    f"no kind or role {kind!r} in this yard; kinds: {', '.join(self.manifest.kinds)}; "
                    f"roles: {', '.join(self.manifest.roles) or 'none'}"
                )
        return np.asarray(codes, dtype=np.int16)

    # ---- ids ---------------------------------------------------------------------------------------

    def node_of(self, yard_id: str) -> int:
        """The node of one of the yard's ids (exact; the error names ids close to it)."""
        return self.ids.node_of(yard_id)

    def id_of(self, node: int) -> str:
        """The yard's id of one node."""
        if type(node) is int:  # the common case, range-checked by the index (a third of a lookup's time saved)
            return self.ids.id_of(node)
        return self.ids.id_of(self._checked(node))

    def ids_of(self, nodes: npt.ArrayLike) -> list[str]:
        """The yard's ids of several nodes, in order."""
        return [str(x) for x in self.ids.ids_of(self._checked_many(nodes)).to_pylist()]

    def code_of(self, node: int) -> str:
        """`id_of`: a yard's ids are what the rest of Shipbrain calls codes."""
        return self.id_of(node)

    def nodes_of(self, codes: Iterable[str]) -> IdArray:
        """The node of each code (exact), in order; an `UnknownCodeError` for the first that names none."""
        wanted = list(codes)
        found = self.ids.nodes_of(wanted) if wanted else np.zeros(0, dtype=np.int32)
        missing = np.flatnonzero(found < 0)
        if len(missing):
            self.ids.node_of(wanted[int(missing[0])])  # raises, naming ids close to it
        return found.astype(np.int32)

    def codes_of(self, nodes: npt.ArrayLike) -> list[str]:
        """`ids_of`: a yard's ids are what the rest of Shipbrain calls codes."""
        return self.ids_of(nodes)

    # ---- the hierarchy -----------------------------------------------------------------------------

    def parent_of(self, node: int) -> int | None:
        """The production parent of a node, None for a root."""
        parent = int(self._parent[self._checked(node)])
        return parent if parent >= 0 else None

    def subtree(self, node: int) -> tuple[int, int]:
        """The node range [start, end) of a node's production subtree (itself first)."""
        node = self._checked(node)
        return node, int(self._end[node])

    def members(self, node: int, kinds: Iterable[str] | None = None) -> IdArray:
        """Everything inside a node by the production hierarchy (itself excluded), ascending: a slice of its range."""
        start, end = self.subtree(node)
        inside = np.arange(start + 1, end, dtype=np.int32)
        if kinds is None:
            return inside
        return inside[np.isin(self._kind[start + 1 : end], self._kind_codes(kinds))]

    @property
    def hierarchies(self) -> list[str]:
        """The yard's grouping hierarchies (`[hierarchies]` in its `yard.toml`: systems, zones...), by name."""
        return list(self.manifest.hierarchies)

    def group_parents(self, hierarchy: str) -> IdArray:
        """Per node, its parent in grouping hierarchy `hierarchy` (-1 for none), memory-mapped; kept once read."""
        if hierarchy not in self.manifest.hierarchies:
            names = ", ".join(self.manifest.hierarchies) or "none"
            raise InputError(f"no hierarchy {hierarchy!r} in this yard; its hierarchies: {names}")
        with self._lock:
            found = self._groups.get(hierarchy)
            if found is None:
                found = np.load(self.path / "nodes" / f"group-{hierarchy}.npy", mmap_mode="r")
                if found.shape != (self.num_nodes,):
                    raise YardIntegrityError(f"yard {str(self.path)!r}: group-{hierarchy}.npy has the wrong shape")
                self._groups[hierarchy] = found
            return found

    def group_members(self, node: int, kinds: Iterable[str] | None = None, hierarchy: str | None = None) -> IdArray:
        """Everything a node groups (itself excluded), ascending.

        The nodes under it in a grouping hierarchy (all the yard's, or `hierarchy`), at any depth, and what is inside
        each of them by the production hierarchy.

        A system's members are its items (`[hierarchies] system = "SYSTEM"`, each item's SYSTEM naming it), a
        pipeline grouped under it and the spools inside that pipeline. Empty for a node that groups nothing.
        """
        node = self._checked(node)
        names = [hierarchy] if hierarchy is not None else self.manifest.hierarchies
        grouped: list[IdArray] = []
        for name in names:
            parents = np.asarray(self.group_parents(name))
            frontier = np.asarray([node], dtype=np.int32)
            seen = np.zeros(0, dtype=np.int32)
            while len(frontier):  # one pass over the column per level: hierarchies are a few levels deep
                under = np.flatnonzero(np.isin(parents, frontier)).astype(np.int32)
                frontier = np.setdiff1d(under, seen, assume_unique=True)
                seen = np.union1d(seen, frontier).astype(np.int32)
            grouped.append(seen)
        heads = np.unique(np.concatenate(grouped)) if grouped else np.zeros(0, dtype=np.int32)
        heads = heads[heads != node].astype(np.int32)
        starts, stops = _ranges._merge(heads, np.asarray(self._end)[heads].astype(np.int32))
        inside = _ranges.ranges_to_ids(starts, stops)
        inside = inside[inside != node]
        if kinds is None:
            return inside
        return inside[np.isin(np.asarray(self._kind)[inside], self._kind_codes(kinds))]

    def ancestor_of(self, nodes: npt.ArrayLike, role: str) -> IdArray:
        """Per node, its nearest ancestor-or-self whose kind plays `role` (-1 where none), by the production hierarchy.

        Subtrees are ranges, so the candidate is the last node of the role at or before the node: one binary search
        each; a node whose candidate does not hold it (nested roles, a sibling's subtree) walks up its parents.
        """
        array = self._checked_many(nodes).astype(np.int64)
        members = self.nodes_of_role(role)
        out = np.full(len(array), -1, dtype=np.int32)
        if not len(members) or not len(array):
            return out
        at = np.searchsorted(members, array, side="right") - 1
        candidate = np.where(at >= 0, members[np.maximum(at, 0)], -1).astype(np.int64)
        holds = (candidate >= 0) & (np.asarray(self._end)[np.maximum(candidate, 0)] > array)
        out[holds] = candidate[holds]
        rest = np.flatnonzero(~holds & (candidate >= 0))
        if len(rest):  # nested roles: a closer candidate may not hold the node while a farther one does
            code = np.int8(ROLES.index(role))
            current = array[rest]
            while len(rest):
                current = np.asarray(self._parent)[current].astype(np.int64)
                alive = current >= 0
                rest, current = rest[alive], current[alive]
                found = self._role_of_code[np.asarray(self._kind)[current]] == code
                out[rest[found]] = current[found]
                rest, current = rest[~found], current[~found]
        return out

    def block_of(self, nodes: npt.ArrayLike) -> IdArray:
        """Per node, its block (-1 where none).

        Its production ancestor-or-self of role block, else the block its role's `block` field names (an item fitted
        on board after erection has no production parent).
        """
        array = self._checked_many(nodes)
        out = self.ancestor_of(array, "block")
        missing = np.flatnonzero(out < 0)
        if not len(missing):
            return out
        codes = self.role_codes(array[missing])
        for role in {ROLES[c] for c in np.unique(codes).tolist() if c >= 0}:
            if "block" not in self.fields(role):
                continue
            mine = missing[codes == ROLES.index(role)]
            column = self._field_array(role, "block")
            out[mine] = column[self.role_rows(role, array[mine])]
        return out

    def blocks_of_role(self, role: str) -> IdArray:
        """`block_of` every node of `role`, in `nodes_of_role(role)` order: computed once, then kept.

        "The items of a block" is `nodes_of_role("outfitting_item")[blocks_of_role("outfitting_item") == block]`:
        those inside it and those fitted on board whose `block` field names it.
        """
        with self._lock:
            found = self._role_blocks.get(role)
        if found is None:
            nodes = self.nodes_of_role(role)
            found = self.block_of(nodes) if len(nodes) else np.zeros(0, dtype=np.int32)
            with self._lock:
                self._role_blocks[role] = found
        return found

    def zones_of_role(self, role: str, purpose: str = "zones") -> pa.Array:
        """The zone of every node of `role`, in `nodes_of_role(role)` order.

        Its own `zone` field where it gives one, else its block's (`block_of`), null where neither does.

        Raises:
            MissingFieldError: neither the role nor the yard's blocks give a `zone` field (the message says what
                `purpose` needs: the blocks' zone, where a yard usually gives it).
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        own_field = "zone" in self.fields(role)
        by_block = role != "block" and "zone" in self.fields("block")
        if not own_field and not by_block:
            self.require("block", ["zone"], purpose)  # raises, naming the field and the yard.toml line
        if own_field:
            zones = self.role_table(role, ["zone"]).column("zone").combine_chunks().cast(pa.string())
        else:
            zones = pa.nulls(len(self.nodes_of_role(role)), pa.string())
        if not by_block or not zones.null_count:
            return zones
        rows = self.role_rows("block", self.blocks_of_role(role))
        block_zones = self.role_table("block", ["zone"]).column("zone").combine_chunks().cast(pa.string())
        theirs = block_zones.take(pa.array(np.maximum(rows, 0), mask=rows < 0))
        return pc.coalesce(zones, theirs)

    # ---- precedence --------------------------------------------------------------------------------

    def upstream(self, nodes: npt.ArrayLike, depth: int | None = None, kinds: Iterable[str] | None = None) -> IdArray:
        """Everything that must be done before any of `nodes` (themselves excluded), ascending.

        The whole closure is read off `upstream_ranges`; a depth-limited one is walked edge by edge.
        """
        if depth is None:
            return self.upstream_ranges(nodes, kinds).ids()
        return self._walk(self._rev, nodes, depth, kinds)

    def downstream(self, nodes: npt.ArrayLike, depth: int | None = None, kinds: Iterable[str] | None = None) -> IdArray:
        """Everything that waits on any of `nodes` (themselves excluded), ascending."""
        return self._walk(self._fwd, nodes, depth, kinds)

    def upstream_ranges(self, nodes: npt.ArrayLike, kinds: Iterable[str] | None = None) -> Closure:
        """`upstream(nodes)` as node ranges, counted by kind, without listing its nodes one by one.

        The walk takes a reached node's whole subtree at once and follows only the edges entering it from outside
        (`knowledge._ranges`); `kinds` cuts the ranges down to the nodes of those kinds (or roles).
        """
        seeds = self._checked_many(nodes)
        starts, stops = _ranges.upstream_ranges(self._entering, self._end, self._parent, seeds)
        return self._closure(*_ranges.remove_ids(starts, stops, seeds), kinds)

    def downstream_ranges(self, nodes: npt.ArrayLike, kinds: Iterable[str] | None = None) -> Closure:
        """`downstream(nodes)` as the runs of its ids, counted by kind.

        What waits on a node is no union of subtrees (the walk reaches a parent, not its other children): it is
        walked edge by edge and its sorted ids are cut into runs.
        """
        found = _csr.closure(self._fwd[0], self._fwd[1], self._checked_many(nodes), self.num_nodes, None)
        return self._closure(*_ranges.ids_to_ranges(found), kinds)

    def _closure(self, starts: IdArray, stops: IdArray, kinds: Iterable[str] | None) -> Closure:
        if kinds is not None:
            starts, stops = self._entering.kind_mask(starts, stops, self._kind_codes(kinds))
        by_kind = self._entering.count_kinds(starts, stops, len(self.manifest.kinds))
        counts = {kind: int(c) for kind, c in zip(self.manifest.kinds, by_kind.tolist(), strict=True) if c}
        return Closure(starts, stops, int(by_kind.sum()), counts)

    @cached_property
    def _entering(self) -> _ranges.EnteringIndex:
        """The index of the edges entering each subtree, kept in a cache directory beside the store.

        The store itself stays as imported; the cache is keyed by the manifest's checksums (a new import of the same
        path builds it again), and built in memory when the cache cannot be written.
        """
        key = hashlib.sha256(json.dumps(self.manifest.files, sort_keys=True).encode()).hexdigest()
        cache = self.path.parent / f".{self.path.name}.closures"
        found = _ranges.EnteringIndex.load(cache, key)
        if found is not None:
            return found
        built = _ranges.EnteringIndex.build(
            self._kind, self._parent, self._end, *self._rev, num_kinds=len(self.manifest.kinds)
        )
        built.save(cache, key)
        # read back memory-mapped: the built arrays (454 MiB at 48M nodes) leave the heap, pages come as touched
        return _ranges.EnteringIndex.load(cache, key) or built

    def shortest_path(self, source: int, target: int) -> IdArray:
        """A shortest chain of edges from `source` to `target` (empty when `target` does not wait on `source`)."""
        return _csr.shortest_path(*self._fwd, self._checked(source), self._checked(target), self.num_nodes)

    def predecessors(self, node: int) -> IdArray:
        """Direct predecessors of one node, ascending (its production children among them)."""
        node = self._checked(node)
        return np.unique(np.asarray(self._rev[1][self._rev[0][node] : self._rev[0][node + 1]], dtype=np.int32))

    def successors(self, node: int) -> IdArray:
        """Direct successors of one node, ascending (its production parent among them)."""
        node = self._checked(node)
        return np.unique(np.asarray(self._fwd[1][self._fwd[0][node] : self._fwd[0][node + 1]], dtype=np.int32))

    def edges_from(self, nodes: npt.ArrayLike) -> tuple[IdArray, IdArray]:
        """Every edge leaving `nodes`, as (before, after) arrays."""
        return _csr.edges_from(*self._fwd, self._checked_many(nodes))

    def edges_into(self, nodes: npt.ArrayLike) -> tuple[IdArray, IdArray]:
        """Every edge entering `nodes`, as (before, after) arrays."""
        after, before = _csr.edges_from(*self._rev, self._checked_many(nodes))
        return before, after

    def edge_arrays(self) -> tuple[IdArray, IdArray]:
        """All edges (the yard's own and child -> parent) as (before, after) int32 arrays, grouped by `before`."""
        indptr, indices = self._fwd
        src = np.repeat(np.arange(self.num_nodes, dtype=np.int32), np.diff(indptr))
        return src, np.asarray(indices, dtype=np.int32)

    def subgraph(self, nodes: npt.ArrayLike, limit: int = DEFAULT_SUBGRAPH_LIMIT) -> nx.DiGraph:
        """The induced subgraph on `nodes` as a networkx DiGraph with `code`, `kind` and `role` node attributes.

        Raises:
            SubgraphTooLargeError: more than `limit` nodes.
        """
        chosen = np.unique(self._checked_many(nodes))
        if len(chosen) > limit:
            raise SubgraphTooLargeError(
                f"a subgraph of {len(chosen):,} nodes is over its limit of {limit:,}; narrow the set (one block or "
                "assembly, `kinds=`, `depth=`) or use the vectorised queries"
            )
        import networkx as nx  # imported here: it costs 60 ms that the vectorised queries never need

        src, dst = _csr.edges_from(*self._fwd, chosen)
        keep = np.isin(dst, chosen)
        graph = nx.DiGraph()
        kinds = self.manifest.kinds
        roles = self._role_of_code
        codes = np.asarray(self._kind)[chosen]
        graph.add_nodes_from(
            (n, {"code": c, "kind": kinds[k], "role": ROLES[roles[k]] if roles[k] >= 0 else None})
            for n, c, k in zip(chosen.tolist(), self.ids_of(chosen), codes.tolist(), strict=True)
        )
        graph.add_edges_from(zip(src[keep].tolist(), dst[keep].tolist(), strict=True))
        return graph

    # ---- whole-graph passes ------------------------------------------------------------------------

    def topological_levels(self) -> npt.NDArray[np.int32]:
        """Each node's level: the longest chain of edges leading to it (sources are level 0)."""
        return self._levels

    @cached_property
    def _levels(self) -> npt.NDArray[np.int32]:
        return _csr.topological_levels(self._fwd[0], self._fwd[1], self._rev[0], self.num_nodes)

    def topological_order(self) -> IdArray:
        """Every node, each after all its predecessors (by level, then node)."""
        levels = self._levels
        if levels.max(initial=0) < np.iinfo(np.int16).max:
            levels = levels.astype(np.int16)  # numpy radix-sorts 16-bit keys: linear time
        return np.argsort(levels, kind="stable").astype(np.int32)

    def longest_paths(self, durations: npt.ArrayLike) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.integer[Any]]]:
        """Every node's earliest finish and the predecessor it waits on last (-1: none), for `chain_of`.

        The whole graph in one pass (seconds at 25M parts): keep the arrays to answer many chains from them.
        """
        dur = np.asarray(durations, dtype=np.float64)
        if dur.shape != (self.num_nodes,):
            raise InputError(f"durations must have one value per node ({self.num_nodes:,}), got shape {dur.shape}")
        if not np.all(np.isfinite(dur)) or np.any(dur < 0):
            raise InputError("durations must be finite and non-negative")
        return _csr.longest_path(self._levels, self._rev[0], self._rev[1], dur)

    def critical_path(self, durations: npt.ArrayLike, end: int | None = None) -> CriticalPath:
        """The longest chain of work, each node taking its duration after all its predecessors finish."""
        finish, best_pred = self.longest_paths(durations)
        return self.chain_of(finish, best_pred, end=end)

    def chain_of(
        self, finish: npt.NDArray[np.float64], best_pred: npt.NDArray[np.integer[Any]], end: int | None = None
    ) -> CriticalPath:
        """The longest chain ending at `end` (default: the node that finishes last), from `longest_paths`' arrays."""
        last = int(np.argmax(finish)) if end is None else self._checked(end)
        chain = [last]
        while best_pred[chain[-1]] >= 0:
            chain.append(int(best_pred[chain[-1]]))
        return CriticalPath(np.asarray(chain[::-1], dtype=np.int32), float(finish[last]), finish)

    def _walk(
        self,
        csr: tuple[npt.NDArray[Any], IdArray],
        nodes: npt.ArrayLike,
        depth: int | None,
        kinds: Iterable[str] | None,
    ) -> IdArray:
        if depth is not None and depth < 0:
            raise InputError(f"depth must be 0 or more, got {depth!r}")
        found = _csr.closure(csr[0], csr[1], self._checked_many(nodes), self.num_nodes, depth)
        if kinds is None:
            return found
        return found[np.isin(np.asarray(self._kind)[found], self._kind_codes(kinds))]

    # ---- tables ------------------------------------------------------------------------------------

    def fields(self, role: str) -> tuple[str, ...]:
        """The fields of `role` (or "actuals") the yard gives: the columns its `yard.toml` maps, in catalogue order."""
        if role not in FIELDS:
            raise InputError(f"no role {role!r}; roles: {', '.join(ROLES)}")
        with self._lock:
            found = self._fields.get(role)
            if found is None:
                import pyarrow.parquet as pq

                path = self.path / "roles" / f"{role}.parquet"
                names = set(pq.read_schema(path).names) if path.is_file() else set()
                found = tuple(f.name for f in FIELDS[role] if f.name in names)
                self._fields[role] = found
            return found

    def require(self, role: str, fields: Iterable[str], purpose: str) -> None:
        """A `MissingFieldError` naming what `purpose` needs of `role` that the yard does not give, how to add it."""
        missing = [f for f in fields if f not in self.fields(role)]
        if missing and role != ACTUALS and not self.manifest.roles.get(role):
            raise MissingFieldError(
                role,
                missing,
                f"{purpose} needs the yard's {role.replace('_', ' ')}s, and this yard ({self.name}) has none: its "
                f'yard.toml maps no kind onto the role {role} ([roles] {role} = "<your kind>")',
            )
        if missing:
            section = "actuals" if role == ACTUALS else role
            lines = ", ".join(f'{f} = "<your column>"' for f in missing)
            raise MissingFieldError(
                role,
                missing,
                f"{purpose} needs the {section} field(s) {', '.join(missing)}, which this yard ({self.name}) does not "
                f"give: map a column onto each in its yard.toml ([columns.{section}] {lines}) and import it again",
            )

    def role_table(self, role: str, columns: list[str] | None = None, nodes: npt.ArrayLike | None = None) -> pa.Table:
        """A role's fields in the brain's names and units (`knowledge.yardformat.fields`), with each row's `node`.

        Rows are in node order. A reference field (`work_package`, `resource`, `block`, ...) holds the node it names
        (-1 for none). `nodes` keeps only the rows of those nodes (nodes not of the role are left out).

        Raises:
            MissingFieldError: a column the yard does not give (its `yard.toml` maps nothing onto it).
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        if columns is not None:
            self.require(role, [c for c in columns if c != "node"], f"reading the {role} rows")
        path = self.path / "roles" / f"{role}.parquet"
        if not path.is_file():  # a role the yard has no nodes of (asking for its fields raised just above)
            if role not in FIELDS:
                raise InputError(f"no role {role!r}; roles: {', '.join(ROLES)}")
            return pa.table({"node": pa.array([], pa.int32())})
        wanted = None if columns is None else ["node", *[c for c in columns if c != "node"]]
        if nodes is None:
            return pq.read_table(path, columns=wanted)
        chosen = np.unique(np.asarray(nodes, dtype=np.int64))
        handle = pq.ParquetFile(path)
        groups = self._row_group_bounds(role, handle)
        # rows are in node order: read only the row groups whose node span holds a chosen node
        first = np.searchsorted(groups[:, 1], chosen, side="left")
        picked = np.unique(first[(first < len(groups)) & (groups[np.minimum(first, len(groups) - 1), 0] <= chosen)])
        if not len(picked):
            return handle.schema_arrow.empty_table().select(wanted) if wanted else handle.schema_arrow.empty_table()
        table = handle.read_row_groups(picked.tolist(), columns=wanted)
        keep = np.isin(table.column("node").to_numpy(), chosen)
        return table.filter(pa.array(keep))

    def _row_group_bounds(self, role: str, handle: Any) -> npt.NDArray[np.int64]:
        """(first node, last node) of each row group of a role table, from the Parquet statistics; kept."""
        with self._lock:
            found = self._row_groups.get(role)
            if found is None:
                meta = handle.metadata
                column = meta.schema.names.index("node")
                bounds = []
                for g in range(meta.num_row_groups):
                    stats = meta.row_group(g).column(column).statistics
                    if stats is None or not stats.has_min_max:
                        bounds.append((0, self.num_nodes))
                    else:
                        bounds.append((int(stats.min), int(stats.max)))
                found = np.asarray(bounds, dtype=np.int64).reshape(-1, 2)
                self._row_groups[role] = found
            return found

    def _field_array(self, role: str, field: str) -> npt.NDArray[Any]:
        """One numeric field of a role as a numpy array by role row, kept once read (nulls: -1 or NaN)."""
        key = (role, field)
        with self._lock:
            found = self._columns.get(key)
            if found is None:
                column = self.role_table(role, [field]).column(field)
                import pyarrow as pa

                if pa.types.is_floating(column.type):
                    found = column.to_numpy()
                else:
                    boolean = pa.types.is_boolean(column.type)
                    filled = column.fill_null(False if boolean else -1).to_numpy()
                    found = np.asarray(filled, dtype=bool if boolean else np.int64)
                self._columns[key] = found
            return found

    def field_of(self, role: str, field: str, nodes: npt.ArrayLike) -> npt.NDArray[Any]:
        """A numeric, boolean or reference field of `role` for each node (all of that role), as a numpy array."""
        rows = self.role_rows(role, nodes)
        if np.any(rows < 0):
            bad = int(np.asarray(nodes)[np.flatnonzero(rows < 0)[0]])
            raise InputError(
                f"{self.id_of(bad)!r} is {with_article(self.kind_of(bad))}, not {with_article(role.replace('_', ' '))}"
            )
        return self._field_array(role, field)[rows]

    def actuals(self, columns: list[str] | None = None) -> pa.Table | None:
        """What the yard recorded (hours, dates, NDT findings) in the brain's names, by `node`; None if nothing."""
        if not (self.path / "roles" / f"{ACTUALS}.parquet").is_file():
            return None
        return self.role_table(ACTUALS, columns)

    def calendar(self) -> pa.Table | None:
        """The yard's non-working days (`date`, and `resource_node` where a day is one resource's), None if none."""
        import pyarrow.parquet as pq

        path = self.path / "calendar.parquet"
        return pq.read_table(path) if path.is_file() else None

    @cached_property
    def tables(self) -> list[str]:
        """The yard's own node tables, as stored (`tables/<name>.parquet`)."""
        return sorted(p.stem for p in (self.path / "tables").glob("*.parquet"))

    # ---- checks ------------------------------------------------------------------------------------

    def _checked(self, node: int) -> int:
        if not isinstance(node, int | np.integer) or isinstance(node, bool):
            raise InputError(f"a node is an integer, got {node!r}; use node_of(code) for one of the yard's ids")
        node = int(node)
        if not 0 <= node < self.num_nodes:
            raise InputError(f"node {node} is out of range: this yard has nodes 0 to {self.num_nodes - 1}")
        return node

    def _checked_many(self, nodes: npt.ArrayLike) -> IdArray:
        given = np.asarray(nodes)
        if given.size and not np.issubdtype(given.dtype, np.integer):
            raise InputError(f"nodes are integers, got {given.dtype}; use nodes_of(codes) for the yard's ids")
        array = given.astype(np.int64).ravel()
        if len(array) and (array.min() < 0 or array.max() >= self.num_nodes):
            raise InputError(f"nodes out of range: this yard has nodes 0 to {self.num_nodes - 1}")
        return array.astype(np.int32)

    def __repr__(self) -> str:
        return f"YardStore({str(self.path)!r}, {self.manifest.name!r}, {self.num_nodes:,} nodes)"
