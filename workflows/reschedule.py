"""`reschedule` v1: the adopted schedule repaired for what happened, with the fewest changes.

The baseline is the yard's adopted plan: the CP-SAT schedule of its work packages with durations from the
welding and outfitting models and every event adopted into the plan book (the same schedule
`shipbrain ask` reports, `brain.core.YardPlan.schedule`). The request lists what happened since:

- `resource_down`: a resource (ISA-95 equipment: panel line, workshop, outfitting hall, gantry crane, dock)
  is out of service for `days` from `from_day` or `from_date` (default day 0); a `ResourceDowntime`.
- `material_late`: the material of a part, sub-assembly, assembly, joint, outfitting item or block (or of a
  work package, named directly) arrives `days` after the baseline start of the work package that uses it;
  that work package is released no earlier (`release_days`).
- `finished_early`: a work package (work order) finished `days` earlier than planned; modelled as its
  duration shortened by `days` (an hours override of (duration - days) x crew x 8 h), so it must keep at
  least one day. Repair never starts a work package earlier than in the baseline (its material, drawings
  and crew are not ready sooner), so finishing early frees the work package's resource sooner and can absorb
  other events' delays, but pulls nothing forward; the CP-SAT comparison shows what that could gain.

`adapters.scheduling.repair` then moves only what must move: every work package keeps its order on its
resources and is pushed just as far as the events and its predecessors require. The result lists each work
package that moved (old and new start, change in days), the new schedule, its makespan and critical path,
and, for comparison, the makespan CP-SAT finds when it re-optimises from scratch (which may reorder
everything). The workflow only computes: it `changes_plan`, so the service holds its result for approval
before anything is adopted.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from brain.core.codes import yard_codes
from brain.core.context import HORIZON_DAYS
from brain.planbook import schedule_digest
from knowledge.errors import InputError
from workflows._codes import MAX_CODE, find, looks_like_work_package, resolve
from workflows.base import MODEL_CONFIG, ProgressCallback, Steps, WorkflowContext, request_field, workflow
from workflows.errors import WorkflowInputError

if TYPE_CHECKING:
    from adapters.scheduling import ResourceDowntime, Schedule, ScheduleRequest

__all__ = [
    "FinishedEarly",
    "MaterialLate",
    "OptimisedComparison",
    "RescheduleRequest",
    "RescheduleResult",
    "Rescheduled",
    "ResourceDown",
    "ScheduledWorkPackage",
    "WorkPackageChange",
    "check_reschedule",
    "material_code",
    "repair_for_events",
    "resource_name",
    "reschedule",
]


class _Model(BaseModel):
    model_config = MODEL_CONFIG


class ResourceDown(_Model):
    """A resource (ISA-95 equipment) out of service for whole days."""

    type: Literal["resource_down"]
    equipment: str = Field(
        min_length=1,
        max_length=MAX_CODE,
        description="The resource (a panel line, workshop, crane, the dock, ...) as the yard names it (its id "
        "as in the yard's tables, e.g. <resource id>).",
    )
    from_day: int | None = Field(
        default=None, ge=0, le=HORIZON_DAYS, description=f"First day down, days from day 0 (at most {HORIZON_DAYS})."
    )
    from_date: date | None = Field(
        default=None,
        description=f"First day down as a date, instead of from_day: from day 0 to day {HORIZON_DAYS}, as from_day.",
    )
    days: int = Field(ge=1, le=365, description="Days out of service.")
    reason: str | None = Field(default=None, max_length=200, description="Why, for the reader.")

    @model_validator(mode="after")
    def _one_start(self) -> ResourceDown:
        """The start as from_day or as from_date, not both (neither: from day 0)."""
        if self.from_day is not None and self.from_date is not None:
            raise ValueError("give the start as from_day or as from_date, not both")
        return self


class MaterialLate(_Model):
    """Material that arrives late: the work package using it starts no earlier than its arrival."""

    type: Literal["material_late"]
    code: str = Field(
        min_length=1,
        max_length=MAX_CODE,
        description="The late material: a part, sub-assembly, assembly, joint, outfitting item or block, or the work "
        "package (work order) that waits for it, as the yard names it (its id as in the yard's tables, e.g. "
        "<assembly id> or <work package id>).",
    )
    days: int = Field(ge=1, le=365, description="Days after the work package's baseline start it arrives.")


class FinishedEarly(_Model):
    """A work order finished ahead of plan."""

    type: Literal["finished_early"]
    work_package: str = Field(
        min_length=1,
        max_length=MAX_CODE,
        description="The work package, as the yard names it (its id as in the yard's tables, e.g. <work package id>).",
    )
    days: int = Field(ge=1, le=365, description="Days earlier than its planned duration.")


Event = Annotated[ResourceDown | MaterialLate | FinishedEarly, Field(discriminator="type")]


class RescheduleRequest(_Model):
    """What happened, to repair the adopted schedule for."""

    events: list[Event] = Field(min_length=1, max_length=100, description="The events, in any order.")
    compare_optimised: bool = Field(
        default=True, description="Also re-optimise from scratch with CP-SAT and report its makespan."
    )


class WorkPackageChange(_Model):
    """A work package the repair moved."""

    work_package: str
    block: str | None = Field(description="The block it works on, as the yard names it (None: none).")
    trade: str = Field(description="The work package's trade, as the yard names it (its trade field, e.g. <trade>).")
    old_start_day: int
    new_start_day: int
    change_days: int = Field(description="new_start_day - old_start_day (positive: later).")
    old_finish_day: int
    new_finish_day: int
    new_start_date: date
    old_resource: str | None
    new_resource: str | None


class ScheduledWorkPackage(_Model):
    """One work package in the new schedule."""

    work_package: str
    block: str | None = Field(description="The block it works on, as the yard names it (None: none).")
    trade: str = Field(description="The work package's trade, as the yard names it (its trade field, e.g. <trade>).")
    start_day: int = Field(description="First working day, days from day 0.")
    finish_day: int = Field(description="Day it is done (the next may start that day).")
    start_date: date
    finish_date: date
    resource: str | None
    crane: str | None
    on_critical_path: bool


class OptimisedComparison(_Model):
    """What CP-SAT finds when it re-optimises the whole schedule for the events."""

    makespan_days: int
    status: Literal["optimal", "feasible"]
    gap: float = Field(description="Relative optimality gap of that solve.")
    best_bound: int
    moved: int = Field(description="Work packages whose start differs from the baseline's in that schedule.")


class RescheduleResult(_Model):
    """The repaired schedule and how it differs from the baseline."""

    events: list[str] = Field(description="The events, in a planner's words.")
    adopted_events: list[str] = Field(description="Events already adopted into the baseline plan.")
    plan_version: int = Field(description="The plan version (adoptions so far) the change was computed against.")
    schedule_digest: str = Field(
        description="SHA-256 of the repaired schedule: approving the run adopts exactly this schedule, or is refused "
        "(409 plan_changed) when the plan moved since."
    )
    day_zero: date
    baseline_makespan_days: int
    makespan_days: int
    makespan_date: date
    makespan_delta_days: int
    changed: int = Field(description="Work packages that moved.")
    changes: list[WorkPackageChange] = Field(description="The work packages that moved, the largest change first.")
    critical_path: list[str] = Field(description='The new critical path (may start with "DOWN:<resource>").')
    schedule: list[ScheduledWorkPackage] = Field(description="Every work package in the new schedule.")
    optimised: OptimisedComparison | None = Field(description="CP-SAT re-optimised, if asked for.")
    sources: list[str]
    summary: str


@dataclass(frozen=True)
class Rescheduled:
    """The schedules behind a `reschedule` result, for callers that want the scheduling objects themselves."""

    baseline_request: ScheduleRequest
    """The adopted plan's request."""
    baseline: Schedule
    """The adopted plan's schedule."""
    request: ScheduleRequest
    """The baseline request with the events folded in (downtimes, release days, shorter durations)."""
    repaired: Schedule
    """`repair(request, baseline)`: the fewest changes."""
    optimised: Schedule | None
    """`solve(request)`: CP-SAT re-optimised from scratch, when asked for."""
    events: tuple[str, ...]
    """The events in a planner's words."""
    adopted: tuple[str, ...]
    """The plan book's adopted events, in the baseline."""
    plan_version: int
    """The plan version the baseline is (its adoptions)."""

    @property
    def schedule_json(self) -> str:
        """The repaired schedule as the plan book keeps it when the change is adopted."""
        from brain.core.yardplan import schedule_json

        return schedule_json(self.repaired)


