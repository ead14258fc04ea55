"""The run worker: claims queued runs from the store under a lease, runs them, and ends them atomically.

A run is recorded (queued) before anything runs it. Workers claim the oldest queued run under a lease
(`workflows.service.store`, leases: `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL), append each progress report
as an event, and end the run in one transaction with its result, status, audit entry and webhook (`Store.finish`),
provided the lease is still theirs. A run of a `changes_plan` workflow stops at `waiting_for_approval` with its
result; `Runner.decide` records a person's decision under a lease, adopts the change (exactly once,
`workflows.service.adoption`) and ends the run.

Several processes can serve one PostgreSQL store. Each process's heartbeat thread renews the leases of the runs it
executes every `lease_renew_s` and takes over runs whose lease ran out (`lease_s` after its holder's last renewal:
the holder died or stalled): they go back to the queue with a `requeued` event and run again from the start
(workflows only compute until they end, so nothing happens twice), and a process that lost its lease writes
nothing. Decisions recorded but not carried out whose lease ran out are carried out by whichever process takes them.
At start, a process also takes back at once what dead processes of its own host held (the service restarted).
SQLite serves one process per store: a second process serving the same SQLite file is refused at start.
"""

from __future__ import annotations

import fcntl
import itertools
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from brain.errors import BrainError, PlanChangedError
from brain.planbook import Approver
from knowledge.errors import InputError
from workflows.base import WorkflowContext, WorkflowRegistry, non_finite, validate_request
from workflows.errors import UnknownWorkflowError, WorkflowInputError
from workflows.service.adoption import adopt, plan_is_current
from workflows.service.errors import Conflict, ErrorDetailJson, NotFound
from workflows.service.settings import ServiceSettings
from workflows.service.store import JsonObject, Lease, RunRecord, Store, now, process_of
from workflows.service.webhooks import webhook_body

__all__ = ["DecisionNotAdopted", "Runner", "StoreInUseError", "gone_from_this_host", "process_id"]

log = logging.getLogger(__name__)
_SERVICE_ACTOR = "shipbrain-service"


_IDENTITY: dict[int, str] = {}
_IDENTITY_LOCK = threading.Lock()
_CLAIMS = itertools.count(1)  # one numbering for every runner of the process: no two claims share a token


def _host() -> str:
    """This host as leases name it: its hostname and its PID namespace (`name~inode`; the name alone without /proc).

    Containers may share a hostname (Docker Compose replicas with a fixed `hostname:`, pods on the host's network),
    each with its own PID namespace, where a pid means another process: only a process of the same namespace can be
    told dead by its pid.
    """
    name = socket.gethostname()[:120]  # the lease column holds 200 characters
    try:
        return f"{name}~{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:  # no /proc (not Linux): the hostname alone
        return name


def process_id() -> str:
    """This process's id in its leases: its host and PID namespace, its pid and a random part (pids are reused)."""
    pid = os.getpid()
    with _IDENTITY_LOCK:
        if pid not in _IDENTITY:  # a forked child gets its own
            _IDENTITY[pid] = f"{_host()}:{pid}:{secrets.token_hex(4)}"
        return _IDENTITY[pid]


def gone_from_this_host(token: str) -> bool:
    """Whether a lease token names a process of this host that runs no more (another process of another host never).

    "This host" is this hostname and this PID namespace (`_host`): a process of another container under the same
    hostname is never judged by its pid, only its lease tells. A token naming this host and this pid with another
    random part was a process before this one with the same pid (a restarted container): gone. Another pid is gone if
    no process has it.
    """
    host, _, rest = process_of(token).partition(":")
    pid_text = rest.partition(":")[0]
    if host != _host() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return process_of(token) != process_id()  # an earlier process with this pid, or this very one
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # a process of another user has that pid: alive
        return False
    return False


class DecisionNotAdopted(Conflict):
    """An approval recorded and carried out whose change could not be adopted: the run ended failed (409).

    Its audit entry (`run.fail`, under the approver's key) was written with the run's end.
    """


class StoreInUseError(RuntimeError):
    """Another process serves this SQLite store already: SQLite serves one process per store (PostgreSQL, several)."""


class _LeaseLost(Exception):
    """This process's lease on a run ran out and another process took the run over: stop, write nothing."""


