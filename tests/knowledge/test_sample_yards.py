"""The sample yards in the repository: each passes the format's checks and is what its README says it is.

`knowledge/samples/bulk_carrier/` is a bulk carrier shaped like another design system's export (its own ids,
kinds, columns and units, a system hierarchy beside the production one, one CSV table among Parquet ones), written
by its seeded `make.py`. It carries what the brain's features read, as a planning export would: norms, outfitting
stages, the work package of every hull node, and a plan of work packages that is a feasible schedule.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from knowledge.importer import import_yard
from knowledge.store import YardStore
from knowledge.yardformat import ROLES, CheckedYard, YardImportError, validate_yard

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
    "SPOOL": 2_910,
    "TRAY": 900,
    "DUCT": 600,
    "EQUIP": 246,
    "WP": 448,
    "RES": 21,
    "SYS": 23,
    "PIPELINE": 190,
}
"""Nodes of each kind, as README.md documents them."""
EDGES = 127_901
WP_EDGES = 974
ACTUAL_ROWS = 39_741
CALENDAR_ROWS = 115
PHASES = ("HUL", "WLD", "OFT", "PNT", "ERC")
"""The crafts of each block's five work packages, in the order the block goes through them."""


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
    documented = [*KINDS.values(), EDGES, WP_EDGES, ACTUAL_ROWS, CALENDAR_ROWS, sum(KINDS.values())]
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


# -- what the brain's features read: norms, stages, work packages and their plan --------------------------------


def _table(name: str, columns: list[str] | None = None) -> pa.Table:
    path = BULK_CARRIER / name
    if name.endswith(".csv"):
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(strings_can_be_null=True))  # "": none
        return table if columns is None else table.select(columns)
    return pq.read_table(path, columns=columns)


def _rows(name: str, columns: list[str]) -> list[dict[str, Any]]:
    return list(_table(name, columns).to_pylist())


@pytest.fixture(scope="module")
def packages() -> dict[str, dict[str, Any]]:
    """The work packages by id, as the CSV holds them."""
    return {str(r["id"]): r for r in _table("work_packages.csv").to_pylist()}


def _wp_edges() -> list[tuple[str, str]]:
    edges = _table("edges.parquet").filter(pc.equal(pc.field("LINK"), "WP"))
    return list(zip(edges.column("before").to_pylist(), edges.column("after").to_pylist(), strict=True))


def test_the_new_columns_are_mapped_and_checked(bulk_carrier: CheckedYard) -> None:
    columns = bulk_carrier.spec.columns
    assert columns["joint"]["norm_hours"].column == "NORM_MH"
    item = columns["outfitting_item"]
    assert {f: item[f].column for f in ("norm_hours", "stage", "block", "zone")} == {
        "norm_hours": "NORM_MH",
        "stage": "INSTALL",
        "block": "BLOCK_REF",
        "zone": "ZONE",
    }
    assert item["stage"].values == {"PRE-OUTFIT": "on-unit", "BLOCK-OUTFIT": "on-block", "ONBOARD": "on-board"}
    assert all(columns[role]["work_package"].column == "WP_REF" for role in ("block", "assembly", "sub_assembly"))
    assert columns["part"]["work_package"].column == "WP_REF"
    assert {f: columns["work_package"][f].column for f in ("block", "crane")} == {
        "block": "BLOCK_REF",
        "crane": "CRANE",
    }


def test_a_wrong_stage_or_an_unknown_block_is_reported(tmp_path: Path) -> None:
    copy = tmp_path / "bulk_carrier"
    shutil.copytree(BULK_CARRIER, copy, ignore=shutil.ignore_patterns(*SOURCES, "__pycache__"))
    outfit = pq.read_table(copy / "outfit.parquet")
    row = outfit.column("INSTALL").to_pylist().index("ONBOARD")
    stage = outfit.column("INSTALL").to_pylist()
    stage[row] = "DECK"
    block = outfit.column("BLOCK_REF").to_pylist()
    block[row] = "H1042/DB99"
    outfit = outfit.set_column(outfit.schema.get_field_index("INSTALL"), "INSTALL", pa.array(stage))
    outfit = outfit.set_column(outfit.schema.get_field_index("BLOCK_REF"), "BLOCK_REF", pa.array(block))
    pq.write_table(outfit, copy / "outfit.parquet")
    with pytest.raises(YardImportError) as caught:
        validate_yard(copy)
    message = str(caught.value)
    assert "'DECK'" in message and "INSTALL" in message
    assert "H1042/DB99" in message and "BLOCK_REF" in message


