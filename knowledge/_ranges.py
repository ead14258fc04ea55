"""Closures as node ranges over a store numbered so that every production subtree is one range (engine internals).

In an imported store (`knowledge.store.YardStore`) node `v`'s production subtree is `[v, end[v])` and each child is
done before its parent, so everything upstream of `v` holds `v`'s whole subtree, and an upstream closure is a union
of subtrees: a few sorted disjoint ranges. `upstream_ranges` walks at the level of subtree roots: when the walk
reaches a node `u` it takes `[u, end[u])` at once and follows only the edges that ENTER that range from outside it.

Those edges come from `EnteringIndex`, built once per store from its reverse CSR (`EnteringIndex.build`): every
edge `p -> w` with `p` outside `w`'s subtree, grouped by the depth of its *top*, the highest ancestor-or-self `a`
of `w` whose subtree does not hold `p`, and sorted by `w` within a group. The edge enters the subtree of `u` (an
ancestor-or-self of `w`) exactly when `u` lies at the depth of the top or below it, so the edges entering
`[u, end[u])` are a slice of each group of depth <= depth(u), found by two binary searches.

Kinds come in long runs in node order (a sub-assembly's parts, a block's joints), so the index also keeps each
kind's runs with their cumulative lengths: nodes of a kind within a range are two binary searches, and a closure
of 27M nodes is counted by kind without reading its 27M kinds.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from knowledge._mapped import open_mapped

IdArray = npt.NDArray[np.int32]
Indptr = npt.NDArray[np.int32] | npt.NDArray[np.int64]
_FILES: Final = (
    "depth",
    "enter_offsets",
    "enter_targets",
    "enter_sources",
    "kind_offsets",
    "kind_starts",
    "kind_stops",
    "kind_before",
)
_FEW_RANGES: Final = 256
"""Up to this many ranges, `ranges_to_ids` fills the answer range by range (no 64-bit positions)."""
_CHUNK: Final = 1 << 23
"""Reverse edges handled at a time while building the index (bounds its temporary memory)."""


@dataclass(frozen=True)
class EnteringIndex:
    """What a range closure needs beyond the store's own arrays (see the module docstring)."""

    depth: npt.NDArray[np.int16]
    """Per node: its depth in the production hierarchy (0 for a root)."""
    enter_offsets: npt.NDArray[np.int64]
    """Entering edges of top depth `d` are `enter_*[enter_offsets[d] : enter_offsets[d + 1]]`."""
    enter_targets: IdArray
    """The edge's later node `w` (ascending within a depth)."""
    enter_sources: IdArray
    """The edge's earlier node `p`, outside `w`'s subtree."""
    kind_offsets: npt.NDArray[np.int64]
    """Runs of kind `k` are `kind_*[kind_offsets[k] : kind_offsets[k + 1]]`."""
    kind_starts: IdArray
    kind_stops: IdArray
    kind_before: npt.NDArray[np.int64]
    """Nodes of the run's kind in node order before the run starts."""

    @classmethod
    def build(
        cls,
        kind: npt.NDArray[np.integer],
        parent: npt.NDArray[np.integer],
        end: npt.NDArray[np.integer],
        rev_indptr: Indptr,
        rev_indices: IdArray,
        num_kinds: int,
    ) -> EnteringIndex:
        """The index of one store, from its node arrays and reverse CSR (vectorised; seconds at 48M nodes)."""
        parent = np.asarray(parent)
        end = np.asarray(end)
        n = len(parent)
        depth = _depths(parent)
        targets: list[list[IdArray]] = []
        sources: list[list[IdArray]] = []
        indptr = np.asarray(rev_indptr)
        for first in range(0, n, _CHUNK // 2):  # by node chunks: their edges are one slice of the reverse CSR
            last = min(first + _CHUNK // 2, n)
            lo, hi = int(indptr[first]), int(indptr[last])
            p = np.asarray(rev_indices[lo:hi], dtype=np.int32)
            w = np.repeat(np.arange(first, last, dtype=np.int32), np.diff(indptr[first : last + 1]))
            out = (p < w) | (p >= end[w])
            p, w = p[out], w[out]
            top = w.copy()
            moving = np.flatnonzero(parent[top] >= 0)
            while len(moving):  # climb while the parent's subtree still leaves p out
                up = parent[top[moving]]
                pm = p[moving]
                climb = (pm < up) | (pm >= end[up])
                moving, up = moving[climb], up[climb]
                top[moving] = up
                moving = moving[parent[up] >= 0]
            d = depth[top]
            for level in range(int(d.max(initial=-1)) + 1):
                while len(targets) <= level:
                    targets.append([])
                    sources.append([])
                mine = d == level
                targets[level].append(w[mine])
                sources[level].append(p[mine])
        counts = [sum(len(a) for a in t) for t in targets]
        enter_offsets = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=enter_offsets[1:])
        enter_targets = _concat([a for t in targets for a in t])
        enter_sources = _concat([a for s in sources for a in s])
        kind_offsets, kind_starts, kind_stops, kind_before = _kind_runs(np.asarray(kind), num_kinds)
        return cls(
            depth, enter_offsets, enter_targets, enter_sources, kind_offsets, kind_starts, kind_stops, kind_before
        )

    # ---- a cache next to the store -----------------------------------------------------------------

    def save(self, directory: Path, key: str) -> None:
        """Write the index to `directory` (atomically: a temporary sibling renamed into place)."""
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.writing-", dir=directory.parent))
        try:
            for name in _FILES:
                np.save(tmp / f"{name}.npy", getattr(self, name))
            (tmp / "key.json").write_text(json.dumps({"key": key}))
            if directory.exists():
                shutil.rmtree(directory, ignore_errors=True)
            os.replace(tmp, directory)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)  # another process won the race, or a read-only place

    @classmethod
    def load(cls, directory: Path, key: str) -> EnteringIndex | None:
        """The index saved in `directory` for `key`, memory-mapped; None when absent, stale or damaged."""
        try:
            if json.loads((directory / "key.json").read_text()).get("key") != key:
                return None
            arrays: dict[str, Any] = {name: open_mapped(directory / f"{name}.npy") for name in _FILES}
        except (OSError, ValueError):
            return None
        return cls(**arrays)

    # ---- queries -----------------------------------------------------------------------------------

    def count_kinds(self, starts: IdArray, stops: IdArray, num_kinds: int) -> npt.NDArray[np.int64]:
        """Nodes of each kind within the ranges."""
        out = np.zeros(num_kinds, dtype=np.int64)
        for k in range(min(num_kinds, len(self.kind_offsets) - 1)):
            a, b = int(self.kind_offsets[k]), int(self.kind_offsets[k + 1])
            if a < b:
                out[k] = int(np.sum(self._below(k, a, b, stops) - self._below(k, a, b, starts)))
        return out

    def _below(self, k: int, a: int, b: int, x: IdArray) -> npt.NDArray[np.int64]:
        """Nodes of kind k before each position in x."""
        run_starts = self.kind_starts[a:b]
        i = np.searchsorted(run_starts, x, side="right") - 1
        at = np.maximum(i, 0) + a
        inside = np.minimum(x.astype(np.int64), self.kind_stops[at]) - self.kind_starts[at]
        return np.where(i >= 0, self.kind_before[at] + inside, 0)

    def kind_mask(self, starts: IdArray, stops: IdArray, codes: npt.NDArray[np.integer]) -> tuple[IdArray, IdArray]:
        """The ranges cut down to the nodes of the given kinds: (starts, stops), sorted and disjoint."""
        pieces_a: list[npt.NDArray[np.int64]] = []
        pieces_b: list[npt.NDArray[np.int64]] = []
        for k in np.unique(codes).tolist():
            if k + 1 >= len(self.kind_offsets):
                continue
            a, b = int(self.kind_offsets[k]), int(self.kind_offsets[k + 1])
            rs, re = self.kind_starts[a:b].astype(np.int64), self.kind_stops[a:b].astype(np.int64)
            # runs overlapping each range: [first, last) by binary search, then clipped to the range
            first = np.searchsorted(re, starts, side="right")
            last = np.searchsorted(rs, stops, side="left")
            counts = np.maximum(last - first, 0)
            which = np.repeat(np.arange(len(starts)), counts)
            runs = _concat_ranges(first[counts > 0], counts[counts > 0])
            pieces_a.append(np.maximum(rs[runs], starts[which]))
            pieces_b.append(np.minimum(re[runs], stops[which]))
        if not pieces_a:
            return np.empty(0, dtype=np.int32), np.empty(0, dtype=np.int32)
        s, e = np.concatenate(pieces_a), np.concatenate(pieces_b)
        order = np.argsort(s, kind="stable")
        return _merge(s[order].astype(np.int32), e[order].astype(np.int32))