def repair_for_events(
    ctx: WorkflowContext, request: RescheduleRequest, progress: ProgressCallback | None = None
) -> Rescheduled:
    """The adopted schedule, the request with the events folded in, its repair and (if asked) its re-optimisation."""
    from adapters.scheduling import repair, request_from_yard, solve

    steps = Steps(progress, ["baseline", "events", "repair", "re-optimise"])
    steps.start("baseline")
    version = ctx.plan.version()
    adopted, baseline = ctx.plan.current()
    base_request = ctx.plan.request(adopted)
    steps.start("events")
    downtimes, releases, hours, described = _apply(ctx, request, base_request, baseline)
    new_request = request_from_yard(
        ctx.yard,
        hours,
        time_limit_s=base_request.time_limit_s,
        workers=base_request.workers,
        deterministic_limit=base_request.deterministic_limit,
        resource_choice=base_request.resource_choice,
        downtimes=[*base_request.downtimes, *downtimes],
        release_days=releases,
    )
    if any(t.block is None for t in new_request.tasks):  # the blocks the plan read off a yard whose packages name none
        blocks = {t.code: t.block for t in base_request.tasks}
        tasks = [t if t.block else t.model_copy(update={"block": blocks.get(t.code)}) for t in new_request.tasks]
        new_request = new_request.model_copy(update={"tasks": tasks})
    steps.start("repair")
    repaired = repair(new_request, baseline)
    optimised = None
    if request.compare_optimised:
        steps.start("re-optimise")
        optimised = solve(new_request)
    steps.done()
    return Rescheduled(
        base_request,
        baseline,
        new_request,
        repaired,
        optimised,
        tuple(described),
        tuple(e.describe() for e in adopted),
        version,
    )


