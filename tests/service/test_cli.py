"""`shipbrain keys`: create prints the token once and stores its hash; list never shows tokens; revoke."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from knowledge import Settings
from knowledge.settings import get_settings
from workflows.service import KeyStore, Store
from workflows.service.cli import keys_app


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SHIPBRAIN_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_keys_are_created_listed_and_revoked(data_dir: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(keys_app, ["create", "--name", "mes-line-3", "--scopes", "run,approve", "--json"])
    assert made.exit_code == 0, made.output
    key = json.loads(made.stdout)
    assert key["scopes"] == ["run", "approve"] and key["token"].startswith("sb_")
    store = Store(Settings(data_dir=data_dir))
    principal = KeyStore(store).authenticate(key["token"])
    assert principal is not None and principal.name == "mes-line-3"
    raw = b"".join(p.read_bytes() for p in data_dir.glob("shipbrain.sqlite*"))  # the WAL too
    assert key["token"].encode() not in raw and hashlib.sha256(key["token"].encode()).hexdigest().encode() in raw

    listed = runner.invoke(keys_app, ["list", "--json"])
    assert listed.exit_code == 0 and key["token"] not in listed.stdout
    assert [k["key_id"] for k in json.loads(listed.stdout)] == [key["key_id"]]
    assert "mes-line-3" in runner.invoke(keys_app, ["list"]).stdout

    assert runner.invoke(keys_app, ["revoke", key["key_id"]]).exit_code == 0
    assert KeyStore(store).authenticate(key["token"]) is None
    again = runner.invoke(keys_app, ["revoke", key["key_id"]])
    assert again.exit_code == 2 and "revoked already" in again.output
    assert [a.action for a in store.audit_entries(target=key["key_id"])] == ["key.create", "key.revoke"]
    assert store.audit_entries(target=key["key_id"])[0].actor.startswith("cli")


def test_bad_scopes_and_names_are_one_line_errors(data_dir: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(keys_app, ["create", "--name", "x", "--scopes", "run,root"])
    assert bad.exit_code == 2 and "unknown scope 'root'" in bad.output
    assert runner.invoke(keys_app, ["create", "--name", " ", "--scopes", "run"]).exit_code == 2
    assert runner.invoke(keys_app, ["revoke", "key_nope"]).exit_code == 2
