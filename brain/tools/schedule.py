"""Schedule tools: the adopted schedule, what-ifs against it, and adopting a what-if into the plan.

The schedule itself (the plan book, day 0, the solve and its cache, repairs) is the domain core's
(`YardContext.plan`); these tools ask it and say what it answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Self

from pydantic import Field, JsonValue, model_validator

from brain.core.workpackages import node_of_code
from brain.errors import PlanChangedError
from brain.plan import LAST_START_DAY, MAX_WHAT_IF_DAYS
from brain.tools._common import count
from brain.tools.base import Approved, Plot, ToolArgs, ToolResult, ToolRow, plan_change, tool
from knowledge.errors import InputError
from knowledge.idindex import MAX_ID_BYTES
from knowledge.words import with_article
from knowledge.yardformat.fields import ROLES

if TYPE_CHECKING:
    from adapters.scheduling import ChainLink, Schedule, ScheduledTask
    from brain.core import YardContext
    from brain.core.yardplan import Proposal
    from brain.plan import Entities
    from brain.planbook import PlanEvent
    from knowledge.store import YardStore

__all__ = [
    "AdoptArgs",
    "AdoptedEvent",
    "MovedPackage",
    "PathStep",
    "ScheduleArgs",
    "ScheduleRow",
    "Slip",
    "WhatIfArgs",
    "adopt_plan",
    "erection_schedule",
    "path_steps",
    "what_if",
]


class ScheduleArgs(ToolArgs):
    """Optionally, the block whose erection to report."""

    code: str | None = Field(default=None, max_length=MAX_ID_BYTES, description="a block (or anything in it), optional")


class WhatIfArgs(ToolArgs):
    """One change: a resource down, a part, assembly, block or work package late, or a model's output on a code."""

    resource: str | None = Field(default=None, max_length=MAX_ID_BYTES, description="a resource of the yard (its code)")
    code: str | None = Field(
        default=None, max_length=MAX_ID_BYTES, description="the late (or re-estimated) part, assembly, block or package"
    )
    days: int | None = Field(
        default=None,
        ge=1,
        le=MAX_WHAT_IF_DAYS,
        description="how many days the resource is down or the code is late (optional with a model change)",
    )
    start_day: int | None = Field(
        default=None, ge=0, le=LAST_START_DAY, description="schedule day the outage starts (default: day 0, now)"
    )
    start_date: date | None = Field(default=None, description="calendar date the outage starts, instead of a day")
    welding_factor: float | None = Field(
        default=None,
        gt=0,
        le=10,
        allow_inf_nan=False,
        description="multiplies the welding model's hours of the code's joints (1.2: welding takes 20 % longer)",
    )
    rework_factor: float | None = Field(
        default=None,
        gt=0,
        le=100,
        allow_inf_nan=False,
        description="multiplies the outfitting model's rework probability of the code's items (2: rework doubles)",
    )

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.resource is None) == (self.code is None):
            raise ValueError("a what-if is either a resource that is down or a code that is late, not both or neither")
        changes = self.welding_factor is not None or self.rework_factor is not None
        if self.resource is not None and changes:
            raise ValueError("a welding or rework factor applies to a code, not to a resource")
        if self.days is None and not changes:
            raise ValueError("a what-if needs how many days (or, on a code, a welding_factor or rework_factor)")
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
    duration_days_was: int | None = Field(default=None, title="duration before", json_schema_extra={"unit": "days"})
    """Its duration in the adopted plan (given when the change alters it)."""
    duration_days: int | None = Field(default=None, title="duration after", json_schema_extra={"unit": "days"})
    """Its duration with the change (given when the change alters it)."""
    trade: str | None = None
    """Its trade (the work package's `trade` field)."""
    resource: str | None = None
    """The resource it runs on, before and with the change."""


class ScheduleRow(ToolRow):
    """A work package of the block asked about."""

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


