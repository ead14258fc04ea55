"""The run worker: claims queued runs from the store, runs them, and ends them atomically.

A run is recorded (queued) before anything runs it. Workers claim the oldest queued run with a conditional update,
append each progress report as an event, and end the run in one transaction with its result, status, audit entry
and webhook (`Store.finish`). A run of a `changes_plan` workflow stops at `waiting_for_approval` with its result;
`Runner.decide` records a person's decision, adopts the change (exactly once, `workflows.service.adoption`) and
ends the run.

Crash recovery, on start: runs left `running` go back to the queue and run again from the start (workflows only
compute until they end, so nothing happens twice), and decisions recorded but not carried out are carried out.
One service process serves a store: a second one would put the first one's running runs back in the queue.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from knowledge.errors import InputError
from workflows.base import WorkflowContext, WorkflowRegistry, non_finite, validate_request
from workflows.errors import UnknownWorkflowError, WorkflowInputError
from workflows.service.adoption import adopt, plan_is_current
from workflows.service.errors import Conflict, ErrorDetailJson, NotFound
from workflows.service.settings import ServiceSettings
from workflows.service.store import RunRecord, Store, now
from workflows.service.webhooks import webhook_body

__all__ = ["Runner"]

log = logging.getLogger(__name__)
_SERVICE_ACTOR = "shipbrain-service"


class Runner:
    """Worker threads that run queued workflow runs against one yard.

    Args:
        store: the runs' store.
        registry: the workflows served.
        ctx: the yard the workflows run against (shared by the workers).
        service: number of workers, polling interval, idempotency key lifetime.
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
        self._on_finish = on_finish or (lambda: None)
        self._wake = threading.Condition()
        self._pending = False
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._decide_lock = threading.Lock()

    # ---- lifecycle ---------------------------------------------------------------------------------

    def recover(self) -> None:
        """Requeue runs a crash left running, and carry out decisions a crash left half done."""
        requeued = self.store.requeue_interrupted()
        if requeued:
            log.warning("requeued %d run(s) interrupted by a restart: %s", len(requeued), ", ".join(requeued))
        for run in self.store.decided_unfinished():
            self._carry_out(run)

    def start(self) -> None:
        """Recover, then start the worker threads."""
        self.recover()
        for k in range(self.service.run_workers):
            thread = threading.Thread(target=self._loop, name=f"shipbrain-runner-{k}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        """A run was queued: let an idle worker look now."""
        with self._wake:
            self._pending = True
            self._wake.notify()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking runs; a run in progress is left to finish (or to be requeued at the next start)."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self) -> None:
        ttl = timedelta(seconds=self.service.idempotency_ttl_s)
        last_sweep = now() - timedelta(days=1)
        while not self._stop.is_set():
            try:
                if now() - last_sweep > timedelta(minutes=5):
                    self.store.expire_idempotency_keys(ttl)
                    last_sweep = now()
                run = self.store.claim_next()
            except Exception:  # the database may be briefly unavailable; the worker must survive it
                log.exception("could not claim a run; trying again")
                run = None
            if run is not None:
                self.execute(run)
                continue
            with self._wake:
                if not self._pending:
                    self._wake.wait(self.service.poll_s)
                self._pending = False

    # ---- running -------------------------------------------------------------------------------------

    def execute(self, run: RunRecord) -> None:
        """Run a claimed run to its end (or to waiting_for_approval)."""
        try:
            workflow = self.registry.get(run.workflow)
            if workflow.version != run.version:
                raise WorkflowInputError(
                    f"the run asked for version {run.version}, but version {workflow.version} is served now",
                    workflow=run.workflow,
                )
            request = validate_request(workflow, run.request)

            def progress(step: str, done: int, total: int) -> None:
                self.store.append_event(run.run_id, "progress", {"step": step, "done": done, "total": total})

            result = workflow.run(self.ctx, request, progress).model_dump(mode="json")
            bad = non_finite(result)
            if bad is not None:  # JSON has no such number: the store would have to write `NaN`
                raise ValueError(f"the result's {bad[0]} is {bad[1]}, which JSON cannot hold")
        except (WorkflowInputError, UnknownWorkflowError, InputError) as exc:
            field: str | None = getattr(exc, "field", None)
            message = exc.message if isinstance(exc, WorkflowInputError) else str(exc)
            self._fail(run, {"type": "workflow_input_error", "message": message, "field": field})
            return
        except Exception as exc:
            log.exception("run %s of %s failed", run.run_id, run.workflow)
            self._fail(run, {"type": "workflow_failed", "message": f"{type(exc).__name__}: {exc}"})
            return
        if workflow.changes_plan:
            self.store.hold(run.run_id, result)
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
        )
        if ended is not None:
            self._on_finish()

    def _fail(self, run: RunRecord, error: ErrorDetailJson) -> None:
        ended = self.store.finish(
            run.run_id,
            status="failed",
            expected=["running"],
            actor=_SERVICE_ACTOR,
            action="run.fail",
            parameters={"workflow": run.workflow, "version": run.version, "error": error},
            error=error,
            webhook_body=webhook_body,
        )
        if ended is not None:
            self._on_finish()

    # ---- approvals -----------------------------------------------------------------------------------

    def decide(self, run_id: str, *, approved: bool, by: str, note: str | None, key_id: str | None = None) -> RunRecord:
        """A person's decision on a held run: adopt its change (or not) and end it.

        `by` names the person (the key's name, shown in the decision); `key_id` is the deciding key's id, which the
        audit entry names.

        Raises:
            NotFound: no such run.
            Conflict: the run is not waiting for approval (already decided, or not a plan change), or the plan
                changed since the run computed its change (start a new run).
        """
        with self._decide_lock:
            run = self.store.get_run(run_id)
            if run is None:
                raise NotFound(f"no run {run_id!r}")
            if run.status != "waiting_for_approval" or run.approval is not None:
                raise Conflict(
                    f"run {run_id} is {run.status}; only a run waiting_for_approval takes a decision",
                    kind="not_waiting_for_approval",
                )
            if approved and not plan_is_current(self.ctx, run.result):
                raise Conflict(
                    f"the plan changed since run {run_id} computed its change; start a new run against the current "
                    "plan (or reject this one)",
                    kind="plan_changed",
                )
            decision = {"approved": approved, "by": by, "key_id": key_id, "note": note, "at": now().isoformat()}
            if not self.store.record_decision(run_id, decision):
                raise Conflict(f"run {run_id} was decided already", kind="not_waiting_for_approval")
            decided = self.store.get_run(run_id)
            assert decided is not None
            return self._carry_out(decided)

    def _carry_out(self, run: RunRecord) -> RunRecord:
        decision = dict(run.approval or {})
        approved = bool(decision.get("approved"))
        by = str(decision.get("by") or "unknown")
        actor = str(decision.get("key_id") or by)  # a decision recorded before key ids were: its name
        if approved:
            decision.update(adopt(self.ctx, self.registry.get(run.workflow), run.run_id, run.request, by, run.result))
        ended = self.store.finish(
            run.run_id,
            status="completed" if approved else "rejected",
            expected=["waiting_for_approval"],
            actor=actor,
            actor_label=by,
            action="run.approve" if approved else "run.reject",
            parameters={"approved": approved, "note": decision.get("note"), "adopted": decision.get("adopted", [])},
            approval=decision,
            webhook_body=webhook_body,
        )
        if ended is not None:
            self._on_finish()
        final = self.store.get_run(run.run_id)
        assert final is not None
        return final
