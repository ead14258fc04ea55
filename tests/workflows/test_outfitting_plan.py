"""outfitting-plan against the outfitting model's own predictions and the documented fitting order."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

from adapters.outfitting import OutfittingAdapter
from workflows import WorkflowContext, WorkflowInputError, run_workflow
from workflows.outfitting_plan import SEQUENCE_STEPS, OutfittingPlan

STAGE_ORDER = ("on-unit", "on-block", "on-board")


def _plan(ctx: WorkflowContext, payload: dict[str, object]) -> OutfittingPlan:
    result = run_workflow("outfitting-plan", payload, ctx)
    assert isinstance(result, OutfittingPlan)
    return result


def test_a_zone_is_sequenced_by_stage_then_system_group(ctx: WorkflowContext) -> None:
    g = ctx.yard
    zone = g.role_table("block", ["zone"]).column("zone")[5].as_py()
    plan = _plan(ctx, {"zone": zone})
    items = g.role_table("outfitting_item", ["zone", "stage", "item_kind", "diameter_mm"])
    items = items.filter(pc.equal(items.column("zone").cast("string"), zone))
    assert plan.items_total == items.num_rows == len(plan.sequence)
    assert sorted(g.node_of(i.code) for i in plan.sequence) == sorted(items.column("node").to_pylist())
    assert [i.sequence for i in plan.sequence] == list(range(1, items.num_rows + 1))
    keys = [(STAGE_ORDER.index(i.stage), i.step) for i in plan.sequence]
    assert keys == sorted(keys)
    for item in plan.sequence:
        group = {"equipment": 1, "hvac_duct": 3, "cable_tray": 5}.get(item.kind)
        assert item.step == (group or (2 if item.diameter_mm >= 200 else 4))
        assert item.step_name == SEQUENCE_STEPS[item.step - 1]
        assert item.work_package == f"WP-{item.block}-{'OBD' if item.stage == 'on-board' else 'OFB'}"
    assert sum(s.items for s in plan.steps) == plan.items_total
    assert [(s.stage, s.step) for s in plan.steps] == sorted(
        {(i.stage, i.step) for i in plan.sequence}, key=lambda k: (STAGE_ORDER.index(k[0]), k[1])
    )


def test_stages_are_the_models_and_differences_from_the_plan_are_flagged(ctx: WorkflowContext) -> None:
    g = ctx.yard
    plan = _plan(ctx, {"block": "b001"})
    assert plan.scope == "block B001" and plan.blocks == ["B001"]
    items = g.nodes_of_role("outfitting_item")
    rows = OutfittingAdapter.yard_rows(g, items[g.block_of(items) == g.node_of("B001")])
    predicted = ctx.registry.get("outfitting").predict(rows)
    codes = g.codes_of(rows.column("node").to_numpy())
    stage = dict(zip(codes, predicted.column("stage").to_pylist(), strict=True))
    risk = dict(zip(codes, predicted.column("rework_probability").to_pylist(), strict=True))
    planned = g.role_table("outfitting_item", ["stage"]).to_pydict()
    planned_of = dict(zip(g.codes_of(planned["node"]), planned["stage"], strict=True))
    for item in plan.sequence:
        assert item.stage == stage[item.code]
        assert item.rework_probability == pytest.approx(risk[item.code], abs=1e-4)
        assert item.planned_stage == planned_of[item.code]
        assert item.stage_differs == (item.stage != item.planned_stage)
    assert plan.stage_differs == sum(i.stage_differs for i in plan.sequence) > 0
    assert plan.by_stage == {s: sum(i.stage == s for i in plan.sequence) for s in STAGE_ORDER if s in stage.values()}
    assert plan.expected_reworks == pytest.approx(sum(risk.values()), abs=0.01)


def test_a_zone_and_a_block_together_are_refused(ctx: WorkflowContext) -> None:
    with pytest.raises(WorkflowInputError, match="give either a zone"):
        _plan(ctx, {"zone": "MVZ3-L1", "block": "B001"})