def check_reschedule(ctx: WorkflowContext, request: RescheduleRequest) -> None:
    """Refuse, naming the field, equipment, a code or a work package the yard does not hold, or a date before day 0.

    What needs the adopted schedule (a work package finishing earlier than it can) is left to the run.
    """
    resources = _resources(ctx)
    for k, event in enumerate(request.events):
        where = f"events.{k}"
        if isinstance(event, ResourceDown):
            _resource(ctx, event.equipment, resources, f"{where}.equipment")
            if event.from_date is not None:
                ctx.day_of(event.from_date, field=f"{where}.from_date")
        elif isinstance(event, MaterialLate):
            _package_of(ctx, event.code, f"{where}.code")
        else:
            _work_package(ctx, event.work_package, f"{where}.work_package")


@workflow(
    name="reschedule",
    version="1",
    title="The adopted schedule repaired for resources down, late material and work finished early",
    description=__doc__ or "",
    request=RescheduleRequest,
    result=RescheduleResult,
    changes_plan=True,
    table="changes",
    check=check_reschedule,
)
def reschedule(ctx: WorkflowContext, request: RescheduleRequest, progress: ProgressCallback) -> RescheduleResult:
    """Run `reschedule`."""
    return _result(ctx, repair_for_events(ctx, request, progress))


