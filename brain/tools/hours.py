"""The hours tool: predicted welding and outfitting hours of blocks, assemblies or work packages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, JsonValue

from brain.core import predict_items, predict_joints
from brain.tools.base import Plot, ToolArgs, ToolResult, ToolRow, tool

if TYPE_CHECKING:
    from brain.core import YardContext
    from brain.plan import Entities

__all__ = ["CodeHours", "HoursArgs", "predicted_hours"]


class HoursArgs(ToolArgs):
    """Blocks, assemblies or work packages to add up."""

    codes: list[str] = Field(min_length=1, max_length=50, description="block, assembly or work package codes")


class CodeHours(ToolRow):
    """The predicted hours of one block, assembly or work package."""

    code: str
    """The block, assembly or work package."""
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


_HOURS = "predicted work hours (welding and outfitting) for blocks, assemblies or work packages"


def _hours_args(entities: Entities, question: str) -> dict[str, JsonValue] | str:
    if not entities.codes:
        return f"{_HOURS} needs a code such as B012 or B012-A03"
    return {"codes": list(entities.codes)}


def _hours_of(ctx: YardContext, code: str) -> CodeHours:
    scope = ctx.index.scope_of(code)
    welding_h = outfitting_h = norm_h = 0.0
    if len(scope.joint_ids):
        welding_h = float(predict_joints(ctx, scope.joint_ids).hours.sum())
        norm_h += float(ctx.index.joint_norm_hours(scope.joint_ids).sum())
    if len(scope.item_ids):
        outfitting = predict_items(ctx, scope.item_ids)
        item_norm = ctx.index.item_norm_hours(outfitting.item_ids)
        outfitting_h = float(outfitting.expected_hours(item_norm).sum())
        norm_h += float(item_norm.sum())
    return CodeHours(
        code=code,
        joints=len(scope.joint_ids),
        items=len(scope.item_ids),
        welding_hours=round(welding_h, 1),
        outfitting_hours=round(outfitting_h, 1),
        total_hours=round(welding_h + outfitting_h, 1),
        norm_hours=round(norm_h, 1),
    )


@tool(
    name="predicted_hours",
    args=HoursArgs,
    row=CodeHours,
    description="Predicted work hours (welding model for joints, outfitting norms raised by the rework risk) of "
    "blocks, assemblies or work packages.",
    intent="hours",
    intent_description=_HOURS,
    args_from=_hours_args,
    plots=(Plot(kind="bar", title="Predicted hours", x="code", series=("welding_hours", "outfitting_hours")),),
)
def predicted_hours(ctx: YardContext, args: HoursArgs) -> ToolResult:
    """Predicted welding and outfitting hours of blocks, assemblies or work packages."""
    rows = [_hours_of(ctx, code) for code in dict.fromkeys(c.upper() for c in args.codes)]
    total = sum(r.total_hours for r in rows)
    norm_total = sum(r.norm_hours for r in rows)
    return predicted_hours.result(
        args,
        f"{', '.join(r.code for r in rows)}: {total:,.0f} predicted hours of welding and outfitting "
        f"(planning norms: {norm_total:,.0f} h)",
        rows=rows,
        numbers={"total_hours": total, "norm_hours": norm_total},
        sources=["welding model (hours per joint)", "outfitting model (rework risk per item) over the items' norms"],
    )
