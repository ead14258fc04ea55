"""The synthetic yard: determinism, structure, and a ground truth the models can learn from.

The generator's own tables and edges are read in memory (`GeneratedYard`); what a user gets, the imported store
(`generate_store`: generate -> open yard format -> import), is read through `YardStore`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from knowledge import YardSpec, YardStore, generate_store, generate_yard
from knowledge.importer import store_digest
from knowledge.synthetic import GeneratedYard
from knowledge.synthetic._layout import NODE_KINDS, NodeKind
from knowledge.synthetic.vocabulary import SYSTEMS


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small() -> GeneratedYard:
    """The generated yard behind the `small_yard` store (20,000 parts, seed 1), in memory."""
    return generate_yard(YardSpec(parts=20_000, seed=1))


def _edges(yard: GeneratedYard) -> tuple[np.ndarray, np.ndarray]:
    indptr, indices = yard.forward
    return np.repeat(np.arange(len(indptr) - 1), np.diff(indptr)), np.asarray(indices, dtype=np.int64)


def test_same_seed_same_store_byte_for_byte(tmp_path: Path) -> None:
    a = generate_store(YardSpec(parts=8_000, seed=11), tmp_path / "a")
    b = generate_store(YardSpec(parts=8_000, seed=11), tmp_path / "b")
    assert store_digest(a) == store_digest(b)
    assert _files(a) == _files(b)
    c = generate_store(YardSpec(parts=8_000, seed=12), tmp_path / "c")
    assert store_digest(c) != store_digest(a)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "c"]  # nothing left beside the stores


def test_counts_and_tables_agree(small_yard: Path, small: GeneratedYard) -> None:
    yard = YardStore.open(small_yard)
    assert yard.count("part") + yard.count("outfitting_item") == 20_000
    assert yard.count("part") == 18_000  # 90 % hull
    assert "20,000 parts, seed 1" in yard.name
    for role in ("block", "assembly", "sub_assembly", "part", "joint", "outfitting_item", "work_package", "resource"):
        table = yard.role_table(role, ["node"])
        assert table.num_rows == yard.count(role) > 0, role
        np.testing.assert_array_equal(table.column("node").to_numpy(), yard.nodes_of_role(role))  # in node order
    tables: dict[NodeKind, str] = {"block": "blocks", "sub_assembly": "sub_assemblies", "joint": "joints"}
    for kind, table in tables.items():
        assert yard.count(kind) == small.tables[table].num_rows == small.layout.counts[kind]
    codes = small.tables["sub_assemblies"].column("code").to_pylist()
    assert sorted(yard.codes_of(yard.nodes_of_role("sub_assembly"))) == sorted(codes)


def test_block_count_follows_size() -> None:
    from knowledge.synthetic._hull import block_count

    assert block_count(25_000_000) == 214
    assert 4 <= block_count(5_000) < block_count(1_000_000) < block_count(25_000_000)


def test_every_node_kind_is_connected_as_the_docs_say(small: GeneratedYard, small_yard: Path) -> None:
    src, dst = _edges(small)
    kind = small.layout.kind_codes
    pairs = {(NODE_KINDS[a], NODE_KINDS[b]) for a, b in set(zip(kind(src).tolist(), kind(dst).tolist(), strict=True))}
    through_joints = {
        ("part", "joint"),
        ("joint", "sub_assembly"),
        ("sub_assembly", "joint"),
        ("joint", "assembly"),
        ("assembly", "joint"),
        ("joint", "block"),
        ("block", "joint"),
        ("assembly", "outfitting_item"),
        ("outfitting_item", "block"),
        ("block", "outfitting_item"),
    }
    # direct membership edges only where a member has no joint to go through (a one-part sub-assembly...)
    lone_members = {("part", "sub_assembly"), ("sub_assembly", "assembly"), ("assembly", "block")}
    assert through_joints <= pairs <= through_joints | lone_members
    # in the store, every assembly, sub-assembly and part is upstream of its block
    yard = YardStore.open(small_yard)
    block = yard.node_of("B001")
    inside = yard.members(block, kinds=["assembly", "sub_assembly", "part"])
    assert len(inside) and set(inside.tolist()) <= set(yard.upstream([block]).tolist())


def _erections(yard: YardStore) -> list[tuple[int, int]]:
    """(lower block, upper block) node pairs: the edges between the blocks' erection packages."""
    blocks = yard.nodes_of_role("block")
    erecting = yard.field_of("block", "work_package", blocks)
    block_of_package = dict(zip(erecting.tolist(), blocks.tolist(), strict=True))
    before, after = yard.edges_from(erecting)
    return [
        (block_of_package[u], block_of_package[v])
        for u, v in zip(before.tolist(), after.tolist(), strict=True)
        if v in block_of_package
    ]


