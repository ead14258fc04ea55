"""The outfitting tool: the outfitting model over the items of a block, assembly, work package or zone, or one item."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Self

import numpy as np
import numpy.typing as npt
import pyarrow.compute as pc
from pydantic import Field, JsonValue, model_validator

from brain.core import predict_items
from brain.lexicon import loose_key
from brain.tools._common import require_role
from brain.tools._scope import covered
from brain.tools.base import Plot, ToolArgs, ToolResult, ToolRow, tool
from knowledge.errors import InputError
from knowledge.idindex import MAX_ID_BYTES

if TYPE_CHECKING:
    from brain.core import YardContext
    from brain.plan import Entities
    from knowledge.store import YardStore

__all__ = ["ItemStage", "OutfittingArgs", "outfitting"]


class OutfittingArgs(ToolArgs):
    """A block, assembly, work package or outfitting item, or an outfitting zone."""

    code: str | None = Field(
        default=None, max_length=MAX_ID_BYTES, description="a block, assembly, work package or outfitting item code"
    )
    zone: str | None = Field(
        default=None, max_length=MAX_ID_BYTES, description="a zone as the yard names it (its zone field)"
    )

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.code is None) == (self.zone is None):
            raise ValueError("give either a code (block, assembly, item) or a zone of the yard, not both or neither")
        return self


class ItemStage(ToolRow):
    """One outfitting item: its planned and predicted stage and its rework risk."""

    code: str
    """The item."""
    system: str
    """The ship system it belongs to."""
    kind: str
    """Pipe spool, cable tray, HVAC duct or equipment."""
    planned_stage: str | None = None
    """The stage the plan fits it in (on-unit, on-block, on-board); blank when the yard gives no stages."""
    predicted_stage: str
    """The stage the outfitting model recommends."""
    rework_probability: float
    """Predicted probability that it is fitted twice (0-1)."""
    norm_hours: float | None = Field(default=None, title="planning norm", json_schema_extra={"unit": "h"})
    """Its planning-norm hours; blank when the yard gives no norms."""
    expected_hours: float | None = Field(default=None, title="expected hours", json_schema_extra={"unit": "h"})
    """The norm raised by the rework risk (a reworked item is fitted twice); blank without a norm."""


_OUTFITTING = "outfitting stage and rework risk of the items of a block, assembly, work package or zone, or one item"


def _outfitting_args(entities: Entities, question: str) -> dict[str, JsonValue] | str:
    if entities.zone is not None:
        return {"code": None, "zone": entities.zone}
    if not entities.codes:
        return f"{_OUTFITTING} needs a block, an assembly or a zone, such as <zone>"
    return {"code": entities.codes[0], "zone": None}


def _zone_items(ctx: YardContext, zone: str) -> tuple[str, npt.NDArray[np.int64]]:
    """A zone as the yard writes it and its outfitting items: each item's own `zone`, else its block's.

    As the outfitting-plan workflow reads them (`YardStore.zones_of_role`).

    Raises:
        MissingFieldError: neither the yard's items nor its blocks give a zone.
        InputError: no zone of that name (case and separators aside); the error names the yard's zones.
    """
    yard = ctx.yard
    items = yard.nodes_of_role("outfitting_item")
    zones = yard.zones_of_role("outfitting_item", "outfitting by zone")
    known = sorted({str(z) for z in pc.unique(zones).to_pylist() if z})
    wanted = _zone_named(zone, known)
    inside = np.asarray(pc.fill_null(pc.equal(zones, wanted), False).to_numpy(zero_copy_only=False), dtype=bool)
    return wanted, np.asarray(items[inside], dtype=np.int64)


def _zone_named(zone: str, known: list[str]) -> str:
    """The yard's zone that `zone` names: exactly, else the one of the same loose form."""
    if zone in known:
        return zone
    loose = [z for z in known if loose_key(z) == loose_key(zone)]
    if len(loose) == 1:
        return loose[0]
    if not known:
        raise InputError(f"no zone {zone!r}: this yard's zone fields (its items' and their blocks') are empty")
    shown = ", ".join(known) if len(known) <= 12 else f"{known[0]} to {known[-1]} ({len(known)} zones)"
    raise InputError(f"no zone {zone!r} in this yard; its zones: {shown}")


def _planned(yard: YardStore, ids: npt.NDArray[np.int64]) -> dict[int, str] | None:
    """The plan's stage of each item (None: the yard gives no stages)."""
    if "stage" not in yard.fields("outfitting_item"):
        return None
    table = yard.role_table("outfitting_item", ["stage"], nodes=ids)
    return {
        int(n): str(s) if s is not None else ""
        for n, s in zip(table.column("node").to_pylist(), table.column("stage").to_pylist(), strict=True)
    }


