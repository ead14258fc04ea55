"""The hours tool: predicted welding and outfitting hours of any code that has joints or outfitting items.

Blocks, assemblies, sub-assemblies and work packages add up their joints and items; a part is the joints that
join it; a joint or an outfitting item is itself. A work package also gets its own `estimated_hours` and the hours
the adopted schedule gives it (estimate + predicted welding - the joints' norms + the items' rework, at least 0 h:
`adapters.scheduling.predicted_hours`), with a warning when its joints' and items' norms exceed its estimate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, JsonValue

from brain.core import predict_items, predict_joints
from brain.tools._scope import covered
from brain.tools.base import Plot, ToolArgs, ToolResult, ToolRow, tool
from knowledge.errors import InputError

if TYPE_CHECKING:
    from brain.core import YardContext
    from brain.plan import Entities

__all__ = ["CodeHours", "HoursArgs", "predicted_hours"]


class HoursArgs(ToolArgs):
    """Blocks, assemblies, work packages, parts, joints or outfitting items to add up."""

    codes: list[str] = Field(
        min_length=1,
        max_length=50,
        description="block, assembly, work package, part, joint or outfitting item codes",
    )


class CodeHours(ToolRow):
    """The predicted hours of one block, assembly, work package, part, joint or outfitting item."""

    code: str
    """The block, assembly, work package, part, joint or outfitting item."""
    kind: str = ""
    """What the code is (block, work package, part, weld joint, ...)."""
    joints: int
    """Its weld joints."""
    items: int
    """Its outfitting items."""
    welding_hours: float = Field(title="welding", json_schema_extra={"unit": "h"})
    """The welding model's hours over its joints."""
    outfitting_hours: float = Field(title="outfitting", json_schema_extra={"unit": "h"})
    """Its items' planning norms, raised by the outfitting model's rework risk (a reworked item is done twice)."""
    total_hours: float = Field(title="total", json_schema_extra={"unit": "h"})
    """Welding and outfitting."""
    norm_hours: float = Field(title="planning norms", json_schema_extra={"unit": "h"})
    """The planning norms of its joints and items, for comparison."""
    estimated_hours: float | None = Field(default=None, title="estimate", json_schema_extra={"unit": "h"})
    """A work package's own estimate (its `estimated_hours`: all its work, not only welding and outfitting)."""
    schedule_hours: float | None = Field(default=None, title="in the schedule", json_schema_extra={"unit": "h"})
    """The hours the adopted schedule gives a work package: its estimate with the models' hours in place of its
    joints' norms and its items' rework added (at least 0 h)."""
    schedule_days: int | None = Field(default=None, title="days in the schedule", json_schema_extra={"unit": "days"})
    """The working days it takes in the adopted schedule (its hours over its crew's 8-hour days, at least 1)."""


_HOURS = "predicted work hours (welding and outfitting) of blocks, assemblies, work packages, parts, joints or items"


def _hours_args(entities: Entities, question: str) -> dict[str, JsonValue] | str:
    if not entities.codes:
        return f"{_HOURS} needs a code: a block, assembly, work package, part, joint or outfitting item"
    return {"codes": list(entities.codes)}


def _hours_of(ctx: YardContext, code: str) -> CodeHours:
    scope = covered(ctx, code)
    if scope.kind == "part" and not len(scope.joint_ids):
        raise InputError(
            f"{scope.code} is a part that no weld joint joins, so no model predicts hours for it; "
            "ask about its sub-assembly or block, or what waits on it"
        )
    welding_h = outfitting_h = norm_h = 0.0
    if len(scope.joint_ids):
        welding_h = float(predict_joints(ctx, scope.joint_ids).hours.sum())
        norm_h += float(ctx.index.joint_norm_hours(scope.joint_ids).sum())
    if len(scope.item_ids):  # an item's hours are its norm raised by its rework risk: no norm, no hours
        ctx.yard.require("outfitting_item", ["norm_hours"], "outfitting hours (norms raised by the rework risk)")
        outfitting = predict_items(ctx, scope.item_ids)
        item_norm = ctx.index.item_norm_hours(outfitting.item_ids)
        outfitting_h = float(outfitting.expected_hours(item_norm).sum())
        norm_h += float(item_norm.sum())
    package: dict[str, float | int] = {}
    if scope.kind == "work_package":
        package = _package_hours(ctx, scope.code)
    return CodeHours(
        code=scope.code,
        kind=scope.noun,
        joints=len(scope.joint_ids),
        items=len(scope.item_ids),
        welding_hours=round(welding_h, 2),
        outfitting_hours=round(outfitting_h, 2),
        total_hours=round(welding_h + outfitting_h, 2),
        norm_hours=round(norm_h, 2),
        **package,
    )


