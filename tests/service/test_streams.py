"""Issue 13, finding 4: event streams capped per key, woken by one watcher per process, with heartbeats and an end.

Real parts: the service under uvicorn on a free port of 127.0.0.1, streams read over real HTTP with httpx; on
PostgreSQL a throwaway server (tests/helpers/postgres.py) and an event written through another engine.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, create_engine, event, insert

from knowledge import Settings
from knowledge.database import database_url, dispose, engine
from tests.helpers import postgres
from tests.service.conftest import make_tokens, service_settings
from tests.service.test_approvals import EVENTS
from workflows.service import KeyStore, Store, create_app
from workflows.service._tables import RUN_EVENTS
from workflows.service.streams import CHANNEL, Streams


@dataclass
class Served:
    """The service under uvicorn: its URL, its store, its streams and one token per scope."""

    url: str
    store: Store
    streams: Streams
    tokens: dict[str, str]

    def auth(self, scope: str = "admin", **headers: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[scope]}", **headers}

    def run(self, body: dict[str, Any], workflow: str = "test-sleep") -> str:
        created = httpx.post(f"{self.url}/v1/workflows/{workflow}/runs", json=body, headers=self.auth())
        assert created.status_code == 202, created.text
        return str(created.json()["run_id"])

    def key_id(self, scope: str) -> str:
        principal = KeyStore(self.store).authenticate(self.tokens[scope])
        assert principal is not None
        return principal.key_id

    def status(self, run_id: str) -> str:
        return str(httpx.get(f"{self.url}/v1/runs/{run_id}", headers=self.auth()).json()["status"])


@contextmanager
def serving(settings: Settings, yard: Path, **service: Any) -> Iterator[Served]:
    """`create_app` under uvicorn in a thread on a free loopback port (workers off unless `start_workers=True`)."""
    start_workers = service.pop("start_workers", False)
    app = create_app(settings, yard, chat=False, start_workers=start_workers, service=service_settings(**service))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", ws="none", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    store = app.state.service.store
    try:
        yield Served(f"http://127.0.0.1:{port}", store, app.state.streams, make_tokens(store))
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


class Stream:
    """One open event stream, read a frame at a time (a frame: the lines up to a blank one)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.iter_lines()

    def frame(self) -> list[str] | None:
        """The next frame's lines, or None when the stream has ended."""
        lines: list[str] = []
        for line in self._lines:
            if line == "":
                if lines:
                    return lines
                continue
            lines.append(line)
        return lines or None

    def event(self, within_s: float | None = None) -> dict[str, str]:
        """The next event's fields (comment frames skipped); fails if the stream ends first, or if `within_s` passes
        first (noticed at the next frame: heartbeats make frames come)."""
        deadline = None if within_s is None else time.monotonic() + within_s
        while True:
            frame = self.frame()
            assert frame is not None, "the stream ended"
            assert deadline is None or time.monotonic() < deadline, f"no event within {within_s} s"
            fields = _fields(frame)
            if "event" in fields:
                return fields

    def rest(self, within_s: float = 60.0) -> list[list[str]]:
        """Every frame until the stream ends, which it must within `within_s` (heartbeats would keep it open)."""
        frames = []
        deadline = time.monotonic() + within_s
        while (frame := self.frame()) is not None:
            frames.append(frame)
            assert time.monotonic() < deadline, f"the stream has not ended after {within_s} s: {frames[-3:]}"
        return frames


