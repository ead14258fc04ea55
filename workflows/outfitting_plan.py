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
import pyarrow.compute as pc
from pydantic import BaseModel, Field, model_validator

from brain.core import WorkPackageIndex, predict_items
from workflows._codes import categories, resolve
from workflows.base import MODEL_CONFIG, ProgressCallback, Steps, WorkflowContext, workflow
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
        default=None, pattern=r"^MVZ\d{1,2}-L\d{1,2}$", description="Main vertical zone and level, e.g. MVZ3-L1."
    )
    block: str | None = Field(default=None, min_length=2, max_length=10, description="A block code, e.g. B012.")

    @model_validator(mode="after")
    def _one(self) -> OutfittingPlanRequest:
        if (self.zone is None) == (self.block is None):
            raise ValueError("give either a zone (such as MVZ3-L1) or a block (such as B012), not both or neither")
        return self


class OutfittingItemPlan(_Model):
    """One outfitting item in the fitting sequence."""

    sequence: int = Field(description="Position in the fitting sequence, from 1.")
    code: str = Field(description="Outfitting item code, e.g. O012-00042.")
    block: str
    kind: str = Field(
        description="Item kind as the yard records it, e.g. pipe_spool, cable_tray, hvac_duct, equipment."
    )
    system: str = Field(description="The ship system, e.g. fire main.")
    step: int = Field(description="System group, 1-5 (see `SEQUENCE_STEPS`).")
    step_name: str
    stage: str = Field(description="Installation stage the outfitting model predicts (e.g. on-unit, on-block).")
    stage_confidence: float = Field(description="The model's probability of that stage.")
    planned_stage: str = Field(description="The stage in the yard's plan.")
    stage_differs: bool = Field(description="Predicted and planned stage differ: review the item's stage.")
    work_package: str = Field(description="The work package (work order) that fits it at the predicted stage.")
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

    scope: str = Field(description='"zone MVZ3-L1" or "block B012".')
    blocks: list[str] = Field(description="The blocks the items belong to, in erection order.")
    items_total: int
    by_stage: dict[str, int] = Field(description="Items per predicted stage.")
    stage_differs: int = Field(description="Items whose predicted stage differs from the planned one.")
    expected_reworks: float = Field(description="Sum of the items' rework probabilities.")
    steps: list[SequenceStep] = Field(description="The sequence's stages and system groups, in order.")
    sequence: list[OutfittingItemPlan] = Field(description="Every item, in fitting order.")
    sources: list[str]
    summary: str


def check_outfitting_plan(ctx: WorkflowContext, request: OutfittingPlanRequest) -> None:
    """Refuse, naming the field, a zone or a block the yard does not hold."""
    if request.zone is not None:
        zones = categories(ctx.graph.table("blocks", ["zone"]).column(0))
        if request.zone not in zones:
            raise WorkflowInputError(f"no zone {request.zone!r} in this yard; it has {', '.join(zones)}", field="zone")
    else:
        resolve(ctx.graph, request.block or "", "block", kinds=["block"])


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
    g = ctx.graph
    check_outfitting_plan(ctx, request)
    blocks_t = g.table("blocks", ["block_id", "code", "zone", "erection_sequence"]).to_pydict()
    items_t = g.table("outfitting_items", ["item_id", "block_id", "zone", "stage"])
    if request.zone is not None:
        scope = f"zone {request.zone}"
        chosen = items_t.filter(pc.equal(items_t.column("zone").cast("string"), request.zone))
    else:
        node = resolve(g, request.block or "", "block", kinds=["block"])
        scope = f"block {g.code_of(node)}"
        chosen = items_t.filter(pc.equal(items_t.column("block_id"), node))
    if not chosen.num_rows:
        field = "zone" if request.zone is not None else "block"
        raise WorkflowInputError(f"{scope} holds no outfitting items", field=field)
    steps.start("outfitting model")
    ids = np.sort(chosen.column("item_id").to_numpy()).astype(np.int32)
    outfitting = predict_items(ctx, ids)
    model = f"outfitting model {outfitting.model_version}"
    steps.start("sequence")
    planned = dict(zip(chosen.column("item_id").to_pylist(), chosen.column("stage").to_pylist(), strict=True))
    stages = categories(items_t.column("stage"))
    rows, predicted = outfitting.rows.to_pylist(), outfitting.predicted.to_pylist()
    result = _plan(ctx, scope, blocks_t, rows, predicted, planned, model, stages, _package_of_stage(ctx, stages))
    steps.done()
    return result


