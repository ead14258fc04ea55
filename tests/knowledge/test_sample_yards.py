"""The sample yards in the repository: each passes the format's checks and is what its README says it is.

`knowledge/samples/bulk_carrier/` is a bulk carrier shaped like another design system's export (its own ids,
kinds, columns and units, a system hierarchy beside the production one, one CSV table among Parquet ones), written
by its seeded `make.py`.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from knowledge.yardformat import ROLES, CheckedYard, validate_yard

BULK_CARRIER = Path(__file__).resolve().parents[2] / "knowledge" / "samples" / "bulk_carrier"
SOURCES = ("make.py", "README.md")
"""Files of the sample that `make.py` does not write."""

KINDS = {
    "BLK": 81,
    "PANEL": 812,
    "CPANEL": 52,
    "SUB": 1_735,
    "PLATE": 24_878,
    "PROFILE": 35_313,
    "SEAM": 60_961,
    "SPOOL": 2_915,
    "TRAY": 900,
    "DUCT": 600,
    "EQUIP": 246,
    "WP": 448,
    "RES": 19,
    "SYS": 23,
    "PIPELINE": 190,
}
"""Nodes of each kind, as README.md documents them."""
EDGES = 127_926
ACTUAL_ROWS = 32_765
CALENDAR_ROWS = 115


@pytest.fixture(scope="module")
def bulk_carrier() -> CheckedYard:
    return validate_yard(BULK_CARRIER)  # raises YardImportError, naming every problem, if there is one


def _kinds(yard: CheckedYard) -> dict[str, int]:
    codes, counts = np.unique(yard.kind, return_counts=True)
    return {yard.spec.known_kinds[c]: int(n) for c, n in zip(codes.tolist(), counts.tolist(), strict=True)}


def _ids_of(yard: CheckedYard, kind: str) -> list[str]:
    code = yard.spec.known_kinds.index(kind)
    return [str(i) for i in yard.ids.take(np.flatnonzero(yard.kind == code)).to_pylist()]


def test_the_bulk_carrier_validates_quickly() -> None:
    started = time.perf_counter()
    yard = validate_yard(BULK_CARRIER)
    assert time.perf_counter() - started < 10  # about 1 s on the 2-core CI machine
    assert yard.num_nodes == sum(KINDS.values())


def test_it_has_the_documented_counts(bulk_carrier: CheckedYard) -> None:
    assert _kinds(bulk_carrier) == KINDS
    parts = KINDS["PLATE"] + KINDS["PROFILE"]
    assert 55_000 <= parts <= 65_000  # "about 60,000 parts"
    assert 60 <= KINDS["BLK"] <= 90
    assert len(bulk_carrier.before) == EDGES
    assert pq.read_metadata(BULK_CARRIER / "actuals.parquet").num_rows == ACTUAL_ROWS
    assert pq.read_metadata(BULK_CARRIER / "calendar.parquet").num_rows == CALENDAR_ROWS


def test_the_readme_documents_those_counts() -> None:
    readme = (BULK_CARRIER / "README.md").read_text(encoding="utf-8")
    documented = [*KINDS.values(), EDGES, ACTUAL_ROWS, CALENDAR_ROWS, sum(KINDS.values())]
    assert not [n for n in documented if f"{n:,}" not in readme]


def test_its_ids_are_its_own_not_the_synthetic_yards(bulk_carrier: CheckedYard) -> None:
    ids = [str(i) for i in bulk_carrier.ids.to_pylist()]
    assert not [i for i in ids if re.match(r"^B\d{3}", i)]
    assert len(set(ids)) == len(ids)
    assert max(len(i.encode()) for i in ids) <= 128
    assert all(i.startswith("H1042/") for i in _ids_of(bulk_carrier, "BLK"))
    assert "H1042/DB03" in ids and any(i.startswith("H1042/DB03-P") and " PL" in i for i in ids)
    assert all(re.fullmatch(r"WE?-[A-Z0-9/]+-E?[0-9]+", i) for i in _ids_of(bulk_carrier, "SEAM"))
    spools = _ids_of(bulk_carrier, "SPOOL")
    assert all(s.startswith("SP-") and s.endswith('"') and " " in s for s in spools)
    assert any("/" in s for s in spools)  # NPS 1-1/2"


def test_some_names_are_not_latin() -> None:
    names = pq.read_table(BULK_CARRIER / "outfit.parquet", columns=["name"]).column("name").drop_null()
    assert any(re.search(r"[\uac00-\ud7a3]", n) for n in names.to_pylist())  # Hangul


def test_every_role_is_mapped_to_the_yards_own_kinds(bulk_carrier: CheckedYard) -> None:
    spec = bulk_carrier.spec
    assert set(spec.roles) == set(ROLES)
    assert spec.roles["joint"] == ("SEAM",) and spec.roles["part"] == ("PLATE", "PROFILE")
    assert set(spec.kinds) == {"SYS", "PIPELINE"}
    assert not {"block", "assembly", "part", "joint"} & set(spec.known_kinds)


def test_its_columns_unlock_the_models_and_the_scheduler(bulk_carrier: CheckedYard) -> None:
    unlocked = bulk_carrier.unlocked
    assert "welding" in unlocked["joint"]
    assert "outfitting" in unlocked["outfitting_item"]
    assert "scheduling" in unlocked["work_package"] and "scheduling" in unlocked["resource"]
    joint = bulk_carrier.spec.columns["joint"]
    assert joint["thickness_mm"].unit == "in" and joint["process"].values["FCAW-G"] == "FCAW"


def test_a_system_hierarchy_stands_beside_the_production_one(bulk_carrier: CheckedYard) -> None:
    assert bulk_carrier.spec.hierarchies == {"system": "SYSTEM_REF"}
    system = bulk_carrier.groups["system"]
    kinds = bulk_carrier.spec.known_kinds
    kind = bulk_carrier.kind

    def code(name: str) -> int:
        return kinds.index(name)

    spools = np.flatnonzero(kind == code("SPOOL"))
    assert (kind[system[spools]] == code("PIPELINE")).all()  # spool -> pipeline
    pipelines = np.flatnonzero(kind == code("PIPELINE"))
    assert (kind[system[pipelines]] == code("SYS")).all()  # pipeline -> system
    assert (system[kind == code("SYS")] == -1).all()
    assert (system[kind == code("PLATE")] == -1).all()  # the hull is not in it
    assert (bulk_carrier.parent[pipelines] == -1).all()  # a grouping: no production parent


def _tables_and_spec() -> list[str]:
    """The files `make.py` writes, as committed (not its own sources, nor a `__pycache__`)."""
    return sorted(p.name for p in BULK_CARRIER.iterdir() if p.is_file() and p.name not in SOURCES)


def test_one_table_is_csv_and_the_rest_parquet() -> None:
    tables = [name for name in _tables_and_spec() if name != "yard.toml"]
    assert [t for t in tables if t.endswith(".csv")] == ["work_packages.csv"]
    assert all(t.endswith(".parquet") for t in tables if not t.endswith(".csv"))
    assert sum(p.stat().st_size for p in BULK_CARRIER.iterdir()) < 8 << 20


def test_some_joints_and_work_packages_have_actuals(bulk_carrier: CheckedYard) -> None:
    actuals = pq.read_table(BULK_CARRIER / "actuals.parquet")
    ids = actuals.column("id")
    seams = pc.sum(pc.starts_with(ids, "W")).as_py()
    packages = pc.sum(pc.starts_with(ids, "WP-")).as_py()
    assert packages > 100 and seams - packages > 10_000
    assert pc.sum(pc.equal(actuals.column("NDT_RESULT"), "REJ")).as_py() > 50


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_make_py_writes_the_same_bytes_again(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(BULK_CARRIER / "make.py"), "--out", str(tmp_path)], check=True, timeout=120)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == _tables_and_spec()
    for name in written:
        ours, again = BULK_CARRIER / name, tmp_path / name
        if _digest(ours) == _digest(again):
            continue
        # a Parquet file names the pyarrow that wrote it: with another pyarrow only the contents must match
        assert name.endswith(".parquet"), f"{name} differs"
        assert pq.read_metadata(ours).created_by != pq.read_metadata(again).created_by, f"{name} differs"
        assert pq.read_table(ours).equals(pq.read_table(again)), f"{name}'s contents differ"
