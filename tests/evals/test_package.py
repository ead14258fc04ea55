from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from evals.errors import PackageError
from evals.package import TABLES, RecordedPackage, record
from knowledge.store import YardStore
from tests.evals.conftest import BULK_BLOCKS


def _yard_joints(yard: YardStore, blocks: list[str]) -> pa.Table:
    """The yard's joints of some blocks with their actuals, read from the store directly."""
    joints = yard.nodes_of_role("joint")
    mine = joints[np.isin(yard.block_of(joints), yard.nodes_of(blocks))]
    actuals = yard.actuals(["node", "hours", "defect"])
    assert actuals is not None
    return actuals.filter(pc.is_in(actuals.column("node"), value_set=pa.array(mine)))


def test_record_cuts_the_blocks_with_their_actuals(small_package: RecordedPackage, small_yard: Path) -> None:
    yard = YardStore.open(small_yard)
    assert small_package.manifest.blocks == ["B001", "B002", "B003"]
    joints = small_package.with_actuals(small_package.table("joint"))
    mine = _yard_joints(yard, ["B001", "B002", "B003"])
    assert joints.num_rows == mine.num_rows
    assert pc.sum(joints.column("actual_hours")).as_py() == pytest.approx(pc.sum(mine.column("hours")).as_py())
    assert pc.sum(joints.column("defect")).as_py() == pc.sum(mine.column("defect")).as_py()
    assert set(joints.column("block").to_pylist()) == {"B001", "B002", "B003"}
    assert joints.column("code").to_pylist()[0].startswith("J001-")
    wps = small_package.with_actuals(small_package.table("work_package"))
    assert wps.num_rows == 15 and "actual_finish" in wps.column_names
    assert small_package.manifest.work_packages == wps.column("code").to_pylist()
    assert small_package.table("resource").num_rows > 0
    assert not any(str(f.type).startswith("dictionary") for t in TABLES for f in small_package.table(t).schema)


def test_the_package_holds_what_the_models_read(small_package: RecordedPackage, small_yard: Path) -> None:
    """Model inputs as the adapters read them, work packages as the scheduler reads them: canonical names only."""
    from adapters.outfitting import OutfittingItemRow
    from adapters.scheduling import request_from_yard
    from adapters.welding import WeldingAdapter, WeldJointRow

    yard = YardStore.open(small_yard)
    joints = small_package.table("joint")
    assert set(WeldJointRow.model_fields) <= set(joints.column_names)
    assert set(OutfittingItemRow.model_fields) <= set(small_package.table("outfitting_item").column_names)
    first = yard.nodes_of([joints.column("code")[0].as_py()])
    expected = WeldingAdapter.yard_rows(yard, first).to_pylist()[0]
    got = joints.slice(0, 1).to_pylist()[0]
    assert {k: got[k] for k in WeldJointRow.model_fields} == {k: expected[k] for k in WeldJointRow.model_fields}
    tasks = {t.code: t for t in request_from_yard(yard).tasks}
    for row in small_package.table("work_package").to_pylist():
        task = tasks[row["code"]]
        assert (row["duration_days"], row["release_day"], row["resource"]) == (
            task.duration_days,
            task.release_day,
            task.resource,
        )
    after = {r["code"]: r["after"].split() for r in small_package.table("work_package").to_pylist()}
    assert after["WP-B001-ASM"] == ["WP-B001-PNL"]
    assert set(after["WP-B002-ERE"]) == {"WP-B002-OFB", "WP-B001-ERE"}  # B002 sits on B001
    assert set(small_package.table("actuals").column_names) >= {"code", "hours", "defect", "rework"}


def test_answers_are_recorded_from_the_yard(small_package: RecordedPackage, small_yard: Path) -> None:
    yard = YardStore.open(small_yard)
    answers = {a.id: a for a in small_package.answers}
    b001, b002 = yard.node_of("B001"), yard.node_of("B002")
    assert answers["b001-lookup"].expected["numbers.joint"] == len(yard.members(b001, kinds=["joint"]))
    assert answers["b002-upstream"].expected["numbers.nodes"] == len(yard.upstream([b002]))
    found = answers["b001-wip"].expected["inspection_points[*].code"]
    joints = small_package.with_actuals(small_package.rows("joint", {"block": "B001"}))
    assert found == sorted(
        c for c, d in zip(joints.column("code").to_pylist(), joints.column("defect").to_pylist(), strict=True) if d
    )


def test_record_work_packages(small_yard: Path, tmp_path: Path) -> None:
    package = record(small_yard, None, tmp_path / "wp", work_packages=["WP-B002-ASM", "WP-B003-ERE"])
    assert package.manifest.work_packages == ["WP-B002-ASM", "WP-B003-ERE"]
    assert package.manifest.blocks == ["B002", "B003"]
    joints = package.table("joint")
    assert joints.num_rows and set(joints.column("work_package").to_pylist()) <= {"WP-B002-ASM", "WP-B003-ERE"}
    assert package.table("work_package").column("after").to_pylist() == ["", ""]  # neither waits on the other


