"""The NDT plan tool takes a budget in percent, hours or joints, says which it used, and agrees with the workflow.

Issue 11, item 4: "NDT plan for B012 with 40 hours of inspection", "budget 40 h" and "inspect 50 joints of B012"
all answered with the 10 % default without saying so. The numbers here are recomputed independently: the welding
adapter run again over the same rows, NDT-RULE-01 and the per-method hours written out in the test.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, cast

import numpy as np
import pytest
from pydantic import JsonValue

from adapters.welding import WeldingAdapter
from brain.core.ndt import NDT_HOURS_PER_JOINT
from brain.tools import TOOLS, ToolResult, run_tool
from knowledge import InputError, Settings
from workflows import WorkflowContext, run_workflow
from workflows.weld_inspection_plan import NdtHours, WeldInspectionPlan

if TYPE_CHECKING:
    from brain.plan import Entities

HOURS: dict[str, float] = {"UT": 1.0, "RT": 1.5, "MT": 0.5}
"""The per-joint NDT hours the issue names, written out here rather than read from the code under test."""


@pytest.fixture(scope="module")
def ctx(small_yard: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkflowContext]:
    context = WorkflowContext.open(small_yard, Settings(data_dir=tmp_path_factory.mktemp("ndt")))
    yield context
    context.close()


def _independent(ctx: WorkflowContext, code: str) -> dict[str, dict[str, object]]:
    """Each joint of a block by code: the adapter's defect probability, its method by NDT-RULE-01, its NDT hours."""
    g = ctx.yard
    node = g.node_of(code)
    rows = WeldingAdapter.yard_rows(g, g.members(node, kinds=["joint"]))
    risk = ctx.registry.get("welding").predict(rows).column("defect_probability").to_numpy()
    out: dict[str, dict[str, object]] = {}
    for joint, p, row in zip(g.codes_of(rows.column("node").to_numpy()), risk, rows.to_pylist(), strict=True):
        method = "MT" if row["joint_type"] == "fillet" else ("UT" if row["thickness_mm"] >= 8 else "RT")
        out[joint] = {"risk": float(p), "method": method, "hours": HOURS[method]}
    return out


def _plan(ctx: WorkflowContext, payload: dict[str, object]) -> WeldInspectionPlan:
    result = run_workflow("weld-inspection-plan", payload, ctx)
    assert isinstance(result, WeldInspectionPlan)
    return result


def test_the_per_joint_hours_have_one_home() -> None:
    assert dict(NDT_HOURS_PER_JOINT) == HOURS
    assert NdtHours().model_dump() == HOURS  # the workflow's defaults are the core's


@pytest.mark.parametrize(
    ("tool_budget", "workflow_budget", "says"),
    [
        ({"budget": 0.05}, {"share": 0.05}, "a budget of 5 % of the joints"),
        ({"hours": 12.0}, {"hours": 12.0}, "a budget of 12 NDT hours"),
        ({"hours": 40.0}, {"hours": 40.0}, "a budget of 40 NDT hours"),
        ({"joints": 50}, {"joints": 50}, "a budget of 50 joints"),
        ({}, None, "the default 10 % (no budget given)"),
    ],
)
def test_the_tool_and_the_workflow_plan_the_same_joints(
    ctx: WorkflowContext, tool_budget: dict[str, object], workflow_budget: dict[str, object] | None, says: str
) -> None:
    result = run_tool(ctx, "ndt_plan", {"code": "B002", **tool_budget})
    plan = _plan(ctx, {"code": "B002"} | ({"budget": workflow_budget} if workflow_budget else {}))
    assert says in result.summary
    assert result.numbers["inspected"] == plan.joints_inspected > 0
    assert result.numbers["joints"] == plan.joints_total
    assert result.numbers["ndt_hours"] == pytest.approx(plan.ndt_hours)
    assert result.numbers["expected_defects_caught"] == pytest.approx(plan.expected_defects_caught, abs=1e-3)
    assert result.numbers["expected_defects"] == pytest.approx(plan.expected_defects, abs=1e-3)
    assert result.numbers["full_extent_joints"] == plan.full_extent_joints
    assert result.numbers["full_extent_inspected"] == plan.full_extent_inspected
    # every chosen joint is a row (no cut at 50), in the workflow's order, with its method and full-extent rule
    assert [r["code"] for r in result.rows] == [p.code for p in plan.inspection_points]
    assert [r["method"] for r in result.rows] == [p.method for p in plan.inspection_points]
    assert [r.get("full_extent_rule") for r in result.rows] == [p.full_extent_rule for p in plan.inspection_points]
    assert [r["rank"] for r in result.rows] == list(range(1, len(result.rows) + 1))


