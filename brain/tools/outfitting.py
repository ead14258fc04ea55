"""The outfitting tool: the outfitting model over the items of a block, assembly, work package or zone, or one item."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Self

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, JsonValue, model_validator

from brain.core import predict_items
from brain.tools._scope import covered
from brain.tools.base import Plot, ToolArgs, ToolResult, ToolRow, tool
from knowledge.errors import InputError

if TYPE_CHECKING:
    from brain.core import YardContext
    from brain.plan import Entities

__all__ = ["ItemStage", "OutfittingArgs", "outfitting"]


class OutfittingArgs(ToolArgs):
    """A block, assembly, work package or outfitting item, or an outfitting zone."""

    code: str | None = Field(
        default=None, max_length=40, description="a block, assembly, work package or outfitting item code"
    )
    zone: str | None = Field(default=None, max_length=40, description="an outfitting zone of the yard, e.g. MVZ3-L1")

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.code is None) == (self.zone is None):
            raise ValueError(
                "give either a code (block, assembly, item) or a zone (such as MVZ3-L1), not both or neither"
            )
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
    norm_hours: float = Field(title="planning norm", json_schema_extra={"unit": "h"})
    """Its planning-norm hours."""
    expected_hours: float = Field(title="expected hours", json_schema_extra={"unit": "h"})
    """The norm raised by the rework risk (a reworked item is fitted twice)."""


_OUTFITTING = "outfitting stage and rework risk of the items of a block, assembly, work package or zone, or one item"


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


def _one_item(ctx: YardContext, args: OutfittingArgs, row: ItemStage, version: str) -> ToolResult:
    """One outfitting item: what it is, where it is fitted, the model's stage, rework risk and expected hours."""
    g = ctx.graph
    node = g.id_of(row.code)
    after = ", ".join(g.codes_of(g.predecessors(node)))
    before = ", ".join(g.codes_of(g.successors(node)))
    facts = [f"{row.kind.replace('_', ' ')} of system {row.system}"]
    facts += [f"it waits on {after}"] if after else []
    facts += [f"{before} waits on it"] if before else []
    verdict = "as planned" if row.predicted_stage == row.planned_stage else f"planned {row.planned_stage}"
    summary = (
        f"{row.code} ({'; '.join(facts)}): the outfitting model predicts "
        f"{row.predicted_stage} ({verdict}), a rework risk of {100 * row.rework_probability:.1f} % and "
        f"{row.expected_hours:.2f} expected hours (planning norm {row.norm_hours:.2f} h, raised by the rework risk)"
    )
    return outfitting.result(
        args,
        summary,
        rows=[row],
        numbers={
            "items": 1.0,
            "expected_reworks": row.rework_probability,
            "stage_differs": float(row.predicted_stage != row.planned_stage),
            "expected_hours": row.expected_hours,
            f"stage_{row.predicted_stage}": 1.0,
        },
        sources=[f"outfitting model {version} over item {row.code}"],
    )


@tool(
    name="outfitting",
    args=OutfittingArgs,
    row=ItemStage,
    description="Outfitting model over the items of a block, assembly, work package or zone, or one outfitting item: "
    "predicted stage (on-unit, on-block, on-board) against the plan, rework risk and expected hours.",
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
    """Predicted outfitting stage and rework risk of a block's, assembly's, work package's or zone's items."""
    g = ctx.graph
    single = False
    if args.zone is not None:
        item_ids = _zone_items(ctx, args.zone)
        label = f"zone {args.zone}"
    else:
        assert args.code is not None  # the arguments' validator makes sure of one of them
        what = covered(ctx, args.code)
        item_ids, label, single = what.item_ids, what.code, what.single
        if not len(item_ids):
            instead = "ask about its weld risk or hours" if len(what.joint_ids) else "ask about its block"
            raise InputError(f"{what.code} is {what.what} with no outfitting items; {instead}")
    predicted = predict_items(ctx, item_ids)
    rows, ids = predicted.rows, predicted.item_ids
    planned = g.table("outfitting_items", ["item_id", "stage"])
    planned = planned.filter(pc.is_in(planned.column("item_id"), value_set=pa.array(ids)))
    plan_stage = dict(zip(planned.column("item_id").to_pylist(), planned.column("stage").to_pylist(), strict=True))
    stages = predicted.stage
    risk = predicted.rework_probability
    norm = ctx.index.item_norm_hours(ids)
    expected = predicted.expected_hours(norm)
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
            norm_hours=round(float(norm[i]), 2),
            expected_hours=round(float(expected[i]), 2),
        )
        for i in top.tolist()
    ]
    if single:
        return _one_item(ctx, args, table[0], predicted.model_version)
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
            "expected_hours": float(expected.sum()),
            **{f"stage_{s}": float(n) for s, n in by_stage.items()},
        },
        sources=[f"outfitting model {predicted.model_version} over {len(ids):,} items of {label}"],
    )