def test_erection_respects_what_rests_on_what(small_yard: Path, small: GeneratedYard) -> None:
    yard = YardStore.open(small_yard)
    blocks = small.tables["blocks"].to_pydict()
    index = {code: i for i, code in enumerate(blocks["code"])}
    pairs = [(index[yard.code_of(u)], index[yard.code_of(v)]) for u, v in _erections(yard)]
    seq, actual, level = blocks["erection_sequence"], blocks["actual_erection"], blocks["level"]
    assert pairs
    for lower, upper in pairs:
        assert seq[lower] < seq[upper]
        assert actual[lower] < actual[upper]
        assert level[lower] <= level[upper]
    key = seq.index(0)
    assert level[key] == 0 and key not in {upper for _, upper in pairs}
    # the store holds the same order: planned erection and each block's erection_sequence by node
    fields = yard.role_table("block", ["erection_sequence"])
    by_node = dict(zip(fields.column("node").to_pylist(), fields.column("erection_sequence").to_pylist(), strict=True))
    assert all(by_node[u] < by_node[v] for u, v in _erections(yard))


def test_work_package_dates_are_consistent(small_yard: Path) -> None:
    yard = YardStore.open(small_yard)
    packages = yard.role_table("work_package", ["block", "trade", "planned_start", "planned_finish"])
    n = packages.num_rows
    assert n == 5 * yard.count("block")
    actuals = yard.actuals(["start", "finish"])
    assert actuals is not None
    recorded = {r["node"]: r for r in actuals.to_pylist()}
    wp = {r["node"]: r | {k: v for k, v in recorded[r["node"]].items() if k != "node"} for r in packages.to_pylist()}
    for row in wp.values():
        assert row["planned_start"] <= row["planned_finish"]
        assert row["start"] >= row["planned_start"]  # slips, never early
        assert row["start"] < row["finish"]
    before, after = yard.edges_from(yard.nodes_of_role("work_package"))
    chained = 0
    for u, v in zip(before.tolist(), after.tolist(), strict=True):
        if v in wp and wp[u]["block"] == wp[v]["block"]:  # PNL -> ASM -> OFB -> ERE -> OBD within a block
            assert wp[u]["finish"] < wp[v]["start"]
            chained += 1
    assert chained == 4 * yard.count("block")
    slips = np.array([(r["start"] - r["planned_start"]).days for r in wp.values()])
    assert 0.2 < (slips > 0).mean() < 0.9  # realistic: many slip, not all


@pytest.fixture(scope="module")
def bigger() -> GeneratedYard:
    """A 200,000-part yard in memory, for statistics."""
    return generate_yard(YardSpec(parts=200_000, seed=4))


@pytest.fixture(scope="module")
def joints(bigger: GeneratedYard) -> dict[str, np.ndarray]:
    t = bigger.tables["joints"]
    cols = {}
    for name in t.column_names:
        col = t.column(name)
        cols[name] = (
            np.asarray(col.to_pylist(), dtype=object)
            if str(col.type).startswith("dictionary")
            else col.to_numpy(zero_copy_only=False)
        )
    return cols


