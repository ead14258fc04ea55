"""Closures as node ranges give exactly the nodes the edge-by-edge walk gives, counted by kind without listing them.

Random forests with random precedence edges (acyclic or not) are numbered as the importer numbers a yard, and every
range closure is compared with `knowledge._csr.closure` over the same CSR; then the bulk carrier sample, imported,
through `YardStore`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from knowledge import _csr, _ranges
from knowledge.errors import InputError
from knowledge.importer import import_yard
from knowledge.store import YardStore
from knowledge.yardformat import order_nodes

SAMPLE = Path(__file__).parents[2] / "knowledge" / "samples" / "bulk_carrier"


Csr = tuple[npt.NDArray[np.int32] | npt.NDArray[np.int64], npt.NDArray[np.int32]]


def _random_yard(
    seed: int, n: int, edges: int, *, acyclic: bool
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.int16], Csr]:
    """A random forest (numbered in preorder, each subtree one range) with random edges: parent, end, kind, rev CSR."""
    rng = np.random.default_rng(seed)
    parent = np.full(n, -1, dtype=np.int32)
    for i in range(1, n):
        if rng.random() > 0.1:  # about one node in ten is a root
            parent[i] = rng.integers(0, i)
    kind = rng.integers(0, 4, n).astype(np.int16)
    before = rng.integers(0, n, edges).astype(np.int32)
    after = rng.integers(0, n, edges).astype(np.int32)
    if acyclic:  # a child is numbered after its parent: edges from a later to an earlier node keep a DAG
        new = order_nodes(parent, kind, np.empty(0, np.int32), np.empty(0, np.int32)).new_of_old
        keep = new[before] > new[after]
        before, after = before[keep], after[keep]
    order = order_nodes(parent, kind, before, after)
    rev = _csr.build_csr(order.after, order.before, n)
    return order.parent, order.end, order.kind, rev


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("acyclic", [True, False])
def test_range_closures_are_the_walked_closures_on_random_yards(seed: int, acyclic: bool) -> None:
    n = 60 + 40 * seed
    parent, end, kind, rev = _random_yard(seed, n, edges=n // (1 + seed % 4), acyclic=acyclic)
    index = _ranges.EnteringIndex.build(kind, parent, end, *rev, num_kinds=4)
    rng = np.random.default_rng(100 + seed)
    for size in (1, 1, 1, 2, 5, 20):
        seeds = rng.integers(0, n, size).astype(np.int32)
        walked = _csr.closure(rev[0], rev[1], seeds, n, None)
        starts, stops = _ranges.remove_ids(*_ranges.upstream_ranges(index, end, parent, seeds), seeds)
        assert np.all(starts[1:] > stops[:-1]) and np.all(starts < stops)  # sorted, disjoint, not touching
        assert np.array_equal(_ranges.ranges_to_ids(starts, stops), walked)
        assert np.array_equal(index.count_kinds(starts, stops, 4), np.bincount(kind[walked], minlength=4))
        ks, ke = index.kind_mask(starts, stops, np.array([1, 3]))
        assert np.array_equal(_ranges.ranges_to_ids(ks, ke), walked[np.isin(kind[walked], [1, 3])])


def test_ranges_of_ids_and_holes_cut_out() -> None:
    ids = np.array([0, 1, 2, 5, 7, 8], dtype=np.int32)
    starts, stops = _ranges.ids_to_ranges(ids)
    assert starts.tolist() == [0, 5, 7] and stops.tolist() == [3, 6, 9]
    assert np.array_equal(_ranges.ranges_to_ids(starts, stops), ids)
    s, e = _ranges.remove_ids(starts, stops, [0, 5, 8, 100])
    assert _ranges.ranges_to_ids(s, e).tolist() == [1, 2, 7]
    assert _ranges.contains(s, e, [0, 1, 2, 3, 7, 8]).tolist() == [False, True, True, False, True, False]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> YardStore:
    out = tmp_path_factory.mktemp("bulk") / "store"
    import_yard(SAMPLE, out)
    return YardStore.open(out)


def test_upstream_ranges_of_the_bulk_carrier_are_its_walked_closures(store: YardStore) -> None:
    blocks = store.nodes_of_kind("block").tolist()
    rng = np.random.default_rng(7)
    cases = [[b] for b in blocks] + [rng.integers(0, store.num_nodes, k).tolist() for k in (1, 1, 3, 50)]
    for nodes in cases:
        walked = store.upstream(nodes, depth=store.num_nodes)  # edge by edge
        closure = store.upstream_ranges(nodes)
        assert np.array_equal(closure.ids(), walked)
        assert np.array_equal(store.upstream(nodes), walked)
        assert len(closure) == len(walked)
        names, counts = np.unique(np.asarray(store.kinds_of(walked), dtype=str), return_counts=True)
        assert closure.counts == dict(zip(names.tolist(), counts.tolist(), strict=True))
        plates = store.upstream_ranges(nodes, kinds=["part"])  # a role: the kinds that play it
        assert np.array_equal(plates.ids(), store.upstream(nodes, depth=store.num_nodes, kinds=["part"]))
        assert set(plates.counts) <= {"PLATE", "PROFILE"}
    last = blocks[-1]
    whole = store.upstream_ranges([last])
    assert len(whole.starts) < len(whole) // 100  # a few ranges for a block's tens of thousands of nodes
    inside = whole.contains(store.members(last))
    assert inside.all() and not whole.contains([last]).any()


def test_downstream_ranges_are_the_runs_of_the_walked_closure(store: YardStore) -> None:
    for node in [*store.nodes_of_kind("block")[:20].tolist(), *store.nodes_of_kind("PLATE")[::5000].tolist()]:
        walked = store.downstream([node])
        closure = store.downstream_ranges([node], kinds=None)
        assert np.array_equal(closure.ids(), walked) and closure.count == len(walked)
        assert sum(closure.counts.values()) == len(walked)


def test_the_index_is_cached_beside_the_store_never_in_it(store: YardStore) -> None:
    before = sorted(p.name for p in store.path.rglob("*"))
    store.upstream_ranges([0])
    assert sorted(p.name for p in store.path.rglob("*")) == before
    again = YardStore.open(store.path)
    assert again.upstream_ranges([0]).count == store.upstream_ranges([0]).count
    assert YardStore.open(store.path).manifest == store.manifest  # the files still match their checksums


def test_bad_closure_input_is_one_clear_error(store: YardStore) -> None:
    with pytest.raises(InputError, match="out of range"):
        store.upstream_ranges([store.num_nodes])
    with pytest.raises(InputError, match="no kind or role 'WELD'"):
        store.upstream_ranges([0], kinds=["WELD"])