def _apply(
    ctx: WorkflowContext, request: RescheduleRequest, base: ScheduleRequest, baseline: Schedule
) -> tuple[list[ResourceDowntime], dict[str, int], dict[str, float], list[str]]:
    """(new downtimes, release days, hours per work package, the events in words) for the events."""
    from adapters.scheduling import HOURS_PER_DAY, ResourceDowntime

    index = ctx.index
    resources = _resources(ctx)
    starts = {t.code: t.start_day for t in baseline.tasks}
    duration = {t.code: t.duration_days for t in base.tasks}
    releases = {t.code: t.release_day for t in base.tasks if t.release_day > 0}
    shorter: dict[str, int] = {}
    downtimes, described = [], []
    for k, event in enumerate(request.events):
        where = f"events.{k}"
        if isinstance(event, ResourceDown):
            name = _resource(ctx, event.equipment, resources, f"{where}.equipment")
            day = event.from_day or 0
            if event.from_date is not None:
                day = ctx.day_of(event.from_date, field=f"{where}.from_date")
            what = f"{name} down for {_days(event.days)} from day {day}" + (
                f" ({event.reason})" if event.reason else ""
            )
            downtimes.append(ResourceDowntime(resource=name, start_day=day, days=event.days, reason=what))
            described.append(what)
        elif isinstance(event, MaterialLate):
            wp = _package_of(ctx, event.code, f"{where}.code")
            releases[wp] = max(releases.get(wp, 0), starts[wp] + event.days)
            described.append(
                f"material of {material_code(ctx, event.code)} late by {_days(event.days)}: {wp} starts day "
                f"{releases[wp]} at the earliest"
            )
        else:
            wp = _work_package(ctx, event.work_package, f"{where}.work_package")
            shorter[wp] = shorter.get(wp, 0) + event.days
            if duration[wp] - shorter[wp] < 1:
                raise WorkflowInputError(
                    f"{wp} takes {_days(duration[wp])} in the baseline, so it can finish at most "
                    f"{_days(duration[wp] - 1)} early in all",
                    field=f"{where}.days",
                )
            described.append(f"{wp} finished {_days(event.days)} early")
    crew = {code: int(index.crew[row]) for code, row in index.row_of.items()}
    hours = {code: float((days - shorter.get(code, 0)) * crew[code] * HOURS_PER_DAY) for code, days in duration.items()}
    return downtimes, releases, hours, described


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def _resources(ctx: WorkflowContext) -> set[str]:
    """The yard's resources (ISA-95 equipment): the codes of its nodes of role resource."""
    return set(ctx.yard.codes_of(ctx.yard.nodes_of_role("resource")))


def resource_name(ctx: WorkflowContext, equipment: str, field: str | None = None) -> str:
    """A resource as the yard names it (read as a person types it); one the yard does not have names `field`."""
    return _resource(ctx, equipment, _resources(ctx), field)


def material_code(ctx: WorkflowContext, code: str) -> str:
    """A late material's code as the yard writes it (the work package's or the node's); an unknown code unchanged."""
    text = code.strip()
    if ctx.index.is_work_package(text):
        with contextlib.suppress(InputError):
            return ctx.index.codes[ctx.index.work_package(text)]
        return text
    with contextlib.suppress(InputError):
        return ctx.yard.code_of(find(ctx.yard, text))
    return text


def _resource(ctx: WorkflowContext, equipment: str, resources: set[str], field: str | None) -> str:
    """`equipment` as the yard names it; equipment the yard does not have names `field`."""
    node = yard_codes(ctx.yard).find(equipment)
    if node is not None and ctx.yard.role_of(node) == "resource":
        return ctx.yard.code_of(node)
    if not resources:
        raise WorkflowInputError("this yard has no resources (no kind plays the role resource)", field=field)
    known = ", ".join(sorted(resources))
    raise WorkflowInputError(f"no resource {equipment!r} in this yard; it has {known}", field=field)