def test_weld_hours_grow_with_length_and_thickness_and_fall_with_deposition(joints: dict[str, np.ndarray]) -> None:
    hours_per_m = joints["actual_hours"] / joints["length_m"]
    fillet_fcaw_flat = (joints["joint_type"] == "fillet") & (joints["process"] == "FCAW") & (joints["position"] == "1F")
    thin = fillet_fcaw_flat & (joints["thickness_mm"] < 8)
    thick = fillet_fcaw_flat & (joints["thickness_mm"] > 14)
    assert np.median(hours_per_m[thick]) > 1.5 * np.median(hours_per_m[thin])
    butt_flat = (joints["joint_type"] == "butt") & (joints["position"] == "1G") & (joints["length_m"] > 3)
    saw = np.median(hours_per_m[butt_flat & (joints["process"] == "SAW")])
    fcaw = np.median(hours_per_m[butt_flat & (joints["process"] == "FCAW")])
    assert saw < fcaw  # SAW deposits twice as fast
    assert np.corrcoef(joints["length_m"], joints["actual_hours"])[0, 1] > 0.3


def test_defect_rates_are_yard_like_and_worse_out_of_position(joints: dict[str, np.ndarray]) -> None:
    defect = joints["defect"].astype(bool)
    assert 0.01 <= defect.mean() <= 0.03  # TWI survey: 1-3 % repair rates
    pos = joints["position"]
    flat = np.isin(pos, ["1G", "1F"])
    overhead = np.isin(pos, ["4G", "4F"])
    assert defect[overhead].mean() > 2 * defect[flat].mean()
    assert defect[joints["one_sided"].astype(bool)].mean() > defect[~joints["one_sided"].astype(bool)].mean()
    assert set(joints["defect_class"][defect]) <= {
        "porosity",
        "slag_inclusion",
        "lack_of_fusion",
        "incomplete_penetration",
        "undercut",
        "crack",
        "overlap",
        "burn_through",
    }
    assert (joints["defect_class"][~defect] == "none").all()


def test_no_submerged_arc_overhead_or_vertical(joints: dict[str, np.ndarray]) -> None:
    saw = joints["process"] == "SAW"
    assert not np.isin(joints["position"][saw], ["3G", "4G", "3F", "4F"]).any()


def test_outfitting_items_have_systems_stages_and_costlier_on_board_work(small: GeneratedYard) -> None:
    items = small.tables["outfitting_items"]
    kinds = items.column("kind").to_pylist()
    systems = items.column("system").to_pylist()
    for kind, system in zip(kinds, systems, strict=True):
        assert system in SYSTEMS[kind]
    stage = np.array(items.column("stage").to_pylist())
    assert set(stage) == {"on-unit", "on-block", "on-board"}
    ratio = items.column("actual_hours").to_numpy() / items.column("norm_hours").to_numpy()
    assert np.median(ratio[stage == "on-board"]) > np.median(ratio[stage == "on-block"])
    rework = items.column("rework").to_numpy(zero_copy_only=False)
    assert rework[stage == "on-board"].mean() > rework[stage == "on-unit"].mean()
    on_block = pc.equal(items.column("stage").cast("string"), "on-block")
    assert items.filter(on_block).column("assembly_id").null_count == 0


def test_every_member_comes_before_its_parent() -> None:
    yard = generate_yard(YardSpec(parts=5_000, seed=1))
    indptr, indices = yard.forward

    def within_two(node: int) -> set[int]:
        first = set(indices[indptr[node] : indptr[node + 1]].tolist())
        return first.union(*(indices[indptr[n] : indptr[n + 1]].tolist() for n in first))

    t = yard.tables
    for table, child, parent in [
        ("parts", "part_id", "sub_assembly_id"),
        ("sub_assemblies", "sub_assembly_id", "assembly_id"),
        ("assemblies", "assembly_id", "block_id"),
    ]:
        for c, p in zip(t[table][child].to_pylist(), t[table][parent].to_pylist(), strict=True):
            assert p in within_two(c), (yard.layout.code_of(c), yard.layout.code_of(p))