class PathStep(ToolRow):
    """A step of a chain of work in the schedule (the critical path, or the chain into one work package)."""

    step: int
    """Its place in the chain, from 1."""
    work_package: str = Field(title="work package")
    """The work package (or "<resource> down": an outage that held up the first one)."""
    start_day: int | None = Field(default=None, title="start day")
    """Its schedule day of start."""
    finish_day: int | None = Field(default=None, title="finish day")
    """Its schedule day of finish."""
    resource: str | None = None
    """The resource it runs on."""
    waits_on: str = Field(title="waits on")
    """What it starts after: the step before (a precedence, or its resource), an outage, or nothing."""


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


def _names_a_package(ctx: YardContext, code: str) -> bool:
    """Whether a code names one of the yard's work packages (a work package is asked about as itself)."""
    if not ctx.yard.count("work_package"):
        return False
    try:
        return ctx.yard.role_of(node_of_code(ctx.yard, code)) == "work_package"
    except InputError:
        return False


def _block_node(yard: YardStore, code: str) -> tuple[int, str]:
    """The block a code belongs to (its node and code); an `InputError` when it is in none."""
    node = node_of_code(yard, code)
    block = int(yard.block_of([node])[0])
    if block < 0:
        what = (yard.role_of(node) or yard.kind_of(node)).replace("_", " ")
        raise InputError(f"{yard.code_of(node)} is {with_article(what)} that belongs to no block of this yard")
    return block, yard.code_of(block)


def _erection_trade(ctx: YardContext, purpose: str) -> int | None:
    """The index in `index.trades` of the erection trade: the trade of the packages the blocks' `work_package` names.

    A yard that does not give the blocks' `work_package` field cannot say when a block is erected: a
    `MissingFieldError` saying how to map it. None: the field is given but names no work package.
    """
    trade = ctx.index.trade_making("block")
    if trade is None:
        ctx.yard.require("work_package", ["trade"], purpose)  # a yard without work packages is told that first
        ctx.yard.require("block", ["work_package"], purpose)
    return trade


def _erection_row(ctx: YardContext, block: int) -> int:
    """The work package row that erects block node `block` (-1: none does)."""
    trade = _erection_trade(ctx, "a block's erection day (the work package that erects it)")
    return -1 if trade is None else int(ctx.index.package_of_block(block, trade))


def _task_row(ctx: YardContext, t: ScheduledTask) -> ScheduleRow:
    return ScheduleRow(
        code=t.code,
        start_day=t.start_day,
        finish_day=t.finish_day,
        start_date=ctx.plan.date_of(t.start_day),
        resource=t.resource,
        critical=t.on_critical_path,
    )


def _adopted(events: tuple[PlanEvent, ...]) -> list[str]:
    return [f"adopted: {e.describe()}" for e in events]


def path_steps(schedule: Schedule, links: Sequence[ChainLink]) -> list[PathStep]:
    """A chain of the schedule (`adapters.scheduling.chain_into`) as rows, each saying what it waited for."""
    from adapters.scheduling import OUTAGE_PREFIX

    at = {t.code: t for t in schedule.tasks}
    rows: list[PathStep] = []
    for k, link in enumerate(links):
        task = at.get(link.code)
        if task is None:  # an outage leading the chain
            name = link.code.removeprefix(OUTAGE_PREFIX)
            rows.append(PathStep(step=k + 1, work_package=f"{name} down", resource=name, waits_on="nothing"))
            continue
        before = links[k - 1].code if k else ""
        waits = {
            "nothing": "nothing (its own start)",
            "outage": f"{before.removeprefix(OUTAGE_PREFIX)} back in service",
            "precedence": f"{before} (precedence)",
            "resource": f"{before} (same resource)",
        }[link.waits_on]
        rows.append(
            PathStep(
                step=k + 1,
                work_package=task.code,
                start_day=task.start_day,
                finish_day=task.finish_day,
                resource=task.resource,
                waits_on=waits,
            )
        )
    return rows


_SCHEDULE = "when a block is erected, the makespan and the critical path of the yard's schedule"


def _schedule_args(entities: Entities, question: str) -> dict[str, JsonValue]:
    return {"code": entities.codes[0] if entities.codes else None}