def test_record_a_yard_of_its_own(bulk_package: RecordedPackage, bulk_carrier: Path) -> None:
    """The bulk carrier: its own ids, kinds and columns; work packages that name no block still belong to one."""
    yard = YardStore.open(bulk_carrier)
    assert bulk_package.manifest.blocks == BULK_BLOCKS
    assert bulk_package.manifest.source.yard_name == yard.name and bulk_package.manifest.missing == {}
    joints = bulk_package.with_actuals(bulk_package.table("joint"))
    all_joints = yard.nodes_of_role("joint")
    assert joints.num_rows == np.isin(yard.block_of(all_joints), yard.nodes_of(BULK_BLOCKS)).sum()
    booked = _yard_joints(yard, BULK_BLOCKS)  # the seams the yard booked hours or NDT for
    assert pc.sum(joints.column("actual_hours")).as_py() == pytest.approx(pc.sum(booked.column("hours")).as_py())
    assert set(joints.column("block").to_pylist()) == set(BULK_BLOCKS)
    assert joints.column("actual_hours").null_count < joints.num_rows  # some seams were booked, not all
    wps = {w["code"]: w for w in bulk_package.table("work_package").to_pylist()}
    # five per block (fabrication, assembly, outfitting, painting, erection), and on-board packages of their items
    per_block = {f"WP-{b.split('/')[1]}-{trade}" for b in BULK_BLOCKS for trade in ("FAB", "ASM", "OUT", "PNT", "ERC")}
    assert per_block <= set(wps)
    assert {wps[c]["block"] for c in per_block} == set(BULK_BLOCKS)
    assert {w["block"] for w in wps.values()} <= {*BULK_BLOCKS, None}
    assert set(wps["WP-DB10-ERC"]["after"].split()) == {"WP-DB10-PNT", "WP-DB09-ERC"}
    resources = {r["code"] for r in bulk_package.table("resource").to_pylist()}
    assert resources >= {w["resource"] for w in wps.values() if w["resource"]}
    answers = {a.id: a for a in bulk_package.answers}
    assert answers["h1042-db09-lookup"].question == "What's in block H1042/DB09?"
    n = len(yard.members(yard.node_of("H1042/DB09"), kinds=["joint"]))
    assert answers["h1042-db09-wip"].expected["joints_total"] == n


def test_round_trip_and_checksums(small_package: RecordedPackage, tmp_path: Path) -> None:
    again = RecordedPackage.open(small_package.path, verify="full")
    for name in TABLES:
        assert again.table(name).equals(small_package.table(name))
    assert again.answers == small_package.answers
    copy = tmp_path / "pkg"
    shutil.copytree(small_package.path, copy)
    (copy / "joint.parquet").write_bytes((copy / "joint.parquet").read_bytes()[:-10])
    with pytest.raises(PackageError, match="joint.parquet has"):
        RecordedPackage.open(copy)


def test_a_package_of_the_old_format_says_how_to_record_again(small_package: RecordedPackage, tmp_path: Path) -> None:
    copy = tmp_path / "old"
    shutil.copytree(small_package.path, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps(manifest | {"version": 1}))
    with pytest.raises(PackageError, match="version 1 .* shipbrain eval record --yard"):
        RecordedPackage.open(copy)


def test_bad_input_is_refused(small_yard: Path, tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="no block 'B999'"):
        record(small_yard, ["B999"], tmp_path / "x")
    with pytest.raises(PackageError, match="'J001-000001' is a joint, not a block"):
        record(small_yard, ["J001-000001"], tmp_path / "x")
    with pytest.raises(PackageError, match="no work package 'WP-X'"):
        record(small_yard, None, tmp_path / "x", work_packages=["WP-X"])
    with pytest.raises(PackageError, match="no recorded package"):
        RecordedPackage.open(tmp_path)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(PackageError, match="manifest.json"):
        RecordedPackage.open(tmp_path / "bad")


def test_packages_that_name_no_block_follow_their_block(tmp_path: Path) -> None:
    """A yard that maps no work package block: a package that makes nothing (painting) is its block's all the same."""
    from knowledge.importer import import_yard
    from tests.helpers.yards import BULK_CARRIER

    source = tmp_path / "no-block"
    shutil.copytree(BULK_CARRIER, source)
    toml = (source / "yard.toml").read_text()
    assert 'block = "BLOCK_REF"\n' in toml
    (source / "yard.toml").write_text(toml.replace('block = "BLOCK_REF"\ncrew', "crew"))
    store = tmp_path / "store"
    import_yard(source, store)
    assert "block" not in YardStore.open(store).fields("work_package")
    package = record(store, BULK_BLOCKS, tmp_path / "pkg")
    wps = {w["code"]: w["block"] for w in package.table("work_package").to_pylist()}
    assert wps["WP-DB09-PNT"] == "H1042/DB09" and wps["WP-DB10-PNT"] == "H1042/DB10"
    assert {wps[f"WP-{b.split('/')[1]}-{t}"] for b in BULK_BLOCKS for t in ("FAB", "PNT", "ERC")} == set(BULK_BLOCKS)