def test_block_count_can_be_set(tmp_path: Path) -> None:
    out = generate_store(YardSpec(parts=200_000, seed=3, blocks=200), tmp_path / "y")
    yard = YardStore.open(out)
    assert yard.count("block") == 200 and "200 blocks" in yard.name
    assert len(_erections(yard)) > 150
    from knowledge import InvalidYardSpecError

    with pytest.raises(InvalidYardSpecError, match="200 blocks need at least 5,600 parts"):
        YardSpec.checked(parts=5_000, blocks=200)


def test_the_yard_names_its_trades_and_resources_in_tables(small: GeneratedYard, small_yard: Path) -> None:
    trades = small.tables["trades"]
    assert trades.schema.names == ["trade", "name", "sequence", "resource_kind", "makes"]
    assert [str(t) for t in trades.schema.types] == ["string", "string", "int32", "string", "string"]
    rows = {r["trade"]: r for r in trades.to_pylist()}
    assert [r["trade"] for r in sorted(rows.values(), key=lambda r: r["sequence"])] == [
        "PNL",
        "ASM",
        "OFB",
        "ERE",
        "OBD",
    ]
    assert {t: r["makes"] for t, r in rows.items()} == {
        "PNL": "part,sub_assembly",
        "ASM": "assembly",
        "OFB": "",
        "ERE": "block",
        "OBD": "",
    }
    kinds = set(small.tables["resources"].column("kind").cast("string").to_pylist())
    assert {r["resource_kind"] for r in rows.values()} - {None} <= kinds  # every trade's kind has resources
    assert rows["OBD"]["resource_kind"] is None  # on-board outfitting runs in the ship, on no resource
    # the store: each package's trade and resource, the resources' kinds
    yard = YardStore.open(small_yard)
    packages = yard.role_table("work_package", ["trade", "resource"])
    assert set(packages.column("trade").to_pylist()) == set(rows)
    resource = packages.column("resource").to_numpy()
    kind_of = dict(
        zip(*yard.role_table("resource", ["resource_kind"]).to_pydict().values(), strict=True)  # node -> kind
    )
    trade = packages.column("trade").to_pylist()
    for t, r in zip(trade, resource.tolist(), strict=True):
        assert (r < 0) == (rows[t]["resource_kind"] is None)
        assert r < 0 or kind_of[r] == rows[t]["resource_kind"]


def test_ground_truth_sits_beside_the_recorded_actuals(joints: dict[str, np.ndarray], bigger: GeneratedYard) -> None:
    truth = bigger.tables["ground_truth"]
    np.testing.assert_array_equal(truth.column("joint_id").to_numpy(), joints["joint_id"])
    expected = truth.column("expected_hours").to_numpy()
    # actual = expected x welder skill x noise, both lognormal around 1
    assert 0.9 < np.median(joints["actual_hours"] / expected) < 1.1
    p = 1.0 / (1.0 + np.exp(-truth.column("defect_logit").to_numpy().astype(np.float64)))
    defect = joints["defect"].astype(bool)
    assert abs(p.mean() - defect.mean()) < 0.005
    assert p[defect].mean() > 2 * p[~defect].mean()


def test_the_store_keeps_the_ground_truth_beside_the_actuals(yard_factory: Callable[[int, int], Path]) -> None:
    yard = YardStore.open(yard_factory(5_000, 1))
    actuals = yard.actuals(["hours", "defect", "expected_hours", "defect_logit"])
    assert actuals is not None
    joints = pa.array(yard.role_rows("joint", actuals.column("node").to_numpy()) >= 0)
    mine = actuals.filter(joints)
    assert mine.num_rows == yard.count("joint")
    assert mine.column("expected_hours").null_count == mine.column("defect_logit").null_count == 0
    assert 0.8 < np.median(mine.column("hours").to_numpy() / mine.column("expected_hours").to_numpy()) < 1.25
