"""The real server in a subprocess: first and second start, and a kill -9 in the middle of a run."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from knowledge import Settings
from tests.service.receiver import running_receiver
from tests.service.servers import Server, start
from workflows.service import KeyStore, Store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, Server]]:
    """A data dir made by a first `serve` (a 20,000-part demo yard), and the admin token it printed."""
    data_dir = tmp_path_factory.mktemp("served") / "data"
    first = start(data_dir)
    try:
        output = first.output()
        assert "first start: an admin API key was made" in output and first.admin_key is not None, output
        assert first.admin_key not in output and "sb_" not in output  # never on stdout (issue 13, finding 7)
        yield data_dir, first.admin_key, first
    finally:
        first.kill(signal.SIGTERM)


def test_the_admin_key_goes_to_a_private_file_and_the_data_stays_private(served: tuple[Path, str, Server]) -> None:
    """Issue 13, finding 7: no secret on stdout; the data dir 0700, the files the service makes 0600."""
    data_dir, token, first = served
    key_file = data_dir / "service" / "admin_key"
    assert key_file.read_text().strip() == token and str(key_file) in first.output()
    assert token not in first.output()
    assert _mode(data_dir) == 0o700
    made = [key_file, data_dir / "shipbrain.sqlite", data_dir / "brain.sqlite"]
    made += [p for p in data_dir.glob("*.sqlite-*")]
    for path in made:
        assert _mode(path) == 0o600, f"{path} is {oct(_mode(path))}"


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_second_start_reuses_everything_and_is_ready_in_under_10_s(served: tuple[Path, str, Server]) -> None:
    data_dir, token, first = served
    first.kill(signal.SIGTERM)
    second = start(data_dir)
    try:
        output = second.output()
        assert "an admin API key exists" in output and "sb_" not in output and "generating" not in output
        assert second.ready_s < 10, f"ready in {second.ready_s:.1f} s"
        with httpx.Client(base_url=second.url, headers={"Authorization": f"Bearer {token}"}) as client:
            assert client.get("/v1/workflows").status_code == 200
            assert client.get("/").status_code == 200  # the chat page
        assert len(KeyStore(Store(Settings(data_dir=data_dir))).list()) == 1
        print(f"first start {first.ready_s:.1f} s, second {second.ready_s:.1f} s")
    finally:
        second.kill(signal.SIGTERM)


def test_a_run_killed_mid_way_completes_exactly_once_after_a_restart(served: tuple[Path, str, Server]) -> None:
    data_dir, token, first = served
    first.kill(signal.SIGTERM)
    store = Store(Settings(data_dir=data_dir))
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "durable-1"}
    body = {"input": {"steps": 6, "seconds_per_step": 0.4, "tag": "durable"}}
    with running_receiver() as receiver:
        server = start(data_dir, "--no-chat")
        try:
            body["webhook_url"] = receiver.url
            with httpx.Client(base_url=server.url, headers=headers) as client:
                run = client.post("/v1/workflows/test-sleep/runs", json=body).json()
                deadline = time.monotonic() + 30
                while client.get(run["links"]["self"]).json()["progress"] is None:
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
        finally:
            server.kill(signal.SIGKILL)
        stuck = store.get_run(run["run_id"])
        assert stuck is not None and stuck.status == "running"

        server = start(data_dir, "--no-chat")
        try:
            with httpx.Client(base_url=server.url, headers=headers) as client:
                deadline = time.monotonic() + 30
                while (done := client.get(run["links"]["self"]).json())["status"] != "completed":
                    assert time.monotonic() < deadline, done
                    time.sleep(0.1)
                replay = client.post("/v1/workflows/test-sleep/runs", json=body)
                assert replay.status_code == 200 and replay.json()["run_id"] == run["run_id"]
            deadline = time.monotonic() + 20
            while not receiver.deliveries:
                assert time.monotonic() < deadline, "no webhook arrived"
                time.sleep(0.05)
            time.sleep(1.0)  # let a (wrong) second delivery arrive, if there were one
        finally:
            server.kill(signal.SIGTERM)
    assert done["attempts"] == 2 and done["result"]["tag"] == "durable"
    kinds = Counter(e.type for e in store.events(run["run_id"]))
    assert kinds["started"] == 2 and kinds["requeued"] == 1 and kinds["completed"] == 1
    assert len(store.runs("completed")) == len({r.run_id for r in store.runs("completed")})
    actions = Counter(a.action for a in store.audit_entries(target=run["run_id"]))
    assert actions == {"run.create": 1, "run.complete": 1}
    assert len(store.webhooks(run["run_id"])) == 1
    assert len(receiver.deliveries) == 1 and len(set(receiver.ids())) == 1


def test_serve_warms_the_yard_in_the_background_and_says_so(served: tuple[Path, str, Server]) -> None:
    """Issue 11, item 10: `serve` answers at once, warms the yard behind, and shows how far it got."""
    data_dir, _, first = served
    first.kill(signal.SIGTERM)
    server = start(data_dir, "--no-chat")
    try:
        with httpx.Client(base_url=server.url) as client:
            warm = client.get("/healthz").json()["warm_up"]
            assert warm["state"] in ("warming", "ready") and warm["total"] in (0, 3)
            deadline = time.monotonic() + 180
            while warm["state"] == "warming":
                assert time.monotonic() < deadline, warm
                time.sleep(0.2)
                warm = client.get("/healthz").json()["warm_up"]
        assert warm["state"] == "ready" and (warm["done"], warm["total"]) == (3, 3), warm
        output = server.output()
        for step in ("[1/3]: welding predictions", "[2/3]: outfitting predictions", "[3/3]: adopted schedule"):
            assert f"warming the yard in the background {step}" in output, output
        assert "yard warm in" in output
    finally:
        server.kill(signal.SIGTERM)
