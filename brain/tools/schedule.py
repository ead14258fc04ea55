"""Schedule tools: the adopted schedule, what-ifs against it, and adopting a what-if into the plan.

The schedule itself (the plan book, day 0, the solve and its cache, repairs) is the domain core's
(`YardContext.plan`); these tools ask it and say what it answered.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Self

from pydantic import Field, JsonValue, model_validator

from brain.errors import PlanChangedError
from brain.tools._common import count
from brain.tools.base import Approved, Plot, ToolArgs, ToolResult, ToolRow, plan_change, tool
from knowledge.errors import InputError
from knowledge.layout import NODE_KINDS

if TYPE_CHECKING:
    from adapters.scheduling import ScheduledTask
    from brain.core import WorkPackageIndex, YardContext
    from brain.plan import Entities
    from brain.planbook import PlanEvent

__all__ = [
    "AdoptArgs",
    "AdoptedEvent",
    "MovedPackage",
    "ScheduleArgs",
    "ScheduleRow",
    "Slip",
    "WhatIfArgs",
    "adopt_plan",
    "erection_schedule",
    "what_if",
]


class ScheduleArgs(ToolArgs):
    """Optionally, the block whose erection to report."""

    code: str | None = Field(default=None, max_length=40, description="a block (or anything in it), optional")


class WhatIfArgs(ToolArgs):
    """One disruption: a resource down, or a part, assembly, block or work package late."""

    resource: str | None = Field(default=None, max_length=40, description="a resource of the yard, e.g. PL-2")
    code: str | None = Field(default=None, max_length=40, description="the late part, assembly, block or package")
    days: int = Field(ge=1, le=365, description="how many days the resource is down or the code is late")
    start_day: int | None = Field(
        default=None, ge=0, le=3650, description="schedule day the outage starts (default: day 0, now)"
    )
    start_date: date | None = Field(default=None, description="calendar date the outage starts, instead of a day")

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.resource is None) == (self.code is None):
            raise ValueError("a what-if is either a resource that is down or a code that is late, not both or neither")
        if self.start_day is not None and self.start_date is not None:
            raise ValueError("give the start as a day or as a date, not both")
        return self


class AdoptArgs(WhatIfArgs):
    """A what-if to adopt, and what fixes it to the change a person saw (pinned when the approval is asked for)."""

    plan_version: int | None = Field(default=None, ge=0, description="the plan version the change was computed on")
    schedule_digest: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the schedule shown for approval"
    )


class MovedPackage(ToolRow):
    """A work package the change moves (starts, finishes or runs elsewhere)."""

    work_package: str = Field(title="work package")
    """The work package."""
    start_day_was: int = Field(title="start before")
    """Its start day in the adopted plan."""
    start_day: int = Field(title="start after")
    """Its start day with the change."""
    finish_day: int = Field(title="finish after")
    """Its finish day with the change."""
    shift_days: int = Field(title="shift", json_schema_extra={"unit": "days"})
    """How much later it starts."""
    resource: str | None = None
    """The resource it runs on with the change."""


class ScheduleRow(ToolRow):
    """A work package of the block asked about, or a step of the critical path."""

    code: str = Field(title="work package")
    """The work package."""
    start_day: int | None = Field(default=None, title="start day")
    """Its schedule day of start."""
    finish_day: int | None = Field(default=None, title="finish day")
    """Its schedule day of finish."""
    start_date: date | None = None
    """Its calendar date of start."""
    resource: str | None = None
    """The resource it runs on."""
    critical: bool | None = None
    """Whether it is on the critical path."""
    critical_path: int | None = Field(default=None, title="critical path step")
    """Its place on the critical path (rows of the path only)."""


class Slip(ToolRow):
    """A block whose erection moves in a what-if."""

    block: str
    """The block."""
    erection_day_was: int = Field(title="erection day before")
    """Its erection day in the adopted plan."""
    erection_day: int = Field(title="erection day after")
    """Its erection day with the disruption."""
    slip_days: int = Field(title="slip", json_schema_extra={"unit": "days"})
    """How much later (negative: earlier)."""
    erection_date: date
    """The calendar date of its erection with the disruption."""


class AdoptedEvent(ToolRow):
    """A disruption adopted into the plan (the result's summary says it; it has no rows)."""

    resource: str | None = None
    """The resource that is down."""
    code: str | None = None
    """The code that is late."""
    days: int
    """For how many days."""
    start_day: int | None = None
    """From which schedule day."""


def _erection_row(index: WorkPackageIndex, block: int) -> int:
    """The work package row that erects block index `block` (-1: none does)."""
    trade = index.trade_making("block")
    return -1 if trade is None else int(index.by_block_trade[block, trade])


def _task_row(ctx: YardContext, t: ScheduledTask) -> ScheduleRow:
    return ScheduleRow(
        code=t.code,
        start_day=t.start_day,
        finish_day=t.finish_day,
        start_date=ctx.date_of(t.start_day),
        resource=t.resource,
        critical=t.on_critical_path,
    )


def _adopted(events: tuple[PlanEvent, ...]) -> list[str]:
    return [f"adopted: {e.describe()}" for e in events]


_SCHEDULE = "when a block is erected, the makespan and the critical path of the yard's schedule"


def _schedule_args(entities: Entities, question: str) -> dict[str, JsonValue]:
    return {"code": entities.codes[0] if entities.codes else None}


@tool(
    name="erection_schedule",
    args=ScheduleArgs,
    row=ScheduleRow,
    description="The yard's adopted schedule (CP-SAT, durations from the models): a block's erection day, the "
    "makespan and the critical path.",
    intent="schedule",
    intent_description=_SCHEDULE,
    args_from=_schedule_args,
    plots=(Plot(kind="gantt", title="Work packages (days)", y="code", x="start_day", end="finish_day"),),
)
def erection_schedule(ctx: YardContext, args: ScheduleArgs) -> ToolResult:
    """The adopted schedule: a block's erection day, the makespan and the critical path."""
    events, schedule = ctx.plan.current()
    numbers = {"makespan_days": float(schedule.makespan_days), "gap": schedule.gap}
    adopted = f", with {count(len(events), 'adopted event')}" if events else ""
    summary = (
        f"the schedule takes {schedule.makespan_days} days, to {ctx.date_of(schedule.makespan_days).isoformat()} "
        f"({schedule.status}, gap {100 * schedule.gap:.1f} %{adopted})"
    )
    rows: list[ScheduleRow] = []
    if args.code is not None:
        g, index = ctx.graph, ctx.index
        block = int(g.layout.block_index_of([g.id_of(args.code)])[0])
        block_code = g.code_of(block)
        row = _erection_row(index, block)
        erection = next((t for t in schedule.tasks if row >= 0 and t.code == index.codes[row]), None)
        if erection is None:
            raise InputError(f"no work package of this yard erects {block_code}")
        numbers["erection_day"] = float(erection.start_day)
        summary = (
            f"{block_code} is erected on day {erection.start_day} ({ctx.date_of(erection.start_day).isoformat()}), "
            f"in the dock until day {erection.finish_day}; " + summary
        )
        mine = {c for r, c in enumerate(index.codes) if index.block[r] == block}
        rows = [_task_row(ctx, t) for t in schedule.tasks if t.code in mine]
    path = list(schedule.critical_path)
    rows += [ScheduleRow(critical_path=i + 1, code=c) for i, c in enumerate(path)]
    return erection_schedule.result(
        args,
        summary,
        rows=rows,
        numbers=numbers,
        sources=[
            "scheduling model (OR-Tools CP-SAT) with hours from the welding and outfitting models",
            "critical path: " + " -> ".join(path[:4] + (["..."] if len(path) > 6 else []) + path[-2:]),
            *_adopted(events),
        ],
    )


def _what_if_args(entities: Entities, question: str) -> dict[str, JsonValue] | str:
    code = entities.codes[0] if entities.codes else None
    if entities.resource is None and code is None:
        return "a what-if needs a resource (such as panel line 2) or a late code (such as B012)"
    if entities.days is None:
        return "a what-if needs how long, such as '3 days' or 'a week'"
    return {
        "resource": entities.resource,
        "code": None if entities.resource else code,
        "days": entities.days,
        "start_day": entities.start_day,
        "start_date": entities.start_date.isoformat() if entities.start_date else None,
    }


def _event(ctx: YardContext, args: WhatIfArgs) -> PlanEvent:
    return ctx.plan.event(
        resource=args.resource, code=args.code, days=args.days, start_day=args.start_day, start_date=args.start_date
    )


def _slips(ctx: YardContext, before_tasks: list[ScheduledTask], after_tasks: list[ScheduledTask]) -> list[Slip]:
    """The blocks whose erection moved, latest slip first."""
    index = ctx.index
    erects = index.trade_making("block")
    old = {t.code: t for t in before_tasks}
    slips = []
    for t in after_tasks:
        row = index.row_of.get(t.code)
        was = old[t.code]
        if row is None or erects is None or index.trade[row] != index.trades[erects] or t.start_day == was.start_day:
            continue
        slips.append(
            Slip(
                block=index.block_code(row),
                erection_day_was=was.start_day,
                erection_day=t.start_day,
                slip_days=t.start_day - was.start_day,
                erection_date=ctx.date_of(t.start_day),
            )
        )
    return sorted(slips, key=lambda r: (-r.slip_days, r.block))


def _slip_lines(result: ToolResult) -> list[str]:
    return [
        f"- {r.block}: erected day {r.erection_day_was} -> {r.erection_day} ({r.slip_days:+d} days)"
        for r in result.rows_as(Slip)[:10]
    ]


_WHAT_IF = "what slips if a resource is down or a part, assembly or block is late for some days"


@tool(
    name="what_if",
    args=WhatIfArgs,
    row=Slip,
    description="Simulate a resource down or a code late for some days against the adopted plan: which erections "
    "slip and by how much, and the new makespan. Changes nothing.",
    intent="whatif",
    intent_description=_WHAT_IF,
    args_from=_what_if_args,
    lines=_slip_lines,
    breakdown_row=MovedPackage,
    plots=(
        Plot(kind="bar", title="Slip by block (days)", x="block", y="slip_days", sort="-y", limit=30),
        Plot(
            kind="gantt",
            title="Erection day, before → after",
            y="block",
            x="erection_day_was",
            end="erection_day",
            limit=30,
        ),
    ),
)
def what_if(ctx: YardContext, args: WhatIfArgs) -> ToolResult:
    """Which erections slip, and by how much, if a resource is down or a code late (nothing is changed)."""
    event = _event(ctx, args)
    proposal = ctx.plan.propose([event])  # right-shift: every package keeps its order, the least that changes
    adopted, before, after = proposal.adopted, proposal.before, proposal.after
    slips = _slips(ctx, list(before.tasks), list(after.tasks))
    moved = _moved(proposal.moved())
    summary = f"if {event.describe()}: {_outcome(slips, moved, before.makespan_days, after.makespan_days)}"
    delta = after.makespan_days - before.makespan_days
    late = [r for r in slips if r.slip_days > 0]
    graph_note: list[str] = []
    if args.code is not None:
        g = ctx.graph
        waits = g.downstream([g.id_of(args.code)])
        blocks = g.codes_of(waits[g.layout.kind_codes(waits) == NODE_KINDS.index("block")])
        graph_note = [f"part graph: {len(blocks)} blocks wait on {args.code.upper()}"]
    return what_if.result(
        args,
        summary,
        rows=slips,
        breakdown=moved,
        numbers={
            "slipped_erections": float(len(late)),
            "moved_work_packages": float(len(moved)),
            "plan_version": float(proposal.version),
            "makespan_days_before": float(before.makespan_days),
            "makespan_days_after": float(after.makespan_days),
            "makespan_delta_days": float(delta),
        },
        sources=[
            "scheduling model: the adopted schedule repaired for the event: every work package keeps its order and "
            "its resource, and none starts earlier; only what the event holds up moves (nothing re-optimised)",
            *graph_note,
            *_adopted(adopted),
        ],
    )


def _moved(pairs: list[tuple[ScheduledTask, ScheduledTask]]) -> list[MovedPackage]:
    rows = [
        MovedPackage(
            work_package=after.code,
            start_day_was=before.start_day,
            start_day=after.start_day,
            finish_day=after.finish_day,
            shift_days=after.start_day - before.start_day,
            resource=after.resource,
        )
        for before, after in pairs
    ]
    return sorted(rows, key=lambda r: (-r.shift_days, r.work_package))


def _outcome(slips: list[Slip], moved: list[MovedPackage], before: int, after: int) -> str:
    """What a change does, in words: erections that slip, work packages that move, the ship's finish."""
    late = [r for r in slips if r.slip_days > 0]
    delta = after - before
    return (
        f"{count(len(late), 'erection')} {'slips' if len(late) == 1 else 'slip'}"
        + (f" (up to {late[0].slip_days} days, {late[0].block} first)" if late else "")
        + f", {count(len(moved), 'work package')} {'moves' if len(moved) == 1 else 'move'} in all"
        + f"; the ship finishes on day {after} ({'+' if delta >= 0 else ''}{delta} days)"
    )


def _describe_adoption(ctx: YardContext, args: WhatIfArgs) -> str:
    event = _event(ctx, args)
    proposal = ctx.plan.propose([event])
    slips = _slips(ctx, list(proposal.before.tasks), list(proposal.after.tasks))
    outcome = _outcome(slips, _moved(proposal.moved()), proposal.before.makespan_days, proposal.after.makespan_days)
    return f"adopt into the yard's plan: {event.describe()}: {outcome}"


def _pin_adoption(ctx: YardContext, args: WhatIfArgs) -> dict[str, JsonValue]:
    proposal = ctx.plan.propose([_event(ctx, args)])
    return {"plan_version": proposal.version, "schedule_digest": proposal.digest}


@plan_change(
    name="adopt_plan",
    args=AdoptArgs,
    row=AdoptedEvent,
    description="Adopt a what-if into the yard's plan, so every later schedule includes it. Needs a person's approval.",
    describe_change=_describe_adoption,
    pin=_pin_adoption,
    intent="adopt",
    intent_description="adopt a what-if as the yard's plan (after a person approves it)",
)
def adopt_plan(ctx: YardContext, args: AdoptArgs, approved: Approved) -> ToolResult:
    """Adopt a what-if into the yard's plan exactly as it was shown (runs only with a person's approval).

    The proposal is the one computed for the approval (same plan version, same schedule digest): the plan book keeps
    that schedule byte for byte, once under the approval's key; a plan that moved since is refused.
    """
    event = _event(ctx, args)
    key = approved.key or f"{approved.thread_id}:{args.schedule_digest}"
    adoption = ctx.plan.planbook.by_key(key)  # adopted already (a retry, a crash after the write): say so, once
    if adoption is None:
        proposal = ctx.plan.propose([event])
        if args.plan_version is not None and proposal.version != args.plan_version:
            raise PlanChangedError(
                f"the plan changed since this was approved (version {args.plan_version}, now {proposal.version}): "
                "ask for the what-if again"
            )
        adoption = ctx.plan.adopt(
            proposal, by=approved.by, key=key, thread_id=approved.thread_id, digest=args.schedule_digest
        )
    _, schedule = ctx.plan.current()
    total = len(ctx.plan.events())
    return adopt_plan.result(
        args,
        f"adopted into the plan: {event.describe()} ({count(total, 'adopted event')} in all, plan version "
        f"{adoption.version}), approved by {adoption.adopted_by}; the ship now finishes on day "
        f"{schedule.makespan_days}",
        numbers={"adopted_events": float(total), "plan_version": float(adoption.version)},
        sources=[f"plan book {ctx.plan.planbook.where}"],
    )