def _work_package(ctx: WorkflowContext, code: str, field: str) -> str:
    """A work package's code as the yard writes it; an unknown one names `field`."""
    with request_field(field):
        return ctx.index.codes[ctx.index.work_package(code)]


def _package_of(ctx: WorkflowContext, code: str, field: str) -> str:
    """The work package that uses a code's material (or the work package code itself)."""
    index = ctx.index
    if not looks_like_work_package(index, code):
        code = ctx.yard.code_of(resolve(ctx.yard, code, field))
    with request_field(field):
        return index.package_of(code.strip())


def _result(ctx: WorkflowContext, run: Rescheduled) -> RescheduleResult:
    baseline, repaired = run.baseline, run.repaired
    optimised = None
    if run.optimised is not None:
        best = run.optimised
        first = {t.code: t.start_day for t in baseline.tasks}
        optimised = OptimisedComparison(
            makespan_days=best.makespan_days,
            status=best.status,
            gap=round(best.gap, 4),
            best_bound=best.best_bound,
            moved=sum(t.start_day != first[t.code] for t in best.tasks),
        )
    asked = {t.code: t for t in run.request.tasks}
    old = {t.code: t for t in baseline.tasks}
    changes = []
    for t in repaired.tasks:
        was, spec = old[t.code], asked[t.code]
        if t.start_day != was.start_day or t.finish_day != was.finish_day or t.resource != was.resource:
            changes.append(
                WorkPackageChange(
                    work_package=t.code,
                    block=spec.block or None,
                    trade=spec.trade,
                    old_start_day=was.start_day,
                    new_start_day=t.start_day,
                    change_days=t.start_day - was.start_day,
                    old_finish_day=was.finish_day,
                    new_finish_day=t.finish_day,
                    new_start_date=ctx.date_of(t.start_day),
                    old_resource=was.resource,
                    new_resource=t.resource,
                )
            )
    changes.sort(key=lambda c: (-abs(c.change_days), c.work_package))
    schedule = [
        ScheduledWorkPackage(
            work_package=t.code,
            block=asked[t.code].block or None,
            trade=asked[t.code].trade,
            start_day=t.start_day,
            finish_day=t.finish_day,
            start_date=ctx.date_of(t.start_day),
            finish_date=ctx.date_of(t.finish_day),
            resource=t.resource,
            crane=t.crane,
            on_critical_path=t.on_critical_path,
        )
        for t in repaired.tasks
    ]
    delta = repaired.makespan_days - baseline.makespan_days
    compare = f"; CP-SAT re-optimised: {optimised.makespan_days} days" if optimised else ""
    return RescheduleResult(
        events=list(run.events),
        adopted_events=list(run.adopted),
        plan_version=run.plan_version,
        schedule_digest=schedule_digest(run.schedule_json),
        day_zero=ctx.day_zero,
        baseline_makespan_days=baseline.makespan_days,
        makespan_days=repaired.makespan_days,
        makespan_date=ctx.date_of(repaired.makespan_days),
        makespan_delta_days=delta,
        changed=len(changes),
        changes=changes,
        critical_path=list(repaired.critical_path),
        schedule=schedule,
        optimised=optimised,
        sources=[
            "scheduling model: the adopted schedule (OR-Tools CP-SAT, hours from the welding and outfitting models) "
            "repaired for the events; each work package keeps its order",
        ]
        + (["scheduling model: CP-SAT re-optimised for the events, for comparison"] if optimised else []),
        summary=(
            f"{len(changes):,} work packages move; the ship finishes on day {repaired.makespan_days} "
            f"(its last working day {ctx.plan.last_date(repaired.makespan_days).isoformat()}, {delta:+d} "
            f"day{'' if abs(delta) == 1 else 's'}){compare}"
        ),
    )