@pytest.mark.parametrize("budget", [{"budget": 0.05}, {"hours": 12.0}, {"joints": 50}, {}])
def test_every_figure_is_the_models_over_the_rows_shown(ctx: WorkflowContext, budget: dict[str, object]) -> None:
    joints = _independent(ctx, "B002")
    result = run_tool(ctx, "ndt_plan", {"code": "B002", **budget})
    ranked = sorted(joints, key=lambda c: -float(cast(float, joints[c]["risk"])))  # stable: ties keep the joint order
    if "hours" in budget:
        spent, k = 0.0, 0
        while k < len(ranked) and spent + float(cast(float, joints[ranked[k]]["hours"])) <= 12.0 + 1e-9:
            spent += float(cast(float, joints[ranked[k]]["hours"]))
            k += 1
    elif "joints" in budget:
        k = 50
    else:
        k = math.ceil(float(cast(float, budget.get("budget", 0.1))) * len(joints))
    chosen = ranked[:k]
    assert [r["code"] for r in result.rows] == chosen
    for row in result.rows:
        mine = joints[str(row["code"])]
        assert row["defect_probability"] == pytest.approx(mine["risk"], abs=1e-4)
        assert row["method"] == mine["method"] and row["ndt_hours"] == mine["hours"]
    caught = sum(float(cast(float, joints[c]["risk"])) for c in chosen)
    total = sum(float(cast(float, j["risk"])) for j in joints.values())
    spent = sum(float(cast(float, joints[c]["hours"])) for c in chosen)
    assert f"inspect {k:,} of {len(joints):,} joints of B002 ({spent:,.1f} NDT hours)" in result.summary
    assert f"they hold {caught:.2f} of {total:.2f} expected defects ({100 * caught / total:.0f} %)" in result.summary


def test_every_chosen_joint_is_shown_however_many(ctx: WorkflowContext) -> None:
    result = run_tool(ctx, "ndt_plan", {"code": "B002", "budget": 1.0})
    assert len(result.rows) == result.numbers["inspected"] == result.numbers["joints"] > 50
    columns = [c.name for c in result.columns]
    assert "method" in columns and "full_extent_rule" in columns
    lines = TOOLS.get("ndt_plan").lines
    assert lines is not None
    text = lines(result)
    for line, row in zip(text[:10], result.rows[:10], strict=True):  # the answer's lines name each method
        assert line.startswith(f"- {row['rank']}. {row['code']}: {row['method']} (")
    assert text[-1] == f"- and {len(result.rows) - 10:,} more joints in the table"


def test_a_budget_below_one_joint_says_so(ctx: WorkflowContext) -> None:
    result = run_tool(ctx, "ndt_plan", {"code": "B002", "hours": 0.2})
    assert result.rows == [] and result.numbers["inspected"] == 0
    assert result.summary.startswith("no joint of B002 fits within a budget of 0.2 NDT hours")


def test_a_joint_budget_beyond_the_scope_takes_them_all(ctx: WorkflowContext) -> None:
    result = run_tool(ctx, "ndt_plan", {"code": "B002-A01", "joints": 100_000})
    assert result.numbers["inspected"] == result.numbers["joints"] == len(result.rows)
    assert f"({int(result.numbers['joints']):,} is all it has)" in result.summary


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ({"budget": 0.05, "hours": 3.0}, "ndt_plan: arguments: give one NDT budget.*not budget and hours"),
        ({"hours": 40.0, "joints": 50}, "not hours and joints"),
        ({"hours": float("inf")}, "ndt_plan: hours: Input should be a finite number"),
        ({"hours": 0}, "ndt_plan: hours"),
        ({"joints": 0}, "ndt_plan: joints"),
        ({"budget": 1.5}, "ndt_plan: budget"),
    ],
)
def test_a_budget_it_cannot_use_is_refused_by_name(ctx: WorkflowContext, args: dict[str, object], match: str) -> None:
    with pytest.raises(InputError, match=match):
        run_tool(ctx, "ndt_plan", {"code": "B002", **args})


def _args_from(**entities: object) -> dict[str, JsonValue] | str:
    args_from = TOOLS.get("ndt_plan").args_from
    assert args_from is not None
    found = SimpleNamespace(**({"codes": ["B012"], "budget": None} | entities))
    return args_from(cast("Entities", found), "NDT plan for B012")


def test_the_planners_budget_entities_become_the_tools_budget() -> None:
    assert _args_from(budget_hours=40.0) == {"code": "B012", "hours": 40.0}
    assert _args_from(budget_joints=50) == {"code": "B012", "joints": 50}
    assert _args_from(budget=0.05) == {"code": "B012", "budget": 0.05}
    assert _args_from() == {"code": "B012"}  # no budget: the tool's default, which it says it used
    refused = _args_from(budget=0.05, budget_hours=40.0)
    assert isinstance(refused, str) and "one budget" in refused


def test_an_ndt_plan_of_a_work_package_and_of_one_joint(ctx: WorkflowContext) -> None:
    wp = run_tool(ctx, "ndt_plan", {"code": "wp-b003-asm", "joints": 3})
    plan = _plan(ctx, {"code": "WP-B003-ASM", "budget": {"joints": 3}})
    assert [r["code"] for r in wp.rows] == [p.code for p in plan.inspection_points]
    joint = plan.inspection_points[0]
    one = run_tool(ctx, "ndt_plan", {"code": joint.code})
    assert [r["code"] for r in one.rows] == [joint.code] and one.rows[0]["method"] == joint.method


def _rows_total(result: ToolResult) -> float:
    return float(np.sum([float(cast(float, r["ndt_hours"])) for r in result.rows]))


def test_the_hours_of_the_rows_add_up_to_the_summary(ctx: WorkflowContext) -> None:
    result = run_tool(ctx, "ndt_plan", {"code": "B003", "hours": 25.0})
    assert _rows_total(result) == pytest.approx(result.numbers["ndt_hours"]) and _rows_total(result) <= 25.0
    assert f"({_rows_total(result):,.1f} NDT hours)" in result.summary
