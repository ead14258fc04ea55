"""An imported store answers graph questions in the yard's own ids and kinds.

The bulk carrier sample, imported: each answer is checked against the yard's own tables read directly (its nodes'
parents, its edges), not against numbers written here. The synthetic yard, imported at three sizes: every graph
query against networkx on the same edges.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import networkx as nx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from knowledge.errors import InputError, SubgraphTooLargeError, UnknownCodeError, YardIntegrityError
from knowledge.importer import import_yard
from knowledge.store import YardStore
from knowledge.yardformat import validate_yard
from tests.helpers.yards import to_networkx
from tests.test_cli import run

Truth = tuple[pa.ChunkedArray, dict[str, str], list[tuple[str, str]]]
SAMPLE = Path(__file__).parents[2] / "knowledge" / "samples" / "bulk_carrier"


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bulk") / "store"
    import_yard(SAMPLE, out)
    return out


@pytest.fixture(scope="module")
def store(store_path: Path) -> YardStore:
    return YardStore.open(store_path)


@pytest.fixture(scope="module")
def truth() -> Truth:
    """The sample read straight from its files: every id, each one's parent, and the yard's edges."""
    yard = validate_yard(SAMPLE)
    ids = yard.ids
    parent = {str(ids[i]): str(ids[p]) for i, p in enumerate(yard.parent.tolist()) if p >= 0}
    edges = [(str(ids[b]), str(ids[a])) for b, a in zip(yard.before.tolist(), yard.after.tolist(), strict=True)]
    return ids, parent, edges


def test_every_id_comes_back_as_the_yard_wrote_it(store: YardStore, truth: Truth) -> None:
    ids, _, _ = truth
    assert store.num_nodes == len(ids)
    sample = [str(x) for x in ids.to_pylist()[::97]]
    assert [store.id_of(store.node_of(i)) for i in sample] == sample


def test_members_are_the_production_subtree(store: YardStore, truth: Truth) -> None:
    _, parent, _ = truth
    children: dict[str, list[str]] = defaultdict(list)
    for child, p in parent.items():
        children[p].append(child)
    block = store.nodes_of_kind("block")[3]
    expected: set[str] = set()
    todo = [store.id_of(int(block))]
    while todo:
        for child in children[todo.pop()]:
            expected.add(child)
            todo.append(child)
    assert set(store.ids_of(store.members(int(block)))) == expected
    plates = store.members(int(block), kinds=["PLATE"])
    assert set(store.kinds_of(plates)) == {"PLATE"} and len(plates) > 0
    parts = store.members(int(block), kinds=["part"])  # a role: every kind that plays it
    assert set(store.kinds_of(parts)) <= {"PLATE", "PROFILE"} and len(parts) > len(plates)


def test_what_comes_right_before_is_the_yards_edges_and_its_children(store: YardStore, truth: Truth) -> None:
    _, parent, edges = truth
    before: dict[str, set[str]] = defaultdict(set)
    for b, a in edges:
        before[a].add(b)
    for child, p in parent.items():
        before[p].add(child)  # a child is done before its parent
    for node in store.nodes_of_kind("block")[:10].tolist():
        name = store.id_of(node)
        assert set(store.ids_of(store.upstream([node], depth=1))) == before[name], name


def test_closures_are_consistent_both_ways(store: YardStore) -> None:
    block = int(store.nodes_of_kind("block")[-1])
    up = store.upstream([block])
    assert all(block in store.downstream([int(n)]).tolist() for n in up[:: max(1, len(up) // 20)])
    chain = store.shortest_path(int(up[0]), block) if len(up) else np.array([], dtype=np.int32)
    assert len(chain) >= 2 and chain[0] == up[0] and chain[-1] == block


def test_bad_input_is_one_clear_error(store: YardStore) -> None:
    with pytest.raises(UnknownCodeError, match="did you mean 'H1042/DB03'"):
        store.node_of("h1042/db3")
    with pytest.raises(InputError, match="no kind or role 'WELD'"):
        store.members(int(store.nodes_of_kind("block")[0]), kinds=["WELD"])
    with pytest.raises(InputError, match="out of range"):
        store.id_of(store.num_nodes)


def test_a_damaged_store_is_refused_at_open(tmp_path: Path, store_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(store_path, copy)
    pq.write_table(pa.table({"x": [1]}), copy / "tables" / "edges.parquet")
    with pytest.raises(YardIntegrityError, match="tables/edges.parquet"):
        YardStore.open(copy)


def test_yard_query_speaks_the_yards_ids(store_path: Path, tmp_path: Path) -> None:
    done = run(
        "yard", "query", str(store_path), "members", "H1042/DB03", "--kinds", "part", "--json", data_dir=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert '"by_kind"' in done.stdout and "H1042/DB03-P01 PL0001" in done.stdout
    done = run("yard", "query", str(store_path), "upstream", "h1042/db3", data_dir=tmp_path)
    assert done.returncode == 2 and "did you mean 'H1042/DB03'" in done.stderr


# ---- the synthetic yard, imported: every graph query against networkx on the same edges ----------------------

YARDS = [(5_000, 1), (12_000, 2), (30_000, 3)]


@pytest.fixture(scope="module", params=YARDS, ids=lambda p: f"{p[0]}parts-seed{p[1]}")
def pair(request: pytest.FixtureRequest, yard_factory: Callable[[int, int], Path]) -> tuple[YardStore, nx.DiGraph]:
    yard = YardStore.open(yard_factory(*request.param))
    return yard, to_networkx(yard)


def _sample(yard: YardStore, seed: int, per_kind: int = 4) -> list[int]:
    rng = np.random.default_rng(seed)
    out: list[int] = []
    for kind in yard.kinds:
        nodes = yard.nodes_of_kind(kind)
        out += rng.choice(nodes, size=min(per_kind, len(nodes)), replace=False).tolist()
    return out


def test_graph_is_a_dag_with_the_manifest_counts(pair: tuple[YardStore, nx.DiGraph]) -> None:
    yard, ref = pair
    assert nx.is_directed_acyclic_graph(ref)
    assert ref.number_of_nodes() == yard.num_nodes == sum(yard.counts.values())
    assert ref.number_of_edges() == yard.num_edges  # no duplicate edges either
    assert set(yard.roles) == {"block", "assembly", "sub_assembly", "part", "joint", "outfitting_item"} | {
        "work_package",
        "resource",
    }


def test_upstream_and_downstream_match_networkx(pair: tuple[YardStore, nx.DiGraph]) -> None:
    yard, ref = pair
    for node in _sample(yard, seed=0):
        assert yard.upstream([node]).tolist() == sorted(nx.ancestors(ref, node))
        assert yard.downstream([node]).tolist() == sorted(nx.descendants(ref, node))
        assert len(yard.upstream_ranges([node])) == len(nx.ancestors(ref, node))


def test_closure_of_several_seeds_is_the_union(pair: tuple[YardStore, nx.DiGraph]) -> None:
    yard, ref = pair
    nodes = _sample(yard, seed=1, per_kind=2)
    expected = set().union(*(nx.ancestors(ref, n) for n in nodes)) - set(nodes)
    assert set(yard.upstream(nodes).tolist()) == expected


@pytest.mark.parametrize("depth", [0, 1, 2, 3])
def test_depth_limits_the_walk(pair: tuple[YardStore, nx.DiGraph], depth: int) -> None:
    yard, ref = pair
    for node in _sample(yard, seed=2, per_kind=2):
        within = nx.single_source_shortest_path_length(ref.reverse(copy=False), node, cutoff=depth)
        assert yard.upstream([node], depth=depth).tolist() == sorted(k for k, d in within.items() if d > 0)


def test_kinds_filter_keeps_only_those_kinds(pair: tuple[YardStore, nx.DiGraph]) -> None:
    yard, ref = pair
    block = int(yard.nodes_of_role("block")[-1])
    got = yard.upstream([block], kinds=["part", "outfitting_item"])
    want = sorted(n for n in nx.ancestors(ref, block) if yard.role_of(n) in ("part", "outfitting_item"))
    assert got.tolist() == want
    assert set(yard.kinds_of(got)) <= {"part", "outfitting_item"}
    assert yard.upstream_ranges([block], kinds=["part"]).ids().tolist() == [
        n for n in want if yard.role_of(n) == "part"
    ]


def test_topological_levels_are_networkx_generations(pair: tuple[YardStore, nx.DiGraph]) -> None:
    yard, ref = pair
    levels = yard.topological_levels()
    for level, generation in enumerate(nx.topological_generations(ref)):
        assert set(np.flatnonzero(levels == level).tolist()) == set(generation)
    order = yard.topological_order()
    assert sorted(order.tolist()) == list(range(yard.num_nodes))
    position = np.empty(yard.num_nodes, dtype=np.int64)
    position[order] = np.arange(yard.num_nodes)
    src, dst = yard.edge_arrays()
    assert np.all(position[src] < position[dst])


def test_critical_path_matches_networkx_longest_path(pair: tuple[YardStore, nx.DiGraph]) -> None:
    yard, ref = pair
    durations = np.random.default_rng(5).gamma(2.0, 3.0, yard.num_nodes)
    cp = yard.critical_path(durations)
    # networkx weighs edges: put each node's duration on its in-edges, plus a virtual source
    weighted = nx.DiGraph()
    weighted.add_weighted_edges_from((u, v, durations[v]) for u, v in ref.edges)
    weighted.add_weighted_edges_from(("start", n, durations[n]) for n in ref.nodes if ref.in_degree(n) == 0)
    best = nx.dag_longest_path_length(weighted)
    assert cp.length == pytest.approx(best)
    chain = cp.node_ids.tolist()
    assert ref.in_degree(chain[0]) == 0
    assert all(ref.has_edge(u, v) for u, v in zip(chain, chain[1:], strict=False))
    assert durations[chain].sum() == pytest.approx(cp.length)
    # the same arrays answer a chain into any node
    finish, pred = yard.longest_paths(durations)
    np.testing.assert_allclose(finish, cp.finish)
    block = int(yard.nodes_of_role("block")[0])
    assert (
        yard.chain_of(finish, pred, end=block).node_ids.tolist()
        == yard.critical_path(durations, block).node_ids.tolist()
    )


def test_critical_path_to_a_chosen_end(pair: tuple[YardStore, nx.DiGraph]) -> None:
    yard, ref = pair
    durations = np.ones(yard.num_nodes)
    block = int(yard.nodes_of_role("block")[0])
    cp = yard.critical_path(durations, end=block)
    assert cp.node_ids[-1] == block
    longest_into = len(nx.dag_longest_path(ref.subgraph([*nx.ancestors(ref, block), block])))
    assert len(cp.node_ids) == longest_into


def test_edge_arrays_and_subgraph(pair: tuple[YardStore, nx.DiGraph]) -> None:
    yard, ref = pair
    src, dst = yard.edge_arrays()
    assert src.dtype == dst.dtype == np.int32
    assert set(zip(src.tolist(), dst.tolist(), strict=True)) == set(ref.edges)
    assembly = int(yard.nodes_of_role("assembly")[0])
    members = yard.members(assembly)
    sub = yard.subgraph(members)
    assert set(sub.edges) == set(ref.subgraph(members.tolist()).edges)
    assert sub.number_of_edges() > 0
    first = int(members[0])
    assert sub.nodes[first]["code"] == yard.code_of(first)
    assert sub.nodes[first]["kind"] == yard.kind_of(first) and sub.nodes[first]["role"] == yard.role_of(first)
    packages = yard.nodes_of_role("work_package")
    before, after = yard.edges_from(packages)
    assert set(zip(before.tolist(), after.tolist(), strict=True)) == set(ref.out_edges(packages.tolist()))
    before, after = yard.edges_into(packages)
    assert set(zip(before.tolist(), after.tolist(), strict=True)) == set(ref.in_edges(packages.tolist()))


def test_members_are_the_hierarchy(pair: tuple[YardStore, nx.DiGraph]) -> None:
    yard, _ = pair
    block = int(yard.nodes_of_role("block")[1])
    code = yard.code_of(block)
    members = yard.members(block)
    codes = yard.codes_of(members)
    num = code[1:]
    assert all(c.startswith((code + "-", f"J{num}-", f"O{num}-")) for c in codes)
    # every part whose code starts with the block code is a member, and no other part is
    parts = yard.nodes_of_role("part")
    in_block = [p for p, c in zip(parts.tolist(), yard.codes_of(parts), strict=True) if c.startswith(code + "-")]
    assert yard.members(block, kinds=["part"]).tolist() == in_block
    # members are the subtree of parents: each one's parent chain reaches the block
    for node in members[:: max(1, len(members) // 50)].tolist():
        while (parent := yard.parent_of(node)) is not None and parent != block:
            node = parent
        assert parent == block
    assert (yard.block_of(members) == block).all()
    assert len(yard.members(int(parts[0]))) == 0  # a part has nothing inside it


def test_shortest_path_matches_networkx(pair: tuple[YardStore, nx.DiGraph]) -> None:
    yard, ref = pair
    part = int(yard.nodes_of_role("part")[7])
    for target in yard.downstream([part])[::7].tolist()[:10]:
        path = yard.shortest_path(part, target).tolist()
        assert len(path) == nx.shortest_path_length(ref, part, target) + 1
        assert path[0] == part and path[-1] == target
        assert all(ref.has_edge(u, v) for u, v in zip(path, path[1:], strict=False))
    assert yard.shortest_path(int(yard.nodes_of_role("block")[0]), part).size == 0


def test_predecessors_and_successors_are_the_direct_edges(pair: tuple[YardStore, nx.DiGraph]) -> None:
    yard, ref = pair
    for node in _sample(yard, seed=3, per_kind=1):
        assert yard.predecessors(node).tolist() == sorted(ref.predecessors(node))
        assert yard.successors(node).tolist() == sorted(ref.successors(node))


def test_bad_graph_arguments_are_input_errors(small_yard: Path) -> None:
    yard = YardStore.open(small_yard)
    with pytest.raises(InputError, match="out of range"):
        yard.upstream([yard.num_nodes])
    with pytest.raises(InputError, match="out of range"):
        yard.code_of(-1)
    with pytest.raises(InputError, match="no kind or role 'weld'"):
        yard.upstream([0], kinds=["weld"])
    with pytest.raises(InputError, match="depth must be 0 or more"):
        yard.downstream([0], depth=-1)
    with pytest.raises(InputError, match="one value per node"):
        yard.critical_path(np.ones(3))
    with pytest.raises(InputError, match="non-negative"):
        yard.critical_path(np.full(yard.num_nodes, -1.0))
    with pytest.raises(InputError, match="no role 'ship'"):
        yard.nodes_of_role("ship")
    with pytest.raises(SubgraphTooLargeError, match="over its limit of 100"):
        yard.subgraph(yard.upstream([yard.node_of("B001")]), limit=100)


def test_the_blocks_of_a_roles_nodes_are_block_of_each_kept_once(bulk_carrier: Path) -> None:
    yard = YardStore.open(bulk_carrier)
    items = yard.nodes_of_role("outfitting_item")
    blocks = yard.blocks_of_role("outfitting_item")
    assert np.array_equal(blocks, yard.block_of(items))
    assert (blocks >= 0).all()  # on-board items too, by their block field
    assert yard.blocks_of_role("outfitting_item") is blocks
