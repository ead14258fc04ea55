"""Carrying out an approved plan change: a `reschedule` run's events adopted into the yard's plan book.

The plan book (`brain.planbook`) holds two kinds of event, and the workflow's events map onto them:

- `resource_down` -> `PlanEvent(resource, start_day, days)` (a `from_date` becomes its schedule day);
- `material_late` -> `PlanEvent(code, days)`: the code is late by `days`, as the brain's what-ifs read it;
- `finished_early` is not adopted: the plan book records delays only, and repair never pulls work forward,
  so a work package finished early changes no adopted date. It is listed under `not_adopted` with the reason.

What is adopted is what was approved: the run's repaired schedule is computed again (deterministically) and
adopted only if its digest is the one the run showed (`schedule_digest`) and the plan is still at the version it
was computed on (`plan_version`); the plan book then keeps that schedule byte for byte. Adoption happens exactly
once per run even if the service dies half-way: it is keyed `run:<run id>` in the plan book, and a key adopted
already is not adopted again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from pydantic import JsonValue

from brain.errors import PlanChangedError
from brain.planbook import Approver, PlanEvent, schedule_digest
from workflows.base import Workflow, WorkflowContext, validate_request
from workflows.reschedule import (
    FinishedEarly,
    MaterialLate,
    RescheduleRequest,
    ResourceDown,
    material_code,
    repair_for_events,
    resource_name,
)

__all__ = ["ADOPTERS", "PlanChange", "adopt", "plan_is_current"]


@dataclass(frozen=True)
class PlanChange:
    """What approving a plan-changing run adopts."""

    events: list[tuple[int, PlanEvent]]
    """The events to adopt, with their index in the request."""
    skipped: list[dict[str, JsonValue]]
    """The request's events that are not adopted, with why."""
    schedule_json: str
    """The schedule the run computed (and showed), as the plan book keeps it."""


def _reschedule_change(ctx: WorkflowContext, request: RescheduleRequest) -> PlanChange:
    adopt: list[tuple[int, PlanEvent]] = []
    skipped: list[dict[str, JsonValue]] = []
    for k, event in enumerate(request.events):
        if isinstance(event, ResourceDown):
            day = event.from_day or 0
            if event.from_date is not None:
                day = ctx.day_of(event.from_date, field=f"events.{k}.from_date")
            adopt.append(
                (
                    k,
                    PlanEvent(
                        resource=resource_name(ctx, event.equipment, f"events.{k}.equipment"),
                        start_day=day,
                        days=event.days,
                    ),
                )
            )
        elif isinstance(event, MaterialLate):
            adopt.append((k, PlanEvent(code=material_code(ctx, event.code), days=event.days)))
        else:
            assert isinstance(event, FinishedEarly)
            skipped.append(
                {
                    "index": k,
                    "event": event.model_dump(mode="json"),
                    "reason": "the plan book records delays only; the adopted schedule keeps the earlier finish",
                }
            )
    return PlanChange(adopt, skipped, repair_for_events(ctx, request).schedule_json)


ADOPTERS: Final[Mapping[str, Callable[[WorkflowContext, RescheduleRequest], PlanChange]]] = {
    "reschedule": _reschedule_change
}
"""How each plan-changing workflow's request becomes a plan change. A `changes_plan` workflow without an entry
records the decision only."""


def plan_is_current(ctx: WorkflowContext, result: Mapping[str, object] | None) -> bool:
    """Whether the plan is still at the version the run computed its change on."""
    if not result or "plan_version" not in result:
        return True
    return ctx.plan.version() == result["plan_version"]


def adopt(
    ctx: WorkflowContext,
    workflow: Workflow[Any, Any],
    run_id: str,
    request: Mapping[str, object],
    by: Approver,
    result: Mapping[str, object] | None = None,
) -> dict[str, JsonValue]:
    """Adopt a run's change into the plan book once, exactly as the run showed it; returns what was adopted.

    `by` is the decision record: the approving key's id and name, and the digest of the schedule they approved.

    Raises:
        PlanChangedError: the plan moved since the run, or the change computed now is not the one it showed.
    """
    adopter = ADOPTERS.get(workflow.name)
    if adopter is None:
        return {"adopted": [], "not_adopted": []}
    key = f"run:{run_id}"
    book = ctx.plan.planbook
    change = adopter(ctx, validate_request(workflow, request, strict=False))  # as stored when it was accepted
    if book.by_key(key) is None:
        shown = (result or {}).get("schedule_digest")
        if shown is not None and shown != schedule_digest(change.schedule_json):
            raise PlanChangedError(f"the change computed now differs from the one run {run_id} showed: run it again")
        version = (result or {}).get("plan_version")
        book.adopt_all(
            [e for _, e in change.events],
            key=key,
            by=by,
            base_version=version if isinstance(version, int) else None,
            schedule=change.schedule_json,
            thread_id=key,
        )
    return {
        "adopted": [
            {"index": k, "event": e.model_dump(mode="json", exclude_none=True), "described": e.describe()}
            for k, e in change.events
        ],
        "not_adopted": list(change.skipped),
    }
