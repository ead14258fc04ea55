"""`shipbrain approve` decides as an API key, through the service (review of 2026-12-02, finding 1): no free-text
`--by`, no decision without a key with the approve scope, checked against the change shown, and audited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from brain.planbook import PlanBook
from knowledge import Settings
from tests.service.servers import start
from workflows.service import KeyStore, Store

SHIPBRAIN = str(Path(sys.executable).parent / "shipbrain")
ADOPT = "Adopt into the plan: B002 is late by 4 days"


def _cli(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "SHIPBRAIN_API_KEY"}
    return subprocess.run(
        [SHIPBRAIN, *args], input=stdin, capture_output=True, text=True, env={**clean, **env}, timeout=300, check=False
    )


@pytest.mark.slow
def test_the_cli_decides_as_a_key_through_the_service(small_yard: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = start(data_dir, "--yard", str(small_yard), "--no-warm", "--no-chat")
    try:
        store = Store(Settings(data_dir=data_dir))
        keys = KeyStore(store)
        anna_key, anna = keys.create("anna", "ask", actor="test")
        lead_key, lead = keys.create("lead", "approve", actor="test")
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {anna}"}, timeout=120) as client:
            asked = client.post("/v1/ask", json={"question": ADOPT}).json()
        thread, digest = asked["thread_id"], asked["approval"]["digest"]
        env = {"SHIPBRAIN_DATA_DIR": str(data_dir), "SHIPBRAIN_SERVICE_URL": server.url, "COLUMNS": "200"}

        old = _cli("approve", thread, "--by", "the CEO", env=env)  # the reviewer's way in: a made-up name, no key
        assert old.returncode == 2 and "No such option: --by" in old.stderr, old.stderr
        no_key = _cli("approve", thread, "--digest", digest[:16], env=env)
        assert no_key.returncode == 2 and "SHIPBRAIN_API_KEY" in no_key.stderr, no_key.stderr
        asker = _cli("approve", thread, "--digest", digest[:16], env=env | {"SHIPBRAIN_API_KEY": anna})
        assert asker.returncode == 2 and "lacks the 'approve' scope" in " ".join(asker.stderr.split()), asker.stderr
        other = _cli("approve", thread, "--digest", "0" * 16, env=env | {"SHIPBRAIN_API_KEY": lead})
        assert other.returncode == 2 and digest in "".join(other.stderr.split()), other.stderr
        unnamed = _cli("approve", thread, env=env | {"SHIPBRAIN_API_KEY": lead})  # no digest, no terminal to confirm
        assert unnamed.returncode == 2 and "--digest" in unnamed.stderr, unnamed.stderr
        assert PlanBook(Settings(data_dir=data_dir), str(small_yard.resolve())).adoptions() == []

        # the key read from stdin (never the command line), the change named by the digest `ask` printed
        done = _cli("approve", thread, "--digest", digest[:16], "--note", "crane booked", "--json", env=env, stdin=lead)
        assert done.returncode == 0, done.stderr
        approval = json.loads(done.stdout)["approval"]
        assert (approval["outcome"], approval["by"], approval["by_key"]) == ("adopted", "lead", lead_key.key_id)
        (adoption,) = PlanBook(Settings(data_dir=data_dir), str(small_yard.resolve())).adoptions()
        assert (adoption.adopted_by, adoption.adopted_by_key, adoption.digest) == ("lead", lead_key.key_id, digest)
        audit = [(e.action, e.actor) for e in store.audit_entries(target=thread)]
        assert ("thread.approve", lead_key.key_id) in audit and ("thread.approve.refused", anna_key.key_id) in audit
        approved = store.audit_entries(target=thread, action="thread.approve")[0]
        assert approved.parameters["note"] == "crane booked" and approved.parameters["outcome"] == "adopted"

        # a key's thread is not continued by the local CLI, which has no key
        local = _cli("ask", "what is B001?", "--thread", thread, "--yard", str(small_yard), env=env)
        assert local.returncode == 2 and "no thread" in local.stderr, local.stderr
    finally:
        server.stop()