def test_every_seam_and_item_has_a_norm_within_its_packages_estimate(packages: dict[str, dict[str, Any]]) -> None:
    norms: defaultdict[str, float] = defaultdict(float)
    for name in ("seams.parquet", "outfit.parquet"):
        table = _table(name, ["kind", "WP_REF", "NORM_MH"]).filter(pc.is_valid(pc.field("WP_REF")))
        hours = table.column("NORM_MH").to_numpy()
        assert (hours > 0).all() and np.isfinite(hours).all()
        for wp, h in zip(table.column("WP_REF").to_pylist(), hours.tolist(), strict=True):
            norms[wp] += h
    assert set(norms) <= set(packages)
    assert len(norms) > 300  # every block's fabrication, assembly, outfitting and erection; the on-board ones
    short = [wp for wp, h in norms.items() if float(packages[wp]["EST_MH"]) < h]
    assert not short


def test_items_say_their_stage_block_and_zone() -> None:
    items = _rows("outfit.parquet", ["id", "kind", "parent", "INSTALL", "BLOCK_REF", "ZONE", "WP_REF"])
    items = [r for r in items if r["kind"] not in ("SYS", "PIPELINE")]
    blocks = {r["id"]: r for r in _rows("hull.parquet", ["id", "kind", "ZONE"]) if r["kind"] == "BLK"}
    assert Counter(r["INSTALL"] for r in items).keys() == {"PRE-OUTFIT", "BLOCK-OUTFIT", "ONBOARD"}
    assert all(r["BLOCK_REF"] in blocks and r["ZONE"] == blocks[r["BLOCK_REF"]]["ZONE"] for r in items)
    board = [r for r in items if r["INSTALL"] == "ONBOARD"]
    assert board and all(r["parent"] is None and str(r["WP_REF"]).startswith("WP-OB-") for r in board)
    fitted = [r for r in items if r["INSTALL"] != "ONBOARD"]  # on a unit or on the block: a child of the block
    assert all(r["parent"] == r["BLOCK_REF"] for r in fitted)
    assert all(r["WP_REF"] == f"WP-{str(r['BLOCK_REF']).split('/')[1]}-OUT" for r in fitted)


def test_every_hull_node_names_the_package_that_makes_it(packages: dict[str, dict[str, Any]]) -> None:
    hull = _rows("hull.parquet", ["id", "kind", "parent", "WP_REF"])
    parent = {r["id"]: r["parent"] for r in hull}

    def block_of(node: object) -> object:
        while parent[node] is not None:
            node = parent[node]
        return node

    craft = {"BLK": "ERC", "PANEL": "WLD", "CPANEL": "WLD", "SUB": "HUL", "PLATE": "HUL", "PROFILE": "HUL"}
    wrong = [
        r["id"]
        for r in hull
        if r["WP_REF"] not in packages
        or packages[str(r["WP_REF"])]["CRAFT"] != craft[str(r["kind"])]
        or packages[str(r["WP_REF"])]["BLOCK_REF"] != block_of(r["id"])
    ]
    assert not wrong


def test_each_blocks_packages_follow_one_another_and_the_blocks_below(
    packages: dict[str, dict[str, Any]],
) -> None:
    edges = _wp_edges()
    assert len(edges) == WP_EDGES
    assert all(b in packages and a in packages for b, a in edges)  # between work package nodes only
    chains: defaultdict[object, list[str]] = defaultdict(list)
    for wp, row in packages.items():
        if row["BLOCK_REF"] is not None:
            chains[row["BLOCK_REF"]].append(wp)
    erection: dict[object, str] = {}
    expected: set[tuple[str, str]] = set()
    for block, wps in chains.items():
        wps.sort(key=lambda wp: PHASES.index(str(packages[wp]["CRAFT"])))
        assert [packages[wp]["CRAFT"] for wp in wps] == list(PHASES), block
        expected.update(zip(wps, wps[1:], strict=False))
        erection[block] = wps[-1]
    rests = _table("edges.parquet").filter(pc.equal(pc.field("LINK"), "ERECTION"))
    for lower, upper in zip(rests.column("before").to_pylist(), rests.column("after").to_pylist(), strict=True):
        expected.add((erection[lower], erection[upper]))  # a block is erected after the blocks it rests on
    items = _table("outfit.parquet", ["id", "WP_REF", "INSTALL"])
    on_board = {i: wp for i, wp, stage in zip(*items.to_pydict().values(), strict=True) if stage == "ONBOARD"}
    sits = _table("edges.parquet").filter(pc.equal(pc.field("LINK"), "OUTFIT"))
    for block, item in zip(sits.column("before").to_pylist(), sits.column("after").to_pylist(), strict=True):
        if item in on_board:  # on board: after the erection of every block its items sit on (a run may span two)
            expected.add((erection[block], on_board[item]))
    assert set(edges) == expected and len(edges) == len(expected)