def upstream_ranges(
    index: EnteringIndex, end: npt.NDArray[np.integer], parent: npt.NDArray[np.integer], seeds: IdArray
) -> tuple[IdArray, IdArray]:
    """Everything upstream of `seeds`, the seeds' whole subtrees included, as sorted disjoint ranges [start, stop).

    The seeds themselves are in the ranges (each is the first node of its own subtree); the caller takes them out.
    """
    n = len(end)
    marked = np.zeros(n, dtype=bool)  # subtree roots taken; fresh pages are mapped lazily, a query touches few
    frontier = _outermost(np.unique(np.asarray(seeds, dtype=np.int32)), marked, parent)
    marked[frontier] = True
    taken: list[IdArray] = [frontier]
    levels = len(index.enter_offsets) - 1
    while len(frontier):
        depth = index.depth[frontier]
        found: list[IdArray] = []
        for level in range(min(levels, int(depth.max()) + 1)):
            a, b = int(index.enter_offsets[level]), int(index.enter_offsets[level + 1])
            if a == b:
                continue
            roots = frontier[depth >= level] if level else frontier
            targets = index.enter_targets[a:b]
            lo = np.searchsorted(targets, roots, side="left")
            hi = np.searchsorted(targets, end[roots], side="left")
            counts = hi - lo
            if counts.any():
                keep = counts > 0
                found.append(index.enter_sources[a:b][_concat_ranges(lo[keep], counts[keep])])
        if not found:
            break
        sources = np.unique(np.concatenate(found))
        fresh = sources[~_covered(sources, marked, parent)]
        frontier = _outermost(fresh, marked, parent)
        marked[frontier] = True
        taken.append(frontier)
    roots = np.concatenate(taken)
    roots.sort()
    roots = roots[~_covered(roots, marked, parent, strict=True)]  # the outermost roots: disjoint subtrees
    return _merge(roots, np.asarray(end[roots], dtype=np.int32))


