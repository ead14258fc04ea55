"""Risk and hours of one joint, one part, one outfitting item, one work package (issue 11, item 5).

"How risky is joint J12-1426?" read the code, then failed: "'J012-001426' is a joint; only blocks ... have members".
Each answer here is recomputed independently: the adapter run again over the same rows of the yard's store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from adapters.outfitting import OutfittingAdapter
from adapters.welding import WeldingAdapter
from brain.core import YardContext
from brain.supervisor import Brain
from brain.tools import run_tool
from knowledge import InputError, Settings
from knowledge.store import YardStore


@pytest.fixture(scope="module")
def ctx(small_yard: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[YardContext]:
    context = YardContext.open(small_yard, Settings(data_dir=tmp_path_factory.mktemp("single")))
    yield context
    context.close()


def _welding(ctx: YardContext, joint_ids: np.ndarray) -> tuple[pa.Table, pa.Table]:
    """The joints' input rows (ascending nodes) and the welding adapter's predictions over them, run here."""
    rows = WeldingAdapter.yard_rows(ctx.yard, np.unique(joint_ids))
    return rows, ctx.registry.get("welding").predict(rows)


def _items(ctx: YardContext, item_ids: np.ndarray) -> tuple[pa.Table, pa.Table]:
    rows = OutfittingAdapter.yard_rows(ctx.yard, np.unique(item_ids))
    return rows, ctx.registry.get("outfitting").predict(rows)


def _a_joint(g: YardStore) -> str:
    return g.code_of(int(g.members(g.node_of("B002"), kinds=["joint"])[40]))


def _joints_of_part(g: YardStore, part: int) -> set[int]:
    """The joints that join the part: every edge part -> joint of the yard's graph (a joint waits on its parts)."""
    before, after = g.edge_arrays()
    joints = set(g.nodes_of_role("joint").tolist())
    return {int(j) for j in after[before == part].tolist() if j in joints}


def _a_part(g: YardStore) -> int:
    """A part of B002 that several joints join (the first part of a sub-assembly is welded at every level)."""
    sub = g.members(g.node_of("B002"), kinds=["sub_assembly"])[0]
    return int(g.members(int(sub), kinds=["part"])[0])


def test_one_joint_is_answered_for_that_joint(ctx: YardContext) -> None:
    g = ctx.yard
    code = _a_joint(g)
    short = code[0] + str(int(code[1:4])) + "-" + str(int(code[5:]))  # as a person types it: J2-41 for J002-000041
    result = run_tool(ctx, "weld_risk", {"code": short})
    rows, predicted = _welding(ctx, np.asarray([g.node_of(code)]))
    facts = rows.to_pylist()[0]
    hours = float(predicted.column("hours")[0].as_py())
    risk = float(predicted.column("defect_probability")[0].as_py())
    method = "MT" if facts["joint_type"] == "fillet" else ("UT" if facts["thickness_mm"] >= 8 else "RT")
    assert result.error is None and len(result.rows) == 1
    row = result.rows[0]
    assert row["code"] == code and row["method"] == method
    assert (row["process"], row["position"], row["access"]) == (facts["process"], facts["position"], facts["access"])
    assert row["thickness_mm"] == pytest.approx(facts["thickness_mm"])
    assert row["hours"] == pytest.approx(hours, abs=0.005) and row["defect_probability"] == pytest.approx(
        risk, abs=1e-4
    )
    assert result.summary.startswith(f"{code} is a weld joint joining ")
    for said in (
        f"{facts['process']} {facts['position']} {facts['joint_type']}",
        f"{facts['thickness_mm']:g} mm, {facts['access']} access",
        f"{hours:.2f} welding hours",
        f"a defect risk of {100 * risk:.1f} %",
        f"NDT by {method} (NDT-RULE-01)",
    ):
        assert said in result.summary
    assert result.numbers == {"joints": 1.0, "hours": row["hours"], "expected_defects": row["defect_probability"]}


def test_one_part_is_the_joints_that_join_it(ctx: YardContext) -> None:
    g = ctx.yard
    part = _a_part(g)
    joints = _joints_of_part(g, part)
    assert len(joints) >= 2
    result = run_tool(ctx, "weld_risk", {"code": g.code_of(part)})
    _, predicted = _welding(ctx, np.asarray(sorted(joints)))
    hours = float(pc.sum(predicted.column("hours")).as_py())
    defects = float(pc.sum(predicted.column("defect_probability")).as_py())
    assert {g.node_of(str(r["code"])) for r in result.rows} == joints  # every joint of the part, riskiest first
    risks = [float(str(r["defect_probability"])) for r in result.rows]
    assert risks == sorted(risks, reverse=True)
    assert result.numbers["joints"] == len(joints)
    assert result.numbers["hours"] == pytest.approx(hours, rel=1e-6)
    assert result.numbers["expected_defects"] == pytest.approx(defects, rel=1e-6)
    assert result.summary.startswith(f"{g.code_of(part)} is a part joined by {len(joints)} weld joints")
    assert f"{hours:.2f} welding hours and {defects:.2f} expected defects" in result.summary
    hours_result = run_tool(ctx, "predicted_hours", {"codes": [g.code_of(part)]})
    assert hours_result.rows[0]["joints"] == len(joints)
    assert hours_result.rows[0]["welding_hours"] == pytest.approx(hours, abs=0.005)
    assert f"{hours:.2f} predicted welding hours" in hours_result.summary


