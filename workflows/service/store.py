"""The service's durable store: runs, their events, the audit log and the webhook outbox, in one database.

The database is the shared one (`knowledge.database.engine`): SQLite in the data dir, or PostgreSQL. Every state
change of a run is one transaction that also appends the run's event and, where it matters, its audit entry and
its webhook (the outbox pattern), so a crash leaves either all of them or none.

Run statuses and the ISA-95 job states (OPC UA ISA-95 job control) they correspond to:

| status                 | ISA-95 job state | meaning                                                            |
|------------------------|------------------|--------------------------------------------------------------------|
| `queued`               | Waiting / Ready  | recorded, waiting for a worker (AllowedToStart)                    |
| `running`              | Running          | a worker is computing it                                           |
| `waiting_for_approval` | Held             | computed a change to the plan; waits for a person (Interrupted)    |
| `completed`            | Completed        | done; for a plan change, approved and adopted (Ended)              |
| `failed`               | Aborted          | the workflow refused the request or failed                         |
| `rejected`             | Aborted          | a person rejected the plan change; nothing was adopted             |

The audit log is append-only: this module has no call that updates or deletes an audit entry.

**Leases.** Several service processes may share one PostgreSQL store. A process claims a run under a `Lease`: its
token (the process's id, `host~pidns:pid:random`, and the claim's number) goes to `runs.lease_owner` and an expiry to
`runs.lease_expires_at`, which the process's heartbeat pushes forward while the run executes. Every write of a run's
outcome (`hold`, `finish`, a progress event) checks that the lease is still the caller's, and a decision recorded
under a lease (`record_decision`) is carried out under it. A run whose lease expired (its process died or stalled)
goes back to the queue with a `requeued` event saying why (`requeue_expired`), and another process runs it again;
the first process, if it comes back, can no longer write its outcome: each run ends exactly once. On PostgreSQL
the times of leases are the database's (`now()`), so the processes' clocks need not agree; SQLite serves one
process per file (the runner refuses a second one), with the process's clock.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, TypeAlias, get_args

from pydantic import JsonValue
from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    Interval,
    RowMapping,
    and_,
    func,
    insert,
    inspect,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from knowledge.database import engine
from knowledge.settings import Settings
from workflows.service._tables import AUDIT, META, OUTBOX, RUN_EVENTS, RUNS, THREADS

__all__ = [
    "ISA95_STATE",
    "MAX_EVENT_ID",
    "TERMINAL",
    "AuditEntry",
    "DuplicateRunError",
    "JsonObject",
    "Lease",
    "OutboxRow",
    "RunEvent",
    "RunRecord",
    "RunStatus",
    "Store",
    "now",
]

_ADDED_COLUMNS: Final = (("audit", "actor_label"), ("runs", "lease_owner"), ("runs", "lease_expires_at"))
"""Columns added since the first stores were made: `Store` adds them to an older store when it opens it."""

JsonObject: TypeAlias = dict[str, JsonValue]
"""A JSON object as the store keeps it (a run's request, result, error and decision; an event's data)."""

MAX_EVENT_ID: Final = 2**31 - 1
"""The largest event number a store holds (PostgreSQL's `integer`): a `Last-Event-ID` above it names no event."""

RunStatus = Literal["queued", "running", "waiting_for_approval", "completed", "failed", "rejected"]
TERMINAL: Final = frozenset({"completed", "failed", "rejected"})
"""Statuses a run never leaves."""
ISA95_STATE: Final[Mapping[str, str]] = {
    "queued": "Waiting",
    "running": "Running",
    "waiting_for_approval": "Held",
    "completed": "Completed",
    "failed": "Aborted",
    "rejected": "Aborted",
}
"""The ISA-95 job state of each run status."""
assert set(ISA95_STATE) == set(get_args(RunStatus))


def now() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


def _aware(when: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every time the store writes is UTC."""
    return when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when


def _dumps(value: object, *, sort_keys: bool = True, default: Callable[[object], object] | None = None) -> str:
    """Standard JSON, always: an infinite or NaN number is a `ValueError`, never written as `Infinity` or `NaN`."""
    return json.dumps(value, sort_keys=sort_keys, default=default, allow_nan=False)


def _held_by(lease: Lease | None) -> list[ColumnElement[bool]]:
    """The condition that a run is under `lease` (none without one)."""
    return [] if lease is None else [RUNS.c.lease_owner == lease.token]


def _requeue_reason(token: str | None, expired_at: datetime | None, gone: bool) -> str:
    """Why a running run went back to the queue, for its `requeued` event."""
    if token is None:
        return "it was left running without a lease (by a service of an older version that stopped)"
    if gone:
        return "the process running it is gone (the service restarted)"
    at = "" if expired_at is None else f" at {expired_at.isoformat(timespec='seconds')}"
    return f"the lease of the process running it ran out{at} (the process died or stalled); another process runs it"


def _object(text: str | None) -> JsonObject | None:
    """A JSON object the store wrote (it writes only objects to these columns), or None."""
    return None if text is None else json.loads(text)


class DuplicateRunError(Exception):
    """A run with this API key and `Idempotency-Key` exists already (the unique constraint refused another)."""


@dataclass(frozen=True)
class Lease:
    """A process's claim on one run: the token naming the claim, and how long each renewal keeps it.

    The token is the process's id and the claim's number in that process (`host~pidns:pid:random/7`), so two claims of
    one run, even by one process, never look alike.
    """

    token: str
    duration: timedelta
    """How long the lease lasts from its claim or its latest renewal."""

    @property
    def process(self) -> str:
        """The id of the process holding the lease (`host~pidns:pid:random`)."""
        return process_of(self.token)


def process_of(token: str) -> str:
    """The process id (`host~pidns:pid:random`) in a lease token (`.../7`)."""
    return token.rpartition("/")[0] or token


@dataclass(frozen=True)
class RunRecord:
    """One run as stored."""

    run_id: str
    workflow: str
    version: str
    key_id: str
    idempotency_key: str | None
    fingerprint: str
    request: JsonObject
    status: RunStatus
    result: JsonObject | None
    error: JsonObject | None
    approval: JsonObject | None
    webhook_url: str | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    lease_owner: str | None = None
    """The token of the lease the run is (or was last) claimed under, if any (`Lease.token`)."""
    lease_expires_at: datetime | None = None
    """When that lease runs out unless renewed (None: not leased now)."""

    @classmethod
    def from_row(cls, row: RowMapping) -> RunRecord:
        """A record from a `runs` row (its `_mapping`)."""
        return cls(
            run_id=row["id"],
            workflow=row["workflow"],
            version=row["version"],
            key_id=row["key_id"],
            idempotency_key=row["idempotency_key"],
            fingerprint=row["fingerprint"],
            request=json.loads(row["request"]),
            status=row["status"],
            result=_object(row["result"]),
            error=_object(row["error"]),
            approval=_object(row["approval"]),
            webhook_url=row["webhook_url"],
            attempts=row["attempts"],
            created_at=_aware(row["created_at"]) or now(),
            started_at=_aware(row["started_at"]),
            finished_at=_aware(row["finished_at"]),
            lease_owner=row.get("lease_owner"),
            lease_expires_at=_aware(row.get("lease_expires_at")),
        )


@dataclass(frozen=True)
class RunEvent:
    """One event of a run: its number in the run, its type, its data and when it happened."""

    seq: int
    type: str
    data: JsonObject
    at: datetime


@dataclass(frozen=True)
class AuditEntry:
    """Who did what to which target, when, with exactly which parameters.

    `actor` is an API key's id when a key acted (ids are unique, names are not), `cli:USER` for the command line,
    `shipbrain-service` for the service itself; `actor_label` is the key's name, for people reading the log.
    """

    entry_id: int
    at: datetime
    actor: str
    action: str
    target: str
    parameters: JsonObject
    actor_label: str | None = None


@dataclass(frozen=True)
class OutboxRow:
    """A webhook to deliver (or delivered)."""

    webhook_id: str
    run_id: str
    url: str
    body: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None


class Store:
    """Runs, run events, audit entries and webhooks, in the shared database of `settings`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine: Engine = engine(settings)
        META.create_all(self.engine, checkfirst=True)
        self._add_columns()

    @property
    def postgres(self) -> bool:
        """Whether the store is on PostgreSQL (else SQLite)."""
        return self.engine.dialect.name == "postgresql"

    def _add_columns(self) -> None:
        """Add the columns a store made by an older version lacks (`audit.actor_label`, the runs' lease)."""
        for table, column in _ADDED_COLUMNS:
            if column in {c["name"] for c in inspect(self.engine).get_columns(table)}:
                continue
            kind = META.tables[table].c[column].type.compile(dialect=self.engine.dialect)
            try:
                with self.engine.begin() as conn:
                    conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {kind}"))
            except DBAPIError:  # another process added it first
                if column not in {c["name"] for c in inspect(self.engine).get_columns(table)}:
                    raise

    def _clock(self) -> ColumnElement[datetime]:
        """The time leases are measured by: the database's on PostgreSQL (shared by every process), else ours."""
        if self.postgres:
            return func.now()
        return literal(now(), DateTime(timezone=True))

    def _until(self, duration: timedelta) -> ColumnElement[datetime]:
        """`duration` from now, by the lease clock (`_clock`)."""
        if self.postgres:
            return func.now() + literal(duration, Interval())
        return literal(now() + duration, DateTime(timezone=True))

    def _expired(self) -> ColumnElement[bool]:
        """A run's lease has run out (or it has none)."""
        return or_(RUNS.c.lease_expires_at.is_(None), RUNS.c.lease_expires_at < self._clock())

    # ---- audit -----------------------------------------------------------------------------------

    @staticmethod
    def audit(
        conn: Connection,
        actor: str,
        action: str,
        target: str,
        parameters: Mapping[str, object],
        *,
        actor_label: str | None = None,
    ) -> None:
        """Append an audit entry inside the caller's transaction (there is no way to change or remove one).

        Args:
            conn: the caller's transaction.
            actor: who acted: an API key's id (never its name, which another key may share), `cli:USER`, or
                `shipbrain-service`.
            action: what was done (`run.create`, `ask`, `thread.approve`, ...).
            target: what it was done to (a run, a thread, a key).
            parameters: exactly what was asked, stored as JSON (a value JSON has no type for, a date, as its text).
            actor_label: the key's name, to read the log by.
        """
        params = _dumps(parameters, default=str)
        conn.execute(
            insert(AUDIT).values(
                at=now(), actor=actor, actor_label=actor_label, action=action, target=target, parameters=params
            )
        )

    def audit_now(
        self,
        actor: str,
        action: str,
        target: str,
        parameters: Mapping[str, object],
        *,
        actor_label: str | None = None,
    ) -> None:
        """`audit` in a transaction of its own."""
        with self.engine.begin() as conn:
            self.audit(conn, actor, action, target, parameters, actor_label=actor_label)

    def audit_entries(self, target: str | None = None, action: str | None = None) -> list[AuditEntry]:
        """Audit entries, oldest first, optionally only those of one target or one action."""
        query = select(AUDIT).order_by(AUDIT.c.id)
        if target is not None:
            query = query.where(AUDIT.c.target == target)
        if action is not None:
            query = query.where(AUDIT.c.action == action)
        with self.engine.connect() as conn:
            return [
                AuditEntry(
                    r.id, _aware(r.at) or now(), r.actor, r.action, r.target, json.loads(r.parameters), r.actor_label
                )
                for r in conn.execute(query)
            ]

    # ---- threads ---------------------------------------------------------------------------------

    def own_thread(self, thread_id: str, key_id: str) -> bool:
        """Record that an API key started a conversation; False if the thread has an owner already."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(THREADS).values(thread_id=thread_id, key_id=key_id, created_at=now()))
        except IntegrityError:
            return False
        return True

    def thread_owner(self, thread_id: str) -> str | None:
        """The id of the API key that started a conversation, or None (unknown, or started without a key)."""
        with self.engine.connect() as conn:
            found = conn.execute(select(THREADS.c.key_id).where(THREADS.c.thread_id == thread_id)).scalar()
        return None if found is None else str(found)

    # ---- runs ------------------------------------------------------------------------------------

    def create_run(
        self,
        *,
        workflow: str,
        version: str,
        key_id: str,
        actor: str,
        idempotency_key: str | None,
        fingerprint: str,
        request: Mapping[str, object],
        webhook_url: str | None,
        actor_label: str | None = None,
    ) -> RunRecord:
        """Record a queued run, its first event and its audit entry in one transaction; returns the run as recorded.

        Raises:
            DuplicateRunError: this API key already has a run under `idempotency_key`.
        """
        run_id = "run_" + uuid.uuid4().hex
        at = now()
        stored = _dumps(request)
        try:
            with self.engine.begin() as conn:
                row = {
                    "id": run_id,
                    "workflow": workflow,
                    "version": version,
                    "key_id": key_id,
                    "idempotency_key": idempotency_key,
                    "fingerprint": fingerprint,
                    "request": stored,
                    "status": "queued",
                    "webhook_url": webhook_url,
                    "attempts": 0,
                    "created_at": at,
                }
                conn.execute(insert(RUNS).values(row))
                self._event(conn, run_id, 1, "queued", {"status": "queued"})
                parameters = {
                    "workflow": workflow,
                    "version": version,
                    "input": request,
                    "webhook_url": webhook_url,
                    "idempotency_key": idempotency_key,
                }
                self.audit(conn, actor, "run.create", run_id, parameters, actor_label=actor_label)
        except IntegrityError as exc:
            if idempotency_key is None:
                raise
            raise DuplicateRunError(idempotency_key) from exc
        # the run as recorded, not read back: a worker may have claimed it already (workers poll for queued runs)
        return RunRecord(
            run_id=run_id,
            workflow=workflow,
            version=version,
            key_id=key_id,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            request=json.loads(stored),
            status="queued",
            result=None,
            error=None,
            approval=None,
            webhook_url=webhook_url,
            attempts=0,
            created_at=at,
            started_at=None,
            finished_at=None,
        )

    def get_run(self, run_id: str) -> RunRecord | None:
        """A run by id, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(RUNS).where(RUNS.c.id == run_id)).first()
        return None if row is None else RunRecord.from_row(row._mapping)

    def find_idempotent(self, key_id: str, idempotency_key: str) -> RunRecord | None:
        """The run an API key made under an `Idempotency-Key`, or None."""
        query = select(RUNS).where(RUNS.c.key_id == key_id, RUNS.c.idempotency_key == idempotency_key)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else RunRecord.from_row(row._mapping)

    def expire_idempotency_keys(self, ttl: timedelta) -> int:
        """Forget the `Idempotency-Key` of runs created longer ago than `ttl` (the runs stay); returns how many."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(RUNS)
                .where(RUNS.c.idempotency_key.is_not(None), RUNS.c.created_at < now() - ttl)
                .values(idempotency_key=None)
            )
        return int(done.rowcount)

    def runs(
        self, status: str | None = None, *, key_id: str | None = None, limit: int | None = None
    ) -> list[RunRecord]:
        """Runs, oldest first: optionally of one status, of one API key, and only the newest `limit`."""
        query = select(RUNS).order_by(RUNS.c.created_at.desc(), RUNS.c.id.desc())
        if status is not None:
            query = query.where(RUNS.c.status == status)
        if key_id is not None:
            query = query.where(RUNS.c.key_id == key_id)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [RunRecord.from_row(r._mapping) for r in reversed(conn.execute(query).all())]

    # ---- leases ------------------------------------------------------------------------------------

    def claim_next(self, lease: Lease) -> RunRecord | None:
        """Mark the oldest queued run as running under `lease` and return it (None if nothing is queued).

        On PostgreSQL the candidate is locked with `SELECT ... FOR UPDATE SKIP LOCKED`, so processes claiming at once
        each take another run without waiting for one another; on SQLite the claim is a conditional update. Either
        way no two claims take the same run.
        """
        queued = select(RUNS.c.id).where(RUNS.c.status == "queued").order_by(RUNS.c.created_at, RUNS.c.id).limit(1)
        if self.postgres:
            with self.engine.begin() as conn:
                candidate = conn.execute(queued.with_for_update(skip_locked=True)).scalar()
                if candidate is None or not self._start(conn, candidate, lease):
                    return None
            return self.get_run(candidate)
        for _ in range(20):
            # SQLite: read, then update in a transaction of its own (a read transaction cannot become a write one
            # once another connection wrote); the update's condition settles a race
            with self.engine.connect() as conn:
                candidate = conn.execute(queued).scalar()
            if candidate is None:
                return None
            with self.engine.begin() as conn:
                claimed = self._start(conn, candidate, lease)
            if claimed:
                return self.get_run(candidate)
        return None

    def _start(self, conn: Connection, run_id: str, lease: Lease) -> bool:
        """Mark a queued run as running under `lease`, with its `started` event; False if it was not queued."""
        claimed = conn.execute(
            update(RUNS)
            .where(RUNS.c.id == run_id, RUNS.c.status == "queued")
            .values(
                status="running",
                started_at=now(),
                attempts=RUNS.c.attempts + 1,
                lease_owner=lease.token,
                lease_expires_at=self._until(lease.duration),
            )
        )
        if claimed.rowcount != 1:
            return False
        attempts = conn.execute(select(RUNS.c.attempts).where(RUNS.c.id == run_id)).scalar_one()
        self._event(conn, run_id, None, "started", {"status": "running", "attempt": attempts})
        return True

    def renew(self, held: Mapping[str, str], duration: timedelta) -> set[str]:
        """Extend the leases a process holds, `{run id: lease token}`, by `duration`; returns the runs still held.

        A run missing from the answer was taken over (its lease had expired) or ended: its holder must not write it.
        """
        if not held:
            return set()
        leased = or_(RUNS.c.status == "running", self._decided())  # executing, or its decision being carried out
        mine = and_(RUNS.c.id.in_(list(held)), RUNS.c.lease_owner.in_(list(held.values())), leased)
        with self.engine.begin() as conn:
            conn.execute(update(RUNS).where(mine).values(lease_expires_at=self._until(duration)))
            found = conn.execute(select(RUNS.c.id, RUNS.c.lease_owner).where(mine)).all()
        return {run_id for run_id, token in found if held.get(run_id) == token}

    def requeue_expired(self, gone: Callable[[str], bool] | None = None) -> list[str]:
        """Put back in the queue the running runs whose lease ran out; returns their ids.

        Each gets a `requeued` event saying why, and its next claim counts another attempt (workflows only compute
        until they end, so running one again from its start is safe). A run whose lease holder is still renewing
        is never taken: the update re-checks the expiry.

        Args:
            gone: also requeue, expired or not, runs whose lease names a process this says is gone (a restarted
                service knows its own host's dead processes, `Runner.recover`).
        """
        taken: list[str] = []
        with self.engine.connect() as conn:
            running = conn.execute(
                select(RUNS.c.id, RUNS.c.lease_owner, RUNS.c.lease_expires_at, self._expired().label("expired")).where(
                    RUNS.c.status == "running"
                )
            ).all()
        for run_id, token, expires_at, expired in running:
            dead = token is not None and gone is not None and gone(token)
            if not (expired or dead):
                continue
            owned = RUNS.c.lease_owner == token if token is not None else RUNS.c.lease_owner.is_(None)
            condition = and_(RUNS.c.id == run_id, RUNS.c.status == "running", owned)
            if not dead:
                condition = and_(condition, self._expired())
            reason = _requeue_reason(token, _aware(expires_at), dead)
            with self.engine.begin() as conn:
                if self._requeue(conn, run_id, condition, reason):
                    taken.append(run_id)
        return taken

    def _requeue(self, conn: Connection, run_id: str, condition: ColumnElement[bool], reason: str) -> bool:
        """Put the run back in the queue if `condition` still holds, with a `requeued` event saying `reason`."""
        queued = {"status": "queued", "started_at": None, "lease_owner": None, "lease_expires_at": None}
        done = conn.execute(update(RUNS).where(condition).values(queued))
        if done.rowcount != 1:
            return False
        attempts = conn.execute(select(RUNS.c.attempts).where(RUNS.c.id == run_id)).scalar_one()
        self._event(conn, run_id, None, "requeued", {"status": "queued", "reason": reason, "attempt": attempts})
        return True

    def release(self, held: Mapping[str, str], reason: str) -> list[str]:
        """Give up a process's leases at once (it is stopping); returns the runs it gave up.

        Running runs go back to the queue with a `requeued` event; a decision being carried out is left to whichever
        process takes it next (`claim_decided`).
        """
        given: list[str] = []
        for run_id, token in held.items():
            mine = and_(RUNS.c.id == run_id, RUNS.c.lease_owner == token)
            with self.engine.begin() as conn:
                if self._requeue(conn, run_id, and_(mine, RUNS.c.status == "running"), reason):
                    given.append(run_id)
                    continue
                done = conn.execute(
                    update(RUNS).where(mine, RUNS.c.status == "waiting_for_approval").values(lease_expires_at=None)
                )
                if done.rowcount == 1:
                    given.append(run_id)
        return given

    def _decided(self) -> ColumnElement[bool]:
        """A run waiting for approval whose decision is recorded but not yet carried out."""
        return and_(RUNS.c.status == "waiting_for_approval", RUNS.c.approval.is_not(None))

    def decided_unfinished(self) -> list[RunRecord]:
        """Runs waiting for approval whose decision is recorded but not yet carried out (a crash in between)."""
        with self.engine.connect() as conn:
            return [RunRecord.from_row(r._mapping) for r in conn.execute(select(RUNS).where(self._decided()))]

    def decided_unclaimed(self) -> bool:
        """Whether a recorded decision waits to be carried out with nobody's lease on it (`claim_decided` takes it)."""
        query = select(RUNS.c.id).where(self._decided(), self._expired()).limit(1)
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def claim_decided(self, lease: Lease, gone: Callable[[str], bool] | None = None) -> RunRecord | None:
        """Take a recorded decision to carry out under `lease`: one whose lease ran out (or that had none).

        Args:
            lease: the claim.
            gone: also take one whose lease names a process this says is gone.
        """
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(RUNS.c.id, RUNS.c.lease_owner, self._expired().label("expired")).where(self._decided())
            ).all()
        for run_id, token, expired in rows:
            dead = token is not None and gone is not None and gone(token)
            if not (expired or dead):
                continue
            owned = RUNS.c.lease_owner == token if token is not None else RUNS.c.lease_owner.is_(None)
            condition = and_(RUNS.c.id == run_id, self._decided(), owned)
            if not dead:
                condition = and_(condition, self._expired())
            with self.engine.begin() as conn:
                done = conn.execute(
                    update(RUNS)
                    .where(condition)
                    .values(lease_owner=lease.token, lease_expires_at=self._until(lease.duration))
                )
            if done.rowcount == 1:
                return self.get_run(run_id)
        return None

    def progress(self, run_id: str, lease: Lease, data: Mapping[str, object]) -> bool:
        """Append a progress event to a run `lease` still holds, renewing the lease; False (nothing written) if not."""
        with self.engine.begin() as conn:
            mine = conn.execute(
                update(RUNS)
                .where(RUNS.c.id == run_id, RUNS.c.status == "running", RUNS.c.lease_owner == lease.token)
                .values(lease_expires_at=self._until(lease.duration))
            )
            if mine.rowcount != 1:
                return False
            self._event(conn, run_id, None, "progress", data)
        return True

    # ---- transitions -------------------------------------------------------------------------------

    def hold(self, run_id: str, result: Mapping[str, object], *, lease: Lease | None = None) -> bool:
        """A computed plan change: store the result and wait for approval (the lease ends: a person decides next).

        False (nothing written) if the run was not running, or not under `lease` when one is given.
        """
        with self.engine.begin() as conn:
            held = conn.execute(
                update(RUNS)
                .where(RUNS.c.id == run_id, RUNS.c.status == "running", *_held_by(lease))
                .values(status="waiting_for_approval", result=_dumps(result, sort_keys=False), lease_expires_at=None)
            )
            if held.rowcount != 1:
                return False
            self._event(conn, run_id, None, "waiting_for_approval", {"status": "waiting_for_approval"})
        return True

    def record_decision(self, run_id: str, decision: Mapping[str, object], *, lease: Lease | None = None) -> bool:
        """Record a person's decision on a held run; False if the run is not waiting or was decided already.

        With `lease`, the decision is recorded claimed by it: the recording process carries it out, and another
        takes it over only once the lease runs out (`claim_decided`). Without one, any process may take it at once.
        """
        values: dict[str, object] = {"approval": _dumps(decision)}
        if lease is not None:
            values |= {"lease_owner": lease.token, "lease_expires_at": self._until(lease.duration)}
        with self.engine.begin() as conn:
            done = conn.execute(
                update(RUNS)
                .where(RUNS.c.id == run_id, RUNS.c.status == "waiting_for_approval", RUNS.c.approval.is_(None))
                .values(**values)
            )
        return bool(done.rowcount == 1)

    def finish(
        self,
        run_id: str,
        *,
        status: Literal["completed", "failed", "rejected"],
        expected: Sequence[str],
        actor: str,
        action: str,
        parameters: Mapping[str, object],
        result: Mapping[str, object] | None = None,
        error: Mapping[str, object] | None = None,
        approval: Mapping[str, object] | None = None,
        webhook_body: Callable[[RunRecord], str] | None = None,
        actor_label: str | None = None,
        lease: Lease | None = None,
    ) -> RunRecord | None:
        """End a run: its status, result or error, its last event, its audit entry and its webhook, atomically.

        Args:
            run_id: the run.
            status: its final status.
            expected: the statuses it may be in now; if it is in none (another worker finished it), nothing
                changes and None is returned.
            actor: who ends it, for the audit log.
            action: the audit action (`run.complete`, `run.fail`, `run.approve`, `run.reject`).
            parameters: the audit entry's exact parameters.
            result: the result, if it changes.
            error: what went wrong, for a failed run.
            approval: the decision as carried out, for a plan change.
            webhook_body: a function of the finished `RunRecord` giving the webhook's JSON body, used when the run
                has a webhook URL.
            actor_label: the acting key's name, for the audit entry.
            lease: the lease the caller holds the run under; if the run is no longer under it (it expired and another
                process took the run over), nothing changes and None is returned.
        """
        values: dict[str, object] = {"status": status, "finished_at": now(), "lease_expires_at": None}
        if result is not None:
            values["result"] = _dumps(result, sort_keys=False)
        if error is not None:
            values["error"] = _dumps(error, sort_keys=False)
        if approval is not None:
            values["approval"] = _dumps(approval)
        with self.engine.begin() as conn:
            done = conn.execute(
                update(RUNS)
                .where(RUNS.c.id == run_id, RUNS.c.status.in_(list(expected)), *_held_by(lease))
                .values(**values)
            )
            if done.rowcount != 1:
                return None
            record = RunRecord.from_row(conn.execute(select(RUNS).where(RUNS.c.id == run_id)).one()._mapping)
            self._event(conn, run_id, None, status, {"status": status, "error": error})
            self.audit(conn, actor, action, run_id, parameters, actor_label=actor_label)
            if record.webhook_url and webhook_body is not None:
                at = now()
                webhook = {
                    "webhook_id": "msg_" + uuid.uuid4().hex,
                    "run_id": run_id,
                    "url": record.webhook_url,
                    "body": webhook_body(record),
                    "attempts": 0,
                    "next_attempt_at": at,
                    "created_at": at,
                }
                conn.execute(insert(OUTBOX).values(webhook))
        return record

    # ---- events ------------------------------------------------------------------------------------

    @staticmethod
    def _event(conn: Connection, run_id: str, seq: int | None, kind: str, data: Mapping[str, object]) -> int:
        if seq is None:
            last = conn.execute(select(func.max(RUN_EVENTS.c.seq)).where(RUN_EVENTS.c.run_id == run_id)).scalar()
            seq = int(last or 0) + 1
        conn.execute(
            insert(RUN_EVENTS).values(run_id=run_id, seq=seq, type=kind, data=_dumps(data, sort_keys=False), at=now())
        )
        return seq

    def append_event(self, run_id: str, kind: str, data: Mapping[str, object]) -> int:
        """Append an event to a run; returns its number (1, 2, ...)."""
        with self.engine.begin() as conn:
            return self._event(conn, run_id, None, kind, data)

    def events(self, run_id: str, after: int = 0) -> list[RunEvent]:
        """A run's events numbered above `after`, in order (none above `MAX_EVENT_ID`, which no column holds)."""
        if after >= MAX_EVENT_ID:
            return []
        query = (
            select(RUN_EVENTS).where(RUN_EVENTS.c.run_id == run_id, RUN_EVENTS.c.seq > after).order_by(RUN_EVENTS.c.seq)
        )
        with self.engine.connect() as conn:
            return [RunEvent(r.seq, r.type, json.loads(r.data), _aware(r.at) or now()) for r in conn.execute(query)]

    def last_progress(self, run_id: str) -> JsonObject | None:
        """The data of a run's latest progress event, if any."""
        query = (
            select(RUN_EVENTS.c.data)
            .where(RUN_EVENTS.c.run_id == run_id, RUN_EVENTS.c.type == "progress")
            .order_by(RUN_EVENTS.c.seq.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            found = conn.execute(query).scalar()
        return _object(found)

    # ---- webhook outbox --------------------------------------------------------------------------

    def due_webhooks(
        self, max_attempts: int, limit: int = 20, claim: timedelta = timedelta(seconds=30)
    ) -> Iterator[OutboxRow]:
        """Undelivered webhooks whose next attempt is due, oldest first, each claimed for `claim` as it is reached.

        Claiming a webhook moves its next attempt `claim` ahead (a conditional update: of two processes reaching it at
        once, one gets it), and happens only when the iteration reaches it, so a webhook waits for no earlier one's
        delivery under its claim; `webhook_attempted` then sets the real next attempt. A process that dies while it
        delivers one leaves it to be tried again when the claim runs out. The dispatcher claims for longer than an
        attempt may take (`Dispatcher.claim`). Each row yielded carries its claim's end as `next_attempt_at`, which
        `webhook_attempted` checks. Times are this process's clock: the processes' clocks should agree to well
        within the claim.
        """
        at = now()
        due = and_(OUTBOX.c.delivered_at.is_(None), OUTBOX.c.next_attempt_at <= at, OUTBOX.c.attempts < max_attempts)
        query = select(OUTBOX).where(due).order_by(OUTBOX.c.next_attempt_at).limit(limit)
        with self.engine.connect() as conn:
            rows = [self._outbox(r._mapping) for r in conn.execute(query)]
        for row in rows:
            at = now()
            still_due = and_(OUTBOX.c.delivered_at.is_(None), OUTBOX.c.next_attempt_at <= at)
            with self.engine.begin() as conn:
                done = conn.execute(
                    update(OUTBOX)
                    .where(OUTBOX.c.webhook_id == row.webhook_id, still_due)
                    .values(next_attempt_at=at + claim)
                )
            if done.rowcount == 1:
                yield replace(row, next_attempt_at=at + claim)

    def webhooks(self, run_id: str | None = None) -> list[OutboxRow]:
        """Every webhook (of one run), oldest first."""
        query = select(OUTBOX).order_by(OUTBOX.c.created_at)
        if run_id is not None:
            query = query.where(OUTBOX.c.run_id == run_id)
        with self.engine.connect() as conn:
            return [self._outbox(r._mapping) for r in conn.execute(query)]

    @staticmethod
    def _outbox(row: RowMapping) -> OutboxRow:
        return OutboxRow(
            webhook_id=row["webhook_id"],
            run_id=row["run_id"],
            url=row["url"],
            body=row["body"],
            attempts=row["attempts"],
            next_attempt_at=_aware(row["next_attempt_at"]) or now(),
            last_error=row["last_error"],
            delivered_at=_aware(row["delivered_at"]),
        )

    def webhook_attempted(
        self,
        webhook_id: str,
        *,
        delivered: bool,
        error: str | None,
        retry_in_s: float,
        claimed: datetime | None = None,
    ) -> None:
        """Record a delivery attempt: delivered, or failed with the error and when to try again (in `retry_in_s`).

        `claimed` is the end of the caller's claim (the `next_attempt_at` of the row `due_webhooks` yielded). A failed
        attempt whose claim ran out and was taken by another process (the delivery outlasted it) is counted, but
        leaves the next attempt to that process's claim rather than scheduling one beside it.
        """
        values: dict[str, object] = {"attempts": OUTBOX.c.attempts + 1, "last_error": error}
        if delivered:
            values["delivered_at"] = now()
        with self.engine.begin() as conn:
            conn.execute(update(OUTBOX).where(OUTBOX.c.webhook_id == webhook_id).values(**values))
            if not delivered:
                ours = [] if claimed is None else [OUTBOX.c.next_attempt_at == claimed]
                conn.execute(
                    update(OUTBOX)
                    .where(OUTBOX.c.webhook_id == webhook_id, OUTBOX.c.delivered_at.is_(None), *ours)
                    .values(next_attempt_at=now() + timedelta(seconds=retry_in_s))
                )
