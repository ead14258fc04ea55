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
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from knowledge import _csr, _mapped, _ranges
from knowledge.errors import InputError, YardIntegrityError
from knowledge.idindex import IdIndex
from knowledge.importer import ImportManifest, check_store_files, read_import_manifest

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["Closure", "YardStore"]

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
        return self.ids.id_of(self._checked(node))

    def ids_of(self, nodes: npt.ArrayLike) -> list[str]:
        """The yard's ids of several nodes, in order."""
        return [str(x) for x in self.ids.ids_of(self._checked_many(nodes)).to_pylist()]

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

    def role_table(self, role: str, columns: list[str] | None = None) -> pa.Table:
        """A role's fields in the brain's names and units (`knowledge.yardformat.fields`), with each row's node."""
        import pyarrow.parquet as pq

        path = self.path / "roles" / f"{role}.parquet"
        if not path.is_file():
            have = sorted(p.stem for p in (self.path / "roles").glob("*.parquet"))
            raise InputError(f"this yard maps no fields for the role {role!r}; it has fields for {have or 'none'}")
        return pq.read_table(path, columns=columns)

    @cached_property
    def tables(self) -> list[str]:
        """The yard's own node tables, as stored (`tables/<name>.parquet`)."""
        return sorted(p.stem for p in (self.path / "tables").glob("*.parquet"))

    # ---- checks ------------------------------------------------------------------------------------

    def _checked(self, node: int) -> int:
        node = int(node)
        if not 0 <= node < self.num_nodes:
            raise InputError(f"node {node} is out of range: this yard has nodes 0 to {self.num_nodes - 1}")
        return node

    def _checked_many(self, nodes: npt.ArrayLike) -> IdArray:
        array = np.asarray(nodes, dtype=np.int64).ravel()
        if len(array) and (array.min() < 0 or array.max() >= self.num_nodes):
            raise InputError(f"nodes out of range: this yard has nodes 0 to {self.num_nodes - 1}")
        return array.astype(np.int32)

    def __repr__(self) -> str:
        return f"YardStore({str(self.path)!r}, {self.manifest.name!r}, {self.num_nodes:,} nodes)"
