"""`brain.core.WorkPackageIndex` and `YardContext` over imported stores: the synthetic yard and the bulk carrier.

The index reads only roles and fields: packages are the `work_package` nodes, a node's package is its role's
`work_package` field, the trades' order is that of the edges between packages. The same code runs over the bulk
carrier, whose ids, kinds and columns are its own (and which gives no block of its packages, nor norm hours yet).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from brain.core import YardContext
from brain.core.longest import longest_paths, node_hours
from brain.core.workpackages import WorkPackageIndex
from knowledge import InputError, Settings
from knowledge.store import YardStore


@pytest.fixture(scope="module")
def index(small_yard: Path) -> WorkPackageIndex:
    return WorkPackageIndex(YardStore.open(small_yard))


def test_packages_are_the_work_package_nodes_with_their_fields(index: WorkPackageIndex) -> None:
    yard = index.yard
    assert np.array_equal(index.nodes, yard.nodes_of_role("work_package"))
    assert index.codes == yard.codes_of(index.nodes) and index.row_of["WP-B002-ERE"] == index.codes.index("WP-B002-ERE")
    row = index.row_of["WP-B002-ERE"]
    assert index.trade[row] == "ERE" and index.block_code(row) == "B002"
    assert int(index.block[row]) == yard.node_of("B002")
    assert index.crew.min() >= 1 and np.all(index.estimated_hours >= 0)
    assert yard.kind_of(int(index.resource[row])) == "resource"


def test_trades_follow_the_edges_between_packages(index: WorkPackageIndex) -> None:
    # the synthetic yard's order, read from its package edges alone (no trades table)
    assert index.trades == ["PNL", "ASM", "OFB", "ERE", "OBD"]
    rows = index.row_of
    assert (rows["WP-B001-PNL"], rows["WP-B001-ASM"]) in index.precedences
    assert (rows["WP-B001-ERE"], rows["WP-B001-OBD"]) in index.precedences
    src, dst = index.yard.edges_from(index.nodes)
    between = np.isin(dst, index.nodes)
    assert len(index.precedences) == len(set(zip(src[between].tolist(), dst[between].tolist(), strict=True)))
    assert index.trades[index.trade_making("block") or 0] == "ERE"
    assert index.trades[index.trade_making("assembly") or 0] == "ASM"
    assert index.trade_making("resource") is None


def test_each_node_maps_to_the_package_its_field_names(index: WorkPackageIndex) -> None:
    yard = index.yard
    for role in ("block", "assembly", "part", "joint", "outfitting_item"):
        nodes = yard.nodes_of_role(role)
        named = yard.role_table(role, ["work_package"]).column("work_package").fill_null(-1).to_numpy()
        rows = index.work_package_of(nodes)
        assert np.array_equal(np.where(rows >= 0, index.nodes[np.maximum(rows, 0)], -1), named), role
    assert index.package_of("B002") == "WP-B002-ERE"
    assert index.package_of("WP-B002-ERE") == "WP-B002-ERE"
    assert index.package_of_block(yard.node_of("B002"), index.trades.index("PNL")) == index.row_of["WP-B002-PNL"]
    assert index.work_package_of(index.nodes[:3]).tolist() == [0, 1, 2]
    with pytest.raises(InputError, match="resource that no work package"):
        index.package_of("PL-1")


def test_work_package_codes_exact_or_loose_never_by_look(index: WorkPackageIndex) -> None:
    assert index.is_work_package("WP-B002-ERE") and index.is_work_package("wp b2 ere")
    assert index.work_package(" wp-b002-ere ") == index.row_of["WP-B002-ERE"]
    assert not index.is_work_package("WP-B999-ERE") and not index.is_work_package("B002")
    with pytest.raises(InputError, match="no work package 'WP-B999-ERE'"):
        index.work_package("WP-B999-ERE")


def test_scopes(index: WorkPackageIndex) -> None:
    yard = index.yard
    block = yard.node_of("B003")
    scope = index.scope_of("B003")
    assert np.array_equal(scope.joint_ids, yard.members(block, kinds=["joint"]))
    # a block's items: those inside it and those fitted on board that name it
    items = yard.nodes_of_role("outfitting_item")
    named = items[yard.field_of("outfitting_item", "block", items) == block]
    assert np.array_equal(scope.item_ids, np.union1d(yard.members(block, kinds=["outfitting_item"]), named))
    assert len(scope.item_ids) > len(yard.members(block, kinds=["outfitting_item"]))  # on-board items counted
    # one rule for "the items of a block" everywhere: the scope (weld and inspection tools) and the outfitting
    # tools (blocks_of_role) give the same items
    assert np.array_equal(scope.item_ids, items[yard.blocks_of_role("outfitting_item") == block])
    row = index.row_of["WP-B003-PNL"]
    package = index.scope_of("WP-B003-PNL")
    assert package.work_package == row and np.array_equal(package.joint_ids, index.members_of(row, "joint"))
    assert set(index.scope(row).tolist()) >= set(package.joint_ids.tolist())
    with pytest.raises(InputError, match="ask about a block, assembly or work package"):
        index.scope_of("J003-000001")


def test_fixed_hours_are_the_estimate_less_the_norms_spread_over_the_nodes(index: WorkPackageIndex) -> None:
    row = index.row_of["WP-B003-PNL"]
    joints = index.members_of(row, "joint")
    made = sum(len(index.members_of(row, role)) for role in ("block", "assembly", "sub_assembly", "part", "joint"))
    norms = float(index.joint_norm_hours(joints).sum())
    expected = max(float(index.estimated_hours[row]) - norms, 0.0) / max(made, 1)
    assert index.fixed_hours_per_node()[row] == pytest.approx(expected)


def test_a_context_over_the_bulk_carrier(bulk_carrier: Path, tmp_path: Path) -> None:
    ctx = YardContext.open(bulk_carrier, Settings(data_dir=tmp_path))
    try:
        yard, index = ctx.yard, ctx.index
        assert ctx.day_zero == yard.day0
        assert len(index.codes) == yard.count("work_package") > 0
        assert sorted(index.trades) == sorted(set(index.trade))
        # every seam maps to the work package its own column names
        seams = yard.nodes_of_role("joint")
        rows = index.work_package_of(seams)
        assert len(seams) and np.all(rows >= 0)
        named = yard.role_table("joint", ["work_package"]).column("work_package").to_numpy()
        assert np.array_equal(index.nodes[rows], named)
        code = yard.code_of(int(seams[0]))
        assert index.package_of(code) == index.codes[int(rows[0])]
        # a package's block: its field, or where most of its nodes are
        with_seams = int(rows[0])
        if "block" in yard.fields("work_package"):
            expected = int(yard.field_of("work_package", "block", index.nodes[with_seams : with_seams + 1])[0])
        else:
            expected = int(np.bincount(yard.block_of(index.members_of(with_seams, "joint"))).argmax())
        assert int(index.block[with_seams]) == expected
        scope = index.scope_of(index.block_code(with_seams))
        assert len(scope.joint_ids) and yard.role_of(int(scope.joint_ids[0])) == "joint"
        # the longest paths under the planning norms (0 hours where the yard gives none), kept on disk
        finish, best_pred = longest_paths(ctx, "planned")
        assert finish.shape == (yard.num_nodes,)
        hours = node_hours(ctx, "planned")
        assert np.all(hours >= 0) and hours[seams].sum() == pytest.approx(index.joint_norm_hours(seams).sum())
        chain = yard.chain_of(finish, best_pred)
        assert chain.length == pytest.approx(float(hours[chain.node_ids].sum()))
        assert "longest-planned-finish.npy" in {p.name for p in ctx.cache.dir.iterdir()}
    finally:
        ctx.close()
