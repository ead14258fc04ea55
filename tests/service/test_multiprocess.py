"""Issue 13, finding 8: two `shipbrain serve` processes on one PostgreSQL, behind HAProxy, one killed with `kill -9`.

Real parts only: a throwaway PostgreSQL cluster, Debian's `redis-server` for the shared rate limits, Debian's
HAProxy balancing round-robin over the two servers (health-checked on `/healthz`), and a webhook receiver counting
each run's side effect. The servers run with a 2 s lease renewed every 0.4 s, so the survivor takes the dead
process's runs over about 2 s after the kill.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from knowledge import Settings
from knowledge.database import dispose
from tests.helpers import postgres
from tests.service import redis_server
from tests.service.receiver import running_receiver
from tests.service.servers import Server, start
from workflows.service import Store
from workflows.service.launch import free_port

RUNS = 100
LEASE_S = 2.0
RENEW_S = 0.4
PER_KEY = 200
"""Requests per key and minute, across both processes (the shared limit's test spends them all on one key)."""


def _haproxy() -> str | None:
    return shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy",) if Path(p).is_file()), None)


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not postgres.available(), reason="PostgreSQL's server programs are not installed"),
    pytest.mark.skipif(not redis_server.available(), reason="redis-server is not installed (tests/run.sh)"),
    pytest.mark.skipif(_haproxy() is None, reason="haproxy is not installed (tests/run.sh)"),
]

_CONFIG = """\
global
    maxconn 1024
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout check 1s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response
frontend api
    bind 127.0.0.1:{port}
    default_backend shipbrain
backend shipbrain
    balance roundrobin
    option httpchk
    http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host 127.0.0.1
    http-check expect status 200
    default-server inter 250ms fall 2 rise 1
{servers}
"""


@dataclass
class Cluster:
    dsn: str
    servers: list[Server]
    balancer: str
    """HAProxy's URL."""
    admin: str
    store: Store
    """The shared store, as the test reads it."""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, small_yard: Path) -> Iterator[Cluster]:
    """PostgreSQL, Redis, two servers on them and HAProxy in front; everything stopped after."""
    root = tmp_path_factory.mktemp("multiprocess")
    with postgres.postgres_server() as dsn, redis_server.redis_server() as redis:
        env = {
            "SHIPBRAIN_POSTGRES_DSN": dsn,
            "SHIPBRAIN_RATE_LIMIT_STORAGE": redis,
            "SHIPBRAIN_RATE_LIMIT": f"{PER_KEY}/minute",
            "SHIPBRAIN_ANONYMOUS_RATE_LIMIT": "100000/minute",  # HAProxy's health checks come without a key
            "SHIPBRAIN_LEASE_S": str(LEASE_S),
            "SHIPBRAIN_LEASE_RENEW_S": str(RENEW_S),
            "SHIPBRAIN_RUN_WORKERS": "2",
        }
        servers: list[Server] = []
        balancer: subprocess.Popen[bytes] | None = None
        settings = Settings(data_dir=root / "probe", postgres_dsn=dsn)
        try:
            for name in ("a", "b"):  # one after the other: the first makes the tables and the admin key
                servers.append(
                    start(root / name, "--no-chat", "--no-warm", "--yard", str(small_yard), env=env, timeout=120)
                )
            admin = servers[0].admin_key
            assert admin is not None and servers[1].admin_key is None  # one store: the second found the key
            port = free_port()
            lines = "\n".join(
                f"    server {n} {s.url.removeprefix('http://')} check" for n, s in zip("ab", servers, strict=True)
            )
            config = root / "haproxy.cfg"
            config.write_text(_CONFIG.format(port=port, servers=lines))
            with (root / "haproxy.log").open("wb") as log:
                balancer = subprocess.Popen([str(_haproxy()), "-f", str(config), "-db"], stdout=log, stderr=log)
            url = f"http://127.0.0.1:{port}"
            _wait_for(url, balancer)
            yield Cluster(dsn, servers, url, admin, Store(settings))
        finally:
            if balancer is not None:
                balancer.terminate()
                balancer.wait(10)
            for server in servers:
                server.kill(signal.SIGTERM)
            dispose(settings)


