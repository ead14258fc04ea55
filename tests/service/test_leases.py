"""Issue 13, finding 8: runs claimed under leases, on SQLite and PostgreSQL alike.

A run is claimed under a lease that its process renews; a lease that runs out puts the run back in the queue with an
event saying why, and the process that lost it can no longer write the run's outcome (exactly once). Start-up no
longer puts every running run back in the queue: only those whose lease ran out or whose process is gone.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import cast

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, insert, inspect

from brain.planbook import PlanBook
from knowledge import Settings
from knowledge.database import dispose
from tests.helpers import postgres
from tests.service.conftest import SECRET, Api, make_tokens, service_settings
from tests.service.test_approvals import EVENTS, _held
from workflows.service import KeyStore, Store, create_app
from workflows.service._tables import API_KEYS, META
from workflows.service.runner import gone_from_this_host, process_id
from workflows.service.store import Lease, RunRecord, now, process_of
from workflows.service.webhooks import Dispatcher

LONG = timedelta(seconds=60)
SHORT = timedelta(seconds=2)
"""A lease that runs out within a test: long enough that a busy machine does every step before it does."""


@pytest.fixture(scope="module")
def pg_dsn() -> Iterator[str | None]:
    """One throwaway PostgreSQL for the module (each test gets a database of its own), or None without one."""
    if not postgres.available():
        yield None
        return
    with postgres.postgres_server() as dsn:
        yield dsn


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def store(request: pytest.FixtureRequest, tmp_path: Path, pg_dsn: str | None) -> Iterator[Store]:
    if request.param == "sqlite":
        settings = Settings(data_dir=tmp_path / "data")
    else:
        if pg_dsn is None:
            pytest.skip("PostgreSQL's server programs are not installed")
        settings = Settings(data_dir=tmp_path / "data", postgres_dsn=_database(pg_dsn))
    made = Store(settings)
    assert made.engine.dialect.name == request.param
    yield made
    dispose(settings)


def _database(pg_dsn: str) -> str:
    """A fresh database in the module's cluster; its DSN."""
    name = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(pg_dsn.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return pg_dsn.replace("/postgres?", f"/{name}?")


def _key(store: Store) -> str:
    return KeyStore(store).create("leases", "run", actor="test")[0].key_id


def _queue(store: Store, n: int = 1) -> list[str]:
    key_id = _key(store)
    runs = [
        store.create_run(
            workflow="test-sleep",
            version="1",
            key_id=key_id,
            actor=key_id,
            idempotency_key=None,
            fingerprint="f",
            request={"k": k},
            webhook_url="http://127.0.0.1:9/hook",
        )
        for k in range(n)
    ]
    return [r.run_id for r in runs]


def _lease(duration: timedelta = LONG) -> Lease:
    return Lease(f"{process_id()}/{uuid.uuid4().hex[:6]}", duration)


def _complete(store: Store, run: RunRecord, lease: Lease) -> RunRecord | None:
    return store.finish(
        run.run_id,
        status="completed",
        expected=["running"],
        actor="test",
        action="run.complete",
        parameters={},
        result={"by": lease.token},
        webhook_body=lambda r: "{}",
        lease=lease,
    )


def test_a_lost_lease_writes_nothing_and_the_taker_ends_the_run_once(store: Store) -> None:
    (run_id,) = _queue(store)
    first, second = _lease(SHORT), _lease()
    claimed = store.claim_next(first)
    assert claimed is not None and claimed.run_id == run_id and claimed.lease_owner == first.token
    assert store.claim_next(second) is None  # nothing else queued
    assert store.requeue_expired() == []  # the lease runs still
    assert store.progress(run_id, first, {"step": "a", "done": 0, "total": 2})

    time.sleep(SHORT.total_seconds() + 0.3)  # the first holder stalls past its lease without renewing
    assert store.requeue_expired() == [run_id]
    requeued = store.events(run_id)[-1]
    assert requeued.type == "requeued" and "lease" in str(requeued.data["reason"]) and requeued.data["attempt"] == 1
    again = store.claim_next(second)
    assert again is not None and again.attempts == 2 and again.lease_owner == second.token

    # the stalled holder comes back: its progress, its result and its hold are refused, nothing written
    assert not store.progress(run_id, first, {"step": "b", "done": 1, "total": 2})
    assert _complete(store, claimed, first) is None
    assert not store.hold(run_id, {"x": 1}, lease=first)
    ended = _complete(store, again, second)
    assert ended is not None and ended.status == "completed" and ended.result == {"by": second.token}
    assert _complete(store, again, second) is None  # and only once

    kinds = Counter(e.type for e in store.events(run_id))
    assert kinds == {"queued": 1, "started": 2, "progress": 1, "requeued": 1, "completed": 1}
    assert len(store.webhooks(run_id)) == 1
    assert [a.action for a in store.audit_entries(target=run_id)] == ["run.create", "run.complete"]


def test_a_renewed_lease_is_never_taken_over(store: Store) -> None:
    (run_id,) = _queue(store)
    lease = _lease(SHORT)
    assert store.claim_next(lease) is not None
    for _ in range(8):  # 4 s in all: twice the lease, renewed every 0.5 s
        time.sleep(0.5)
        assert store.renew({run_id: lease.token}, lease.duration) == {run_id}
        assert store.requeue_expired() == []
    assert store.renew({run_id: "another/1"}, lease.duration) == set()  # a token that does not hold it renews nothing
    time.sleep(SHORT.total_seconds() + 0.3)
    assert store.renew({}, lease.duration) == set()
    assert store.requeue_expired() == [run_id]
    assert store.renew({run_id: lease.token}, lease.duration) == set()  # lost: the holder learns it


def test_concurrent_claims_take_each_run_once(store: Store) -> None:
    run_ids = _queue(store, 40)
    taken: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        while (run := store.claim_next(_lease())) is not None:
            with lock:
                taken.append(run.run_id)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(taken) == sorted(run_ids)  # every run once, none twice
    assert all(Counter(e.type for e in store.events(r))["started"] == 1 for r in run_ids)


def test_a_decision_under_a_live_lease_is_left_to_its_holder(store: Store) -> None:
    (run_id,) = _queue(store)
    runner_lease = _lease()
    assert store.claim_next(runner_lease) is not None
    assert store.hold(run_id, {"change": 1}, lease=runner_lease)
    deciding = _lease(SHORT)
    assert store.record_decision(run_id, {"approved": False, "by": "anna"}, lease=deciding)
    assert not store.record_decision(run_id, {"approved": True, "by": "bob"}, lease=_lease())  # decided already
    assert not store.decided_unclaimed() and store.claim_decided(_lease()) is None  # its holder carries it out

    time.sleep(SHORT.total_seconds() + 0.3)  # the holder died before carrying it out
    assert store.decided_unclaimed()
    taker = _lease()
    taken = store.claim_decided(taker)
    assert taken is not None and taken.approval == {"approved": False, "by": "anna"}
    assert store.claim_decided(_lease()) is None
    rejected = store.finish(
        run_id,
        status="rejected",
        expected=["waiting_for_approval"],
        actor="k",
        action="run.reject",
        parameters={},
        lease=deciding,
    )
    assert rejected is None  # the first holder lost it
    ended = store.finish(
        run_id,
        status="rejected",
        expected=["waiting_for_approval"],
        actor="k",
        action="run.reject",
        parameters={},
        lease=taker,
    )
    assert ended is not None and ended.status == "rejected"


def test_a_process_gone_from_this_host_loses_its_runs_at_once(store: Store) -> None:
    (run_id,) = _queue(store)
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = Lease(f"{process_id().split(':')[0]}:{child.stdout.strip()}:0badc0de/1", LONG)
    assert gone_from_this_host(dead.token)
    assert store.claim_next(dead) is not None
    assert store.requeue_expired() == []  # its lease runs for a minute still
    assert store.requeue_expired(gone_from_this_host) == [run_id]  # what a restarting service does
    assert "gone" in str(store.events(run_id)[-1].data["reason"])


def test_which_processes_are_gone() -> None:
    me = process_id()
    host, pid, _ = me.split(":")
    assert not gone_from_this_host(f"{me}/3")  # this process
    assert gone_from_this_host(f"{host}:{pid}:ffffffff/3")  # an earlier process with this pid (a container)
    assert not gone_from_this_host(f"another-host.example:{pid}:ffffffff/3")  # another host's: only its lease tells
    assert not gone_from_this_host(f"{host}:1:ffffffff/3")  # pid 1 runs


def _in_new_pid_namespace() -> bool:
    """Whether this machine lets a test start a process in a PID namespace of its own (`unshare`, as root)."""
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-Urpf", "--mount-proc", "true"], capture_output=True, check=False)
    return probe.returncode == 0


def test_a_live_process_of_another_pid_namespace_under_this_hostname_is_not_gone(tmp_path: Path) -> None:
    """Replicas sharing a hostname (Compose with a fixed hostname, hostNetwork pods), each in its own PID namespace.

    Another container's process is alive though no process of ours has its pid: its leases must be left to run out,
    never taken back at once as a dead process of this host's would be (review 13, item 2).
    """
    if not _in_new_pid_namespace():
        pytest.skip("cannot start a process in a PID namespace of its own here (unshare)")
    pid = next(p for p in range(31_000, 20_000, -1) if not Path(f"/proc/{p}").exists())  # a pid nobody has here
    script = tmp_path / "replica.py"
    script.write_text(
        "import subprocess, sys, time\n"
        f"open('/proc/sys/kernel/ns_last_pid', 'w').write('{pid - 1}')  # its next child gets this pid\n"
        "child = 'from workflows.service.runner import process_id; print(process_id(), flush=True); time.sleep(60)'\n"
        "subprocess.run([sys.executable, '-c', 'import time; ' + child])\n"
    )
    replica = subprocess.Popen(
        ["unshare", "-Urpf", "--mount-proc", sys.executable, str(script)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert replica.stdout is not None
        token = replica.stdout.readline().strip() + "/1"
        assert f":{pid}:" in token, token  # the replica's own pid, which names no process of ours
        assert process_of(token).partition(":")[0].startswith(socket.gethostname())  # one hostname for both
        assert not gone_from_this_host(token)
    finally:
        replica.kill()
        replica.wait(10)
        if replica.stdout is not None:
            replica.stdout.close()


def test_a_store_made_before_leases_gains_them_and_its_running_runs_are_taken_back(tmp_path: Path) -> None:
    """An existing store keeps working: the lease columns are added on open; a run it left running is requeued."""
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir(parents=True)
    eng = create_engine(f"sqlite:///{settings.data_dir / 'shipbrain.sqlite'}")
    META.create_all(eng)
    with eng.begin() as conn:  # the runs table as the versions before leases made it
        conn.exec_driver_sql("ALTER TABLE runs DROP COLUMN lease_owner")
        conn.exec_driver_sql("ALTER TABLE runs DROP COLUMN lease_expires_at")
        conn.execute(
            insert(API_KEYS).values(id="key_x", name="x", prefix="p", hash="h", scopes="run", created_at=now())
        )
        conn.exec_driver_sql(
            "INSERT INTO runs (id, workflow, version, key_id, fingerprint, request, status, attempts, created_at, "
            "started_at) VALUES ('run_old', 'test-sleep', '1', 'key_x', 'f', '{}', 'running', 1, "
            "'2026-01-01 00:00:00.000000', '2026-01-01 00:00:01.000000')"
        )
    eng.dispose()

    store = Store(settings)
    columns = {c["name"] for c in inspect(store.engine).get_columns("runs")}
    assert {"lease_owner", "lease_expires_at"} <= columns
    assert store.requeue_expired() == ["run_old"]
    assert "older version" in str(store.events("run_old")[-1].data["reason"])
    run = store.claim_next(_lease())
    assert run is not None and run.run_id == "run_old" and run.attempts == 2
    dispose(settings)


@pytest.fixture
def two_apps(tmp_path: Path, small_yard: Path, pg_dsn: str | None) -> Iterator[tuple[Api, Api]]:
    """Two services on one PostgreSQL store, as two processes would be (each its own data dir), with 2 s leases."""
    if pg_dsn is None:
        pytest.skip("PostgreSQL's server programs are not installed")
    dsn = _database(pg_dsn)
    service = service_settings(lease_s=2.0, lease_renew_s=0.2)
    made: list[Api] = []
    for name in ("a", "b"):
        settings = Settings(data_dir=tmp_path / name, postgres_dsn=dsn)
        app = create_app(settings, small_yard, chat=False, service=service)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        store = app.state.service.store
        made.append(Api(client, store, make_tokens(store)))
    yield made[0], made[1]
    for api in made:
        api.close()
    dispose(Settings(data_dir=tmp_path / "a", postgres_dsn=dsn))


@pytest.mark.slow
def test_two_services_deciding_one_run_at_once_adopt_once(two_apps: tuple[Api, Api]) -> None:
    a, b = two_apps
    held = _held(a, EVENTS[:2])
    barrier = threading.Barrier(2)

    def decide(api: Api) -> int:
        barrier.wait()
        shown = {"approved": True, "schedule_digest": held["result"]["schedule_digest"]}
        return api.post(held["links"]["approval"], shown, scope="approve").status_code

    with ThreadPoolExecutor(2) as pool:
        answers = Counter(pool.map(decide, (a, b)))
    assert answers == {200: 1, 409: 1}
    assert a.wait(held["run_id"])["status"] == "completed"
    yard = cast(FastAPI, a.client.app).state.service.ctx.yard.path.resolve()
    book = PlanBook(a.store.settings, str(yard))
    assert [x.key for x in book.adoptions()] == [f"run:{held['run_id']}"]
    actions = [e.action for e in a.store.audit_entries(target=held["run_id"])]
    assert sorted(actions) == ["run.approve", "run.approve.refused", "run.create"]  # the loser's 409 is audited


@pytest.mark.slow
def test_a_decision_left_half_done_by_a_dead_process_is_carried_out_by_another_once_its_lease_runs_out(
    two_apps: tuple[Api, Api],
) -> None:
    a, _ = two_apps
    held = _held(a, EVENTS[:2])
    # a process of another host recorded the decision under its lease, then died before carrying it out
    elsewhere = Lease("yard-node-7.example:4242:0badc0de/1", timedelta(seconds=4))
    decided_at = time.monotonic()
    assert a.store.record_decision(
        held["run_id"], {"approved": True, "by": "anna", "key_id": None, "note": None, "at": "now"}, lease=elsewhere
    )
    time.sleep(1.0)
    assert a.get(held["links"]["self"]).json()["status"] == "waiting_for_approval"  # its lease runs: left to it
    done = a.wait(held["run_id"], timeout=20)
    taken_after = time.monotonic() - decided_at
    assert done["status"] == "completed" and done["approval"]["by"] == "anna" and len(done["approval"]["adopted"]) == 2
    assert taken_after >= 4.0
    assert [e.action for e in a.store.audit_entries(target=held["run_id"])] == ["run.create", "run.approve"]
    run = a.store.get_run(held["run_id"])
    assert run is not None and run.lease_owner is not None and run.lease_owner != elsewhere.token


def test_a_stopping_process_gives_its_runs_back_at_once(store: Store) -> None:
    running, deciding = _queue(store, 2)
    lease = _lease()
    assert store.claim_next(lease) is not None
    decider, other = _lease(), _lease()
    assert store.claim_next(other) is not None and store.hold(deciding, {"change": 1}, lease=other)
    assert store.record_decision(deciding, {"approved": True, "by": "anna"}, lease=decider)
    given = store.release({running: lease.token, deciding: decider.token}, "the service stopped before the run ended")
    assert sorted(given) == sorted([running, deciding])
    last = store.events(running)[-1]
    assert last.type == "requeued" and last.data["reason"] == "the service stopped before the run ended"
    assert store.decided_unclaimed()  # another process may carry the decision out now, without waiting
    assert store.progress(running, lease, {"step": "x", "done": 0, "total": 1}) is False
    again = store.claim_next(_lease())
    assert again is not None and again.run_id == running and again.attempts == 2


@pytest.mark.slow
def test_a_run_longer_than_its_lease_is_renewed_and_never_taken_over(two_apps: tuple[Api, Api]) -> None:
    """The heartbeat keeps a 2 s lease alive through a 5 s step that reports no progress; nobody takes the run."""
    a, _ = two_apps
    created = a.run({"input": {"steps": 1, "seconds_per_step": 5.0, "tag": "long"}}).json()
    done = a.wait(created["run_id"], timeout=30)
    assert done["status"] == "completed" and done["attempts"] == 1
    kinds = Counter(e.type for e in a.store.events(created["run_id"]))
    assert kinds["requeued"] == 0 and kinds["started"] == 1 and kinds["completed"] == 1


def _held_receiver() -> tuple[type[BaseHTTPRequestHandler], threading.Event, threading.Event]:
    """A webhook receiver that keeps each delivery waiting until the test lets it answer; its two events."""
    arrived, answer = threading.Event(), threading.Event()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            arrived.set()
            answer.wait(30)
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Receiver, arrived, answer


def test_a_webhook_in_delivery_stays_claimed_longer_than_its_delivery_may_take(store: Store) -> None:
    """With a 40 s delivery timeout, the claim outlasts it: no other process sends the webhook meanwhile (item 7)."""
    receiver, arrived, answer = _held_receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    key_id = _key(store)
    run = store.create_run(
        workflow="test-sleep",
        version="1",
        key_id=key_id,
        actor=key_id,
        idempotency_key=None,
        fingerprint="f",
        request={},
        webhook_url=f"http://127.0.0.1:{server.server_address[1]}/hook",
    )
    lease = _lease()
    claimed = store.claim_next(lease)
    assert claimed is not None and _complete(store, claimed, lease) is not None
    dispatcher = Dispatcher(store, SECRET, service_settings(webhook_timeout_s=40.0))
    sending = threading.Thread(target=dispatcher.deliver_due)
    try:
        sending.start()
        assert arrived.wait(20)
        (row,) = store.webhooks(run.run_id)
        assert row.delivered_at is None
        assert row.next_attempt_at - now() > timedelta(seconds=40), row.next_attempt_at  # past the delivery timeout
        assert list(store.due_webhooks(12)) == []  # another process finds nothing to send
    finally:
        answer.set()
        sending.join(30)
        dispatcher.stop()
        server.shutdown()
        server.server_close()
    (row,) = store.webhooks(run.run_id)
    assert row.delivered_at is not None and row.attempts == 1


def test_a_failed_attempt_whose_claim_was_taken_over_leaves_the_next_attempt_to_the_taker(store: Store) -> None:
    (run_id,) = _queue(store)
    lease = _lease()
    claimed = store.claim_next(lease)
    assert claimed is not None and _complete(store, claimed, lease) is not None
    (late,) = store.due_webhooks(12, claim=timedelta(0))  # a claim that ran out while its delivery went on
    (taker,) = store.due_webhooks(12, claim=timedelta(minutes=2))  # another process took the webhook
    store.webhook_attempted(
        late.webhook_id, delivered=False, error="timeout", retry_in_s=1, claimed=late.next_attempt_at
    )
    (row,) = store.webhooks(run_id)
    assert row.attempts == 1 and row.last_error == "timeout"
    assert row.next_attempt_at == taker.next_attempt_at  # the taker's claim stands: no second delivery beside it
    store.webhook_attempted(
        taker.webhook_id, delivered=False, error="HTTP 500", retry_in_s=1, claimed=taker.next_attempt_at
    )
    (row,) = store.webhooks(run_id)
    assert row.attempts == 2 and row.next_attempt_at < now() + timedelta(seconds=5)  # the taker schedules the retry
