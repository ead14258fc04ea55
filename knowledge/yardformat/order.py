"""The store's node numbering: every subtree of the production hierarchy one contiguous range of ids.

Nodes are numbered in preorder (a parent, then each child's subtree in turn, children and roots in read order),
so the subtree of node `v` is exactly `[v, end[v])`: counting or filtering a block's contents is a slice, never
a walk. The numbering is computed level by level over a CSR of children with numpy (sizes bottom-up, starts
top-down), in as many steps as the hierarchy is deep, with no recursion and no per-node Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from knowledge._csr import build_csr, neighbours
from knowledge.errors import GraphCycleError

__all__ = ["NodeOrder", "order_nodes"]


@dataclass(frozen=True)
class NodeOrder:
    """A yard's nodes renumbered so that each production subtree is `[v, end[v])`; arrays in the new numbering."""

    new_of_old: npt.NDArray[np.int32]
    """New number of each node, by its read-order number."""
    old_of_new: npt.NDArray[np.int32]
    """Read-order number of each new node (the permutation to apply to any per-node column)."""
    kind: npt.NDArray[np.int16]
    """Kind code of each node."""
    parent: npt.NDArray[np.int32]
    """Production parent of each node, -1 for a root (always smaller than the node)."""
    end: npt.NDArray[np.int32]
    """One past the last node of each node's subtree (a leaf's is itself + 1)."""
    before: npt.NDArray[np.int32]
    """Precedence edges `before[i] -> after[i]`: the yard's edges, then one child -> parent per non-root."""
    after: npt.NDArray[np.int32]

    def renumber(self, old: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
        """Node numbers of another read-order array (a grouping hierarchy's parents) in the new numbering; -1 kept."""
        old = np.asarray(old, dtype=np.int32)
        return np.where(old >= 0, self.new_of_old[np.maximum(old, 0)], -1).astype(np.int32)


def _levels(parent: npt.NDArray[np.int32]) -> tuple[list[npt.NDArray[np.int32]], npt.NDArray[np.int64]]:
    """Nodes by depth (each level grouped by parent in the previous level's order) and the children CSR's indptr."""
    n = len(parent)
    child = np.flatnonzero(parent >= 0).astype(np.int32)
    indptr, indices = build_csr(parent[child], child, n)
    frontier = np.flatnonzero(parent < 0).astype(np.int32)
    levels = []
    seen = 0
    while len(frontier):
        levels.append(frontier)
        seen += len(frontier)
        if seen > n:
            break
        frontier = neighbours(indptr, indices, frontier)
    if seen != n:
        raise GraphCycleError(f"the production hierarchy has a cycle: {n - seen:,} nodes reach no root")
    return levels, np.asarray(indptr, dtype=np.int64)


def order_nodes(
    parent: npt.NDArray[np.int32],
    kind: npt.NDArray[np.int16],
    before: npt.NDArray[np.int32],
    after: npt.NDArray[np.int32],
) -> NodeOrder:
    """Renumber nodes (read order in, preorder out) given their production parents (-1 for a root).

    Raises:
        GraphCycleError: the parents do not form a forest (`validate_yard` reports such a cycle first).
    """
    parent = np.asarray(parent, dtype=np.int32)
    n = len(parent)
    levels, indptr = _levels(parent)
    size = np.ones(n, dtype=np.int64)
    counts_of: list[npt.NDArray[np.int64]] = []
    for upper in levels:
        counts_of.append(indptr[upper + 1] - indptr[upper])
    for depth in range(len(levels) - 1, 0, -1):  # sizes bottom-up: each level adds into its parents
        upper, counts = levels[depth - 1], counts_of[depth - 1]
        has = counts > 0
        heads = np.zeros(int(has.sum()), dtype=np.int64)
        np.cumsum(counts[has][:-1], out=heads[1:])
        size[upper[has]] += np.add.reduceat(size[levels[depth]], heads)
    start = np.empty(n, dtype=np.int64)
    roots = levels[0]
    start[roots] = np.cumsum(size[roots]) - size[roots]
    for depth in range(1, len(levels)):  # starts top-down: 1 past the parent, after the elder siblings
        upper, counts, lower = levels[depth - 1], counts_of[depth - 1], levels[depth]
        before_me = np.cumsum(size[lower]) - size[lower]
        first_of_group = np.repeat(np.cumsum(counts) - counts, counts)
        start[lower] = np.repeat(start[upper], counts) + 1 + before_me - before_me[first_of_group]
    new_of_old = start.astype(np.int32)
    old_of_new = np.empty(n, dtype=np.int32)
    old_of_new[new_of_old] = np.arange(n, dtype=np.int32)
    new_parent = np.where(parent >= 0, new_of_old[np.maximum(parent, 0)], -1).astype(np.int32)[old_of_new]
    end = (start + size).astype(np.int32)[old_of_new]
    child = np.flatnonzero(new_parent >= 0).astype(np.int32)
    return NodeOrder(
        new_of_old=new_of_old,
        old_of_new=old_of_new,
        kind=np.asarray(kind, dtype=np.int16)[old_of_new],
        parent=new_parent,
        end=end,
        before=np.concatenate([new_of_old[before], child]).astype(np.int32),
        after=np.concatenate([new_of_old[after], new_parent[child]]).astype(np.int32),
    )
