"""`import_yard` writes a store from a yard in the open format, all or nothing; `export_yard` gives the yard back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from knowledge.idindex import IdIndex
from knowledge.importer import export_yard, import_yard, read_import_manifest, store_digest
from knowledge.yardformat import YardImportError, validate_yard
from tests.knowledge.test_yardformat import EDGES, NODES, _with, make_yard


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_import_keeps_the_yards_ids_kinds_parents_and_edges(tmp_path: Path, fmt: str) -> None:
    manifest = import_yard(make_yard(tmp_path / "yard", fmt=fmt), tmp_path / "store")
    store = tmp_path / "store"
    index = IdIndex.open(store / "ids")
    kind = np.load(store / "nodes" / "kind.npy")
    parent = np.load(store / "nodes" / "parent.npy")
    end = np.load(store / "nodes" / "end.npy")
    assert manifest.num_nodes == len(NODES) == len(index)
    for node_id, node_kind, node_parent, *_ in NODES:
        node = index.node_of(node_id)
        assert manifest.kinds[kind[node]] == node_kind
        assert (index.id_of(int(parent[node])) if parent[node] >= 0 else "") == node_parent
    # each production subtree is one range: the block holds everything but the system
    block = index.node_of("船体-B12")
    inside = {index.id_of(n) for n in range(block, int(end[block]))}
    assert inside == {r[0] for r in NODES if r[1] != "SYS"}
    # the yard's edges are in the graph (by node), and its own edge table is kept as given for the export
    indptr, indices = np.load(store / "graph" / "forward_indptr.npy"), np.load(store / "graph" / "forward_indices.npy")
    for before, after in EDGES:
        b = index.node_of(before)
        assert index.node_of(after) in indices[indptr[b] : indptr[b + 1]]
    kept = pq.read_table(store / "tables" / "edges.parquet")
    assert list(zip(kept.column("before").to_pylist(), kept.column("after").to_pylist(), strict=True)) == EDGES
    # the graph: the yard's edges plus one child -> parent link per node under a parent
    assert manifest.num_edges == len(EDGES) + sum(1 for r in NODES if r[2])
    assert manifest.tables["edges"] == len(EDGES)
    assert manifest.counts == {"BLK": 1, "ASSY": 1, "PLATE": 1, "PROFILE": 1, "WELD": 1, "SYS": 1}


def test_a_roles_fields_are_stored_in_the_brains_names_and_units(tmp_path: Path) -> None:
    import_yard(make_yard(tmp_path / "yard"), tmp_path / "store")
    joints = pq.read_table(tmp_path / "store" / "roles" / "joint.parquet").to_pylist()
    assert len(joints) == 1
    joint = joints[0]
    assert joint["process"] == "FCAW"  # the yard's FCAW-G through its value map
    assert joint["thickness_mm"] == pytest.approx(12.7)  # 0.5 in
    assert joint["length_m"] == pytest.approx(2.5)
    assert read_import_manifest(tmp_path / "store").unlocked["joint"] == ["welding"]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_rows_kept_on_disk_are_the_rows_kept_in_memory(tmp_path: Path, fmt: str) -> None:
    # a large yard's checked fields are spilled to Arrow files batch by batch (files change with the columns)
    yard = make_yard(tmp_path / "yard", fmt=fmt)
    (tmp_path / "spill").mkdir()
    in_memory = validate_yard(yard, batch_rows=2)
    on_disk = validate_yard(yard, batch_rows=2, spill=tmp_path / "spill")
    assert any((tmp_path / "spill").iterdir())
    assert in_memory.roles.keys() == on_disk.roles.keys()
    for role, kept in in_memory.roles.items():
        spilled = list(on_disk.roles[role].pieces())
        pieces = list(kept.pieces())
        assert [p.nodes.tolist() for p in spilled] == [p.nodes.tolist() for p in pieces]
        assert [{k: v.to_pylist() for k, v in p.columns.items()} for p in spilled] == [
            {k: v.to_pylist() for k, v in p.columns.items()} for p in pieces
        ]


def test_a_yard_that_fails_a_check_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(YardImportError) as caught:
        import_yard(make_yard(tmp_path / "yard", nodes=_with(2, kind="PLATTE")), tmp_path / "store")
    assert "nodes.csv" in str(caught.value) and "PLATTE" in str(caught.value)
    assert not (tmp_path / "store").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["yard"]  # no partial directory beside it either


def test_an_existing_store_is_kept_unless_forced(tmp_path: Path) -> None:
    yard = make_yard(tmp_path / "yard")
    import_yard(yard, tmp_path / "store")
    before = store_digest(tmp_path / "store")
    with pytest.raises(FileExistsError):
        import_yard(yard, tmp_path / "store")
    import_yard(yard, tmp_path / "store", overwrite=True)
    assert store_digest(tmp_path / "store") == before


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_import_of_the_export_is_the_same_store(tmp_path: Path, fmt: str) -> None:
    import_yard(make_yard(tmp_path / "yard", fmt=fmt), tmp_path / "store")
    export_yard(tmp_path / "store", tmp_path / "exported")
    import_yard(tmp_path / "exported", tmp_path / "again")
    assert store_digest(tmp_path / "again") == store_digest(tmp_path / "store")


def test_a_killed_import_leaves_nothing(tmp_path: Path) -> None:
    # a real process killed with SIGKILL while it writes: neither the store nor a partial directory is left
    many = [NODES[0], *((f"P{i:06d}", "PLATE", NODES[0][0], "", "", "", "", "", "", "") for i in range(200_000))]
    yard = make_yard(tmp_path / "yard", nodes=many, edges=[], fmt="csv")  # (its Parquet has 2-row groups)
    script = (
        "import sys, time\n"
        "import knowledge.importer as imp\n"
        "write = imp._write_node_tables\n"
        "def slow(*args):\n"
        "    out = write(*args)\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(60)\n"
        "    return out\n"
        "imp._write_node_tables = slow\n"
        f"imp.import_yard(imp.Path({str(yard)!r}), imp.Path({str(tmp_path / 'store')!r}))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=Path.cwd())
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    time.sleep(0.1)
    assert not (tmp_path / "store").exists()
    # the partial directory is a hidden sibling named for the store, never the store: a later import replaces it
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in ("yard",)]
    assert all(name.startswith(".store.importing-") for name in leftovers)
    import_yard(yard, tmp_path / "store")
    assert read_import_manifest(tmp_path / "store").num_nodes == len(many)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store", "yard"]  # and it cleared what was left


def test_the_command_line_imports_reports_and_exports(tmp_path: Path) -> None:
    from tests.test_cli import run

    make_yard(tmp_path / "yard")
    done = run("yard", "import", str(tmp_path / "yard"), "--out", str(tmp_path / "store"), data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "WELD" in done.stdout and "joint: feeds welding" in done.stdout
    info = run("yard", "info", str(tmp_path / "store"), "--json", data_dir=tmp_path)
    assert info.returncode == 0 and '"num_nodes": 6' in info.stdout
    (tmp_path / "store" / "nodes" / "end.npy").unlink()
    info = run("yard", "info", str(tmp_path / "store"), data_dir=tmp_path)
    assert info.returncode == 2 and "nodes/end.npy" in info.stderr
    again = run("yard", "import", str(tmp_path / "yard"), "--out", str(tmp_path / "store"), data_dir=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr
    done = run("yard", "export", str(tmp_path / "store"), "--out", str(tmp_path / "exported"), data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "exported").iterdir()) == ["edges.parquet", "nodes.parquet", "yard.toml"]


def test_the_command_line_names_what_is_wrong_in_one_message(tmp_path: Path) -> None:
    from tests.test_cli import run

    make_yard(tmp_path / "yard", nodes=_with(2, kind="PLATTE"))
    done = run("yard", "import", str(tmp_path / "yard"), "--out", str(tmp_path / "store"), data_dir=tmp_path)
    assert done.returncode == 2
    assert "nodes.csv, row 3, column 'kind'" in done.stderr and "[roles]" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "store").exists()


def test_an_empty_calendar_is_imported_as_no_rows(tmp_path: Path) -> None:
    yard = make_yard(tmp_path / "yard")
    pq.write_table(
        pa.table({"date": pa.array([], pa.string()), "resource": pa.array([], pa.string())}), yard / "calendar.parquet"
    )
    import_yard(yard, tmp_path / "store")
    assert pq.read_table(tmp_path / "store" / "calendar.parquet").num_rows == 0
