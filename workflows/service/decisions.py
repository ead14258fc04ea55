"""Every decision on a plan change goes through here: the API's, the chat page's and the CLI's (which calls the API).

The product's rule: what a person approves is exactly what happens, once, under their signed-in identity, and it
is in the audit log. `Decisions.thread` and `Decisions.run` are the one way to decide, each in the same steps:

1. **Who**: the key must have the `approve` scope (else 403 `missing_scope`).
2. **Separation of duties** (runs): a run submitted by a key is not approved by that key (403 `self_approval`): a
   machine does not approve its own change, unless `SHIPBRAIN_ALLOW_SELF_APPROVAL=true`. It may withdraw it
   (reject). A thread's asker may approve their own question's change: a person confirms what the brain proposed.
3. **What**: an approval names the change it was shown, by its digest (`schedule_digest`: a run's
   `result.schedule_digest`, a thread's `approval.digest`, which is its pinned schedule's digest) and, if given, the
   plan version it was computed on; none is 422, another one 409 `proposal_changed` naming both. A rejection may
   name it too (then it is checked the same way).
4. **Decide**: the change is adopted exactly as shown, once (the plan book's key), or not, and the decision keeps
   what it came to (`outcome`: adopted, rejected, plan_changed, refused, failed). An approval that adopted nothing
   answers an error, never 200: 409 `plan_changed` (the plan moved since the change was computed: ask again),
   409 `adoption_refused`, 503 `service_error` (adopting failed: the thread then waits for the decision again).
5. **Audit**: one entry per attempt, with its outcome, under the key's id (its name the label): `thread.approve`,
   `thread.reject`, `run.approve`, `run.reject` (a run's entry is written in the transaction that ends the run), and
   `<action>.refused` for an attempt refused before anything was decided (403, 404, 409, 422), with the status and
   the error. An adopted thread change's entry is written in the plan book's transaction (`Approver.on_adopt`):
   adopted and audited, or neither. A rejection or an approval that adopted nothing is audited when it ends (the
   thread's checkpoints are in the brain's database, not in that transaction).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Connection

from brain.errors import NoPendingApprovalError, PlanChangedError, ThreadBusyError, UnknownThreadError
from brain.planbook import Approver
from knowledge.errors import InputError, ShipbrainError
from workflows.service.errors import Conflict, Forbidden, NotFound, ServiceError, Unprocessable
from workflows.service.keys import Principal
from workflows.service.runner import DecisionNotAdopted
from workflows.service.store import RunRecord, Store

if TYPE_CHECKING:
    from brain.supervisor import Answer, Approval, Brain
    from workflows.service.runner import Runner

__all__ = ["DecisionSettings", "Decisions", "Via"]

log = logging.getLogger(__name__)

Via = Literal["api", "page"]
"""Where a decision was made (the CLI decides through the API)."""


class DecisionSettings(BaseSettings):
    """How decisions are checked (`SHIPBRAIN_*` variables)."""

    model_config = SettingsConfigDict(env_prefix="SHIPBRAIN_", env_file=".env", extra="ignore", frozen=True)

    allow_self_approval: bool = False
    """Let the key that submitted a run approve it (`SHIPBRAIN_ALLOW_SELF_APPROVAL`); off: a second key approves."""


class AdoptionFailedError(ShipbrainError):
    """An approved thread change whose adoption failed (a database or disk failure): 503, and nothing adopted."""


class Decisions:
    """Decisions on plan changes, by threads and by runs (see the module's docstring for the steps).

    Args:
        store: the service's store (runs, the audit log).
        brain: the brain whose threads wait for decisions.
        runner: the run worker that carries out run decisions (None: this one decides threads only, as the page's
            tests build it).
        settings: whether a key may approve its own run [default: from the environment].
    """

    def __init__(
        self, store: Store, brain: Brain, runner: Runner | None = None, settings: DecisionSettings | None = None
    ) -> None:
        self.store, self.brain, self.runner = store, brain, runner
        self.settings = settings or DecisionSettings()

    # ---- threads -------------------------------------------------------------------------------------------

    def thread(
        self,
        principal: Principal,
        thread_id: str,
        *,
        approved: bool,
        note: str | None,
        digest: str | None,
        plan_version: int | None = None,
        via: Via = "api",
    ) -> Answer:
        """Decide the plan change a thread waits on, as `principal`; returns the thread's answer after it.

        Raises:
            Forbidden: the key lacks the approve scope.
            NotFound: no such thread.
            Unprocessable: an approval without the digest, or a note that is not plain text.
            Conflict: the thread waits for no decision (`no_pending_approval`), for another change than the one
                named (`proposal_changed`), or the approved change was not adopted (`plan_changed`,
                `adoption_refused`).
            AdoptionFailedError: adopting the approved change failed (503).
        """
        action = "thread.approve" if approved else "thread.reject"
        asked: dict[str, object] = {"approved": approved, "note": note, "schedule_digest": digest, "via": via}
        if plan_version is not None:
            asked["plan_version"] = plan_version
        try:
            self._may_decide(principal)
            note = self._note(note)
            pending = self._pending(thread_id)
            self._names_it(pending.digest, pending.plan_version, digest, plan_version, approved, f"thread {thread_id}")
        except ServiceError as exc:
            self._refused(principal, action, thread_id, asked, exc)
            raise
        written: list[int] = []

        def with_the_adoption(conn: Connection, version: int) -> None:
            """The approval's audit entry, in the plan book's transaction: adopted and audited, or neither."""
            adopted = pending.model_copy(
                update={"decision": "approved", "by": principal.name, "by_key": principal.key_id, "outcome": "adopted"}
            )
            params = asked | _what_happened(adopted, None) | {"adopted_version": version}
            Store.audit(conn, principal.key_id, action, thread_id, params, actor_label=principal.name)
            written.append(version)

        approver = Approver(principal.name, principal.key_id, digest or pending.digest, on_adopt=with_the_adoption)
        try:
            answer = self.brain.decide(thread_id, approved, approver, note)
        except (PlanChangedError, NoPendingApprovalError, ThreadBusyError) as exc:  # decided or changed meanwhile
            refusal = self._as_service_error(exc)
            self._refused(principal, action, thread_id, asked, refusal)
            raise refusal from None
        except Exception as exc:
            log.exception("the decision on thread %s failed", thread_id)
            self._audit_quietly(principal, action, thread_id, asked | {"outcome": "failed", "error": _said(exc)})
            raise
        decided = answer.approval
        outcome = decided.outcome if decided is not None else None
        if not (written and outcome == "adopted"):  # rejected, not adopted, or adopted by an earlier try of it
            self._audit(principal, action, thread_id, asked | _what_happened(decided, answer))
        if decided is not None and outcome in ("plan_changed", "refused", "failed"):
            message = f"thread {thread_id}: the approved change was not adopted: {decided.reason}"
            if outcome == "plan_changed":
                raise Conflict(message + "; ask for it again against the current plan", kind="plan_changed")
            if outcome == "refused":
                raise Conflict(message, kind="adoption_refused")
            raise AdoptionFailedError(message + "; the thread waits for the decision again: retry it")
        return answer

    def _pending(self, thread_id: str) -> Approval:
        """The change a thread waits on, or the refusal (404 no thread, 409 waits for none)."""
        try:
            self.brain.check_thread_id(thread_id)
            pending = self.brain.pending(thread_id)
            if pending is None:
                self.brain.result(thread_id)  # an unknown thread is 404, not "waits for no decision"
                raise NoPendingApprovalError(f"thread {thread_id!r} waits for no decision")
        except ShipbrainError as exc:
            raise self._as_service_error(exc) from None
        return pending

    # ---- runs ----------------------------------------------------------------------------------------------

    def run(
        self,
        principal: Principal,
        run_id: str,
        *,
        approved: bool,
        note: str | None,
        digest: str | None,
        plan_version: int | None = None,
    ) -> RunRecord:
        """Decide a held run's plan change as `principal`; returns the run after it (its audit entry written with it).

        Raises:
            Forbidden: the key lacks the approve scope, or submitted the run (`self_approval`).
            NotFound: no such run.
            Unprocessable: an approval without the digest.
            Conflict: the run is not waiting for a decision, shows another change than the one named
                (`proposal_changed`), or the plan moved since it was computed (`plan_changed`).
        """
        assert self.runner is not None, "a Decisions without a runner decides threads only"
        action = "run.approve" if approved else "run.reject"
        asked: dict[str, object] = {"approved": approved, "note": note, "schedule_digest": digest, "via": "api"}
        if plan_version is not None:
            asked["plan_version"] = plan_version
        try:
            self._may_decide(principal)
            note = self._note(note)
            run = self.store.get_run(run_id)
            if run is None:
                raise NotFound(f"no run {run_id!r}")
            waiting = run.status == "waiting_for_approval" and run.approval is None
            if waiting and approved and run.key_id == principal.key_id and not self.settings.allow_self_approval:
                raise Forbidden(
                    f"run {run_id} was submitted by this key ({principal.name}, {principal.key_id}): a second key "
                    "approves it (separation of duties; SHIPBRAIN_ALLOW_SELF_APPROVAL=true allows it)",
                    kind="self_approval",
                )
            if waiting:
                shown = run.result or {}
                pinned = shown.get("schedule_digest")
                version = shown.get("plan_version")
                self._names_it(
                    pinned if isinstance(pinned, str) else None,
                    version if isinstance(version, int) else None,
                    digest,
                    plan_version,
                    approved,
                    f"run {run_id}",
                )
            return self.runner.decide(
                run_id, approved=approved, by=principal.name, note=note, key_id=principal.key_id, digest=digest
            )
        except DecisionNotAdopted:  # decided and ended failed: the run's own entry (run.fail) says so
            raise
        except ServiceError as exc:
            self._refused(principal, action, run_id, asked, exc)
            raise

    # ---- the steps -----------------------------------------------------------------------------------------

    @staticmethod
    def _may_decide(principal: Principal) -> None:
        if not principal.allows("approve"):
            has = ", ".join(sorted(principal.scopes))
            message = f"the key {principal.name!r} lacks the 'approve' scope (it has {has})"
            raise Forbidden(message, kind="missing_scope")

    def _note(self, note: str | None) -> str | None:
        try:
            return self.brain.check_note(note)
        except InputError as exc:
            raise Unprocessable(str(exc), kind="validation_error", field="note") from None

    @staticmethod
    def _names_it(
        shown: str | None,
        shown_version: int | None,
        digest: str | None,
        plan_version: int | None,
        approved: bool,
        what: str,
    ) -> None:
        """Refuse a decision that does not name the change shown (an approval must name it when there is one)."""
        if shown is None:
            return
        if digest is None:
            if approved:
                raise Unprocessable(
                    f"an approval of {what} names the change it approves: send the schedule_digest the GET showed "
                    f"({shown})",
                    kind="validation_error",
                    field="schedule_digest",
                )
            return
        if digest != shown:
            raise Conflict(
                f"{what} waits on another change than the one decided on: it shows schedule_digest {shown}, the "
                f"decision names {digest}; read it again and decide what it shows",
                kind="proposal_changed",
            )
        if plan_version is not None and shown_version is not None and plan_version != shown_version:
            raise Conflict(
                f"{what}'s change was computed on plan version {shown_version}, the decision names version "
                f"{plan_version}; read it again and decide what it shows",
                kind="proposal_changed",
            )

    @staticmethod
    def _as_service_error(exc: ShipbrainError) -> ServiceError:
        if isinstance(exc, ServiceError):
            return exc
        if isinstance(exc, UnknownThreadError):
            return NotFound(str(exc))
        if isinstance(exc, NoPendingApprovalError):
            return Conflict(str(exc), kind="no_pending_approval")
        if isinstance(exc, ThreadBusyError):
            return Conflict(str(exc), kind="thread_busy")
        if isinstance(exc, PlanChangedError):
            return Conflict(str(exc), kind="proposal_changed")
        if isinstance(exc, InputError):
            return Unprocessable(str(exc), kind="invalid_request", field=getattr(exc, "field", None))
        return Conflict(str(exc))

    def _audit(self, principal: Principal, action: str, target: str, params: Mapping[str, object]) -> None:
        self.store.audit_now(principal.key_id, action, target, params, actor_label=principal.name)

    def _audit_quietly(self, principal: Principal, action: str, target: str, params: Mapping[str, object]) -> None:
        """`_audit` for a failure already being raised: an audit log that fails too is logged, not raised instead."""
        try:
            self._audit(principal, action, target, params)
        except Exception:
            log.exception("could not audit the failed decision on %s by %s", target, principal.key_id)

    def _refused(
        self, principal: Principal, action: str, target: str, asked: Mapping[str, object], exc: ServiceError
    ) -> None:
        """An attempt refused before anything was decided, in the audit log (a failure to write it is logged)."""
        error = {"status": exc.status, "type": exc.type, "message": exc.message}
        try:
            self._audit(principal, f"{action}.refused", target, {**asked, "outcome": "refused", "error": error})
        except Exception:  # the refusal stands; the log has what the audit log could not take
            log.exception("could not audit a refused decision on %s by %s", target, principal.key_id)


def _said(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def _what_happened(decided: Approval | None, answer: Answer | None) -> dict[str, object]:
    """A thread decision's audit parameters: its outcome, the change as decided, and the plan version adopted."""
    if decided is None:
        return {"outcome": None, "change": None}
    out: dict[str, object] = {
        "outcome": decided.outcome,
        "change": decided.model_dump(mode="json"),
        "plan_version": decided.plan_version,
        "schedule_digest": decided.digest,
    }
    if decided.reason:
        out["reason"] = decided.reason
    results = answer.results if answer is not None else []
    adopted = [r for r in results if r.tool == decided.tool and not r.error and "plan_version" in r.numbers]
    if decided.outcome == "adopted" and adopted:
        out["adopted_version"] = int(adopted[-1].numbers["plan_version"])
    return out
