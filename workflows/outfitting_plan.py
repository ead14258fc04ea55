"""`outfitting-plan` v1: a zone's or block's outfitting items, their predicted stage, and the order to fit them.

The outfitting model gives every item an installation stage (on-unit, on-block, on-board) with its
confidence and a rework risk; items whose predicted stage differs from the yard's planned one are flagged.

The sequence follows the demo yard's rules: by predicted stage first, on-unit before on-block before on-board
(OFR-STAGE-01; OFR-SEQ-01 "Place in the block chain": every on-unit and on-block item is finished before the
block is erected, on-board items wait for the erection). Within a stage by system group, in the order of
OFR-SEQ-01 "Sequence within on-block outfitting" and OFR-RWK-01 control 4 ("large-bore pipe, ducts,
small-bore pipe, trays"):

1. equipment and units (landed first, crane lift checked per OFR-LIFT-01; heavy items landed on-board go in
   before the block above closes the lift path);
2. large-bore pipe spools (DN 200 and over, the mains);
3. HVAC ducts (after the pipe mains and before cable trays, OFR-HVAC-01);
4. small-bore pipe spools;
5. cable trays (OFR-ELEC-01: fitted after ducts in ceiling spaces; cable pulling follows on-board).

Within a group, items follow their block's erection sequence (on-board work starts from the earliest-erected
blocks, OFR-SEQ-01 "Sequence on-board"), then system, then code.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field, model_validator

from adapters.outfitting import STAGES
from brain.core import WorkPackageIndex, predict_items
from brain.core.codes import loose_key
from workflows._codes import MAX_CODE, categories, resolve
from workflows.base import MODEL_CONFIG, ProgressCallback, Steps, WorkflowContext, request_field, workflow
from workflows.errors import WorkflowInputError

__all__ = [
    "LARGE_BORE_MM",
    "SEQUENCE_STEPS",
    "OutfittingItemPlan",
    "OutfittingPlan",
    "OutfittingPlanRequest",
    "SequenceStep",
    "check_outfitting_plan",
    "outfitting_plan",
    "sequence_step",
]

LARGE_BORE_MM: Final = 200.0
"""Pipe spools of this nominal diameter and over are mains, fitted before ducts (OFR-SEQ-01 step 3)."""

SEQUENCE_STEPS: Final = ("equipment and units", "large-bore pipe", "HVAC ducts", "small-bore pipe", "cable trays")
"""The system groups in fitting order within a stage (OFR-SEQ-01, OFR-RWK-01 control 4)."""


def sequence_step(kind: str, diameter_mm: float) -> int:
    """The 1-based step of `SEQUENCE_STEPS` an item belongs to."""
    if kind == "equipment":
        return 1
    if kind == "pipe_spool":
        return 2 if diameter_mm >= LARGE_BORE_MM else 4
    return 3 if kind == "hvac_duct" else 5


class _Model(BaseModel):
    model_config = MODEL_CONFIG


class OutfittingPlanRequest(_Model):
    """The zone or the block to plan: exactly one."""

    zone: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_CODE,
        description="A zone, as the yard names its blocks' or items' zones (their zone field, e.g. <zone>).",
    )
    block: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_CODE,
        description="A block, as the yard names it (its id as in the yard's tables, e.g. <block id>).",
    )

    @model_validator(mode="after")
    def _one(self) -> OutfittingPlanRequest:
        """Exactly one of zone and block: a zone, or a block, not both and not neither."""
        if (self.zone is None) == (self.block is None):
            raise ValueError("give either a zone or a block, not both or neither")
        return self


class OutfittingItemPlan(_Model):
    """One outfitting item in the fitting sequence."""

    sequence: int = Field(description="Position in the fitting sequence, from 1.")
    code: str = Field(description="The outfitting item, as the yard names it.")
    block: str | None = Field(description="The block it is fitted in or on (None: the yard gives none).")
    kind: str = Field(description="Item kind: pipe_spool, cable_tray, hvac_duct or equipment.")
    system: str = Field(description="The ship system, as the yard names it (e.g. fire main).")
    step: int = Field(description="System group, 1-5 (see `SEQUENCE_STEPS`).")
    step_name: str
    stage: str = Field(description="Installation stage the outfitting model predicts: on-unit, on-block or on-board.")
    stage_confidence: float = Field(description="The model's probability of that stage.")
    planned_stage: str | None = Field(description="The stage in the yard's plan (None: the yard gives no stages).")
    stage_differs: bool = Field(description="Predicted and planned stage differ: review the item's stage.")
    work_package: str | None = Field(
        description="The work package (work order) that fits it at the predicted stage (None: none makes it)."
    )
    rework_probability: float = Field(description="The model's probability that the item is fitted twice.")
    diameter_mm: float = Field(description="Nominal diameter (pipes, ducts) or tray width, mm; 0 for equipment.")
    weight_t: float
    spans_blocks: bool = Field(description="Crosses a block joint.")


class SequenceStep(_Model):
    """One stage and system group of the sequence."""

    stage: str = Field(description="Installation stage.")
    step: int
    step_name: str
    items: int
    first: int = Field(description="Sequence number of its first item.")
    last: int = Field(description="Sequence number of its last item.")
    expected_reworks: float = Field(description="Sum of its items' rework probabilities.")


class OutfittingPlan(_Model):
    """The fitting sequence of a zone's or block's outfitting items."""

    scope: str = Field(description='"zone <the zone>" or "block <the block>", as the yard names them.')
    blocks: list[str] = Field(description="The blocks the items belong to, in erection order.")
    items_total: int
    by_stage: dict[str, int] = Field(description="Items per predicted stage.")
    stage_differs: int = Field(description="Items whose predicted stage differs from the planned one.")
    expected_reworks: float = Field(description="Sum of the items' rework probabilities.")
    steps: list[SequenceStep] = Field(description="The sequence's stages and system groups, in order.")
    sequence: list[OutfittingItemPlan] = Field(description="Every item, in fitting order.")
    sources: list[str]
    summary: str


def _zones(ctx: WorkflowContext) -> list[str]:
    """The yard's zones: its blocks' (in the yard's order), else its items' own."""
    yard = ctx.yard
    for role in ("block", "outfitting_item"):
        if "zone" in yard.fields(role):
            return categories(yard.role_table(role, ["zone"]).column("zone"))
    return []


def _zone(ctx: WorkflowContext, text: str) -> str:
    """A zone as the yard names it, read as a code is (`workflows._codes`); an unknown zone names the field.

    The yard's zone exactly, else the one zone of the same loose form (case, separators and leading zeros ignored:
    "mvz3 l1" is MVZ3-L1), never upper-cased or otherwise guessed: a yard's own zones may be lower case.
    """
    zones = _zones(ctx)
    if not zones:
        with request_field("zone"):
            ctx.yard.require("block", ["zone"], "an outfitting plan by zone")
    stripped = text.strip()
    if stripped in zones:
        return stripped
    same = [z for z in zones if loose_key(z) == loose_key(stripped)]
    if len(same) == 1:
        return same[0]
    if same:
        raise WorkflowInputError(f"{text!r} could be zone {' or '.join(same)}; give it as the yard does", field="zone")
    raise WorkflowInputError(f"no zone {text!r} in this yard; it has {', '.join(zones)}", field="zone")


def _items_of_zone(ctx: WorkflowContext, zone: str) -> npt.NDArray[np.int32]:
    """The items in `zone`: by their own zone, else by their block's (`YardStore.zones_of_role`, as the brain's)."""
    items = ctx.yard.nodes_of_role("outfitting_item")
    with request_field("zone"):
        zones = ctx.yard.zones_of_role("outfitting_item", "an outfitting plan by zone")
    inside = np.asarray(pc.fill_null(pc.equal(zones, zone), False).to_numpy(zero_copy_only=False), dtype=bool)
    return items[inside]


def _items_of_block(ctx: WorkflowContext, block: int) -> npt.NDArray[np.int32]:
    """The items fitted in or on a block: inside it, or naming it as their block (fitted on board)."""
    items = ctx.yard.nodes_of_role("outfitting_item")
    return items[ctx.yard.blocks_of_role("outfitting_item") == block]


def check_outfitting_plan(ctx: WorkflowContext, request: OutfittingPlanRequest) -> None:
    """Refuse, naming the field, a zone or a block the yard does not hold, or a yard without outfitting items."""
    with request_field("zone" if request.zone is not None else "block"):
        ctx.yard.require("outfitting_item", ["item_kind"], "an outfitting plan")
    if request.zone is not None:
        _zone(ctx, request.zone)
    else:
        resolve(ctx.yard, request.block or "", "block", roles=["block"])


@workflow(
    name="outfitting-plan",
    version="1",
    title="Predicted stages and fitting sequence of a zone's or block's outfitting items",
    description=__doc__ or "",
    request=OutfittingPlanRequest,
    result=OutfittingPlan,
    table="sequence",
    check=check_outfitting_plan,
)
def outfitting_plan(ctx: WorkflowContext, request: OutfittingPlanRequest, progress: ProgressCallback) -> OutfittingPlan:
    """Run `outfitting-plan`."""
    steps = Steps(progress, ["scope", "outfitting model", "sequence"])
    steps.start("scope")
    yard = ctx.yard
    check_outfitting_plan(ctx, request)
    if request.zone is not None:
        zone = _zone(ctx, request.zone)
        scope = f"zone {zone}"
        chosen = _items_of_zone(ctx, zone)
    else:
        node = resolve(yard, request.block or "", "block", roles=["block"])
        scope = f"block {yard.code_of(node)}"
        chosen = _items_of_block(ctx, node)
    if not len(chosen):
        field = "zone" if request.zone is not None else "block"
        raise WorkflowInputError(f"{scope} holds no outfitting items", field=field)
    steps.start("outfitting model")
    outfitting = predict_items(ctx, chosen)
    model = f"outfitting model {outfitting.model_version}"
    steps.start("sequence")
    planned: dict[int, str | None] = {}
    if "stage" in yard.fields("outfitting_item"):
        t = yard.role_table("outfitting_item", ["stage"], nodes=chosen)
        planned = {
            int(n): None if v is None else str(v)
            for n, v in zip(t.column("node").to_pylist(), t.column("stage").to_pylist(), strict=True)
        }
    rows, predicted = outfitting.rows.to_pylist(), outfitting.predicted.to_pylist()
    result = _plan(ctx, scope, rows, predicted, planned, model, _package_of_stage(ctx))
    steps.done()
    return result


def _erection_order(ctx: WorkflowContext, blocks: list[int]) -> dict[int, int]:
    """Each block's place in the erection: the yard's erection sequence, else its node order."""
    yard = ctx.yard
    known = sorted({b for b in blocks if b >= 0})
    if known and "erection_sequence" in yard.fields("block"):
        sequence = yard.field_of("block", "erection_sequence", known).tolist()
        return dict(zip(known, (int(s) for s in sequence), strict=True))
    return {b: b for b in known}


def _plan(
    ctx: WorkflowContext,
    scope: str,
    rows: list[dict[str, Any]],
    predicted: list[dict[str, Any]],
    planned: dict[int, str | None],
    model: str,
    package_of_stage: dict[str, int],
) -> OutfittingPlan:
    yard, index = ctx.yard, ctx.index
    erection = _erection_order(ctx, [int(r["block"]) for r in rows])
    last = max(erection.values(), default=0) + 1  # items of no block go last
    codes = yard.codes_of([int(r["node"]) for r in rows])
    entries = []
    for row, pred, code in zip(rows, predicted, codes, strict=True):
        stage = str(pred["stage"])
        step = sequence_step(str(row["kind"]), float(row["diameter_mm"]))
        key = (STAGES.index(stage), step, erection.get(int(row["block"]), last), str(row["system"]), code)
        entries.append((key, row, pred, code, stage, step))
    entries.sort(key=lambda e: e[0])
    block_code = {b: yard.code_of(b) for b in erection}
    sequence = []
    for n, (_, row, pred, code, stage, step) in enumerate(entries, start=1):
        item, block = int(row["node"]), int(row["block"])
        plan = planned.get(item)
        sequence.append(
            OutfittingItemPlan(
                sequence=n,
                code=code,
                block=block_code.get(block),
                kind=str(row["kind"]),
                system=str(row["system"]),
                step=step,
                step_name=SEQUENCE_STEPS[step - 1],
                stage=stage,
                stage_confidence=round(float(pred["stage_confidence"]), 4),
                planned_stage=plan,
                stage_differs=plan is not None and plan != stage,
                work_package=_work_package(index, block, package_of_stage.get(stage), item),
                rework_probability=round(float(pred["rework_probability"]), 4),
                diameter_mm=round(float(row["diameter_mm"]), 1),
                weight_t=round(float(row["weight_t"]), 3),
                spans_blocks=bool(row["spans_blocks"]),
            )
        )
    blocks = [block_code[b] for b in sorted(block_code, key=lambda b: (erection[b], b))]
    return _result(scope, blocks, sequence, model, list(STAGES), planned=bool(planned))


def _package_of_stage(ctx: WorkflowContext) -> dict[str, int]:
    """The trade (index in the yard's trades) whose work packages fit the items of each stage, from the yard's plan.

    The yard's items name their work package and their planned stage; the trade most of a stage's items go to is
    the one a predicted stage moves an item to. A yard that gives no stages moves nothing: each item keeps its own
    work package.
    """
    yard, index = ctx.yard, ctx.index
    if "stage" not in yard.fields("outfitting_item") or not index.trades:
        return {}
    t = yard.role_table("outfitting_item", ["stage"])
    stage = pc.index_in(t.column("stage").cast(pa.string()), value_set=pa.array(STAGES))
    stage_of = np.asarray(stage.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    rows = index.work_package_of(t.column("node").to_numpy())
    trade_of_row = np.asarray([index.trades.index(t) for t in index.trade], dtype=np.int64)
    known = (stage_of >= 0) & (rows >= 0)
    width = len(index.trades)
    counts = np.bincount(stage_of[known] * width + trade_of_row[rows[known]], minlength=len(STAGES) * width).reshape(
        len(STAGES), width
    )
    return {s: int(counts[k].argmax()) for k, s in enumerate(STAGES) if counts[k].any()}


def _work_package(index: WorkPackageIndex, block: int, trade: int | None, item: int) -> str | None:
    """The block's work package of `trade`; the item's own (planned) one when the yard has no such package."""
    row = int(index.package_of_block(block, trade)) if trade is not None and block >= 0 else -1
    if row < 0:
        row = int(index.work_package_of([item])[0])
    return index.codes[row] if row >= 0 else None


def _result(
    scope: str, blocks: list[str], sequence: list[OutfittingItemPlan], model: str, stages: list[str], *, planned: bool
) -> OutfittingPlan:
    groups: dict[tuple[str, int], list[OutfittingItemPlan]] = {}
    for item in sequence:
        groups.setdefault((item.stage, item.step), []).append(item)
    steps = [
        SequenceStep(
            stage=stage,
            step=step,
            step_name=SEQUENCE_STEPS[step - 1],
            items=len(members),
            first=members[0].sequence,
            last=members[-1].sequence,
            expected_reworks=round(sum(m.rework_probability for m in members), 3),
        )
        for (stage, step), members in groups.items()
    ]
    by_stage = Counter(i.stage for i in sequence)
    differs = sum(i.stage_differs for i in sequence)
    reworks = sum(i.rework_probability for i in sequence)
    mix = ", ".join(f"{by_stage[s]:,} {s}" for s in stages if by_stage[s])
    return OutfittingPlan(
        scope=scope,
        blocks=blocks,
        items_total=len(sequence),
        by_stage={s: by_stage[s] for s in stages if by_stage[s]},
        stage_differs=differs,
        expected_reworks=round(reworks, 3),
        steps=steps,
        sequence=sequence,
        sources=[
            f"{model}: stage and rework risk per item",
            "knowledge/corpus: OFR-STAGE-01 (stages), OFR-SEQ-01 and OFR-RWK-01 (fitting order), OFR-HVAC-01, "
            "OFR-ELEC-01, OFR-LIFT-01",
        ],
        summary=(
            f"{scope}: {len(sequence):,} outfitting items, predicted {mix}; "
            + (f"{differs:,} differ from the planned stage" if planned else "the yard gives no planned stages")
            + f"; {reworks:.1f} expected reworks"
        ),
    )