def _covered(
    nodes: IdArray, marked: npt.NDArray[np.bool_], parent: npt.NDArray[np.integer], *, strict: bool = False
) -> npt.NDArray[np.bool_]:
    """Whether each node lies in a taken subtree (`strict`: in one taken by a proper ancestor)."""
    hit = np.zeros(len(nodes), dtype=bool) if strict else marked[nodes]
    climbing = np.flatnonzero(~hit)
    at = np.asarray(parent[nodes[climbing]], dtype=np.int32)
    while len(climbing):
        alive = at >= 0
        climbing, at = climbing[alive], at[alive]
        now = marked[at]
        hit[climbing[now]] = True
        climbing, at = climbing[~now], np.asarray(parent[at[~now]], dtype=np.int32)
    return hit


def _outermost(nodes: IdArray, marked: npt.NDArray[np.bool_], parent: npt.NDArray[np.integer]) -> IdArray:
    """The nodes (ascending, none taken yet) less those inside another one's subtree."""
    if len(nodes) < 2:
        return nodes
    marked[nodes] = True
    inner = _covered(nodes, marked, parent, strict=True)
    marked[nodes] = False
    return nodes[~inner]


def _merge(starts: IdArray, stops: IdArray) -> tuple[IdArray, IdArray]:
    """Sorted ranges that nest or touch merged into sorted disjoint ones."""
    if len(starts) == 0:
        return starts.astype(np.int32), stops.astype(np.int32)
    reach = np.maximum.accumulate(stops)
    new = np.ones(len(starts), dtype=bool)
    new[1:] = starts[1:] > reach[:-1]
    first = np.flatnonzero(new)
    last = np.r_[first[1:] - 1, len(starts) - 1]
    return starts[first].astype(np.int32), reach[last].astype(np.int32)


def ranges_to_ids(starts: IdArray, stops: IdArray) -> IdArray:
    """Every node of the ranges, ascending.

    A few long ranges (an upstream closure) are written range by range straight into the int32 answer; many short
    ones (a downstream closure's runs) are expanded in one vectorised pass.
    """
    counts = stops.astype(np.int64) - starts
    if len(starts) > _FEW_RANGES:
        return _concat_ranges(starts.astype(np.int64), counts).astype(np.int32)
    out = np.empty(int(counts.sum()), dtype=np.int32)
    at = 0
    for start, count in zip(starts.tolist(), counts.tolist(), strict=True):
        out[at : at + count] = np.arange(start, start + count, dtype=np.int32)
        at += count
    return out


