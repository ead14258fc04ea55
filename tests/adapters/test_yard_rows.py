"""The models' input rows read from imported yard stores: the synthetic yard and the bulk carrier sample."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from adapters import Registry
from adapters.outfitting import BLOCK_TYPES, OutfittingAdapter, OutfittingItemRow, spans_blocks
from adapters.spec import AdapterSpec
from adapters.welding import REQUIRED_JOINT_FIELDS, WeldingAdapter, WeldJointRow, joint_levels
from knowledge import Settings, YardSpec, generate_yard
from knowledge.errors import MissingFieldError
from knowledge.store import YardStore
from knowledge.synthetic.yardformat import write_format
from knowledge.yardformat.fields import FIELDS
from tests.adapters._yards import imported_without
from tests.helpers.yards import BULK_CARRIER


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    return Registry.load(Settings(data_dir=tmp_path_factory.mktemp("data")))


def test_rows_are_the_roles_nodes_in_node_order(small_yard: Path) -> None:
    g = YardStore.open(small_yard)
    joints = WeldingAdapter.yard_rows(g)
    assert joints.column_names == ["node", "block", *WeldJointRow.model_fields]
    assert joints.schema.field("node").type == joints.schema.field("block").type == pa.int32()
    nodes = joints.column("node").to_numpy()
    assert np.array_equal(nodes, g.nodes_of_role("joint"))
    assert np.array_equal(joints.column("block").to_numpy(), g.block_of(nodes))
    # some nodes: those of the role, once each, in node order; other nodes are left out
    block = g.node_of("B002")
    asked = [int(nodes[7]), int(nodes[3]), int(nodes[3]), block, int(nodes[100])]
    some = WeldingAdapter.yard_rows(g, asked)
    assert some.column("node").to_pylist() == sorted({int(nodes[3]), int(nodes[7]), int(nodes[100])})
    assert some.to_pylist() == joints.take([3, 7, 100]).to_pylist()

    items = OutfittingAdapter.yard_rows(g)
    assert items.column_names == ["node", "block", *OutfittingItemRow.model_fields]
    item_nodes = items.column("node").to_numpy()
    assert np.array_equal(item_nodes, g.nodes_of_role("outfitting_item"))
    blocks = items.column("block").to_numpy()
    assert np.array_equal(blocks, g.block_of(item_nodes)) and (blocks >= 0).all()
    # the per-block feature counts every item of the block, on-board items (no production parent) included
    counts = dict(zip(*np.unique(blocks, return_counts=True), strict=True))
    assert items.column("items_in_block").to_pylist() == [counts[b] for b in blocks.tolist()]
    types = g.role_table("block", ["block_type"])
    type_of = dict(zip(types.column("node").to_pylist(), types.column("block_type").to_pylist(), strict=True))
    assert items.column("block_type").to_pylist() == [type_of[b] for b in blocks.tolist()]
    only = OutfittingAdapter.yard_rows(g, item_nodes[blocks == block])
    assert only.to_pylist() == items.filter(pa.array(blocks == block)).to_pylist()  # the yard's counts, not the rows'


def test_fields_a_yard_does_not_give_take_the_models_defaults(small_yard: Path, tmp_path: Path) -> None:
    given = YardStore.open(small_yard)
    source = write_format(generate_yard(YardSpec(parts=20_000, seed=1)), tmp_path / "format")
    drop = {
        "joint": ["level", "access", "one_sided", "fit_up_gap_mm"],
        "outfitting_item": ["diameter_mm", "spans_blocks"],
    }
    g = imported_without(source, tmp_path, drop)
    assert not {"level", "access", "one_sided", "fit_up_gap_mm"} & set(g.fields("joint"))
    joints = WeldingAdapter.yard_rows(g)
    assert set(joints.column("access").to_pylist()) == {"good"}
    assert set(joints.column("one_sided").to_pylist()) == {False}
    assert set(joints.column("fit_up_gap_mm").to_pylist()) == {0.0}
    # a joint's level comes from where it sits: the unit it closes, or two blocks it joins at erection
    assert joints.column("level").to_pylist() == WeldingAdapter.yard_rows(given).column("level").to_pylist()
    items = OutfittingAdapter.yard_rows(g)
    assert set(items.column("diameter_mm").to_pylist()) == {0.0}
    nodes, blocks = items.column("node").to_numpy(), items.column("block").to_numpy()
    assert items.column("spans_blocks").to_pylist() == spans_blocks(g, nodes, blocks).tolist()
    assert items.column("kind").to_pylist() == OutfittingAdapter.yard_rows(given).column("kind").to_pylist()


def test_the_bulk_carriers_joints_through_its_column_mapping(registry: Registry, bulk_carrier: Path) -> None:
    g = YardStore.open(bulk_carrier)
    rows = WeldingAdapter.yard_rows(g)
    assert rows.num_rows == g.count("joint") == g.counts["SEAM"]
    raw = pq.read_table(BULK_CARRIER / "seams.parquet").to_pylist()
    by_id = {r["id"]: r for r in raw}
    codes = g.codes_of(rows.column("node").to_numpy())
    mapped = rows.to_pylist()
    positions = {"PA-BW": "1G", "PC-BW": "2G", "PF-BW": "3G", "PE-BW": "4G", "PB-FW": "2F", "PA-FW": "1F"}
    for code, row in list(zip(codes, mapped, strict=True))[::997]:
        seam = by_id[code]
        assert row["thickness_mm"] == pytest.approx(seam["T_IN"] * 25.4)  # inches -> mm
        assert row["length_m"] == pytest.approx(seam["SEAM_LEN_MM"] / 1000)  # mm -> m
        assert row["process"] == seam["WELD_PROC"].split("-")[0]  # SAW-S -> SAW, FCAW-G -> FCAW ...
        assert row["joint_type"] == {"BW": "butt", "FW": "fillet", "DFW": "fillet"}[seam["SEAM_TYPE"]]
        assert row["access"] == {"OPEN": "good", "CONFINED": "restricted", "TANK": "poor"}[seam["ACCESSIBILITY"]]
        if seam["WPOS"] in positions:
            assert row["position"] == positions[seam["WPOS"]]
        assert row["block"] == g.block_of([g.node_of(code)])[0] >= 0
    # a joint's level as the yard maps it is where it sits in the hierarchy (and the graph, at erection)
    nodes, blocks = rows.column("node").to_numpy(), rows.column("block").to_numpy()
    assert joint_levels(g, nodes, blocks).tolist() == rows.column("level").to_pylist()
    # the shipped model takes them as they are: every row within its input schema
    result = registry.get("welding").predict(rows)
    assert result.num_rows == rows.num_rows and (result.column("hours").to_numpy() > 0).all()


def test_the_bulk_carriers_items_through_its_column_mapping(registry: Registry, bulk_carrier: Path) -> None:
    g = YardStore.open(bulk_carrier)
    items = OutfittingAdapter.yard_rows(g)
    assert items.num_rows == g.count("outfitting_item") > 0
    raw = {r["id"]: r for r in pq.read_table(BULK_CARRIER / "outfit.parquet").to_pylist()}
    for code, row in zip(g.codes_of(items.column("node").to_numpy()), items.to_pylist(), strict=True):
        if raw[code]["DIA_IN"] is not None:
            assert row["diameter_mm"] == pytest.approx(raw[code]["DIA_IN"] * 25.4)  # inches -> mm
    assert set(items.column("block_type").to_pylist()) <= set(BLOCK_TYPES)
    assert items.column("spans_blocks").null_count == 0
    result = registry.get("outfitting").predict(items)
    assert result.num_rows == items.num_rows


def test_a_required_field_the_yard_does_not_map_is_named(bulk_carrier: Path, tmp_path: Path) -> None:
    # the importer takes a role's welding fields all or none: a yard that maps no welding field of its joints
    # (they are still joints, with their work packages) cannot feed the welding model
    welding = [f.name for f in FIELDS["joint"] if f.feeds == "welding"]
    g = imported_without(BULK_CARRIER, tmp_path, {"joint": welding})
    assert "work_package" in g.fields("joint") and not set(welding) & set(g.fields("joint"))
    with pytest.raises(MissingFieldError) as caught:
        WeldingAdapter.yard_rows(g)
    assert caught.value.role == "joint" and "process" in caught.value.fields
    assert set(caught.value.fields) == set(REQUIRED_JOINT_FIELDS)
    message = str(caught.value)
    assert re.search(r"the welding model needs the joint field\(s\) .*process", message)
    assert 'process = "<your column>"' in message and "[columns.joint]" in message
    assert OutfittingAdapter.yard_rows(g).num_rows == g.count("outfitting_item")  # the other model still reads


def test_a_spec_names_a_role_of_the_canonical_model() -> None:
    with pytest.raises(ValidationError, match="no role 'joints'"):
        AdapterSpec(
            name="x",
            system="x",
            version="1",
            owner="x",
            description="x",
            input_schema=WeldJointRow,
            output_schema=WeldJointRow,
            transport="in-process",
            role="joints",
        )