@tool(
    name="erection_schedule",
    args=ScheduleArgs,
    row=ScheduleRow,
    description="The yard's adopted schedule (CP-SAT, durations from the models): a block's erection day, the "
    "makespan and the critical path (of the ship, or into the block's erection).",
    intent="schedule",
    intent_description=_SCHEDULE,
    args_from=_schedule_args,
    breakdown_row=PathStep,
    plots=(
        Plot(kind="gantt", title="Work packages (days)", y="code", x="start_day", end="finish_day"),
        Plot(
            kind="gantt",
            title="Chain of work (days)",
            y="work_package",
            x="start_day",
            end="finish_day",
            table="breakdown",
        ),
    ),
)
def erection_schedule(ctx: YardContext, args: ScheduleArgs) -> ToolResult:
    """The adopted schedule: a block's erection day, the makespan and the critical path.

    Its rows are the block's work packages; its breakdown is a chain of work: into the block's erection when a
    block is asked about, else the ship's critical path.
    """
    from adapters.scheduling import chain_into

    erects: tuple[int, str, int] | None = None  # the block asked about, its code and its erection's row
    package: int | None = None  # or the work package asked about (one that belongs to no block, say), its row
    if args.code is not None and _names_a_package(ctx, args.code):
        package = ctx.index.work_package(args.code)
    elif args.code is not None:  # an unknown code, or a yard that cannot say, is told before any solve
        block, block_code = _block_node(ctx.yard, args.code)
        erects = (block, block_code, _erection_row(ctx, block))
    events, schedule = ctx.plan.current()
    numbers = {"makespan_days": float(schedule.makespan_days), "gap": schedule.gap}
    adopted = f", with {count(len(events), 'adopted event')}" if events else ""
    summary = (
        f"the schedule takes {_working_days(ctx, schedule.makespan_days)}, to "
        f"{ctx.plan.last_date(schedule.makespan_days).isoformat()} (its last working day; "
        f"{schedule.status}, gap {100 * schedule.gap:.1f} %{adopted})"
    )
    rows: list[ScheduleRow] = []
    request = ctx.plan.request(events)
    path = list(schedule.critical_path)
    chain = chain_into(request, schedule) if erects is None and package is None else ()
    if package is not None:
        code = ctx.index.codes[package]
        task = next((t for t in schedule.tasks if t.code == code), None)
        if task is None:
            raise InputError(f"the adopted schedule has no task for the work package {code}")
        numbers |= {"start_day": float(task.start_day), "finish_day": float(task.finish_day)}
        chain = chain_into(request, schedule, task.code)
        where = f" on {task.resource}" if task.resource else ""
        summary = (
            f"{code} runs from day {task.start_day} ({ctx.plan.date_of(task.start_day).isoformat()}) to day "
            f"{task.finish_day}{where}, after a chain of {count(len(chain), 'step')} ({_chain_words(chain)}); "
            + summary
        )
        rows = [_task_row(ctx, task)]
    if erects is not None:
        index = ctx.index
        block, block_code, row = erects
        erection = next((t for t in schedule.tasks if row >= 0 and t.code == index.codes[row]), None)
        if erection is None:
            raise InputError(f"no work package of this yard erects {block_code}")
        numbers["erection_day"] = float(erection.start_day)
        chain = chain_into(request, schedule, erection.code)
        where = f"on {erection.resource}" if erection.resource else "erecting it"
        when = ctx.plan.date_of(erection.start_day).isoformat()
        summary = (
            f"{block_code} is erected on day {erection.start_day} ({when}), "
            f"{where} until day {erection.finish_day}, after a chain of {count(len(chain), 'step')} "
            f"({_chain_words(chain)}); " + summary
        )
        mine = {c for r, c in enumerate(index.codes) if index.block[r] == block}
        rows = [_task_row(ctx, t) for t in schedule.tasks if t.code in mine]
    return erection_schedule.result(
        args,
        summary,
        rows=rows,
        breakdown=path_steps(schedule, chain),
        numbers=numbers,
        sources=[
            "scheduling model (OR-Tools CP-SAT) with hours from the welding and outfitting models",
            "critical path: " + " -> ".join(path if len(path) <= 6 else [*path[:4], "...", *path[-2:]]),
            *_calendar_note(ctx),
            *_overdrawn_note(ctx),
            *_adopted(events),
        ],
    )


