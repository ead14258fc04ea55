"""The synthetic yard: determinism, structure, and a ground truth the models can learn from."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest

from knowledge import PartGraph, YardSpec, generate_yard, read_manifest, write_yard
from knowledge.synthetic.vocabulary import SYSTEMS


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_yard_byte_for_byte(tmp_path: Path) -> None:
    a = write_yard(generate_yard(YardSpec(parts=8_000, seed=11)), tmp_path / "a")
    b = write_yard(generate_yard(YardSpec(parts=8_000, seed=11)), tmp_path / "b")
    assert a == b
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    c = write_yard(generate_yard(YardSpec(parts=8_000, seed=12)), tmp_path / "c")
    assert c.files["joints.parquet"].sha256 != a.files["joints.parquet"].sha256


def test_counts_and_tables_agree(small_yard: Path) -> None:
    g = PartGraph.open(small_yard)
    m = read_manifest(small_yard)
    assert m.counts["part"] + m.counts["outfitting_item"] == m.parts == 20_000
    assert m.counts["part"] == 18_000  # 90 % hull
    for kind, table in [
        ("block", "blocks"),
        ("assembly", "assemblies"),
        ("sub_assembly", "sub_assemblies"),
        ("part", "parts"),
        ("joint", "joints"),
        ("outfitting_item", "outfitting_items"),
    ]:
        t = g.table(table)
        assert t.num_rows == m.counts[kind] == m.tables[table]
        ids = t.column(0).to_numpy()
        np.testing.assert_array_equal(ids, g.ids_of_kind(kind))  # dense ids, in table order
    codes = g.table("sub_assemblies", ["code"]).column(0).to_pylist()
    assert codes == g.codes_of(g.ids_of_kind("sub_assembly"))


def test_block_count_follows_size() -> None:
    from knowledge.synthetic._hull import block_count

    assert block_count(25_000_000) == 214
    assert 4 <= block_count(5_000) < block_count(1_000_000) < block_count(25_000_000)


def test_every_node_kind_is_connected_as_the_docs_say(small_yard: Path) -> None:
    g = PartGraph.open(small_yard)
    src, dst = g.edge_arrays()
    pairs = set(zip(g.kinds_of(src), g.kinds_of(dst), strict=True))
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
    # every assembly, sub-assembly and part is upstream of its block
    block = g.id_of("B001")
    assert set(g.members(block, kinds=["assembly", "sub_assembly", "part"]).tolist()) <= set(
        g.upstream([block]).tolist()
    )


def test_erection_respects_what_rests_on_what(small_yard: Path) -> None:
    g = PartGraph.open(small_yard)
    bg = g.block_graph()
    blocks = g.table("blocks").to_pydict()
    seq = blocks["erection_sequence"]
    actual = blocks["actual_erection"]
    assert bg.number_of_edges() > 0
    for lower, upper in bg.edges:
        assert seq[lower] < seq[upper]
        assert actual[lower] < actual[upper]
        assert blocks["level"][lower] <= blocks["level"][upper]
    key = seq.index(0)
    assert blocks["level"][key] == 0 and bg.in_degree(key) == 0


def test_work_package_dates_are_consistent(small_yard: Path) -> None:
    wp = PartGraph.open(small_yard).table("work_packages").to_pydict()
    n = len(wp["code"])
    assert n == 5 * PartGraph.open(small_yard).counts["block"]
    for i in range(n):
        assert wp["planned_start"][i] <= wp["planned_finish"][i]
        assert wp["actual_start"][i] >= wp["planned_start"][i]  # slips, never early
        assert wp["actual_start"][i] < wp["actual_finish"][i]
    for b in range(0, n, 5):  # PNL -> ASM -> OFB -> ERE -> OBD within a block
        for t in range(4):
            assert wp["actual_finish"][b + t] < wp["actual_start"][b + t + 1]
    slips = np.array([(a - p).days for a, p in zip(wp["actual_start"], wp["planned_start"], strict=True)])
    assert 0.2 < (slips > 0).mean() < 0.9  # realistic: many slip, not all


@pytest.fixture(scope="module")
def joints(yard_factory: Callable[[int, int], Path]) -> dict[str, np.ndarray]:
    t = PartGraph.open(yard_factory(200_000, 4)).table("joints")
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


def test_outfitting_items_have_systems_stages_and_costlier_on_board_work(small_yard: Path) -> None:
    items = PartGraph.open(small_yard).table("outfitting_items")
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


def test_every_member_comes_before_its_parent(yard_factory: Callable[[int, int], Path]) -> None:
    g = PartGraph.open(yard_factory(5_000, 1))
    parts = g.table("parts", ["part_id", "sub_assembly_id"]).to_pydict()
    subs = g.table("sub_assemblies", ["sub_assembly_id", "assembly_id"]).to_pydict()
    asms = g.table("assemblies", ["assembly_id", "block_id"]).to_pydict()
    for table, child, parent in [
        (parts, "part_id", "sub_assembly_id"),
        (subs, "sub_assembly_id", "assembly_id"),
        (asms, "assembly_id", "block_id"),
    ]:
        for c, p in zip(table[child], table[parent], strict=True):
            assert p in g.downstream([c], depth=2), (g.code_of(c), g.code_of(p))


def test_block_count_can_be_set(tmp_path: Path) -> None:
    out = tmp_path / "y"
    write_yard(generate_yard(YardSpec(parts=200_000, seed=3, blocks=200)), out)
    g = PartGraph.open(out)
    assert g.counts["block"] == 200 and g.manifest.blocks == 200
    assert g.block_graph().number_of_edges() > 150
    from knowledge import InvalidYardSpecError

    with pytest.raises(InvalidYardSpecError, match="200 blocks need at least 5,600 parts"):
        YardSpec.checked(parts=5_000, blocks=200)


def test_the_yard_names_its_trades_and_resources_in_tables(small_yard: Path) -> None:
    g = PartGraph.open(small_yard)
    trades = g.table("trades")
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
    kinds = set(g.table("resources", ["kind"]).column(0).cast("string").to_pylist())
    assert {r["resource_kind"] for r in rows.values()} - {None} <= kinds  # every trade's kind has resources
    assert rows["OBD"]["resource_kind"] is None  # on-board outfitting runs in the ship, on no resource
    wp = g.table("work_packages", ["trade"]).column(0).cast("string").to_pylist()
    assert set(wp) == set(rows)


def test_ground_truth_sits_beside_the_recorded_actuals(
    joints: dict[str, np.ndarray], yard_factory: Callable[[int, int], Path]
) -> None:
    truth = PartGraph.open(yard_factory(200_000, 4)).table("ground_truth")
    np.testing.assert_array_equal(truth.column("joint_id").to_numpy(), joints["joint_id"])
    expected = truth.column("expected_hours").to_numpy()
    # actual = expected x welder skill x noise, both lognormal around 1
    assert 0.9 < np.median(joints["actual_hours"] / expected) < 1.1
    p = 1.0 / (1.0 + np.exp(-truth.column("defect_logit").to_numpy().astype(np.float64)))
    defect = joints["defect"].astype(bool)
    assert abs(p.mean() - defect.mean()) < 0.005
    assert p[defect].mean() > 2 * p[~defect].mean()
