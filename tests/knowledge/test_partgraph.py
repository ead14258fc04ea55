"""Every PartGraph query checked against networkx on the same edges, over several yards."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from knowledge import NODE_KINDS, PartGraph
from tests.helpers.yards import to_networkx

YARDS = [(5_000, 1), (12_000, 2), (30_000, 3)]


@pytest.fixture(scope="module", params=YARDS, ids=lambda p: f"{p[0]}parts-seed{p[1]}")
def pair(request: pytest.FixtureRequest, yard_factory: Callable[[int, int], Path]) -> tuple[PartGraph, nx.DiGraph]:
    g = PartGraph.open(yard_factory(*request.param))
    return g, to_networkx(g)


def _sample(g: PartGraph, seed: int, per_kind: int = 4) -> list[int]:
    rng = np.random.default_rng(seed)
    out: list[int] = []
    for kind in NODE_KINDS:
        ids = g.ids_of_kind(kind)
        out += rng.choice(ids, size=min(per_kind, len(ids)), replace=False).tolist()
    return out


def test_graph_is_a_dag_with_the_manifest_counts(pair: tuple[PartGraph, nx.DiGraph]) -> None:
    g, ref = pair
    assert nx.is_directed_acyclic_graph(ref)
    assert ref.number_of_nodes() == g.num_nodes == sum(g.counts.values())
    assert ref.number_of_edges() == g.num_edges  # no duplicate edges either


def test_upstream_and_downstream_match_networkx(pair: tuple[PartGraph, nx.DiGraph]) -> None:
    g, ref = pair
    for node in _sample(g, seed=0):
        assert g.upstream([node]).tolist() == sorted(nx.ancestors(ref, node))
        assert g.downstream([node]).tolist() == sorted(nx.descendants(ref, node))


def test_closure_of_several_seeds_is_the_union(pair: tuple[PartGraph, nx.DiGraph]) -> None:
    g, ref = pair
    nodes = _sample(g, seed=1, per_kind=2)
    expected = set().union(*(nx.ancestors(ref, n) for n in nodes)) - set(nodes)
    assert set(g.upstream(nodes).tolist()) == expected


@pytest.mark.parametrize("depth", [0, 1, 2, 3])
def test_depth_limits_the_walk(pair: tuple[PartGraph, nx.DiGraph], depth: int) -> None:
    g, ref = pair
    for node in _sample(g, seed=2, per_kind=2):
        within = nx.single_source_shortest_path_length(ref.reverse(copy=False), node, cutoff=depth)
        assert g.upstream([node], depth=depth).tolist() == sorted(k for k, d in within.items() if d > 0)


def test_kinds_filter_keeps_only_those_kinds(pair: tuple[PartGraph, nx.DiGraph]) -> None:
    g, ref = pair
    block = int(g.ids_of_kind("block")[-1])
    got = g.upstream([block], kinds=["part", "outfitting_item"])
    want = sorted(n for n in nx.ancestors(ref, block) if g.kind_of(n) in ("part", "outfitting_item"))
    assert got.tolist() == want
    assert set(g.kinds_of(got)) <= {"part", "outfitting_item"}


def test_topological_levels_are_networkx_generations(pair: tuple[PartGraph, nx.DiGraph]) -> None:
    g, ref = pair
    levels = g.topological_levels()
    for level, generation in enumerate(nx.topological_generations(ref)):
        assert set(np.flatnonzero(levels == level).tolist()) == set(generation)
    order = g.topological_order()
    position = np.empty(g.num_nodes, dtype=np.int64)
    position[order] = np.arange(g.num_nodes)
    src, dst = g.edge_arrays()
    assert np.all(position[src] < position[dst])


def test_critical_path_matches_networkx_longest_path(pair: tuple[PartGraph, nx.DiGraph]) -> None:
    g, ref = pair
    durations = np.random.default_rng(5).gamma(2.0, 3.0, g.num_nodes)
    cp = g.critical_path(durations)
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


def test_critical_path_to_a_chosen_end(pair: tuple[PartGraph, nx.DiGraph]) -> None:
    g, ref = pair
    durations = np.ones(g.num_nodes)
    block = int(g.ids_of_kind("block")[0])
    cp = g.critical_path(durations, end=block)
    assert cp.node_ids[-1] == block
    longest_into = max(len(p) for p in [nx.dag_longest_path(ref.subgraph([*nx.ancestors(ref, block), block]))])
    assert len(cp.node_ids) == longest_into


def test_edge_arrays_and_subgraph(pair: tuple[PartGraph, nx.DiGraph]) -> None:
    g, ref = pair
    src, dst = g.edge_arrays()
    assert src.dtype == dst.dtype == np.int32
    assert set(zip(src.tolist(), dst.tolist(), strict=True)) == set(ref.edges)
    assembly = int(g.ids_of_kind("assembly")[0])
    members = g.members(assembly)
    sub = g.subgraph(members)
    assert set(sub.edges) == set(ref.subgraph(members.tolist()).edges)
    assert sub.number_of_edges() > 0
    assert sub.nodes[int(members[0])]["code"] == g.code_of(int(members[0]))


def test_members_are_the_hierarchy(pair: tuple[PartGraph, nx.DiGraph]) -> None:
    g, _ = pair
    block = int(g.ids_of_kind("block")[1])
    code = g.code_of(block)
    members = g.members(block)
    codes = g.codes_of(members)
    num = code[1:]
    assert all(c.startswith((code + "-", f"J{num}-", f"O{num}-")) for c in codes)
    # every part whose code starts with the block code is a member, and no other part is
    parts = g.ids_of_kind("part")
    in_block = [p for p, c in zip(parts.tolist(), g.codes_of(parts), strict=True) if c.startswith(code + "-")]
    assert g.members(block, kinds=["part"]).tolist() == in_block


def test_shortest_path_matches_networkx(pair: tuple[PartGraph, nx.DiGraph]) -> None:
    g, ref = pair
    part = int(g.ids_of_kind("part")[7])
    for target in g.downstream([part])[::7].tolist()[:10]:
        path = g.shortest_path(part, target).tolist()
        assert len(path) == nx.shortest_path_length(ref, part, target) + 1
        assert path[0] == part and path[-1] == target
        assert all(ref.has_edge(u, v) for u, v in zip(path, path[1:], strict=False))
    assert g.shortest_path(int(g.ids_of_kind("block")[0]), part).size == 0


def test_rollup_sums_by_group(pair: tuple[PartGraph, nx.DiGraph]) -> None:
    g, _ = pair
    values = np.random.default_rng(3).random(g.num_nodes)
    by_block = g.rollup(values, to="block")
    blocks = np.array([g.code_of(i).split("-")[0].replace("J", "B").replace("O", "B") for i in range(g.num_nodes)])
    for row in by_block.slice(0, 3).to_pylist():
        assert row["total"] == pytest.approx(values[blocks == row["code"]].sum())
        assert row["count"] == int((blocks == row["code"]).sum())
    assert sum(by_block.column("count").to_pylist()) == g.num_nodes

    joints = g.table("joints", ["joint_id", "work_package_id", "actual_hours"])
    hours = np.zeros(g.num_nodes)
    hours[joints.column("joint_id").to_numpy()] = joints.column("actual_hours").to_numpy()
    by_wp = g.rollup(hours, to="work_package")
    want = np.bincount(joints.column("work_package_id").to_numpy(), weights=joints.column("actual_hours").to_numpy())
    np.testing.assert_allclose(by_wp.column("total").to_numpy()[: len(want)], want, rtol=1e-9)

    by_asm = g.rollup(np.ones(g.num_nodes), to="assembly")
    first_asm = g.code_of(int(g.ids_of_kind("assembly")[0]))
    assert by_asm.column("code")[0].as_py() == first_asm
    hull = [i for i in range(g.num_nodes) if g.code_of(i).startswith(first_asm)]
    assert by_asm.column("count")[0].as_py() >= len(hull)  # plus its joints and on-block items


def test_rollup_of_a_subset(small_yard: Path) -> None:
    g = PartGraph.open(small_yard)
    block = g.id_of("B002")
    parts = g.upstream([block], kinds=["part"])
    table = g.rollup(np.full(len(parts), 2.0), to="block", ids=parts)
    totals = dict(zip(table.column("code").to_pylist(), table.column("total").to_pylist(), strict=True))
    assert totals["B002"] == 2.0 * len(g.members(block, kinds=["part"]))


def test_table_rows_where_are_read_tables_rows(small_yard: Path) -> None:
    """`PartGraph.table` reads some rows by Parquet row groups and small tables whole: the rows `read_table` gives."""
    from knowledge.errors import YardIntegrityError
    from knowledge.yarddir import read_table

    g = PartGraph.open(small_yard)
    joints = read_table(g.path, "joints", ["joint_id", "block_id", "part_a_id", "part_b_id"])
    part = int(joints.column("part_a_id").drop_null()[7].as_py())
    asks: list[tuple[str, list[str] | None, tuple[str, list[int]] | None]] = [
        ("joints", ["joint_id"], ("part_a_id", [part])),  # a nullable column
        ("joints", ["joint_id", "owner_id"], ("part_b_id", [part, -5, 10**9])),
        ("joints", None, ("block_id", [2, 0])),
        ("joints", ["level", "joint_id"], ("block_id", [])),
        ("work_packages", None, None),
        ("joints", ["level"], None),
    ]
    for name, columns, where in asks:
        found = g.table(name, columns, where=where)
        expected = read_table(g.path, name, columns, where)
        assert found.schema.equals(expected.schema) and found.equals(expected), (name, columns, where)
    assert g.table("joints", ["joint_id"], where=("part_a_id", [part])).num_rows >= 1
    with pytest.raises(YardIntegrityError):
        g.table("joints", ["no_such_column"])
    with pytest.raises(YardIntegrityError):
        g.table("joints", ["joint_id"], where=("no_such_column", [1]))


def test_block_graph_is_read_once_and_stays_the_same(small_yard: Path) -> None:
    g = PartGraph.open(small_yard)
    first, again = g.block_graph(), g.block_graph()
    assert first is not again  # each caller gets its own graph to change
    assert sorted(first.edges()) == sorted(again.edges()) and first.number_of_edges() > 0
    assert all(g.kind_of(u) == "block" and g.kind_of(v) == "block" for u, v in first.edges())