def _wait_for(url: str, balancer: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    with httpx.Client(timeout=2) as client:
        while True:
            assert balancer.poll() is None, "haproxy exited"
            try:
                if client.get(f"{url}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "haproxy did not answer in 20 s"
            time.sleep(0.1)


def _key(cluster: Cluster, name: str) -> str:
    made = json.loads(cluster.servers[0].command("keys", "create", "--name", name, "--scopes", "run", "--json"))
    return str(made["token"])


def test_a_rate_limit_holds_across_both_processes(cluster: Cluster) -> None:
    """With the windows in Redis, a key's N requests per minute are N across both processes, not N each."""
    token = _key(cluster, "limited")
    headers = {"Authorization": f"Bearer {token}"}
    clients = [httpx.Client(base_url=s.url, headers=headers, timeout=10) for s in cluster.servers]
    try:
        within = Counter(clients[k % 2].get("/v1/workflows").status_code for k in range(PER_KEY))
        over = [clients[k % 2].get("/v1/workflows") for k in range(2)]  # one to each process
    finally:
        for client in clients:
            client.close()
    print(f"\n{PER_KEY} requests alternating over 2 processes: {dict(within)}; then {[r.status_code for r in over]}")
    assert within == {200: PER_KEY}
    assert [r.status_code for r in over] == [429, 429]
    assert all(r.json()["error"]["type"] == "rate_limited" and int(r.headers["retry-after"]) >= 1 for r in over)


def test_one_of_two_processes_killed_mid_way_every_run_completes_exactly_once(cluster: Cluster) -> None:
    token = _key(cluster, "mes")
    victim, survivor = cluster.servers
    store = cluster.store
    statuses: Counter[int] = Counter()
    submitted: list[str] = []
    errors: list[str] = []
    with running_receiver() as receiver:

        def submit() -> None:
            with httpx.Client(base_url=cluster.balancer, timeout=10) as client:
                for k in range(RUNS):
                    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"mp-{k}"}
                    body = {
                        "input": {"steps": 4, "seconds_per_step": 0.1, "tag": f"mp-{k}"},
                        "webhook_url": receiver.url,
                    }
                    for _attempt in range(20):  # a request the dead process took is sent again: same key, one run
                        try:
                            answer = client.post("/v1/workflows/test-sleep/runs", json=body, headers=headers)
                        except httpx.TransportError as exc:
                            errors.append(f"{type(exc).__name__}")
                            time.sleep(0.2)
                            continue
                        statuses[answer.status_code] += 1
                        if answer.status_code not in (502, 503, 504):
                            break
                        time.sleep(0.2)
                    submitted.append(f"mp-{k}")
                    time.sleep(0.04)

        started = time.monotonic()
        submitter = threading.Thread(target=submit)
        submitter.start()
        # mid-way: once 30 runs have ended and the victim is running some, kill it without a chance to clean up
        deadline = time.monotonic() + 60
        while not (len(store.runs("completed")) >= 30 and _running_in(store, victim)):
            assert time.monotonic() < deadline, "30 runs did not complete in 60 s"
            time.sleep(0.02)
        held_at_kill = _running_in(store, victim)
        victim.kill(signal.SIGKILL)
        killed_at = time.monotonic()
        killed_wall = datetime.now().astimezone()
        submitter.join(60)
        assert not submitter.is_alive() and len(submitted) == RUNS, statuses

        deadline = time.monotonic() + 45
        while (done := len(store.runs("completed"))) < RUNS:
            assert time.monotonic() < deadline, f"{done} of {RUNS} completed; statuses {statuses}"
            time.sleep(0.1)
        all_done = time.monotonic()
        deadline = time.monotonic() + 40  # a webhook the victim was delivering waits for its claim to run out (30 s)
        while undelivered := [w.webhook_id for w in store.webhooks() if w.delivered_at is None]:
            assert time.monotonic() < deadline, f"webhooks undelivered: {undelivered}"
            time.sleep(0.1)
        time.sleep(1.0)  # let a (wrong) second delivery arrive, if there were one
        deliveries = list(receiver.deliveries)

    runs = [r for r in store.runs() if r.workflow == "test-sleep" and str(r.request.get("tag", "")).startswith("mp-")]
    tags = Counter(str(r.request["tag"]) for r in runs)
    events = {r.run_id: Counter(e.type for e in store.events(r.run_id)) for r in runs}
    taken_over = [r for r in runs if events[r.run_id]["requeued"]]
    completes = Counter(a.target for a in store.audit_entries(action="run.complete") if a.target in events)
    outbox = Counter(w.run_id for w in store.webhooks() if w.run_id in events)
    delivered_ids = {d.headers["webhook-id"] for d in deliveries}
    delivered_runs = Counter(json.loads(d.body)["data"]["run_id"] for d in deliveries)
    finished_by = Counter("survivor" if f":{survivor.pid}:" in (r.lease_owner or "") else "victim" for r in runs)
    requeued_after = [
        (e.at - killed_wall).total_seconds() for r in taken_over for e in store.events(r.run_id) if e.type == "requeued"
    ]

    print(
        f"\n{RUNS} runs through HAProxy over 2 processes, one killed (kill -9) after {killed_at - started:.1f} s "
        f"holding {len(held_at_kill)} running run(s); all completed {all_done - started:.1f} s after the first submit\n"
        f"  submissions answered: {dict(statuses)}; transport errors retried: {len(errors)}\n"
        f"  runs: {len(runs)} (one per Idempotency-Key: {len(tags) == RUNS}); completed: "
        f"{sum(r.status == 'completed' for r in runs)}; finished by: {dict(finished_by)}\n"
        f"  events: started {sum(c['started'] for c in events.values())}, completed "
        f"{sum(c['completed'] for c in events.values())}, requeued {sum(c['requeued'] for c in events.values())}; "
        f"runs with completed != 1: {sum(c['completed'] != 1 for c in events.values())}\n"
        f"  taken over by the survivor: {len(taken_over)}, requeued {min(requeued_after, default=0):.1f}-"
        f"{max(requeued_after, default=0):.1f} s after the kill (lease {LEASE_S:g} s, renewed every {RENEW_S:g} s)\n"
        f"  audit run.complete: {sum(completes.values())} ({len(completes)} runs); webhooks in the outbox: "
        f"{sum(outbox.values())}; deliveries received: {len(deliveries)}, distinct webhook ids {len(delivered_ids)}, "
        f"distinct runs {len(delivered_runs)}"
    )
    assert len(runs) == RUNS and set(tags.values()) == {1}  # none lost, none made twice
    assert all(r.status == "completed" for r in runs)
    assert all(c["completed"] == 1 and c["started"] == 1 + c["requeued"] for c in events.values())  # none twice
    assert completes == {r.run_id: 1 for r in runs} and outbox == {r.run_id: 1 for r in runs}
    assert len(delivered_ids) == RUNS and set(delivered_runs) == {r.run_id for r in runs}
    # the runs the victim held when it died were taken over by the survivor once their lease ran out, not before
    assert {r.run_id for r in taken_over} >= set(held_at_kill) and held_at_kill
    for run in taken_over:
        assert f":{survivor.pid}:" in (run.lease_owner or "") and run.attempts == 2
        reason = next(e.data["reason"] for e in store.events(run.run_id) if e.type == "requeued")
        assert "lease" in str(reason)
    assert min(requeued_after) >= LEASE_S - RENEW_S - 0.3, requeued_after
    assert max(requeued_after) <= LEASE_S + 3 * RENEW_S + 5.0, requeued_after  # loose: the machine may be busy


def _running_in(store: Store, server: Server) -> list[str]:
    """The runs `server`'s process holds running now."""
    return [r.run_id for r in store.runs("running") if f":{server.pid}:" in (r.lease_owner or "")]


def test_a_second_process_on_one_sqlite_store_is_refused(tmp_path: Path, small_yard: Path) -> None:
    """SQLite serves one process per store: a second `serve` on the same data dir stops at start and says why."""
    first = start(tmp_path / "data", "--no-chat", "--no-warm", "--yard", str(small_yard))
    try:
        with pytest.raises(AssertionError) as refused:
            start(tmp_path / "data", "--no-chat", "--no-warm", "--yard", str(small_yard), timeout=60)
        message = str(refused.value)
        assert "serves the SQLite store" in message and "SHIPBRAIN_POSTGRES_DSN" in message, message
        assert f"pid {first.pid}" in message
        with httpx.Client(base_url=first.url) as client:
            assert client.get("/healthz").status_code == 200  # the first serves on
    finally:
        first.kill(signal.SIGTERM)
