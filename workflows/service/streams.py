"""A run's events as Server-Sent Events: bounded, woken by one watcher per process, with heartbeats and an end.

`GET /v1/runs/{id}/events` answers with a stream that sends the run's stored events after `Last-Event-ID`, then
new ones as the run makes them. What bounds it:

- **One watcher per process**, not one poller per stream. A stream subscribes to its run and sleeps until the
  watcher wakes it. On PostgreSQL the watcher is one connection that `LISTEN`s on `shipbrain_run_events`; a
  trigger on `run_events` (created, idempotently, when the service starts; left alone when it exists, so a DBA
  may make it for a service user that owns neither the table nor the function) sends a `NOTIFY` naming the run in
  the writing transaction, so an event written by any process on the database (another `serve`, the command
  line) wakes the streams of every process. On SQLite it is one poll every `stream_poll_s` for all the runs
  watched at once: one query per tick, whatever the number of streams.
- **Caps**: at most `stream_per_key` open streams per API key and `stream_max` per process; one more is refused
  with 429 (`too_many_streams`, in the service's error shape) and `Retry-After`. A client that disconnects gives
  its place back at once. The caps are per service process.
- **Heartbeats**: an SSE comment (`: heartbeat`) after every `stream_heartbeat_s` of quiet, so proxies keep the
  connection.
- **An end**: a stream ends after the run's last event (completed, failed, rejected); after the
  `waiting_for_approval` event of a held run (a decision may take days); and after `stream_max_s` in any case.
  Before ending for a held run or its lifetime it sends a comment saying why and a `retry:` field of
  `stream_retry_s`, which a browser's `EventSource` waits before it reconnects (with `Last-Event-ID`, on its
  own). A stream resumed after the waiting event of a run still held stays open (quietly: heartbeats only) and
  sends the decision when it comes, or ends at its lifetime.
- **The key, checked again**: a stream reads as its API key is now, not as it was when it opened. Before each batch
  of events and each heartbeat the key is looked up again (at most once per `key_check_s` per key, however many
  streams it has open: a revoked key's streams end within that long), and a stream whose key was revoked ends
  with a comment saying so, without the events it has not sent yet, and without a `retry:` field (a reconnection
  would be refused with 401).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from select import select as wait_for_fds
from typing import TYPE_CHECKING, Final

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import ProgrammingError
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from workflows.service._tables import API_KEYS, RUN_EVENTS, RUNS
from workflows.service.errors import TooManyRequests
from workflows.service.settings import ServiceSettings
from workflows.service.store import TERMINAL, RunEvent, Store

if TYPE_CHECKING:
    from psycopg.pq.abc import PGconn

__all__ = ["CHANNEL", "HELD", "Slot", "Streams"]

log = logging.getLogger(__name__)

CHANNEL: Final = "shipbrain_run_events"
"""The PostgreSQL channel the `run_events` trigger notifies (its payload: the run's id)."""
HELD: Final = "waiting_for_approval"
"""The status (and event) of a run held for a person's decision: its stream ends after that event."""
_FUNCTION: Final = "shipbrain_notify_run_event"
_TRIGGER: Final = "shipbrain_run_events_notify"
_DDL_LOCK: Final = 0x5348_4950_4252  # pg_advisory_xact_lock's key: two processes starting at once take turns
_CHUNK: Final = 500
"""Run ids per poll query on SQLite (far below its limit of bound variables)."""
_KEY_CHECK_S: Final = 1.0
"""Seconds a key's check is reused by its streams before the key is read again."""
_SILENCE_S: Final = 30.0
_ANSWER_S: Final = 10.0
_KEEPALIVES: Final[Mapping[str, int]] = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}
"""libpq's TCP keepalives for the LISTEN connection: a peer silent for 30 s is probed, and dropped after 3 misses."""


class Slot:
    """An open stream's place under the caps; `release` gives it back (once, whoever calls it first)."""

    def __init__(self, streams: Streams, key_id: str) -> None:
        self._streams, self.key_id = streams, key_id
        self._released = False

    def release(self) -> None:
        """Give the place back (a second call does nothing)."""
        with self._streams._lock:
            if self._released:
                return
            self._released = True
            self._streams._release(self.key_id)


