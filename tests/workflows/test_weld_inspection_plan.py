"""weld-inspection-plan against the welding model's own ranking, recomputed here."""

from __future__ import annotations

import math

import numpy as np
import pyarrow.compute as pc
import pytest

from adapters.welding import WeldingAdapter
from workflows import WorkflowContext, run_workflow
from workflows.weld_inspection_plan import WeldInspectionPlan


def _risk_by_code(ctx: WorkflowContext, joint_ids: np.ndarray) -> dict[str, float]:
    """The welding model's defect probability of each joint, straight from the adapter."""
    g = ctx.yard
    rows = WeldingAdapter.yard_rows(g, joint_ids)
    risk = ctx.registry.get("welding").predict(rows).column("defect_probability").to_numpy()
    return dict(zip(g.codes_of(rows.column("node").to_numpy()), risk.tolist(), strict=True))


def _plan(ctx: WorkflowContext, payload: dict[str, object]) -> WeldInspectionPlan:
    result = run_workflow("weld-inspection-plan", payload, ctx)
    assert isinstance(result, WeldInspectionPlan)
    return result


def test_a_share_budget_takes_the_riskiest_joints(ctx: WorkflowContext) -> None:
    g = ctx.yard
    risk = _risk_by_code(ctx, g.members(g.node_of("B002"), kinds=["joint"]))
    plan = _plan(ctx, {"code": "B002", "budget": {"share": 0.05}})
    k = math.ceil(0.05 * len(risk))
    assert plan.joints_total == len(risk) and plan.joints_inspected == k
    chosen = [p.code for p in plan.inspection_points]
    threshold = sorted(risk.values(), reverse=True)[k - 1]
    assert all(risk[c] >= threshold - 1e-6 for c in chosen)
    assert [p.rank for p in plan.inspection_points] == list(range(1, k + 1))
    probabilities = [p.defect_probability for p in plan.inspection_points]
    assert probabilities == sorted(probabilities, reverse=True)
    assert plan.expected_defects == pytest.approx(sum(risk.values()), abs=1e-3)
    assert plan.expected_defects_caught == pytest.approx(sum(risk[c] for c in chosen), abs=1e-3)
    assert sum(c.joints for c in plan.coverage_by_position) == len(risk)
    assert sum(c.inspected for c in plan.coverage_by_position) == k
    assert sum(c.expected_defects_caught for c in plan.coverage_by_position) == pytest.approx(
        plan.expected_defects_caught, abs=1e-3
    )


def test_methods_follow_ndt_rule_01(ctx: WorkflowContext) -> None:
    plan = _plan(ctx, {"code": "B004", "budget": {"share": 1.0}})
    assert plan.joints_inspected == plan.joints_total
    for p in plan.inspection_points:
        want = "MT" if p.joint_type == "fillet" else ("UT" if p.thickness_mm >= 8 else "RT")
        assert p.method == want, p
        if p.joint_type == "butt" and (p.level == "erection" or p.one_sided):
            assert p.full_extent_rule == "NDT-RULE-02"
        if p.joint_type == "fillet":
            assert p.full_extent_rule is None
    assert plan.full_extent_inspected == plan.full_extent_joints > 0
    assert {m.method for m in plan.methods} <= {"UT", "RT", "MT"}
    assert sum(m.joints for m in plan.methods) == plan.joints_total


def test_an_hours_budget_is_the_longest_riskiest_prefix_that_fits(ctx: WorkflowContext) -> None:
    hours = {"UT": 2.0, "RT": 3.0, "MT": 0.25}
    everything = _plan(ctx, {"code": "B002", "budget": {"share": 1.0}, "ndt_hours_per_joint": hours})
    plan = _plan(ctx, {"code": "B002", "budget": {"hours": 12.0}, "ndt_hours_per_joint": hours})
    costs = [hours[p.method] for p in everything.inspection_points]
    k = plan.joints_inspected
    assert sum(costs[:k]) <= 12.0 < sum(costs[: k + 1])
    assert [p.code for p in plan.inspection_points] == [p.code for p in everything.inspection_points[:k]]
    assert plan.ndt_hours == pytest.approx(sum(costs[:k]))


def test_a_work_package_plans_its_own_joints(ctx: WorkflowContext) -> None:
    g = ctx.yard
    joints = g.role_table("joint", ["work_package"])
    ids = joints.filter(pc.equal(joints.column("work_package"), g.node_of("WP-B003-ASM"))).column("node").to_numpy()
    plan = _plan(ctx, {"code": "wp-b003-asm", "budget": {"joints": 3}})
    assert plan.scope == "work_package" and plan.joints_total == len(ids)
    risk = _risk_by_code(ctx, ids)
    assert [p.code for p in plan.inspection_points] == sorted(risk, key=lambda c: -risk[c])[:3]


def test_a_joint_is_not_a_scope(ctx: WorkflowContext) -> None:
    from workflows import WorkflowInputError

    with pytest.raises(WorkflowInputError, match=r"code: 'J002-000001' is a joint; give a block, assembly or "):
        _plan(ctx, {"code": "J002-000001"})