class _SqliteOwner:
    """One process per SQLite store: a POSIX lock on a file beside the database, held while runners serve it.

    POSIX locks belong to the process (two runners of one process, as in tests, share one), and the system drops
    them when the process dies, `kill -9` included.
    """

    _lock = threading.Lock()
    _held: dict[Path, tuple[int, int]] = {}  # lock file -> (descriptor, runners holding it)

    @classmethod
    def acquire(cls, database: Path) -> Path:
        path = database.with_name(database.name + ".serving")
        with cls._lock:
            if path in cls._held:
                fd, count = cls._held[path]
                cls._held[path] = (fd, count + 1)
                return path
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                other = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise StoreInUseError(
                    f"another process (pid {other}) serves the SQLite store {str(database)!r} already: SQLite serves "
                    "one process per store. Stop that process, or give several processes one PostgreSQL store "
                    "(SHIPBRAIN_POSTGRES_DSN), where they share the runs through leases"
                ) from None
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            cls._held[path] = (fd, 1)
            return path

    @classmethod
    def release(cls, path: Path) -> None:
        with cls._lock:
            fd, count = cls._held.pop(path)
            if count > 1:
                cls._held[path] = (fd, count - 1)
            else:
                os.close(fd)  # drops the lock


class Runner:
    """Worker threads that run queued workflow runs against one yard, and a heartbeat that keeps their leases.

    Args:
        store: the runs' store.
        registry: the workflows served.
        ctx: the yard the workflows run against (shared by the workers).
        service: number of workers, polling interval, idempotency key lifetime, lease duration and renewal.
        on_finish: called after a run ends (the webhook dispatcher's `wake`).
    """

    def __init__(
        self,
        store: Store,
        registry: WorkflowRegistry,
        ctx: WorkflowContext,
        service: ServiceSettings,
        on_finish: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.ctx = ctx
        self.service = service
        self.process_id = process_id()
        """This process's id in the leases it takes (`host~pidns:pid:random`)."""
        self._on_finish = on_finish or (lambda: None)
        self._wake = threading.Condition()
        self._pending = False
        self._decided = False
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._decide_lock = threading.Lock()
        self._held: dict[str, str] = {}  # run id -> the token of the lease this process executes it under
        self._held_lock = threading.Lock()
        self._sqlite_owner: Path | None = None

    # ---- leases ------------------------------------------------------------------------------------

    def lease(self) -> Lease:
        """A new lease of this process (`lease_s` long), for one claim."""
        return Lease(f"{self.process_id}/{next(_CLAIMS)}", timedelta(seconds=self.service.lease_s))

    @contextmanager
    def _holding(self, run_id: str, lease: Lease) -> Iterator[None]:
        """The heartbeat renews `lease` while the block runs."""
        with self._held_lock:
            self._held[run_id] = lease.token
        try:
            yield
        finally:
            with self._held_lock:
                if self._held.get(run_id) == lease.token:
                    del self._held[run_id]

    def held(self) -> dict[str, str]:
        """The runs this process executes or carries out now, `{run id: lease token}`."""
        with self._held_lock:
            return dict(self._held)

    def heartbeat(self) -> list[str]:
        """Renew this process's leases, then take over runs whose lease ran out; returns the runs put back in the queue.

        Called every `lease_renew_s` by the heartbeat thread.
        """
        held = self.held()
        kept = self.store.renew(held, timedelta(seconds=self.service.lease_s))
        now_held = self.held()
        for run_id in held.keys() - kept:
            if now_held.get(run_id) == held[run_id]:  # not ended meanwhile: lost
                log.warning("run %s: this process's lease ran out and another process took the run over", run_id)
        requeued = self.store.requeue_expired()
        if requeued:
            log.warning("took over %d run(s) whose lease ran out: %s", len(requeued), ", ".join(requeued))
        decided = self.store.decided_unclaimed()
        if requeued or decided:
            with self._wake:
                self._pending = True
                self._decided = self._decided or decided
                self._wake.notify_all()
        return requeued

    def _beat(self) -> None:
        while not self._stop.wait(self.service.lease_renew_s):
            try:
                self.heartbeat()
            except Exception:  # the database may be briefly unavailable; the heartbeat must survive it
                log.exception("could not renew leases; trying again")

    # ---- lifecycle ---------------------------------------------------------------------------------

    def recover(self) -> None:
        """Take back what a crash left, before the workers start.

        Runs whose lease ran out, or whose process on this host is gone, go back to the queue; decisions recorded but
        not carried out are carried out (those another live process carries out are left to it).
        """
        requeued = self.store.requeue_expired(gone_from_this_host)
        if requeued:
            log.warning("requeued %d run(s) interrupted by a restart: %s", len(requeued), ", ".join(requeued))
        while (run := self.store.claim_decided(lease := self.lease(), gone_from_this_host)) is not None:
            try:  # one decision that cannot be carried out now must not stop the service from starting
                self._carry_out(run, lease)
            except Exception:  # its lease runs out and the heartbeat tries it again
                log.exception("run %s: could not carry out its decision at start; trying again later", run.run_id)

    def start(self) -> None:
        """Recover, then start the worker threads and the heartbeat.

        Raises:
            StoreInUseError: the store is SQLite and another process serves it.
        """
        if not self.store.postgres:
            database = self.store.engine.url.database
            if database and database != ":memory:":
                self._sqlite_owner = _SqliteOwner.acquire(Path(database).resolve())
        try:
            self.recover()
        except BaseException:
            if self._sqlite_owner is not None:
                _SqliteOwner.release(self._sqlite_owner)
                self._sqlite_owner = None
            raise
        for k in range(self.service.run_workers):
            thread = threading.Thread(target=self._loop, name=f"shipbrain-runner-{k}", daemon=True)
            thread.start()
            self._threads.append(thread)
        beat = threading.Thread(target=self._beat, name="shipbrain-leases", daemon=True)
        beat.start()
        self._threads.append(beat)

    def wake(self) -> None:
        """A run was queued: let an idle worker look now."""
        with self._wake:
            self._pending = True
            self._wake.notify()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking runs, and give back the leases of runs still in progress after `timeout`.

        Another process, or the next start, runs them again; this one can no longer write their outcome.
        """
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        held = self.held()
        if held:
            try:
                given = self.store.release(held, "the service stopped before the run ended")
                log.warning("gave back %d run(s) in progress at stop: %s", len(given), ", ".join(given))
            except Exception:  # they are taken over when their leases run out
                log.exception("could not give back the leases of runs in progress")
        if self._sqlite_owner is not None:
            _SqliteOwner.release(self._sqlite_owner)
            self._sqlite_owner = None

    def _loop(self) -> None:
        ttl = timedelta(seconds=self.service.idempotency_ttl_s)
        last_sweep = now() - timedelta(days=1)
        while not self._stop.is_set():
            try:
                if now() - last_sweep > timedelta(minutes=5):
                    self.store.expire_idempotency_keys(ttl)
                    last_sweep = now()
                if self._next():
                    continue
            except Exception:  # the database may be briefly unavailable; the worker must survive it
                log.exception("could not claim a run; trying again")
            with self._wake:
                if not self._pending:
                    self._wake.wait(self.service.poll_s)
                self._pending = False

    def _next(self) -> bool:
        """Claim and run one queued run, else carry out one unclaimed decision; False if there was neither."""
        lease = self.lease()
        run = self.store.claim_next(lease)
        if run is not None:
            self.execute(run, lease)
            return True
        with self._wake:
            decided, self._decided = self._decided, False
        if decided:
            lease = self.lease()
            held = self.store.claim_decided(lease)
            if held is not None:
                log.warning("carrying out the decision on run %s that another process left half done", held.run_id)
                try:
                    self._carry_out(held, lease)
                except Exception:  # one run's trouble must not hold up the others; tried again once its lease runs out
                    log.exception("run %s: could not carry out its decision; trying again later", held.run_id)
                return True
        return False

    # ---- running -------------------------------------------------------------------------------------

    def execute(self, run: RunRecord, lease: Lease) -> None:
        """Run a run claimed under `lease` to its end (or to waiting_for_approval); once the lease is lost, nothing."""
        with self._holding(run.run_id, lease):
            try:
                self._execute(run, lease)
            except _LeaseLost:
                log.warning("run %s: the lease ran out and another process took it over; stopped here", run.run_id)

    def _execute(self, run: RunRecord, lease: Lease) -> None:
        try:
            workflow = self.registry.get(run.workflow)
            if workflow.version != run.version:
                raise WorkflowInputError(
                    f"the run asked for version {run.version}, but version {workflow.version} is served now",
                    workflow=run.workflow,
                )
            # accepted when it was submitted (strictly now; a queued run may be older): read back, not judged again
            request = validate_request(workflow, run.request, strict=False)

            def progress(step: str, done: int, total: int) -> None:
                if not self.store.progress(run.run_id, lease, {"step": step, "done": done, "total": total}):
                    raise _LeaseLost(run.run_id)

            result = workflow.run(self.ctx, request, progress).model_dump(mode="json")
            bad = non_finite(result)
            if bad is not None:  # JSON has no such number: the store would have to write `NaN`
                raise ValueError(f"the result's {bad[0]} is {bad[1]}, which JSON cannot hold")
        except _LeaseLost:
            raise
        except (WorkflowInputError, UnknownWorkflowError, InputError) as exc:
            field: str | None = getattr(exc, "field", None)
            message = exc.message if isinstance(exc, WorkflowInputError) else str(exc)
            self._fail(run, lease, {"type": "workflow_input_error", "message": message, "field": field})
            return
        except Exception as exc:
            log.exception("run %s of %s failed", run.run_id, run.workflow)
            self._fail(run, lease, {"type": "workflow_failed", "message": f"{type(exc).__name__}: {exc}"})
            return
        if workflow.changes_plan:
            if not self.store.hold(run.run_id, result, lease=lease):
                raise _LeaseLost(run.run_id)
            return
        ended = self.store.finish(
            run.run_id,
            status="completed",
            expected=["running"],
            actor=_SERVICE_ACTOR,
            action="run.complete",
            parameters={"workflow": run.workflow, "version": run.version, "attempt": run.attempts},
            result=result,
            webhook_body=webhook_body,
            lease=lease,
        )
        if ended is None:
            raise _LeaseLost(run.run_id)
        self._on_finish()

    def _fail(self, run: RunRecord, lease: Lease, error: ErrorDetailJson) -> None:
        ended = self.store.finish(
            run.run_id,
            status="failed",
            expected=["running"],
            actor=_SERVICE_ACTOR,
            action="run.fail",
            parameters={"workflow": run.workflow, "version": run.version, "error": error},
            error=error,
            webhook_body=webhook_body,
            lease=lease,
        )
        if ended is None:
            raise _LeaseLost(run.run_id)
        self._on_finish()

    # ---- approvals -----------------------------------------------------------------------------------

    def decide(
        self,
        run_id: str,
        *,
        approved: bool,
        by: str,
        note: str | None,
        key_id: str | None = None,
        digest: str | None = None,
    ) -> RunRecord:
        """A person's decision on a held run: adopt its change (or not) and end it.

        `by` names the person (the key's name, shown in the decision); `key_id` is the deciding key's id, which the
        audit entry and the plan book name; `digest` the schedule digest the decision named (checked by
        `workflows.service.decisions`, which every decision goes through). The decision is recorded under a lease of
        this process (of two processes deciding at once, one records it, the other gets `Conflict`); if this process
        dies before carrying it out, another carries it out once the lease runs out.

        Raises:
            NotFound: no such run.
            Conflict: the run is not waiting for approval (already decided, or not a plan change), or the plan
                changed since the run computed its change (start a new run).
        """
        with self._decide_lock:
            run = self.store.get_run(run_id)
            if run is None:
                raise NotFound(f"no run {run_id!r}")
            if run.status != "waiting_for_approval":
                raise Conflict(
                    f"run {run_id} is {run.status}; only a run waiting_for_approval takes a decision",
                    kind="not_waiting_for_approval",
                )
            if run.approval is not None:
                raise Conflict(
                    f"run {run_id} was decided already; its decision is being carried out",
                    kind="not_waiting_for_approval",
                )
            if approved and not plan_is_current(self.ctx, run.result):
                raise Conflict(
                    f"the plan changed since run {run_id} computed its change; start a new run against the current "
                    "plan (or reject this one)",
                    kind="plan_changed",
                )
            decision = {
                "approved": approved,
                "by": by,
                "key_id": key_id,
                "schedule_digest": digest,
                "note": note,
                "at": now().isoformat(),
            }
            lease = self.lease()
            if not self.store.record_decision(run_id, decision, lease=lease):
                raise Conflict(f"run {run_id} was decided already", kind="not_waiting_for_approval")
            decided = self.store.get_run(run_id)
            assert decided is not None
            final = self._carry_out(decided, lease)
            if final.status == "failed" and final.approval is not None and final.approval.get("at") == decision["at"]:
                error = final.error or {}
                raise DecisionNotAdopted(
                    str(error.get("message") or f"run {run_id} failed"), kind=str(error.get("type"))
                )
            return final

    def _carry_out(self, run: RunRecord, lease: Lease) -> RunRecord:
        """Adopt a decided run's change (once: the plan book keys it by run) and end the run, under `lease`."""
        with self._holding(run.run_id, lease):
            decision = dict(run.approval or {})
            approved = bool(decision.get("approved"))
            by = str(decision.get("by") or "unknown")
            actor = str(decision.get("key_id") or by)  # a decision recorded before key ids were: its name
            if approved:
                try:
                    workflow = self.registry.get(run.workflow)
                    approver = Approver(by, str(decision.get("key_id") or "unrecorded"), _shown_digest(run))
                    decision.update(adopt(self.ctx, workflow, run.run_id, run.request, approver, run.result))
                except (BrainError, InputError, WorkflowInputError, UnknownWorkflowError) as exc:
                    # no retry can adopt it (another process adopted a change on the same plan version first, or
                    # the workflow is served no more): the run ends failed, nothing adopted, instead of jamming
                    ended = self._unadoptable(run, lease, decision, exc)
                else:
                    ended = self._end_decided(run, lease, decision, approved, by, actor)
            else:
                ended = self._end_decided(run, lease, decision, approved, by, actor)
        if ended is not None:
            self._on_finish()
        else:
            log.warning(
                "run %s: its decision was carried out by another process (this one's lease ran out)", run.run_id
            )
        final = self.store.get_run(run.run_id)
        assert final is not None
        return final

    def _end_decided(
        self, run: RunRecord, lease: Lease, decision: JsonObject, approved: bool, by: str, actor: str
    ) -> RunRecord | None:
        """End a decided run as its decision says (its change adopted already, if approved)."""
        return self.store.finish(
            run.run_id,
            status="completed" if approved else "rejected",
            expected=["waiting_for_approval"],
            actor=actor,
            actor_label=by,
            action="run.approve" if approved else "run.reject",
            parameters={
                "approved": approved,
                "note": decision.get("note"),
                "adopted": decision.get("adopted", []),
                "outcome": "adopted" if approved else "rejected",
                **_pinned(run),
            },
            approval=decision,
            webhook_body=webhook_body,
            lease=lease,
        )

    def _unadoptable(self, run: RunRecord, lease: Lease, decision: JsonObject, exc: Exception) -> RunRecord | None:
        """End an approved run whose change cannot be adopted: failed, its decision kept, nothing adopted."""
        kind = "plan_changed" if isinstance(exc, PlanChangedError) else "adoption_failed"
        message = exc.message if isinstance(exc, WorkflowInputError) else str(exc)
        error: ErrorDetailJson = {
            "type": kind,
            "message": f"the approved change of run {run.run_id} was not adopted: {message}. Start a new run against "
            "the current plan",
        }
        log.warning("run %s: approved, but its change cannot be adopted (%s); the run ends failed", run.run_id, kind)
        approver = decision.get("key_id")
        return self.store.finish(
            run.run_id,
            status="failed",
            expected=["waiting_for_approval"],
            actor=str(approver) if approver else _SERVICE_ACTOR,
            actor_label=str(decision.get("by") or "") or None,
            action="run.fail",
            parameters={
                "workflow": run.workflow,
                "version": run.version,
                "error": error,
                "approved_by": decision.get("by"),
                "approved_by_key": approver,
                "outcome": kind,
                **_pinned(run),
            },
            error=error,
            approval=decision | {"adopted": [], "not_adopted": []},
            webhook_body=webhook_body,
            lease=lease,
        )


def _shown_digest(run: RunRecord) -> str | None:
    """The schedule digest a held run showed for approval, if it has one."""
    digest = (run.result or {}).get("schedule_digest")
    return digest if isinstance(digest, str) else None


def _pinned(run: RunRecord) -> dict[str, object]:
    """What a run's decision was on, for its audit entry: the plan version and the schedule digest it showed."""
    result = run.result or {}
    return {"plan_version": result.get("plan_version"), "schedule_digest": result.get("schedule_digest")}