@dataclass(eq=False)
class _Subscription:
    """One stream waiting for its run's next events; `after` is the last event it has read."""

    run_id: str
    after: int
    loop: asyncio.AbstractEventLoop
    event: asyncio.Event = field(default_factory=asyncio.Event)

    def wake(self) -> None:
        """Wake the stream (from any thread)."""
        try:
            self.loop.call_soon_threadsafe(self.event.set)
        except RuntimeError:  # its loop has closed: the stream is gone
            pass


class Streams:
    """The open event streams of one service process: their caps, their watcher, and each stream's events."""

    def __init__(self, store: Store, service: ServiceSettings) -> None:
        self.store, self.service = store, service
        self.engine: Engine = store.engine
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}
        self._total = 0
        self._subs: dict[str, set[_Subscription]] = {}
        self._watching = threading.Event()
        """Set while any stream is subscribed (the SQLite poller sleeps otherwise)."""
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.notified = self.engine.dialect.name == "postgresql"
        """Whether the store notifies (PostgreSQL's LISTEN/NOTIFY); else it is polled (SQLite, or a PostgreSQL user
        that may not make the trigger)."""
        self.polls = 0
        """Poll queries made so far (none while notified), for tests and benchmarks."""
        self.silence_s = _SILENCE_S
        """PostgreSQL: seconds without a notification after which the watcher checks its connection with `SELECT 1`."""
        self.answer_s = _ANSWER_S
        """PostgreSQL: seconds that `SELECT 1` may take before the connection is given up for dead and replaced."""
        self.key_check_s = _KEY_CHECK_S
        """Seconds a key's check (`key_valid`) is reused before the key is read again: how late a revoked key's
        streams may end."""
        self._keys: dict[str, tuple[float, bool]] = {}
        """key id -> (when it was read, whether it was valid then)."""
        self._reading: dict[str, threading.Lock] = {}
        """key id -> the lock of its read (one read at a time per key)."""
        self.key_checks = 0
        """Key reads made so far (the cached checks not counted), for tests."""

    # ---- the caps ----------------------------------------------------------------------------------

    def open(self, key_id: str) -> Slot:
        """A place for one more stream of this API key, or `TooManyRequests` (429) past either cap."""
        retry = {"Retry-After": str(self.service.stream_retry_s)}
        with self._lock:
            if self._open.get(key_id, 0) >= self.service.stream_per_key:
                raise TooManyRequests(
                    f"this API key has {self.service.stream_per_key} event streams open, its most; close one, or "
                    "retry later",
                    kind="too_many_streams",
                    headers=retry,
                )
            if self._total >= self.service.stream_max:
                raise TooManyRequests(
                    f"the service has {self.service.stream_max} event streams open, its most; retry later",
                    kind="too_many_streams",
                    headers=retry,
                )
            self._open[key_id] = self._open.get(key_id, 0) + 1
            self._total += 1
        return Slot(self, key_id)

    def _release(self, key_id: str) -> None:  # under self._lock
        left = self._open.get(key_id, 0) - 1
        if left > 0:
            self._open[key_id] = left
        else:
            self._open.pop(key_id, None)
            self._keys.pop(key_id, None)
            self._reading.pop(key_id, None)
        self._total -= 1

    def key_valid(self, key_id: str) -> bool:
        """Whether the key `key_id` still reads streams (it exists and is not revoked).

        Read at most once per `key_check_s` for all the key's streams: streams whose checks fall due together wait
        for one read (the key's lock) and take its answer.
        """
        with self._lock:
            reading = self._reading.setdefault(key_id, threading.Lock())
        with reading:
            at = time.monotonic()
            with self._lock:
                cached = self._keys.get(key_id)
            if cached is not None and at - cached[0] < self.key_check_s:
                return cached[1]
            query = select(API_KEYS.c.id).where(API_KEYS.c.id == key_id, API_KEYS.c.revoked_at.is_(None))
            with self.engine.connect() as conn:
                valid = conn.execute(query).first() is not None
            with self._lock:
                self.key_checks += 1
                if key_id in self._open:  # an open stream's key: kept for its next check
                    self._keys[key_id] = (at, valid)
            return valid

    def open_streams(self, key_id: str | None = None) -> int:
        """How many streams are open (of one API key)."""
        with self._lock:
            return self._total if key_id is None else self._open.get(key_id, 0)

    # ---- the watcher -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the watcher (once): on PostgreSQL, make the trigger and listen before returning."""
        ready = threading.Event()
        with self._lock:
            if self._thread is not None or self._closed:
                return
            if self.notified:
                self._thread = threading.Thread(target=self._listen, args=(ready,), name="streams-listen", daemon=True)
            else:
                self._thread = threading.Thread(target=self._poll, name="streams-poll", daemon=True)
            self._thread.start()
        if self.notified:
            ready.wait(timeout=10.0)  # listening, or still trying to connect (it logs why)

    def stop(self) -> None:
        """Stop the watcher and end every open stream (they end as if their lifetime were up)."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._closed = True
            self._stopping.set()
            self._watching.set()
            subs = [s for subs in self._subs.values() for s in subs]
        for sub in subs:
            sub.wake()
        if thread is not None:
            thread.join(timeout=5.0)

    @contextmanager
    def _subscribe(self, run_id: str, after: int) -> Iterator[_Subscription]:
        if self._thread is None and not self._closed:
            self.start()  # an app used without its lifespan
        sub = _Subscription(run_id, after, asyncio.get_running_loop())
        with self._lock:
            self._subs.setdefault(run_id, set()).add(sub)
            self._watching.set()
        try:
            yield sub
        finally:
            with self._lock:
                subs = self._subs.get(run_id)
                if subs is not None:
                    subs.discard(sub)
                    if not subs:
                        del self._subs[run_id]
                if not self._subs and not self._stopping.is_set():
                    self._watching.clear()

    def _wake(self, run_id: str | None = None, newest: Mapping[str, int] | None = None) -> None:
        """Wake the streams of one run (None: of every run); with `newest`, only those behind their run's newest."""
        with self._lock:
            subs = (
                [s for s in self._subs.get(run_id, ())]
                if run_id is not None
                else [s for subs in self._subs.values() for s in subs]
            )
        for sub in subs:
            if newest is None or newest.get(sub.run_id, 0) > sub.after:
                sub.wake()

    def _poll(self) -> None:
        """SQLite: every `stream_poll_s`, one query for the newest event of every watched run."""
        while not self._stopping.is_set():
            if not self._watching.wait(timeout=1.0):
                continue
            with self._lock:
                runs = sorted(self._subs)
            if runs:
                try:
                    newest = self._newest(runs)
                except Exception:  # the store is busy or gone for a moment: the next tick tries again
                    log.exception("event streams: polling the run events failed")
                else:
                    self._wake(newest=newest)
            self._stopping.wait(self.service.stream_poll_s)

    def _newest(self, runs: list[str]) -> dict[str, int]:
        newest: dict[str, int] = {}
        with self.engine.connect() as conn:
            for k in range(0, len(runs), _CHUNK):
                chunk = runs[k : k + _CHUNK]
                query = (
                    select(RUN_EVENTS.c.run_id, func.max(RUN_EVENTS.c.seq))
                    .where(RUN_EVENTS.c.run_id.in_(chunk))
                    .group_by(RUN_EVENTS.c.run_id)
                )
                newest.update({str(run_id): int(seq) for run_id, seq in conn.execute(query)})
                self.polls += 1
        return newest

    def install_trigger(self) -> None:
        """PostgreSQL: the trigger that notifies `CHANNEL` with the run's id when an event is written (idempotent)."""
        function = f"""
            CREATE OR REPLACE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $body$
            BEGIN
                PERFORM pg_notify('{CHANNEL}', NEW.run_id);
                RETURN NULL;
            END
            $body$
        """
        trigger = (
            f"CREATE TRIGGER {_TRIGGER} AFTER INSERT ON {RUN_EVENTS.name} FOR EACH ROW EXECUTE FUNCTION {_FUNCTION}()"
        )
        exists = f"SELECT 1 FROM pg_trigger WHERE tgname = '{_TRIGGER}' AND tgrelid = '{RUN_EVENTS.name}'::regclass"
        with self.engine.begin() as conn:
            # A trigger already there (made at an earlier start, or by a DBA for a service user that owns neither the
            # table nor the function) is left alone: replacing the function needs its owner.
            if conn.exec_driver_sql(exists).first() is not None:
                return
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_DDL_LOCK})")
            if conn.exec_driver_sql(exists).first() is not None:  # another process made it while we waited
                return
            conn.exec_driver_sql(function)
            conn.exec_driver_sql(trigger)

    def _listen(self, ready: threading.Event) -> None:
        """PostgreSQL: one connection LISTENing; each notification wakes its run's streams.

        After a (re)connection every stream is woken once: it reads what was written while nobody listened. A
        database user that may not create the trigger gets the poll instead (one query per tick, as on SQLite).

        A connection that dies without a word (the server's host gone, a NAT or firewall that forgot it: no reset
        ever comes) would leave `notifies()` waiting for ever. TCP keepalives (unless the URL sets its own) close
        such a connection after about a minute of unanswered probes, and after `silence_s` without a notification
        the watcher asks `SELECT 1`, giving up after `answer_s`; either failure reconnects as an error does.
        """
        import psycopg

        args, connect_kwargs = self.engine.dialect.create_connect_args(self.engine.url)
        kwargs = {**_KEEPALIVES, **connect_kwargs}
        backoff, installed = 0.5, False
        while not self._stopping.is_set():
            try:
                if not installed:
                    try:
                        self.install_trigger()
                    except ProgrammingError as exc:  # no privilege to create a function or a trigger
                        why = f"cannot create the notify trigger ({exc.orig})"
                        log.warning("event streams: %s; polling every %.2f s", why, self.service.stream_poll_s)
                        self.notified = False
                        ready.set()
                        self._poll()
                        return
                    installed = True
                with psycopg.connect(*args, **kwargs, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    ready.set()
                    backoff = 0.5
                    self._wake()
                    heard = time.monotonic()
                    while not self._stopping.is_set():
                        for note in conn.notifies(timeout=0.5):
                            heard = time.monotonic()
                            self._wake(note.payload)
                        if time.monotonic() - heard >= self.silence_s:
                            if not _answers(conn.pgconn, self.answer_s):
                                conn.close()  # at once: leaving the block would first send a ROLLBACK after it
                                raise _Silent(f"the LISTEN connection did not answer SELECT 1 in {self.answer_s} s")
                            heard = time.monotonic()
            except Exception as exc:
                if self._stopping.is_set():
                    return
                if isinstance(exc, _Silent):
                    log.warning("event streams: %s; reconnecting in %.1f s", exc, backoff)
                else:
                    log.exception("event streams: listening on PostgreSQL failed; trying again in %.1f s", backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    # ---- a stream ----------------------------------------------------------------------------------

    def response(self, run_id: str, after: int, slot: Slot) -> EventSourceResponse:
        """The stream of one run's events after `after`, holding `slot` until it ends or its client goes."""
        return _SlotResponse(self._events(run_id, after, slot), slot)

    async def _events(self, run_id: str, after: int, slot: Slot) -> AsyncIterator[ServerSentEvent]:
        deadline = asyncio.get_running_loop().time() + self.service.stream_max_s
        first = True
        try:
            with self._subscribe(run_id, after) as sub:
                while True:
                    sub.event.clear()
                    events = await run_in_threadpool(self.store.events, run_id, after)
                    if events and not await run_in_threadpool(self.key_valid, slot.key_id):
                        yield _revoked()
                        return
                    for event in events:
                        after = event.seq
                        yield _sse(run_id, event)
                        if event.type in TERMINAL:
                            return
                    if events and events[-1].type == HELD:
                        yield self._end("the run waits for approval; reconnect with Last-Event-ID to see the decision")
                        return
                    if first and not events:
                        status = await run_in_threadpool(self._status, run_id)
                        if status is None or status in TERMINAL:
                            return  # a client that resumed after the last event
                        # else it waits: one that resumed after a held run's waiting event waits for the decision
                    first = False
                    sub.after = after
                    if self._stopping.is_set():
                        yield self._end("the service is stopping; reconnect with Last-Event-ID")
                        return
                    while (quiet := await self._quiet(sub, deadline, slot.key_id)) == "heartbeat":
                        yield _heartbeat()
                    if quiet == "revoked":
                        yield _revoked()
                        return
                    if quiet == "lifetime":
                        yield self._end("the stream's lifetime is over; reconnect with Last-Event-ID")
                        return
        finally:
            slot.release()

    async def _quiet(self, sub: _Subscription, deadline: float, key_id: str) -> str:
        """How a quiet stream's wait ends: "woken", "heartbeat" (due, the key still valid), "revoked" or "lifetime".

        It waits until the stream is woken, its heartbeat is due (the key is then read again) or its lifetime ends.
        """
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            return "lifetime"
        try:
            await asyncio.wait_for(sub.event.wait(), timeout=min(remaining, self.service.stream_heartbeat_s))
            return "woken"
        except TimeoutError:
            pass
        if deadline <= asyncio.get_running_loop().time():
            return "lifetime"
        if not await run_in_threadpool(self.key_valid, key_id):
            return "revoked"
        return "woken" if self._stopping.is_set() else "heartbeat"

    def _end(self, why: str) -> ServerSentEvent:
        return ServerSentEvent(comment=f"end: {why}", retry=int(self.service.stream_retry_s * 1000))

    def _status(self, run_id: str) -> str | None:
        with self.engine.connect() as conn:
            found = conn.execute(select(RUNS.c.status).where(RUNS.c.id == run_id)).scalar()
        return None if found is None else str(found)


class _Silent(Exception):
    """The LISTEN connection did not answer in time: it is replaced."""


def _answers(pgconn: PGconn, timeout: float) -> bool:
    """Whether the server answers `SELECT 1` on this idle connection within `timeout` seconds.

    libpq's own calls (and psycopg's) would wait for ever on a half-open connection, so this one sends the query
    and waits on the socket with a deadline. A broken connection raises `psycopg.OperationalError`. Notifications
    read meanwhile are kept by psycopg for the next `notifies()`.
    """
    from psycopg.pq import ExecStatus

    deadline = time.monotonic() + timeout

    def ready(write: bool) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        readable, writable, _ = wait_for_fds(
            [] if write else [pgconn.socket], [pgconn.socket] if write else [], [], remaining
        )
        return bool(readable or writable)

    pgconn.send_query(b"SELECT 1")
    while pgconn.flush():  # 1 while some of the query is still unsent
        if not ready(write=True):
            return False
    while True:
        pgconn.consume_input()
        if not pgconn.is_busy():
            break
        if not ready(write=False):
            return False
    answered = False
    while (result := pgconn.get_result()) is not None:
        answered = answered or result.status == ExecStatus.TUPLES_OK
    return answered


def _sse(run_id: str, event: RunEvent) -> ServerSentEvent:
    payload = {"run_id": run_id, "seq": event.seq, "type": event.type, "at": event.at.isoformat(), **event.data}
    return ServerSentEvent(data=json.dumps(payload), event=event.type, id=str(event.seq))


def _heartbeat() -> ServerSentEvent:
    return ServerSentEvent(comment="heartbeat")


def _revoked() -> ServerSentEvent:
    """The last frame of a stream whose key was revoked: no `retry:`, since reconnecting would be refused (401)."""
    return ServerSentEvent(comment="end: the API key was revoked")


class _SlotResponse(EventSourceResponse):
    """An event stream that gives its slot back when the response is over, however it ends (a HEAD, a disconnect).

    Its heartbeats are the stream's own (`Streams._events` sends one after checking the key again), not
    sse-starlette's timed pings, which would go on for a revoked key.
    """

    def __init__(self, content: AsyncIterator[ServerSentEvent], slot: Slot) -> None:
        super().__init__(content, ping=0)
        self._slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._slot.release()