def _package_hours(ctx: YardContext, code: str) -> dict[str, float | int]:
    """A work package's estimate, and the hours and working days the adopted schedule gives it."""
    index = ctx.index
    row = index.work_package(code)
    out: dict[str, float | int] = {}
    if "estimated_hours" in ctx.yard.fields("work_package"):
        out["estimated_hours"] = round(float(index.estimated_hours[row]), 2)
    events, schedule = ctx.plan.current()
    hours = ctx.plan.hours(events)
    if code in hours:
        out["schedule_hours"] = round(hours[code], 2)
    task = next((t for t in schedule.tasks if t.code == code), None)
    if task is not None:
        out["schedule_days"] = task.finish_day - task.start_day
    return out


def _package_words(ctx: YardContext, row: CodeHours) -> str:
    """What a work package's own hours are, beside its welding and outfitting: its estimate, the schedule's hours."""
    parts = []
    if row.estimated_hours is not None:
        parts.append(f"its estimate is {_h(row.estimated_hours)} h")
    if row.schedule_hours is not None:
        days = "" if row.schedule_days is None else f", {row.schedule_days} day{'s' if row.schedule_days != 1 else ''}"
        parts.append(f"the schedule uses {_h(row.schedule_hours)} h for it{days}")
    words = f"; {row.code} is a work package: " + ", ".join(parts) if parts else ""
    over = next((o for o in ctx.plan.overdrawn() if o[0] == row.code), None)
    if over is not None:
        words += (
            f". Warning: the planning norms of its joints and items ({_h(over[2])} h) exceed its estimate "
            f"({_h(over[1])} h), so the estimate cannot hold them: the schedule's hours (estimate + predicted - norms) "
            "fall short of the work"
        )
    return words


def _h(hours: float) -> str:
    """Hours as the answer reads them: tenths below 100 h (one joint), whole hours above."""
    return f"{hours:,.1f}" if hours < 100 else f"{hours:,.0f}"


def _one(row: CodeHours, joint_norms: bool) -> str:
    """The hours of one part, joint or outfitting item, in words (to the hundredth, as its row has them)."""
    if row.kind == "part":
        return (
            f"{row.code} is a part joined by {row.joints:,} weld joint{'s' if row.joints != 1 else ''}: "
            f"{row.welding_hours:.2f} predicted welding hours "
            f"({f'planning norms: {row.norm_hours:.2f} h' if joint_norms else _NO_JOINT_NORMS})"
        )
    if row.items:
        return (
            f"{row.code} is an outfitting item: {row.outfitting_hours:.2f} expected outfitting hours, its planning "
            f"norm of {row.norm_hours:.2f} h raised by the outfitting model's rework risk"
        )
    return (
        f"{row.code} is a weld joint: the welding model predicts {row.welding_hours:.2f} welding hours "
        f"({f'planning norm: {row.norm_hours:.2f} h' if joint_norms else _NO_JOINT_NORMS})"
    )


_NO_JOINT_NORMS = "the yard gives no planning norms of its joints to compare"


@tool(
    name="predicted_hours",
    args=HoursArgs,
    row=CodeHours,
    description="Predicted work hours (welding model for joints, outfitting norms raised by the rework risk) of "
    "blocks, assemblies, work packages, parts (the joints that join them), single joints or outfitting items.",
    intent="hours",
    intent_description=_HOURS,
    args_from=_hours_args,
    plots=(Plot(kind="bar", title="Predicted hours", x="code", series=("welding_hours", "outfitting_hours")),),
)
def predicted_hours(ctx: YardContext, args: HoursArgs) -> ToolResult:
    """Predicted welding and outfitting hours of blocks, assemblies, work packages, parts, joints or items."""
    rows = list({r.code: r for r in (_hours_of(ctx, code) for code in args.codes)}.values())
    total = sum(r.total_hours for r in rows)
    norm_total = sum(r.norm_hours for r in rows)
    joint_norms = "norm_hours" in ctx.yard.fields("joint") or not any(r.joints for r in rows)
    if len(rows) == 1 and rows[0].kind not in ("block", "assembly", "sub assembly", "work package"):
        summary = _one(rows[0], joint_norms)
    else:
        norms = f"planning norms: {_h(norm_total)} h" + ("" if joint_norms else f"; {_NO_JOINT_NORMS}")
        summary = f"{', '.join(r.code for r in rows)}: {_h(total)} predicted hours of welding and outfitting ({norms})"
    numbers = {"total_hours": total, "norm_hours": norm_total}
    if len(rows) == 1 and rows[0].kind == "work package":
        summary += _package_words(ctx, rows[0])
        if rows[0].estimated_hours is not None:
            numbers["estimated_hours"] = rows[0].estimated_hours
        if rows[0].schedule_hours is not None:
            numbers["schedule_hours"] = rows[0].schedule_hours
    return predicted_hours.result(
        args,
        summary,
        rows=rows,
        numbers=numbers,
        sources=["welding model (hours per joint)", "outfitting model (rework risk per item) over the items' norms"],
    )
