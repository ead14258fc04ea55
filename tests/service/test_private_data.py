"""Issue 13, finding 7: files made before stay no longer readable by others, and old audit logs gain key labels."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from knowledge import Settings
from workflows.service import Store
from workflows.service.cli import _private, _write_secret


def test_a_data_dir_made_by_an_older_version_is_made_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "service").mkdir(parents=True)
    data_dir.chmod(0o755)
    old = [data_dir / "brain.sqlite", data_dir / "shipbrain.sqlite-wal", data_dir / "service" / "x.sqlite"]
    for path in old:
        path.write_bytes(b"")
        path.chmod(0o644)
    (data_dir / "notes.txt").write_text("not a database")
    (data_dir / "notes.txt").chmod(0o644)
    _private(data_dir)
    assert data_dir.stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in old)
    assert (data_dir / "notes.txt").stat().st_mode & 0o777 == 0o644  # not the service's to change


def test_a_secret_file_is_the_owners_only_and_replaced_whole(tmp_path: Path) -> None:
    path = _write_secret(tmp_path / "service" / "admin_key", "sb_first")
    assert path.read_text() == "sb_first\n" and path.stat().st_mode & 0o777 == 0o600
    _write_secret(path, "sb_second")
    assert path.read_text() == "sb_second\n" and list(path.parent.iterdir()) == [path]


def test_an_older_audit_log_gains_the_label_column(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    tmp_path.mkdir(exist_ok=True)
    with sqlite3.connect(tmp_path / "shipbrain.sqlite") as conn:  # the audit table as the previous version made it
        conn.execute(
            "CREATE TABLE audit (id INTEGER PRIMARY KEY, at DATETIME NOT NULL, actor VARCHAR(200) NOT NULL, "
            "action VARCHAR(80) NOT NULL, target VARCHAR(200) NOT NULL, parameters TEXT NOT NULL)"
        )
        conn.execute(
            "INSERT INTO audit (at, actor, action, target, parameters) "
            "VALUES ('2026-01-01 00:00:00', 'mes', 'run.create', 'run_1', '{}')"
        )
    store = Store(settings)
    store.audit_now("key_0123", "ask", "thread_1", {"question": "q"}, actor_label="planner")
    entries = store.audit_entries()
    assert [(e.actor, e.actor_label) for e in entries] == [("mes", None), ("key_0123", "planner")]
    Store(settings)  # a second open finds the column there
