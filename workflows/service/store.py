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
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, TypeAlias, get_args

from pydantic import JsonValue
from sqlalchemy import Connection, Engine, RowMapping, and_, func, insert, inspect, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from knowledge.database import engine
from knowledge.settings import Settings
from workflows.service._tables import AUDIT, META, OUTBOX, RUN_EVENTS, RUNS, THREADS

__all__ = [
    "ISA95_STATE",
    "TERMINAL",
    "AuditEntry",
    "DuplicateRunError",
    "JsonObject",
    "OutboxRow",
    "RunEvent",
    "RunRecord",
    "RunStatus",
    "Store",
    "now",
]

JsonObject: TypeAlias = dict[str, JsonValue]
"""A JSON object as the store keeps it (a run's request, result, error and decision; an event's data)."""

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


def _object(text: str | None) -> JsonObject | None:
    """A JSON object the store wrote (it writes only objects to these columns), or None."""
    return None if text is None else json.loads(text)


class DuplicateRunError(Exception):
    """A run with this API key and `Idempotency-Key` exists already (the unique constraint refused another)."""


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

    def _add_columns(self) -> None:
        """Add the columns a store made by an older version lacks (`audit.actor_label`)."""
        if "actor_label" in {c["name"] for c in inspect(self.engine).get_columns("audit")}:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(text("ALTER TABLE audit ADD COLUMN actor_label VARCHAR(200)"))
        except DBAPIError:  # another process added it first
            if "actor_label" not in {c["name"] for c in inspect(self.engine).get_columns("audit")}:
                raise

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

    def claim_next(self) -> RunRecord | None:
        """Mark the oldest queued run as running and return it (None if nothing is queued).

        The claim is a conditional update, so two workers (or two processes) never claim the same run.
        """
        for _ in range(20):
            with self.engine.connect() as conn:
                query = select(RUNS.c.id).where(RUNS.c.status == "queued").order_by(RUNS.c.created_at, RUNS.c.id)
                candidate = conn.execute(query.limit(1)).scalar()
            if candidate is None:
                return None
            with self.engine.begin() as conn:
                claimed = conn.execute(
                    update(RUNS)
                    .where(RUNS.c.id == candidate, RUNS.c.status == "queued")
                    .values(status="running", started_at=now(), attempts=RUNS.c.attempts + 1)
                )
                if claimed.rowcount == 1:
                    attempts = conn.execute(select(RUNS.c.attempts).where(RUNS.c.id == candidate)).scalar_one()
                    self._event(conn, candidate, None, "started", {"status": "running", "attempt": attempts})
            if claimed.rowcount == 1:
                return self.get_run(candidate)
        return None

    def requeue_interrupted(self) -> list[str]:
        """Put runs left `running` by a crash back in the queue; returns their ids.

        Workflows only compute until they complete, so running one again from its start is safe. Call it once
        when the service starts, before any worker runs (one service process per store).
        """
        with self.engine.begin() as conn:
            ids = [r[0] for r in conn.execute(select(RUNS.c.id).where(RUNS.c.status == "running"))]
            for run_id in ids:
                running = RUNS.c.status == "running"
                conn.execute(update(RUNS).where(RUNS.c.id == run_id, running).values(status="queued", started_at=None))
                self._event(conn, run_id, None, "requeued", {"status": "queued", "reason": "the service restarted"})
        return ids

    def decided_unfinished(self) -> list[RunRecord]:
        """Runs waiting for approval whose decision is recorded but not yet carried out (a crash in between)."""
        query = select(RUNS).where(RUNS.c.status == "waiting_for_approval", RUNS.c.approval.is_not(None))
        with self.engine.connect() as conn:
            return [RunRecord.from_row(r._mapping) for r in conn.execute(query)]

    # ---- transitions -------------------------------------------------------------------------------

    def hold(self, run_id: str, result: Mapping[str, object]) -> bool:
        """A computed plan change: store the result and wait for approval. False if the run was not running."""
        with self.engine.begin() as conn:
            held = conn.execute(
                update(RUNS)
                .where(RUNS.c.id == run_id, RUNS.c.status == "running")
                .values(status="waiting_for_approval", result=_dumps(result, sort_keys=False))
            )
            if held.rowcount != 1:
                return False
            self._event(conn, run_id, None, "waiting_for_approval", {"status": "waiting_for_approval"})
        return True

    def record_decision(self, run_id: str, decision: Mapping[str, object]) -> bool:
        """Record a person's decision on a held run; False if the run is not waiting or was decided already."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(RUNS)
                .where(RUNS.c.id == run_id, RUNS.c.status == "waiting_for_approval", RUNS.c.approval.is_(None))
                .values(approval=_dumps(decision))
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
        """
        values: dict[str, object] = {"status": status, "finished_at": now()}
        if result is not None:
            values["result"] = _dumps(result, sort_keys=False)
        if error is not None:
            values["error"] = _dumps(error, sort_keys=False)
        if approval is not None:
            values["approval"] = _dumps(approval)
        with self.engine.begin() as conn:
            done = conn.execute(
                update(RUNS).where(RUNS.c.id == run_id, RUNS.c.status.in_(list(expected))).values(**values)
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
        """A run's events numbered above `after`, in order."""
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

    def due_webhooks(self, max_attempts: int, limit: int = 20) -> list[OutboxRow]:
        """Undelivered webhooks whose next attempt is due, oldest first."""
        query = (
            select(OUTBOX)
            .where(
                and_(
                    OUTBOX.c.delivered_at.is_(None),
                    OUTBOX.c.next_attempt_at <= now(),
                    OUTBOX.c.attempts < max_attempts,
                )
            )
            .order_by(OUTBOX.c.next_attempt_at)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [self._outbox(r._mapping) for r in conn.execute(query)]

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

    def webhook_attempted(self, webhook_id: str, *, delivered: bool, error: str | None, retry_in_s: float) -> None:
        """Record a delivery attempt: delivered, or failed with the error and when to try again."""
        values: dict[str, object] = {"attempts": OUTBOX.c.attempts + 1, "last_error": error}
        if delivered:
            values["delivered_at"] = now()
        else:
            values["next_attempt_at"] = now() + timedelta(seconds=retry_in_s)
        with self.engine.begin() as conn:
            conn.execute(update(OUTBOX).where(OUTBOX.c.webhook_id == webhook_id).values(**values))
