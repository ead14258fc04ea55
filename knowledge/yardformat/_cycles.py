"""One cycle of a directed graph, found without recursion or a per-node Python loop over the acyclic part."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from knowledge._csr import build_csr, neighbours

__all__ = ["find_cycle"]


def _peel(src: npt.NDArray[np.int32], dst: npt.NDArray[np.int32], alive: npt.NDArray[np.bool_], num_nodes: int) -> None:
    """Clear `alive` for every node that no alive node's edge `src -> dst` points into, repeatedly (Kahn)."""
    if alive.all():  # the first peel: every edge (no copies of 100M-edge arrays)
        s, d = src, dst
    else:
        keep = alive[src] & alive[dst]
        s, d = src[keep], dst[keep]
    indptr, indices = build_csr(s, d, num_nodes)
    indegree = np.bincount(d, minlength=num_nodes).astype(np.int64)
    frontier: npt.NDArray[np.signedinteger[Any]] = np.flatnonzero(alive & (indegree == 0)).astype(np.int32)
    owner = np.empty(num_nodes, dtype=np.int64)  # scratch: which candidate claimed a node (to drop repeats)
    while len(frontier):
        alive[frontier] = False
        targets = neighbours(indptr, indices, frontier)
        if not len(targets):
            break
        np.subtract.at(indegree, targets, 1)  # 10x faster than np.unique with counts (measured at 20M)
        candidates = targets[indegree[targets] == 0]
        claim = np.arange(len(candidates))
        owner[candidates] = claim
        frontier = candidates[owner[candidates] == claim].astype(np.int32)


def find_cycle(src: npt.NDArray[np.int32], dst: npt.NDArray[np.int32], num_nodes: int) -> list[int] | None:
    """The nodes of one cycle over the edges `src -> dst`, first node repeated at the end; None if acyclic.

    Kahn's algorithm peels every node no cycle leads into, the same backwards peels every node that leads into
    no cycle; each node left has a successor left, so following first successors from any of them closes a
    cycle within as many steps as nodes left.
    """
    alive = np.ones(num_nodes, dtype=bool)
    _peel(src, dst, alive, num_nodes)
    if not alive.any():
        return None
    _peel(dst, src, alive, num_nodes)
    keep = alive[src] & alive[dst]
    indptr, indices = build_csr(src[keep], dst[keep], num_nodes)
    node = int(np.flatnonzero(alive)[0])
    seen: dict[int, int] = {}
    path: list[int] = []
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = int(indices[indptr[node]])
    return [*path[seen[node] :], node]