def _one_item(ctx: YardContext, args: OutfittingArgs, row: ItemStage, version: str) -> ToolResult:
    """One outfitting item: what it is, where it is fitted, the model's stage, rework risk and expected hours."""
    yard = ctx.yard
    node = yard.node_of(row.code)
    after = ", ".join(yard.codes_of(yard.predecessors(node)))
    before = ", ".join(yard.codes_of(yard.successors(node)))
    facts = [f"{row.kind.replace('_', ' ')} of system {row.system}"]
    facts += [f"it waits on {after}"] if after else []
    facts += [f"{before} waits on it"] if before else []
    if row.planned_stage is None:
        verdict = "the yard gives no planned stage to compare"
    else:
        verdict = "as planned" if row.predicted_stage == row.planned_stage else f"planned {row.planned_stage}"
    summary = (
        f"{row.code} ({'; '.join(facts)}): the outfitting model predicts "
        f"{row.predicted_stage} ({verdict}) and a rework risk of {100 * row.rework_probability:.1f} %"
    )
    if row.expected_hours is not None and row.norm_hours is not None:
        summary = summary.replace(" and a rework risk", ", a rework risk") + (
            f" and {row.expected_hours:.2f} expected hours (planning norm {row.norm_hours:.2f} h, raised by the "
            "rework risk)"
        )
    numbers = {"items": 1.0, "expected_reworks": row.rework_probability, f"stage_{row.predicted_stage}": 1.0}
    if row.planned_stage is not None:
        numbers["stage_differs"] = float(row.predicted_stage != row.planned_stage)
    if row.expected_hours is not None:
        numbers["expected_hours"] = row.expected_hours
    return outfitting.result(
        args, summary, rows=[row], numbers=numbers, sources=[f"outfitting model {version} over item {row.code}"]
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
    yard = ctx.yard
    require_role(yard, "outfitting_item", "the outfitting model")
    single = False
    if args.zone is not None:
        zone, item_ids = _zone_items(ctx, args.zone)
        label = f"zone {zone}"
        if not len(item_ids):
            raise InputError(f"zone {zone} has no outfitting items in this yard")
    else:
        assert args.code is not None  # the arguments' validator makes sure of one of them
        what = covered(ctx, args.code)
        item_ids, label, single = what.item_ids, what.code, what.single
        if not len(item_ids):
            instead = "ask about its weld risk or hours" if len(what.joint_ids) else "ask about its block"
            raise InputError(f"{what.code} is {what.what} with no outfitting items; {instead}")
    predicted = predict_items(ctx, item_ids)
    rows, ids = predicted.rows, predicted.item_ids
    plan_stage = _planned(yard, ids)
    stages = predicted.stage
    risk = predicted.rework_probability
    # norms only where the yard gives them: without, the answer has no hours rather than zeros
    norm = ctx.index.item_norm_hours(ids) if "norm_hours" in yard.fields("outfitting_item") else None
    expected = predicted.expected_hours(norm) if norm is not None else None
    top = np.argsort(-risk, kind="stable")[:10]
    codes = yard.codes_of(ids[top])
    table = [
        ItemStage(
            code=code,
            system=str(rows.column("system")[i].as_py()),
            kind=str(rows.column("kind")[i].as_py()),
            **({"planned_stage": plan_stage[int(ids[i])]} if plan_stage is not None else {}),
            predicted_stage=stages[i],
            rework_probability=round(float(risk[i]), 4),
            **(
                {"norm_hours": round(float(norm[i]), 2), "expected_hours": round(float(expected[i]), 2)}
                if norm is not None and expected is not None
                else {}
            ),
        )
        for i, code in zip(top.tolist(), codes, strict=True)
    ]
    if single:
        return _one_item(ctx, args, table[0], predicted.model_version)
    by_stage = Counter(stages)
    mix = ", ".join(f"{by_stage[s]:,} {s}" for s in ("on-unit", "on-block", "on-board") if by_stage[s])
    numbers = {"items": float(len(ids)), "expected_reworks": float(risk.sum())}
    if plan_stage is not None:
        differ = sum(1 for i, s in zip(ids.tolist(), stages, strict=True) if plan_stage[i] != s)
        against = f"{differ:,} differ from the plan's stage"
        numbers["stage_differs"] = float(differ)
    else:
        against = "the yard gives no planned stages to compare"
    if expected is not None:
        numbers["expected_hours"] = float(expected.sum())
    numbers |= {f"stage_{s}": float(n) for s, n in by_stage.items()}
    return outfitting.result(
        args,
        f"{label}: {len(ids):,} outfitting items, predicted {mix}; {against}; {risk.sum():.1f} expected reworks "
        f"({100 * risk.mean():.1f} % of items)",
        rows=table,
        numbers=numbers,
        sources=[f"outfitting model {predicted.model_version} over {len(ids):,} items of {label}"],
    )
