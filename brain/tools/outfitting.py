"""The outfitting tool: the outfitting model over the items of a block, assembly or zone."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Self

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, JsonValue, model_validator

from brain.core import predict_items
from brain.tools.base import Plot, ToolArgs, ToolResult, ToolRow, tool
from knowledge.errors import InputError

if TYPE_CHECKING:
    from brain.core import YardContext
    from brain.plan import Entities

__all__ = ["ItemStage", "OutfittingArgs", "outfitting"]


class OutfittingArgs(ToolArgs):
    """A block or assembly, or an outfitting zone."""

    code: str | None = Field(default=None, max_length=40, description="a block or assembly code")
    zone: str | None = Field(default=None, max_length=40, description="an outfitting zone of the yard, e.g. MVZ3-L1")

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.code is None) == (self.zone is None):
            raise ValueError("give either a block or assembly code or a zone (such as MVZ3-L1), not both or neither")
        return self


class ItemStage(ToolRow):
    """One outfitting item: its planned and predicted stage and its rework risk."""

    code: str
    """The item."""
    system: str
    """The ship system it belongs to."""
    kind: str
    """Pipe spool, cable tray, HVAC duct or equipment."""
    planned_stage: str
    """The stage the plan fits it in (on-unit, on-block, on-board)."""
    predicted_stage: str
    """The stage the outfitting model recommends."""
    rework_probability: float
    """Predicted probability that it is fitted twice (0-1)."""


_OUTFITTING = "outfitting stage and rework risk of the items of a block, assembly or zone"


def _outfitting_args(entities: Entities, question: str) -> dict[str, JsonValue] | str:
    if entities.zone is not None:
        return {"code": None, "zone": entities.zone}
    if not entities.codes:
        return f"{_OUTFITTING} needs a block, an assembly or a zone such as MVZ3-L1"
    return {"code": entities.codes[0], "zone": None}


def _zone_items(ctx: YardContext, zone: str) -> npt.NDArray[np.int64]:
    g = ctx.graph
    blocks_t = g.table("blocks", ["block_id", "zone"])
    blocks = blocks_t.filter(pc.equal(blocks_t.column("zone"), zone)).column("block_id").to_numpy()
    if not len(blocks):
        known = sorted(set(blocks_t.column("zone").to_pylist()))
        raise InputError(f"no zone {zone!r} in this yard; zones run {known[0]} to {known[-1]}")
    return np.concatenate([g.members(int(b), kinds=["outfitting_item"]) for b in blocks.tolist()]).astype(np.int64)


@tool(
    name="outfitting",
    args=OutfittingArgs,
    row=ItemStage,
    description="Outfitting model over the items of a block, assembly or zone: predicted stage (on-unit, on-block, "
    "on-board) against the plan, and rework risk.",
    intent_description=_OUTFITTING,
    args_from=_outfitting_args,
    plots=(
        Plot(
            kind="bar",
            title="Riskiest outfitting items",
            x="code",
            y="rework_probability",
            y_scale=100.0,
            y_title="rework risk %",
            color="predicted_stage",
            sort="-y",
            x_label_angle=-45,
        ),
    ),
)
def outfitting(ctx: YardContext, args: OutfittingArgs) -> ToolResult:
    """Predicted outfitting stage and rework risk of a block's, assembly's or zone's items."""
    g = ctx.graph
    if args.zone is not None:
        item_ids = _zone_items(ctx, args.zone)
        label = f"zone {args.zone}"
    else:
        assert args.code is not None  # the arguments' validator makes sure of one of them
        item_ids = ctx.index.scope_of(args.code).item_ids.astype(np.int64)
        if not len(item_ids):
            raise InputError(f"{args.code} holds no outfitting items")
        label = args.code
    predicted = predict_items(ctx, item_ids)
    rows, ids = predicted.rows, predicted.item_ids
    planned = g.table("outfitting_items", ["item_id", "stage"])
    planned = planned.filter(pc.is_in(planned.column("item_id"), value_set=pa.array(ids)))
    plan_stage = dict(zip(planned.column("item_id").to_pylist(), planned.column("stage").to_pylist(), strict=True))
    stages = predicted.stage
    risk = predicted.rework_probability
    differ = sum(1 for i, s in zip(ids.tolist(), stages, strict=True) if plan_stage[i] != s)
    top = np.argsort(-risk, kind="stable")[:10]
    table = [
        ItemStage(
            code=g.code_of(int(ids[i])),
            system=rows.column("system")[i].as_py(),
            kind=rows.column("kind")[i].as_py(),
            planned_stage=plan_stage[int(ids[i])],
            predicted_stage=stages[i],
            rework_probability=round(float(risk[i]), 4),
        )
        for i in top.tolist()
    ]
    by_stage = Counter(stages)
    mix = ", ".join(f"{by_stage[s]:,} {s}" for s in ("on-unit", "on-block", "on-board") if by_stage[s])
    return outfitting.result(
        args,
        f"{label}: {len(ids):,} outfitting items, predicted {mix}; {differ:,} differ from the plan's "
        f"stage; {risk.sum():.1f} expected reworks ({100 * risk.mean():.1f} % of items)",
        rows=table,
        numbers={
            "items": float(len(ids)),
            "expected_reworks": float(risk.sum()),
            "stage_differs": float(differ),
            **{f"stage_{s}": float(n) for s, n in by_stage.items()},
        },
        sources=[f"outfitting model {predicted.model_version} over {len(ids):,} items of {label}"],
    )