def ids_to_ranges(ids: IdArray) -> tuple[IdArray, IdArray]:
    """Ascending distinct ids as runs of consecutive ids (start, stop)."""
    ids = np.asarray(ids, dtype=np.int32)
    if not len(ids):
        return ids, ids.copy()
    breaks = np.flatnonzero(np.diff(ids) != 1) + 1
    starts = ids[np.r_[0, breaks]]
    stops = ids[np.r_[breaks - 1, len(ids) - 1]] + 1
    return starts.astype(np.int32), stops.astype(np.int32)


def remove_ids(starts: IdArray, stops: IdArray, ids: npt.ArrayLike) -> tuple[IdArray, IdArray]:
    """The ranges less some ids (each split around the ids inside it)."""
    ids = np.unique(np.asarray(ids, dtype=np.int64))
    i = np.searchsorted(starts, ids, side="right") - 1
    ids = ids[(i >= 0) & (ids < stops[np.maximum(i, 0)])]
    if not len(ids):
        return starts, stops
    # holes [id, id + 1) cut out: the bounds of the pieces are the range bounds and the holes' edges
    s = np.concatenate([starts.astype(np.int64), ids + 1])
    e = np.concatenate([stops.astype(np.int64), ids])
    s.sort()
    e.sort()
    keep = s < e
    return s[keep].astype(np.int32), e[keep].astype(np.int32)


def contains(starts: IdArray, stops: IdArray, nodes: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Whether each node lies in one of the ranges."""
    nodes = np.asarray(nodes, dtype=np.int64)
    i = np.searchsorted(starts, nodes, side="right") - 1
    return (i >= 0) & (nodes < stops[np.maximum(i, 0)]) if len(starts) else np.zeros(len(nodes), dtype=bool)


def _depths(parent: npt.NDArray[np.integer]) -> npt.NDArray[np.int16]:
    """Depth of each node; parents come before their children in node order."""
    depth = np.zeros(len(parent), dtype=np.int16)
    child = np.flatnonzero(np.asarray(parent) >= 0).astype(np.int32)
    up = np.asarray(parent[child], dtype=np.int32)
    while len(child):  # one pass per level: each pass climbs every node still below a root by one
        depth[child] += 1
        up = np.asarray(parent[up], dtype=np.int32)
        alive = up >= 0
        child, up = child[alive], up[alive]
    return depth


def _kind_runs(
    kind: npt.NDArray[np.integer], num_kinds: int
) -> tuple[npt.NDArray[np.int64], IdArray, IdArray, npt.NDArray[np.int64]]:
    """Each kind's runs in node order (grouped by kind, ascending) with the kind's nodes before each run."""
    n = len(kind)
    if n == 0:
        empty = np.empty(0, dtype=np.int32)
        return np.zeros(num_kinds + 1, dtype=np.int64), empty, empty, np.empty(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, kind[1:] != kind[:-1]]).astype(np.int32)
    stops = np.r_[starts[1:], n].astype(np.int32)
    run_kind = np.asarray(kind[starts], dtype=np.int64)
    order = np.argsort(run_kind, kind="stable")
    starts, stops, run_kind = starts[order], stops[order], run_kind[order]
    offsets = np.searchsorted(run_kind, np.arange(num_kinds + 1)).astype(np.int64)
    lengths = (stops - starts).astype(np.int64)
    before = np.cumsum(lengths) - lengths
    before -= np.repeat(before[offsets[:-1].clip(max=max(len(before) - 1, 0))], np.diff(offsets))
    return offsets, starts, stops, before


def _concat(arrays: list[IdArray]) -> IdArray:
    return np.concatenate(arrays).astype(np.int32) if arrays else np.empty(0, dtype=np.int32)


def _concat_ranges(starts: npt.NDArray[np.integer], counts: npt.NDArray[np.integer]) -> npt.NDArray[np.int64]:
    """The concatenation of [start, start + count) for each pair, without a Python loop."""
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.asarray(starts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    nonzero = counts > 0
    starts, counts = starts[nonzero], counts[nonzero]
    step = np.ones(total, dtype=np.int64)
    heads = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=heads[1:])
    step[0] = starts[0]
    step[heads[1:]] = starts[1:] - (starts[:-1] + counts[:-1] - 1)
    np.cumsum(step, out=step)
    return step