def _fields(frame: list[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in frame:
        name, _, value = line.partition(":")
        fields[name or "comment"] = value.strip()
    return fields


@contextmanager
def opened(client: httpx.Client, served: Served, run_id: str, scope: str = "admin", **headers: str) -> Iterator[Stream]:
    with client.stream("GET", f"/v1/runs/{run_id}/events", headers=served.auth(scope, **headers)) as response:
        assert response.status_code == 200, response.read()
        yield Stream(response)


def _client(served: Served, read_s: float = 15.0) -> httpx.Client:
    limits = httpx.Limits(max_connections=40, max_keepalive_connections=0)
    return httpx.Client(base_url=served.url, timeout=httpx.Timeout(10.0, read=read_s), limits=limits)


def test_a_key_has_16_streams_the_17th_is_429_and_a_closed_one_frees_its_place_at_once(
    settings: Settings, small_yard: Path
) -> None:
    with serving(settings, small_yard) as served, _client(served) as client, ExitStack() as stack:
        run_id = served.run({"input": {}})  # no workers: it stays queued, its streams stay open
        streams = [stack.enter_context(opened(client, served, run_id)) for _ in range(16)]
        assert [s.event()["event"] for s in streams] == ["queued"] * 16

        refused = _try(client, served, run_id)
        assert refused.status_code == 429, "the 17th stream of a key was let through"
        assert refused.json()["error"]["type"] == "too_many_streams"
        assert refused.headers["retry-after"] == "5"
        # the cap is the key's: another key may still open one
        with opened(client, served, run_id, scope="approve") as other:
            assert other.event()["event"] == "queued"
        assert served.streams.open_streams(served.key_id("admin")) == 16

        # a client that goes away gives its place back at once
        streams[0].response.close()
        closed_at = time.monotonic()
        while (again := _try(client, served, run_id)).status_code == 429:
            assert time.monotonic() - closed_at < 3.0, "the closed stream still holds its place"
            time.sleep(0.01)
        assert again.status_code == 200
        assert _try(client, served, run_id).status_code == 429  # the new one holds the place
        again.close()


def _try(client: httpx.Client, served: Served, run_id: str, scope: str = "admin") -> httpx.Response:
    """Open a stream, keeping it open if it is (close the response to end it); a refusal is read whole."""
    request = client.build_request("GET", f"/v1/runs/{run_id}/events", headers=served.auth(scope))
    response = client.send(request, stream=True)
    if response.status_code != 200:
        response.read()
        response.close()
    return response


def test_the_process_cap_refuses_every_key(settings: Settings, small_yard: Path) -> None:
    with serving(settings, small_yard, stream_max=2) as served, _client(served) as client, ExitStack() as stack:
        run_id = served.run({"input": {}})
        for scope in ("admin", "approve"):
            stack.enter_context(opened(client, served, run_id, scope=scope))
        refused = _try(client, served, run_id)
        stack.callback(refused.close)
        assert refused.status_code == 429 and refused.json()["error"]["type"] == "too_many_streams"
        assert "the service has 2 event streams open" in refused.json()["error"]["message"]


def test_heartbeats_arrive_on_a_quiet_stream(settings: Settings, small_yard: Path) -> None:
    with serving(settings, small_yard, stream_heartbeat_s=0.2) as served, _client(served) as client:
        run_id = served.run({"input": {}})
        with opened(client, served, run_id) as stream:
            assert stream.event()["event"] == "queued"
            t0 = time.monotonic()
            beats = [stream.frame() for _ in range(3)]
            took = time.monotonic() - t0
    assert beats == [[": heartbeat"]] * 3
    assert 0.3 < took < 3.0


def test_a_held_runs_stream_ends_after_its_waiting_event(settings: Settings, small_yard: Path) -> None:
    with serving(settings, small_yard, start_workers=True) as served, _client(served, read_s=120) as client:
        run_id = served.run({"input": {"events": EVENTS[:1], "compare_optimised": False}}, workflow="reschedule")
        with opened(client, served, run_id) as stream:
            frames = stream.rest()  # before this change, it never ended
        events = [_fields(f) for f in frames if any(line.startswith("event:") for line in f)]
        assert [e["event"] for e in events][0] == "queued" and events[-1]["event"] == "waiting_for_approval"
        assert "completed" not in [e["event"] for e in events]
        end = _fields(frames[-1])
        assert end["retry"] == "5000" and end["comment"].startswith("end: the run waits for approval")
        held = events[-1]["id"]

        # resumed after the waiting event: it stays open, quiet, until the decision, which it sends, then ends
        with opened(client, served, run_id, **{"Last-Event-ID": held}) as resumed:
            time.sleep(0.5)
            assert served.streams.open_streams() == 1 and served.status(run_id) == "waiting_for_approval"
            decided = httpx.post(
                f"{served.url}/v1/runs/{run_id}/approval", json={"approved": False}, headers=served.auth("approve")
            )
            assert decided.status_code == 200, decided.text
            decision = [_fields(f) for f in resumed.rest(within_s=10)]
        assert [e["event"] for e in decision] == ["rejected"]
        assert served.streams.open_streams() == 0


def test_a_stream_ends_after_its_lifetime(settings: Settings, small_yard: Path) -> None:
    with serving(settings, small_yard, stream_max_s=0.5) as served, _client(served) as client:
        run_id = served.run({"input": {}})
        t0 = time.monotonic()
        with opened(client, served, run_id) as stream:
            frames = stream.rest()
        took = time.monotonic() - t0
    assert _fields(frames[0])["event"] == "queued"
    assert _fields(frames[-1])["comment"].startswith("end: the stream's lifetime is over")
    assert 0.4 < took < 5.0
    assert served.streams.open_streams() == 0


@contextmanager
def statements(served: Served) -> Iterator[list[str]]:
    """The SQL statements the service sends about runs and their events while the block runs."""
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if "run_events" in statement or "FROM runs" in statement:
            seen.append(statement)

    event.listen(served.store.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(served.store.engine, "before_cursor_execute", count)


def test_on_sqlite_one_poll_serves_every_stream(settings: Settings, small_yard: Path) -> None:
    """30 streams over 3 runs for a second: about 1/stream_poll_s queries, not one per stream per tick."""
    with serving(settings, small_yard, stream_poll_s=0.1) as served, _client(served) as client, ExitStack() as stack:
        runs = [served.run({"input": {"tag": str(k)}}) for k in range(3)]
        keys = ["admin", "approve"]
        streams = [stack.enter_context(opened(client, served, runs[k % 3], scope=keys[k % 2])) for k in range(30)]
        assert {s.event()["event"] for s in streams} == {"queued"}
        time.sleep(0.3)
        with statements(served) as sent:
            time.sleep(1.0)
        # one query a tick for the three runs (before this change: two a stream every 0.2 s, 300 a second)
        assert 3 <= len(sent) <= 15, len(sent)

        # an event written by another connection wakes the streams of its run
        t0 = time.monotonic()
        served.store.append_event(runs[1], "progress", {"step": "x", "done": 0, "total": 1})
        woken = [s.event() for s in streams[1::3]]
        assert time.monotonic() - t0 < 3.0  # a tick is 0.1 s; the margin is for a busy machine
        assert {(e["event"], e["id"]) for e in woken} == {("progress", "2")}


pg = pytest.mark.skipif(not postgres.available(), reason="PostgreSQL's server programs are not installed")


@pytest.mark.slow
@pg
def test_on_postgresql_a_stream_is_woken_by_an_event_another_engine_writes(tmp_path: Path, small_yard: Path) -> None:
    with postgres.postgres_server() as dsn:
        settings = Settings(data_dir=tmp_path / "data", postgres_dsn=dsn)
        try:
            with serving(settings, small_yard) as served, _client(served) as client:
                run_id = served.run({"input": {}})
                other = create_engine(database_url(settings))  # another engine, as another process would have
                try:
                    with opened(client, served, run_id) as stream:
                        assert stream.event()["event"] == "queued"
                        time.sleep(0.3)
                        with statements(served) as sent:
                            time.sleep(1.0)
                        assert sent == []  # notified, never polled (before this change: 10 a second)
                        t0 = time.monotonic()
                        with other.begin() as conn:
                            conn.execute(
                                insert(RUN_EVENTS).values(
                                    run_id=run_id, seq=2, type="progress", data='{"step": "x"}', at=datetime.now(UTC)
                                )
                            )
                        woken = stream.event()
                        latency = time.monotonic() - t0
                        with other.begin() as conn:
                            conn.execute(
                                insert(RUN_EVENTS).values(
                                    run_id=run_id, seq=3, type="failed", data="{}", at=datetime.now(UTC)
                                )
                            )
                        last = stream.event()
                        assert stream.frame() is None  # ended after the run's last event
                finally:
                    other.dispose()
                assert (woken["event"], woken["id"]) == ("progress", "2") and latency < 3.0, latency
                assert last["event"] == "failed"
                assert served.streams.notified and served.streams.polls == 0
                with ThreadPoolExecutor(3) as pool:  # again, as processes starting together do: idempotent
                    list(pool.map(lambda _: served.streams.install_trigger(), range(3)))
        finally:
            dispose(settings)


@pytest.mark.slow
@pg
def test_on_postgresql_a_user_who_may_not_make_the_trigger_gets_the_poll(tmp_path: Path, small_yard: Path) -> None:
    with postgres.postgres_server() as dsn:
        owner = Settings(data_dir=tmp_path / "owner", postgres_dsn=dsn)
        Store(owner)  # the service's tables, made by their owner: only an owner may put a trigger on a table
        with engine(owner).begin() as conn:
            conn.exec_driver_sql("CREATE ROLE service_user LOGIN")
            conn.exec_driver_sql("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO service_user")
            conn.exec_driver_sql("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO service_user")
            conn.exec_driver_sql(
                "GRANT CREATE ON SCHEMA public TO service_user"
            )  # its own tables, not a trigger on ours
        dispose(owner)
        settings = Settings(data_dir=tmp_path / "data", postgres_dsn=dsn.replace("postgres@", "service_user@"))
        try:
            with serving(settings, small_yard, stream_poll_s=0.1) as served, _client(served) as client:
                run_id = served.run({"input": {}})
                with opened(client, served, run_id) as stream:
                    assert stream.event()["event"] == "queued"
                    t0 = time.monotonic()
                    served.store.append_event(run_id, "progress", {"step": "x", "done": 0, "total": 1})
                    woken = stream.event()
                    latency = time.monotonic() - t0
                assert (woken["event"], woken["id"]) == ("progress", "2") and latency < 3.0, latency
                assert not served.streams.notified and served.streams.polls > 0
        finally:
            dispose(settings)


def _insert(other: Engine, run_id: str, seq: int, type_: str = "progress") -> None:
    """An event written straight into the table through `other`, as another process would."""
    with other.begin() as conn:
        conn.execute(
            insert(RUN_EVENTS).values(run_id=run_id, seq=seq, type=type_, data='{"step": "x"}', at=datetime.now(UTC))
        )


def _listeners(other: Engine) -> list[int]:
    """The backends LISTENing for run events (their last statement was the LISTEN)."""
    with other.connect() as conn:
        found = conn.exec_driver_sql(
            f"SELECT pid FROM pg_stat_activity WHERE query = 'LISTEN {CHANNEL}' ORDER BY backend_start"
        )
        return [int(pid) for (pid,) in found]


def _wait_for(check: Any, within_s: float = 20.0) -> Any:
    deadline = time.monotonic() + within_s
    while not (found := check()):
        assert time.monotonic() < deadline, f"{check} did not hold within {within_s} s"
        time.sleep(0.05)
    return found


@pytest.mark.slow
@pg
def test_on_postgresql_a_killed_listener_reconnects_and_the_stream_gets_the_next_event(
    tmp_path: Path, small_yard: Path
) -> None:
    """pg_terminate_backend on the watcher's connection (a restarted database, a DBA's kill): streams still wake.

    The server closes such a connection with an error, which psycopg raises from `notifies()`: the watcher already
    reconnected before the silent-death fix below; this test guards it."""
    with postgres.postgres_server() as dsn:
        settings = Settings(data_dir=tmp_path / "data", postgres_dsn=dsn)
        other = create_engine(database_url(settings))
        try:
            with serving(settings, small_yard, stream_heartbeat_s=0.5) as served, _client(served) as client:
                run_id = served.run({"input": {}})
                with opened(client, served, run_id) as stream:
                    assert stream.event()["event"] == "queued"
                    [killed] = _wait_for(lambda: _listeners(other))
                    with other.connect() as conn:
                        assert conn.exec_driver_sql(f"SELECT pg_terminate_backend({killed})").scalar() is True
                    [again] = _wait_for(lambda: [p for p in _listeners(other) if p != killed])
                    _insert(other, run_id, 2)
                    woken = stream.event(within_s=10)
                assert (woken["event"], woken["id"]) == ("progress", "2")
                assert again != killed and served.streams.notified and served.streams.polls == 0
        finally:
            other.dispose()
            dispose(settings)


class Blackhole:
    """A TCP proxy to a PostgreSQL server's Unix socket whose connections can be made to go silent.

    A silenced connection stays open but nothing passes either way any more: what a client sees when the server's
    host vanished, or a NAT or firewall forgot the connection, without a reset (a half-open connection).
    """

    def __init__(self, unix_path: str) -> None:
        self.unix_path = unix_path
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.lock = threading.Lock()
        self.pairs: list[dict[str, Any]] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.unix_path)
            pair: dict[str, Any] = {"silent": False, "listening": False, "socks": (client, upstream)}
            with self.lock:
                self.pairs.append(pair)
            for src, dst, up in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pump, args=(pair, src, dst, up), daemon=True).start()

    def _pump(self, pair: dict[str, Any], src: socket.socket, dst: socket.socket, up: bool) -> None:
        try:
            while data := src.recv(65536):
                if up and f"LISTEN {CHANNEL}".encode() in data:
                    pair["listening"] = True
                if not pair["silent"]:
                    dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in pair["socks"]:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def listening(self) -> list[dict[str, Any]]:
        """The proxied connections that sent the watcher's LISTEN and still pass data."""
        with self.lock:
            return [p for p in self.pairs if p["listening"] and not p["silent"]]

    def close(self) -> None:
        self.server.close()
        with self.lock:
            for pair in self.pairs:
                for sock in pair["socks"]:
                    sock.close()


def _keepalives(address: tuple[str, int]) -> tuple[int, ...]:
    """SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT of this process's socket bound to `address`."""
    for fd in os.listdir("/proc/self/fd"):
        try:
            sock = socket.socket(fileno=os.dup(int(fd)))
        except OSError:
            continue  # not a socket
        with sock:
            try:
                if sock.family != socket.AF_INET or sock.getsockname() != address:
                    continue
            except OSError:
                continue
            options = [(socket.IPPROTO_TCP, o) for o in (socket.TCP_KEEPIDLE, socket.TCP_KEEPINTVL, socket.TCP_KEEPCNT)]
            return tuple(sock.getsockopt(level, o) for level, o in [(socket.SOL_SOCKET, socket.SO_KEEPALIVE), *options])
    raise AssertionError(f"no socket of this process is bound to {address}")


@pytest.mark.slow
@pg
def test_on_postgresql_a_listener_gone_silent_is_noticed_and_replaced(tmp_path: Path, small_yard: Path) -> None:
    """Review 13 item 3: a LISTEN connection that dies without a word (half-open) made streams wait for ever.

    Before the fix `notifies()` kept returning nothing; now the watcher asks `SELECT 1` after `silence_s` without a
    notification, gives up on an unanswered one after `answer_s`, reconnects and wakes every stream."""
    with postgres.postgres_server() as dsn:
        query = dict(part.split("=", 1) for part in dsn.split("?", 1)[1].split("&"))
        proxy = Blackhole(f"{query['host']}/.s.PGSQL.{query['port']}")
        settings = Settings(
            data_dir=tmp_path / "data", postgres_dsn=f"postgresql://postgres@127.0.0.1:{proxy.port}/postgres"
        )
        other = create_engine(database_url(Settings(data_dir=tmp_path / "other", postgres_dsn=dsn)))
        try:
            with serving(settings, small_yard, stream_heartbeat_s=0.5) as served, _client(served) as client:
                run_id = served.run({"input": {}})
                with opened(client, served, run_id) as stream:
                    assert stream.event()["event"] == "queued"
                    [listener] = _wait_for(proxy.listening)
                    listener["silent"] = True  # the watcher's connection goes quiet; the store's others do not
                    served.streams.silence_s, served.streams.answer_s = 0.5, 1.0
                    t0 = time.monotonic()
                    _insert(other, run_id, 2)
                    woken = stream.event(within_s=20)  # before the fix: never, the stream waited on a dead socket
                    took = time.monotonic() - t0
                assert (woken["event"], woken["id"]) == ("progress", "2")
                [replaced] = proxy.listening()
                assert replaced is not listener and took < 15, took  # a new LISTEN connection, soon
                # and it has TCP keepalives, which drop a half-open connection the kernel can see is dead
                assert _keepalives(replaced["socks"][0].getpeername()) == (1, 30, 10, 3)
                assert served.streams.notified and served.streams.polls == 0
        finally:
            other.dispose()
            proxy.close()
            dispose(settings)


@pytest.mark.slow
@pg
def test_on_postgresql_a_user_who_does_not_own_the_trigger_a_dba_made_still_listens(
    tmp_path: Path, small_yard: Path
) -> None:
    """Review 13 item 5: the DBA made the tables and the trigger; the service's own user may not replace them.

    Before the fix `CREATE OR REPLACE FUNCTION` ran first, failed ("must be owner"), and the service polled."""
    with postgres.postgres_server() as dsn:
        owner = Settings(data_dir=tmp_path / "owner", postgres_dsn=dsn)
        Streams(Store(owner), service_settings()).install_trigger()  # the DBA: tables, function and trigger
        with engine(owner).begin() as conn:
            conn.exec_driver_sql("CREATE ROLE service_user LOGIN")
            conn.exec_driver_sql("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO service_user")
            conn.exec_driver_sql("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO service_user")
            conn.exec_driver_sql("GRANT CREATE ON SCHEMA public TO service_user")  # the brain's checkpoint tables
        other = create_engine(database_url(owner))
        settings = Settings(data_dir=tmp_path / "data", postgres_dsn=dsn.replace("postgres@", "service_user@"))
        try:
            with serving(settings, small_yard, stream_poll_s=0.1) as served, _client(served) as client:
                assert served.store.engine.url.username == "service_user"
                run_id = served.run({"input": {}})
                with opened(client, served, run_id) as stream:
                    assert stream.event()["event"] == "queued"
                    t0 = time.monotonic()
                    _insert(other, run_id, 2)
                    woken = stream.event(within_s=10)
                    latency = time.monotonic() - t0
                assert (woken["event"], woken["id"]) == ("progress", "2") and latency < 3.0, latency
                assert served.streams.notified and served.streams.polls == 0  # before the fix: polled
        finally:
            other.dispose()
            dispose(owner)
            dispose(settings)
