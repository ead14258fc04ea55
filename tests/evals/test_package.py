from __future__ import annotations

import json
from pathlib import Path

import pyarrow.compute as pc
import pytest

from evals.errors import PackageError
from evals.package import TABLES, RecordedPackage, record
from knowledge import PartGraph


def test_record_cuts_the_blocks_with_their_actuals(small_package: RecordedPackage, small_yard: Path) -> None:
    g = PartGraph.open(small_yard)
    assert small_package.manifest.blocks == ["B001", "B002", "B003"]
    joints = small_package.table("joints")
    yard_joints = g.table("joints", ["block_id", "actual_hours", "defect"])
    ids = [g.id_of(b) for b in ("B001", "B002", "B003")]
    mine = yard_joints.filter(pc.is_in(yard_joints.column("block_id"), value_set=__import__("pyarrow").array(ids)))
    assert joints.num_rows == mine.num_rows
    assert pc.sum(joints.column("actual_hours")).as_py() == pytest.approx(pc.sum(mine.column("actual_hours")).as_py())
    assert pc.sum(joints.column("defect")).as_py() == pc.sum(mine.column("defect")).as_py()
    assert set(joints.column("block").to_pylist()) == {"B001", "B002", "B003"}
    assert joints.column("code").to_pylist()[0].startswith("J001-")
    wps = small_package.table("work_packages")
    assert wps.num_rows == 15 and "actual_finish" in wps.column_names
    assert small_package.table("resources").num_rows > 0
    assert not any(str(f.type).startswith("dictionary") for t in TABLES for f in small_package.table(t).schema)


def test_answers_are_recorded_from_the_yard(small_package: RecordedPackage, small_yard: Path) -> None:
    g = PartGraph.open(small_yard)
    answers = {a.id: a for a in small_package.answers}
    assert answers["b001-lookup"].expected["numbers.joint"] == len(g.members(g.id_of("B001"), kinds=["joint"]))
    assert answers["b002-upstream"].expected["numbers.nodes"] == len(g.upstream([g.id_of("B002")]))
    found = answers["b001-wip"].expected["inspection_points[*].code"]
    joints = small_package.rows("joints", {"block": "B001"})
    assert found == sorted(
        c for c, d in zip(joints.column("code").to_pylist(), joints.column("defect").to_pylist(), strict=True) if d
    )


def test_round_trip_and_checksums(small_package: RecordedPackage, tmp_path: Path) -> None:
    again = RecordedPackage.open(small_package.path, verify="full")
    for name in TABLES:
        assert again.table(name).equals(small_package.table(name))
    assert again.answers == small_package.answers
    copy = tmp_path / "pkg"
    import shutil

    shutil.copytree(small_package.path, copy)
    (copy / "joints.parquet").write_bytes((copy / "joints.parquet").read_bytes()[:-10])
    with pytest.raises(PackageError, match="joints.parquet has"):
        RecordedPackage.open(copy)


def test_bad_input_is_refused(small_yard: Path, tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="no block 'B999'"):
        record(small_yard, ["B999"], tmp_path / "x")
    with pytest.raises(PackageError, match="no recorded package"):
        RecordedPackage.open(tmp_path)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(PackageError, match="manifest.json"):
        RecordedPackage.open(tmp_path / "bad")