def test_one_work_package_is_its_own_joints(ctx: YardContext) -> None:
    g = ctx.yard
    wp = g.node_of("WP-B003-ASM")
    joints = g.role_table("joint", ["work_package"])
    ids = joints.filter(pc.equal(joints.column("work_package"), wp)).column("node").to_numpy()
    _, predicted = _welding(ctx, ids)
    result = run_tool(ctx, "weld_risk", {"code": "wp-b003-asm"})
    assert result.numbers["joints"] == len(ids)
    assert result.numbers["hours"] == pytest.approx(float(pc.sum(predicted.column("hours")).as_py()), rel=1e-6)
    assert result.numbers["expected_defects"] == pytest.approx(
        float(pc.sum(predicted.column("defect_probability")).as_py()), rel=1e-6
    )
    assert result.summary.startswith(f"WP-B003-ASM (work package): {len(ids):,} joints")
    assert sum(int(str(r["joints"])) for r in result.breakdown) == len(ids)
    many = run_tool(ctx, "predict", {"model": "welding", "code": "WP-B003-ASM"})
    assert many.numbers["rows"] == len(ids)


def _an_item(g: YardStore) -> int:
    return int(g.members(g.node_of("B002"), kinds=["outfitting_item"])[7])


def test_one_outfitting_item_is_answered_for_that_item(ctx: YardContext) -> None:
    g = ctx.yard
    item = _an_item(g)
    code = g.code_of(item)
    rows, predicted = _items(ctx, np.asarray([item]))
    risk = float(predicted.column("rework_probability")[0].as_py())
    stage = str(predicted.column("stage")[0].as_py())
    table = g.role_table("outfitting_item", ["stage", "norm_hours"])
    mine = table.filter(pc.equal(table.column("node"), item)).to_pylist()[0]
    expected = float(mine["norm_hours"]) * (1 + risk)
    result = run_tool(ctx, "outfitting", {"code": code})
    (row,) = result.rows
    assert row["code"] == code and row["predicted_stage"] == stage and row["planned_stage"] == mine["stage"]
    assert row["rework_probability"] == pytest.approx(risk, abs=1e-4)
    assert row["expected_hours"] == pytest.approx(expected, abs=0.005)
    assert row["norm_hours"] == pytest.approx(mine["norm_hours"], abs=0.005)
    assert f"the outfitting model predicts {stage} (" in result.summary
    assert ("(as planned)" if stage == mine["stage"] else f"(planned {mine['stage']})") in result.summary
    assert f"a rework risk of {100 * risk:.1f} %" in result.summary
    assert f"{expected:.2f} expected hours (planning norm {mine['norm_hours']:.2f} h" in result.summary
    hours = run_tool(ctx, "predicted_hours", {"codes": [code]})
    assert hours.rows[0]["outfitting_hours"] == pytest.approx(expected, abs=0.005)
    assert hours.rows[0]["items"] == 1 and hours.rows[0]["joints"] == 0
    assert f"{expected:.2f} expected outfitting hours" in hours.summary
    scored = run_tool(ctx, "predict", {"model": "outfitting", "code": code})
    assert scored.numbers["rows"] == 1
    assert scored.numbers["rework_probability_sum"] == pytest.approx(risk, rel=1e-6)


def test_hours_of_one_joint(ctx: YardContext) -> None:
    g = ctx.yard
    code = _a_joint(g)
    _, predicted = _welding(ctx, np.asarray([g.node_of(code)]))
    hours = float(predicted.column("hours")[0].as_py())
    result = run_tool(ctx, "predicted_hours", {"codes": [code]})
    assert result.rows[0]["welding_hours"] == pytest.approx(hours, abs=0.005) and result.rows[0]["joints"] == 1
    assert f"{code} is a weld joint: the welding model predicts {hours:.2f} welding hours" in result.summary


@pytest.mark.parametrize(
    ("tool", "args", "match"),
    [
        # weld risk of an item is its rework risk (the outfitting tool answers); its NDT plan has nothing to inspect
        ("ndt_plan", {"code": "item"}, "is an outfitting item with no weld joints; ask for its outfitting stage"),
        ("outfitting", {"code": "joint"}, "is a weld joint with no outfitting items; ask about its weld risk"),
        ("predict", {"model": "outfitting", "code": "joint"}, "is a weld joint with no outfitting items for model"),
    ],
)
def test_what_one_thing_does_not_have_names_what_to_ask(
    ctx: YardContext, tool: str, args: dict[str, str], match: str
) -> None:
    g = ctx.yard
    code = {"item": g.code_of(_an_item(g)), "joint": _a_joint(g)}[args["code"]]
    with pytest.raises(InputError, match=match):
        run_tool(ctx, tool, {**args, "code": code})


def test_how_risky_is_one_joint_end_to_end(brain: Brain) -> None:
    g = brain.context.yard
    code = _a_joint(g)
    answer = brain.ask(f"How risky is joint {code}?")
    assert [r.tool for r in answer.results] == ["weld_risk"]
    result = answer.results[0]
    assert result.error is None and result.rows[0]["code"] == code
    assert "only blocks" not in answer.answer and f"{code} is a weld joint" in answer.answer