def _days_off() -> tuple[set[dt.date], dict[str, set[dt.date]]]:
    yard: set[dt.date] = set()
    resource: defaultdict[str, set[dt.date]] = defaultdict(set)
    for r in _rows("calendar.parquet", ["date", "resource"]):
        day = r["date"]
        assert isinstance(day, dt.date)
        (yard if r["resource"] is None else resource[str(r["resource"])]).add(day)
    return yard, resource


def test_the_plan_is_a_feasible_schedule_of_every_package(packages: dict[str, dict[str, Any]]) -> None:
    resources = {str(r["id"]): r for r in _rows("resources.parquet", ["id", "RES_TYPE", "CAPACITY", "SWL_T"])}
    weight = {r["id"]: r["WEIGHT_KG"] for r in _rows("hull.parquet", ["id", "kind", "WEIGHT_KG"]) if r["kind"] == "BLK"}
    yard_off, resource_off = _days_off()
    kinds: defaultdict[object, set[object]] = defaultdict(set)
    busy: Counter[tuple[str, dt.date]] = Counter()
    for wp, r in packages.items():
        start, finish = r["PLAN_START"], r["PLAN_END"]
        assert isinstance(start, dt.date) and isinstance(finish, dt.date)
        days = [start + dt.timedelta(days=k) for k in range((finish - start).days + 1)]
        working = [d for d in days if d not in yard_off]
        assert start in working and finish in working, wp
        hours, crew = float(r["EST_MH"]), int(r["CREW_SIZE"])
        assert len(working) == max(1, math.ceil(hours / (crew * 8) - 1e-9)), wp  # as a scheduler counts it
        used = [str(r["WORKCENTER"])] + ([str(r["CRANE"])] if r["CRANE"] is not None else [])
        for name in used:
            assert name in resources, wp
            assert not set(working) & resource_off[name], f"{wp} works on {name} while it is down"
            busy.update((name, d) for d in working)
        kinds[r["CRAFT"]].add(resources[used[0]]["RES_TYPE"])
        if r["CRANE"] is not None:
            crane = resources[str(r["CRANE"])]
            assert crane["RES_TYPE"] == "crane" and r["CRAFT"] == "ERC"
            assert float(crane["SWL_T"]) * 1000 >= float(weight[r["BLOCK_REF"]]), wp
    assert all(r["CRANE"] is not None for r in packages.values() if r["CRAFT"] == "ERC")
    assert all(len(k) == 1 for k in kinds.values())  # each trade runs on one kind of resource
    over = [(n, d) for (n, d), count in busy.items() if count > int(resources[n]["CAPACITY"])]
    assert not over
    late = [(b, a) for b, a in _wp_edges() if packages[a]["PLAN_START"] <= packages[b]["PLAN_END"]]
    assert not late
    erected = {
        r["id"]: r["ERECT_DATE"] for r in _rows("hull.parquet", ["id", "kind", "ERECT_DATE"]) if r["kind"] == "BLK"
    }
    assert all(erected[r["BLOCK_REF"]] == r["PLAN_START"] for r in packages.values() if r["CRAFT"] == "ERC")


def test_the_imported_store_gives_the_fields_the_brain_reads(tmp_path: Path) -> None:
    import_yard(BULK_CARRIER, tmp_path / "store")
    store = YardStore.open(tmp_path / "store")
    assert {"norm_hours", "work_package"} <= set(store.fields("joint"))
    assert {"norm_hours", "stage", "block", "zone", "work_package"} <= set(store.fields("outfitting_item"))
    assert all("work_package" in store.fields(role) for role in ("block", "assembly", "sub_assembly", "part"))
    assert {"trade", "resource", "crane", "block", "crew", "estimated_hours"} <= set(store.fields("work_package"))
    wps = store.nodes_of_role("work_package")
    for role in ("block", "assembly", "sub_assembly", "part", "joint", "outfitting_item"):
        refs = store.role_table(role, ["work_package"]).column("work_package").to_numpy()
        assert (refs >= 0).all() and np.isin(refs, wps).all(), role
    table = store.role_table("work_package", ["crane", "block", "resource"])
    cranes, blocks = table.column("crane").to_numpy(), table.column("block").to_numpy()
    assert {store.role_of(int(n)) for n in cranes[cranes >= 0]} == {"resource"}
    assert {store.role_of(int(n)) for n in blocks[blocks >= 0]} == {"block"}
    assert (table.column("resource").to_numpy() >= 0).all()
    stage = store.role_table("outfitting_item", ["stage", "block"])
    assert set(stage.column("stage").to_pylist()) == {"on-unit", "on-block", "on-board"}
    board = np.asarray(pc.equal(stage.column("stage"), "on-board"))
    items = stage.column("node").to_numpy()
    assert (store.block_of(items[board]) == stage.column("block").to_numpy()[board]).all()  # production roots
    _, after = store.edges_from(wps)  # a work package's order: edges to other work packages, and nothing else
    assert len(after) == WP_EDGES and np.isin(after, wps).all()