def _calendar_note(ctx: YardContext) -> list[str]:
    """How the yard's calendar shapes the schedule, when it has one."""
    calendar = ctx.plan.calendar
    if calendar.is_empty:
        return []
    out = [f"calendar: days are working days from day 0 ({calendar.date_of(0).isoformat()})"]
    if calendar.days_off:
        out[0] += f"; {count(len(calendar.days_off), 'day')} off for the whole yard"
    if calendar.resource_days_off:
        named = ", ".join(f"{r} ({count(len(d), 'day')})" for r, d in calendar.resource_days_off.items())
        out[0] += f"; out of service: {named}"
    return out


def _overdrawn_note(ctx: YardContext) -> list[str]:
    """A warning naming the work packages whose joints' and items' norms exceed their estimate."""
    over = ctx.plan.overdrawn()
    if not over:
        return []
    shown = ", ".join(f"{code} ({est:,.1f} h estimated, {norms:,.1f} h of norms)" for code, est, norms in over[:5])
    more = f" and {len(over) - 5} more" if len(over) > 5 else ""
    return [
        f"warning: {count(len(over), 'work package')} with planning norms of their joints and items above their "
        f"estimate, whose schedule hours (estimate + predicted - norms) fall short, often to 1 day: {shown}{more}"
    ]


def _chain_words(chain: Sequence[ChainLink]) -> str:
    """A chain in a few words: its first and last steps."""
    codes = [link.code for link in chain]
    shown = codes if len(codes) <= 4 else [*codes[:2], "...", *codes[-2:]]
    return " -> ".join(shown)


def _what_if_args(entities: Entities, question: str) -> dict[str, JsonValue] | str:
    code = entities.codes[0] if entities.codes else None
    # model changes ("welding on <block> takes 20 % longer" -> welding_factor 1.2), as the planner reads them
    welding, rework = entities.welding_factor, entities.rework_factor
    if (welding is not None or rework is not None) and code is not None:
        changed: dict[str, JsonValue] = {"code": code, "days": entities.days}
        if welding is not None:
            changed["welding_factor"] = float(welding)
        if rework is not None:
            changed["rework_factor"] = float(rework)
        return changed
    if entities.resource is None and code is None:
        return "a what-if needs a resource that is down or a late code (a block, assembly, part or work package)"
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
        resource=args.resource,
        code=args.code,
        days=args.days,
        start_day=args.start_day,
        start_date=args.start_date,
        welding_factor=args.welding_factor,
        rework_factor=args.rework_factor,
    )


_SLIPS = "which erections a change moves (the work packages that erect the blocks)"


def _slips(ctx: YardContext, before_tasks: list[ScheduledTask], after_tasks: list[ScheduledTask]) -> list[Slip]:
    """The blocks whose erection moved: the largest slip first, then in the order of erection (the earliest first)."""
    index = ctx.index
    erects = _erection_trade(ctx, _SLIPS)
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
                erection_date=ctx.plan.date_of(t.start_day),
            )
        )
    return sorted(slips, key=lambda r: (-r.slip_days, r.erection_day_was, r.block))


_SHOWN_PER_TRADE = 6
_KEEPS = (
    "keeps its resource and its place in that resource's order (none overtakes another; a resource that takes c at "
    "once keeps c queues), and none starts earlier; only what the change holds up moves, as far as it must"
)


def _what_if_lines(result: ToolResult) -> list[str]:
    """The erections that slip, then every work package that moves, by trade (not only erections)."""
    slips = result.rows_as(Slip)
    lines = [
        f"- {r.block}: erected day {r.erection_day_was} -> {r.erection_day} ({_signed_days(r.slip_days)})"
        for r in slips[:10]
    ]
    if len(slips) > 10:
        lines.append(f"- ... and {count(len(slips) - 10, 'more erection')} (the table lists every one)")
    moved = result.breakdown_as(MovedPackage)
    if not moved:
        return lines
    lines.append(f"Work packages that move ({len(moved)}; each {_KEEPS}):")
    by_trade: dict[str, list[MovedPackage]] = {}
    for m in moved:
        by_trade.setdefault(m.trade or "other", []).append(m)
    for trade, packages in by_trade.items():
        shown = ", ".join(_moved_words(m) for m in packages[:_SHOWN_PER_TRADE])
        more = f", and {len(packages) - _SHOWN_PER_TRADE} more" if len(packages) > _SHOWN_PER_TRADE else ""
        lines.append(f"- {trade} ({len(packages)}): {shown}{more}")
    return lines


