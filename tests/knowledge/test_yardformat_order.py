"""The store's numbering: every production subtree one contiguous range, over random forests."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from knowledge.errors import GraphCycleError
from knowledge.yardformat import order_nodes


def random_forest(rng: np.random.Generator, n: int, roots: int) -> npt.NDArray[np.int32]:
    """Parents of a random forest on n nodes in shuffled order (-1 for the roots)."""
    parent = np.full(n, -1, dtype=np.int64)
    for v in range(roots, n):  # each node hangs under an earlier one: a forest with `roots` trees
        parent[v] = rng.integers(0, v)
    shuffle = rng.permutation(n)
    where = np.empty(n, dtype=np.int64)
    where[shuffle] = np.arange(n)
    out = np.where(parent >= 0, where[np.maximum(parent, 0)], -1)[shuffle]
    return out.astype(np.int32)


def descendants(parent: npt.NDArray[np.int32], v: int) -> set[int]:
    """The nodes under v, by walking up from every node (slow and obviously right)."""
    found = set()
    for u in range(len(parent)):
        w = int(parent[u])
        while w >= 0:
            if w == v:
                found.add(u)
                break
            w = int(parent[w])
    return found


@pytest.mark.parametrize("seed", range(12))
def test_every_subtree_is_one_contiguous_range(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 120))
    parent = random_forest(rng, n, roots=int(rng.integers(1, max(2, n // 4))))
    kind = rng.integers(0, 5, n).astype(np.int16)
    before = rng.integers(0, n, 30).astype(np.int32)
    after = rng.integers(0, n, 30).astype(np.int32)
    order = order_nodes(parent, kind, before, after)

    assert sorted(order.new_of_old.tolist()) == list(range(n))
    assert np.array_equal(order.old_of_new[order.new_of_old], np.arange(n))
    assert np.array_equal(order.kind, kind[order.old_of_new])
    for old in range(n):
        v = int(order.new_of_old[old])
        below = {int(order.new_of_old[u]) for u in descendants(parent, old)}
        assert below == set(range(v + 1, int(order.end[v])))
        p = int(parent[old])
        assert order.parent[v] == (-1 if p < 0 else order.new_of_old[p])
        assert order.parent[v] < v
    # the yard's edges, then child -> parent for each non-root
    m = len(before)
    assert np.array_equal(order.before[:m], order.new_of_old[before])
    assert np.array_equal(order.after[:m], order.new_of_old[after])
    child = order.before[m:]
    assert np.array_equal(order.after[m:], order.parent[child])
    assert len(child) == int((parent >= 0).sum())


def test_roots_and_siblings_keep_read_order() -> None:
    parent = np.array([-1, 0, 0, 1, -1, 4, 1, 2], dtype=np.int32)
    order = order_nodes(parent, np.zeros(8, dtype=np.int16), np.empty(0, np.int32), np.empty(0, np.int32))
    assert order.old_of_new.tolist() == [0, 1, 3, 6, 2, 7, 4, 5]
    assert order.end.tolist() == [6, 4, 3, 4, 6, 6, 8, 8]
    assert order.renumber(np.array([-1, 4, 7], dtype=np.int32)).tolist() == [-1, 6, 5]


def test_a_deep_chain_needs_no_recursion() -> None:
    n = 5000
    parent = np.array([i + 1 if i + 1 < n else -1 for i in range(n)], dtype=np.int32)
    order = order_nodes(parent, np.zeros(n, dtype=np.int16), np.empty(0, np.int32), np.empty(0, np.int32))
    assert order.old_of_new.tolist() == list(range(n - 1, -1, -1))
    assert order.end.tolist() == [n] * n


def test_a_parent_cycle_is_refused() -> None:
    parent = np.array([-1, 2, 1], dtype=np.int32)
    with pytest.raises(GraphCycleError):
        order_nodes(parent, np.zeros(3, dtype=np.int16), np.empty(0, np.int32), np.empty(0, np.int32))