def _plan(
    ctx: WorkflowContext,
    scope: str,
    blocks_t: dict[str, list[Any]],
    rows: list[dict[str, Any]],
    predicted: list[dict[str, Any]],
    planned: dict[int, str],
    model: str,
    stages: list[str],
    package_of_stage: dict[str, int],
) -> OutfittingPlan:
    g, index = ctx.graph, ctx.index
    erection = dict(zip(blocks_t["block_id"], blocks_t["erection_sequence"], strict=True))
    block_code = dict(zip(blocks_t["block_id"], blocks_t["code"], strict=True))
    entries = []
    for row, pred in zip(rows, predicted, strict=True):
        item_id = int(row["item_id"])
        stage = str(pred["stage"])
        step = sequence_step(str(row["kind"]), float(row["diameter_mm"]))
        code = g.code_of(item_id)
        key = (stages.index(stage), step, erection[row["block_id"]], str(row["system"]), code)
        entries.append((key, row, pred, code, stage, step, item_id))
    entries.sort(key=lambda e: e[0])
    sequence = []
    for n, (_, row, pred, code, stage, step, item_id) in enumerate(entries, start=1):
        block = str(block_code[row["block_id"]])
        sequence.append(
            OutfittingItemPlan(
                sequence=n,
                code=code,
                block=block,
                kind=row["kind"],
                system=str(row["system"]),
                step=step,
                step_name=SEQUENCE_STEPS[step - 1],
                stage=stage,
                stage_confidence=round(float(pred["stage_confidence"]), 4),
                planned_stage=planned[item_id],
                stage_differs=planned[item_id] != stage,
                work_package=_work_package(index, row["block_id"], package_of_stage.get(stage), item_id),
                rework_probability=round(float(pred["rework_probability"]), 4),
                diameter_mm=round(float(row["diameter_mm"]), 1),
                weight_t=round(float(row["weight_t"]), 3),
                spans_blocks=bool(row["spans_blocks"]),
            )
        )
    order = dict(zip(blocks_t["code"], blocks_t["erection_sequence"], strict=True))
    blocks = sorted({i.block for i in sequence}, key=lambda b: order[b])
    return _result(scope, blocks, sequence, model, stages)


def _package_of_stage(ctx: WorkflowContext, stages: list[str]) -> dict[str, int]:
    """The trade (index in the yard's trades) whose work packages fit the items of each stage, from the yard's plan.

    The yard's items name their work package and their planned stage; the trade most of a stage's items go to is
    the one a predicted stage moves an item to.
    """
    index = ctx.index
    t = ctx.graph.table("outfitting_items", ["stage", "work_package_id"])
    wp_ids = ctx.graph.table("work_packages", ["work_package_id"]).column(0).to_numpy()
    row_of_id = dict(zip(wp_ids.tolist(), range(len(wp_ids)), strict=True))
    counts: dict[str, Counter[int]] = {s: Counter() for s in stages}
    for stage, wp in zip(t.column("stage").to_pylist(), t.column("work_package_id").to_pylist(), strict=True):
        counts[str(stage)][index.trades.index(index.trade[row_of_id[wp]])] += 1
    return {s: c.most_common(1)[0][0] for s, c in counts.items() if c}


def _work_package(index: WorkPackageIndex, block_id: int, trade: int | None, item_id: int) -> str:
    """The block's work package of `trade`; the item's own (planned) one when the yard has no such package."""
    row = int(index.by_block_trade[int(block_id), trade]) if trade is not None else -1
    if row < 0:
        row = int(index.work_package_of([item_id])[0])
    return index.codes[row]


def _result(
    scope: str, blocks: list[str], sequence: list[OutfittingItemPlan], model: str, stages: list[str]
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
            f"{scope}: {len(sequence):,} outfitting items, predicted {mix}; {differs:,} differ from the planned "
            f"stage; {reworks:.1f} expected reworks"
        ),
    )