def _moved_words(m: MovedPackage) -> str:
    longer = (
        f", {m.duration_days_was} -> {m.duration_days} days"
        if m.duration_days is not None and m.duration_days != m.duration_days_was
        else ""
    )
    return f"{m.work_package} day {m.start_day_was} -> {m.start_day} ({m.shift_days:+d}{longer})"


_WHAT_IF = (
    "what slips if a resource is down, a part, assembly or block is late for some days, or a block's welding or "
    "outfitting rework takes longer"
)


@tool(
    name="what_if",
    args=WhatIfArgs,
    row=Slip,
    description="Simulate a change against the adopted plan: a resource down or a code late for some days, or the "
    "welding hours (welding_factor) or outfitting rework risk (rework_factor) of a code scaled: which work packages "
    "take longer, which erections slip and by how much, every work package that moves, the new makespan, and the "
    "chain of causes. Changes nothing.",
    intent="whatif",
    intent_description=_WHAT_IF,
    args_from=_what_if_args,
    lines=_what_if_lines,
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
    """Which erections slip, and by how much, if a resource is down, a code late or a model's output changes."""
    _erection_trade(ctx, _SLIPS)  # a yard that cannot say which packages erect its blocks is told before any solve
    event = _event(ctx, args)
    proposal = ctx.plan.propose([event])  # right-shift: every package keeps its resource and order, the least change
    adopted, before, after = proposal.adopted, proposal.before, proposal.after
    slips = _slips(ctx, list(before.tasks), list(after.tasks))
    moved = _moved(ctx, proposal.moved())
    outcome = _outcome(slips, moved, before.makespan_days, after.makespan_days)
    summary = f"if {event.describe()}: {outcome}"
    held = _held_up(ctx, [*adopted, event], after, slips) if not event.changes_model else None
    if held:
        summary += f"; {held}"
    numbers = {
        "slipped_erections": float(len([r for r in slips if r.slip_days > 0])),
        "moved_work_packages": float(len(moved)),
        "plan_version": float(proposal.version),
        "makespan_days_before": float(before.makespan_days),
        "makespan_days_after": float(after.makespan_days),
        "makespan_delta_days": float(after.makespan_days - before.makespan_days),
    }
    notes: list[str] = []
    if event.changes_model:
        chain = _causes(ctx, event, proposal, slips, moved)
        summary += f". Chain of causes: {chain}"
        numbers["longer_work_packages"] = float(sum(m.duration_days != m.duration_days_was for m in moved))
        notes.append(_hours_note(ctx, event, adopted))
        over = ctx.plan.overdrawn_in([event])
        if over:
            summary += ". " + _overdrawn_warning(ctx, over, [*adopted, event])
            numbers["overdrawn_work_packages"] = float(len(over))
    if event.code is not None and event.days is not None and not ctx.index.is_work_package(event.code):
        yard = ctx.yard
        waits = yard.downstream([node_of_code(yard, event.code)])
        blocks = waits[yard.role_codes(waits) == ROLES.index("block")]
        notes.append(f"part graph: {count(len(blocks), 'block')} wait{'s' if len(blocks) == 1 else ''} on {event.code}")
    return what_if.result(
        args,
        summary,
        rows=slips,
        breakdown=moved,
        numbers=numbers,
        sources=[
            f"scheduling model: the adopted schedule repaired for the change: every work package {_KEEPS} "
            "(nothing re-optimised)",
            *notes,
            *_adopted(adopted),
        ],
    )


def _hours_note(ctx: YardContext, event: PlanEvent, adopted: tuple[PlanEvent, ...]) -> str:
    """Where the changed hours come from, and how many they are."""
    before, after = ctx.plan.hours(adopted), ctx.plan.hours([*adopted, event])
    changed = {c: (before[c], after[c]) for c in after if after[c] != before[c]}
    total = sum(b - a for a, b in changed.values())
    models = [m for m, f in (("welding", event.welding_factor), ("outfitting", event.rework_factor)) if f is not None]
    return (
        f"{' and '.join(models)} model{'s' if len(models) > 1 else ''}: {event.describe()} changes "
        f"{count(len(changed), 'work package')} by {total:+,.1f} h in all "
        "(welding hours replace the joints' norms; an item's hours are its norm x (1 + rework risk))"
    )


def _held_up(ctx: YardContext, events: Sequence[PlanEvent], after: Schedule, slips: list[Slip]) -> str | None:
    """What holds up the erection that slips most, in words: the chain of work into it in the changed schedule."""
    from adapters.scheduling import OUTAGE_PREFIX, chain_into

    first = next((r for r in slips if r.slip_days > 0), None)
    if first is None:
        return None
    row = _erection_row(ctx, ctx.yard.node_of(first.block))
    if row < 0:
        return None
    chain = chain_into(ctx.plan.request(events), after, ctx.index.codes[row])
    steps = [
        f"{link.code.removeprefix(OUTAGE_PREFIX)} down" if link.code.startswith(OUTAGE_PREFIX) else link.code
        for link in chain
    ]
    shown = steps if len(steps) <= 5 else [*steps[:2], "...", *steps[-2:]]
    return f"{first.block} is held up by {' -> '.join(shown)}"


def _overdrawn_warning(ctx: YardContext, over: list[tuple[str, float, float]], events: Sequence[PlanEvent]) -> str:
    """A warning naming the work packages whose joints' and items' norms exceed their estimate, and what it does."""
    raw, hours = ctx.plan.raw_hours(), ctx.plan.hours(events)
    shown = "; ".join(
        f"{code}: estimate {est:,.1f} h, norms {norms:,.1f} h, so estimate + predicted - norms = {raw[code]:+,.1f} h"
        + (f", {hours[code]:,.1f} h with the change" if code in hours else "")
        for code, est, norms in over[:3]
    )
    more = f" and {count(len(over) - 3, 'more work package')}" if len(over) > 3 else ""
    return (
        f"Warning: the planning norms of the joints and items of {count(len(over), 'work package')} exceed "
        f"{'its estimate' if len(over) == 1 else 'their estimates'} ({shown}{more}); the schedule gives such a "
        "package at least 0 h (1 day), so a change below that shows no slip: check the yard's estimate"
    )


def _block_of(ctx: YardContext, code: str) -> str | None:
    """The block a code belongs to (a work package's block for a work package code), None: it is in none."""
    index, yard = ctx.index, ctx.yard
    if index.is_work_package(code):
        row = index.work_package(code)
        return index.block_code(row) if index.block[row] >= 0 else None
    block = int(yard.block_of([node_of_code(yard, code)])[0])
    return yard.code_of(block) if block >= 0 else None


def _causes(
    ctx: YardContext, event: PlanEvent, proposal: Proposal, slips: list[Slip], moved: list[MovedPackage]
) -> str:
    """The chain of causes of a model change, in words.

    The change, the work packages it lengthens, its block's packages that start later, its block's erection, the
    next erection it holds up and how many more, the ship's finish.
    """
    steps = [event.describe()]
    before = {t.code: t for t in proposal.before.tasks}
    longer = [
        (t.code, before[t.code].finish_day - before[t.code].start_day, t.finish_day - t.start_day)
        for t in proposal.after.tasks
        if t.finish_day - t.start_day != before[t.code].finish_day - before[t.code].start_day
    ]
    if longer:
        shown = ", ".join(f"{c} {a} -> {b} days" for c, a, b in longer[:4])
        steps.append(shown + (f" and {len(longer) - 4} more" if len(longer) > 4 else ""))
    else:
        steps.append("no work package's duration changes by a whole day")
    block = _block_of(ctx, str(event.code))
    index = ctx.index
    erects = index.trade_making("block")
    ripple = [  # the block's own work packages before its erection that start later
        m
        for m in sorted(moved, key=lambda m: m.start_day_was)
        if m.shift_days > 0
        and block is not None
        and (row := index.row_of.get(m.work_package)) is not None
        and index.block[row] >= 0
        and index.block_code(row) == block
        and (erects is None or _before(index.trades, index.trade[row], erects))
    ]
    if ripple:
        shown = ", ".join(f"{m.work_package} {m.shift_days:+d}" for m in ripple[:3])
        steps.append(f"{shown}{f' and {len(ripple) - 3} more' if len(ripple) > 3 else ''} start later (days)")
    own = next((r for r in slips if r.block == block), None)
    if own is not None:
        steps.append(f"{own.block} erected day {own.erection_day_was} -> {own.erection_day}")
    others = sorted((r for r in slips if r.block != block and r.slip_days > 0), key=lambda r: r.erection_day_was)
    if others:  # the first erection it holds up, then how many more
        first = others[0]
        steps.append(f"{first.block} erected day {first.erection_day_was} -> {first.erection_day}")
        if len(others) > 1:
            more = count(len(others) - 1, "more erection")
            verb = "slips" if len(others) == 2 else "slip"
            steps.append(f"{more} {verb} (by up to {_days(max(r.slip_days for r in others))})")
    delta = proposal.after.makespan_days - proposal.before.makespan_days
    steps.append(f"ship finishes day {proposal.after.makespan_days} ({delta:+d})")
    return " -> ".join(steps)


def _before(trades: list[str], trade: str, erects: int) -> bool:
    """Whether a trade comes before the erection trade in a block's life (a trade outside that order does not)."""
    return trade in trades and trades.index(trade) < erects


def _moved(ctx: YardContext, pairs: list[tuple[ScheduledTask, ScheduledTask]]) -> list[MovedPackage]:
    index = ctx.index
    rows = []
    for before, after in pairs:
        was, now = before.finish_day - before.start_day, after.finish_day - after.start_day
        row = index.row_of.get(after.code)
        rows.append(
            MovedPackage(
                work_package=after.code,
                start_day_was=before.start_day,
                start_day=after.start_day,
                finish_day=after.finish_day,
                shift_days=after.start_day - before.start_day,
                **({"duration_days_was": was, "duration_days": now} if was != now else {}),
                trade=index.trade[row] if row is not None else None,
                resource=after.resource,
            )
        )
    return sorted(rows, key=lambda r: (-r.shift_days, r.work_package))


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def _signed_days(n: int) -> str:
    """A shift in days with its sign: "+1 day", "+4 days", "-2 days"."""
    return f"{n:+d} day{'' if abs(n) == 1 else 's'}"


def _working_days(ctx: YardContext, n: int) -> str:
    """A number of schedule days, said as working days where the yard's calendar has days off."""
    if not ctx.plan.calendar.days_off:
        return _days(n)
    return f"{n} working day{'' if n == 1 else 's'}"


def _outcome(slips: list[Slip], moved: list[MovedPackage], before: int, after: int) -> str:
    """What a change does, in words: erections that slip, work packages that move (by trade), the ship's finish."""
    late = [r for r in slips if r.slip_days > 0]
    delta = after - before
    trades: dict[str, int] = {}
    for m in moved:
        trades[m.trade or "other"] = trades.get(m.trade or "other", 0) + 1
    by_trade = f" ({', '.join(f'{n} {t}' for t, n in trades.items())})" if trades else ""
    return (
        f"{count(len(late), 'erection')} {'slips' if len(late) == 1 else 'slip'}"
        + (f" (up to {_days(late[0].slip_days)}, {late[0].block} first)" if late else "")
        + f", {count(len(moved), 'work package')} {'moves' if len(moved) == 1 else 'move'} in all{by_trade}"
        + f"; the ship finishes on day {after} ({'+' if delta >= 0 else '-'}{_days(abs(delta))})"
    )


def _describe_adoption(ctx: YardContext, args: WhatIfArgs) -> str:
    event = _event(ctx, args)
    proposal = ctx.plan.propose([event])
    slips = _slips(ctx, list(proposal.before.tasks), list(proposal.after.tasks))
    moved = _moved(ctx, proposal.moved())
    outcome = _outcome(slips, moved, proposal.before.makespan_days, proposal.after.makespan_days)
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
