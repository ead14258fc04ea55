"""Carrying out an approved plan change: a `reschedule` run's events adopted into the yard's plan book.

The plan book (`brain.planbook`) holds two kinds of event, and the workflow's events map onto them:

- `resource_down` -> `PlanEvent(resource, start_day, days)` (a `from_date` becomes its schedule day);
- `material_late` -> `PlanEvent(code, days)`: the code is late by `days`, as the brain's what-ifs read it;
- `finished_early` is not adopted: the plan book records delays only, and repair never pulls work forward,
  so a work package finished early changes no adopted date. It is listed under `not_adopted` with the reason.

Adoption happens exactly once per run and event even if the service dies half-way: each adopted entry carries
`run:<run id>#<event index>` as its thread id, and an event whose marker is in the book already is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from brain.planbook import PlanEvent
from workflows.base import Workflow, WorkflowContext, validate_request
from workflows.reschedule import FinishedEarly, MaterialLate, RescheduleRequest, ResourceDown

__all__ = ["ADOPTERS", "Adoption", "adopt", "plan_is_current"]

Adoption = tuple[list[tuple[int, PlanEvent]], list[dict[str, Any]]]
"""(the events to adopt with their index in the request, the events not adopted with why)."""


def _reschedule_events(ctx: WorkflowContext, request: RescheduleRequest) -> Adoption:
    adopt: list[tuple[int, PlanEvent]] = []
    skipped: list[dict[str, Any]] = []
    for k, event in enumerate(request.events):
        if isinstance(event, ResourceDown):
            day = event.from_day or 0
            if event.from_date is not None:
                day = ctx.day_of(event.from_date, field=f"events.{k}.from_date")
            adopt.append((k, PlanEvent(resource=event.equipment.strip().upper(), start_day=day, days=event.days)))
        elif isinstance(event, MaterialLate):
            adopt.append((k, PlanEvent(code=event.code.strip().upper(), days=event.days)))
        else:
            assert isinstance(event, FinishedEarly)
            skipped.append({
                "index": k, "event": event.model_dump(mode="json"),
                "reason": "the plan book records delays only; work finished early pulls no adopted date forward",
            })  # fmt: skip
    return adopt, skipped


ADOPTERS: Final[Mapping[str, Callable[[WorkflowContext, Any], Adoption]]] = {"reschedule": _reschedule_events}
"""How each plan-changing workflow's request becomes plan book events. A `changes_plan` workflow without an entry
records the decision only."""


def plan_is_current(ctx: WorkflowContext, result: Mapping[str, Any] | None) -> bool:
    """Whether the plan book still holds exactly the events the run computed against (`adopted_events`)."""
    if not result or "adopted_events" not in result:
        return True
    return [e.describe() for e in ctx.plan.events()] == list(result["adopted_events"])


def adopt(
    ctx: WorkflowContext, workflow: Workflow[Any, Any], run_id: str, request: Mapping[str, Any], by: str
) -> dict[str, Any]:
    """Adopt a run's events into the plan book (each at most once); returns what was adopted and what was not."""
    adopter = ADOPTERS.get(workflow.name)
    if adopter is None:
        return {"adopted": [], "not_adopted": []}
    events, skipped = adopter(ctx, validate_request(workflow, request))
    book = ctx.plan.planbook
    marker = f"run:{run_id}#"
    done = {str(e["thread_id"]) for e in book.entries() if str(e.get("thread_id") or "").startswith(marker)}
    for k, event in events:
        if f"{marker}{k}" not in done:
            book.adopt(event, by=by, thread_id=f"{marker}{k}")
    return {
        "adopted": [
            {"index": k, "event": e.model_dump(mode="json", exclude_none=True), "described": e.describe()}
            for k, e in events
        ],  # fmt: skip
        "not_adopted": skipped,
    }
