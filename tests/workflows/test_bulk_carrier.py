"""The workflows on the bulk carrier sample: another yard's own ids, kinds, trades and zones, nothing synthetic."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import networkx as nx
import pytest

from adapters.scheduling import CALENDAR_REASON
from knowledge import Settings
from tests.helpers.schedule_validator import violations
from tests.helpers.yards import bulk_carrier_edited, to_networkx
from workflows import WorkflowContext, WorkflowInputError, run_workflow
from workflows.block_readiness import BlockReadiness
from workflows.outfitting_plan import OutfittingPlan
from workflows.reschedule import RescheduleRequest, RescheduleResult, repair_for_events
from workflows.weld_inspection_plan import WeldInspectionPlan

BLOCK = "H1042/DB03"
"""A double-bottom block of hold 3: five blocks rest below it in the erection."""
AT = "2025-09-20T08:00:00Z"


@pytest.fixture(scope="module")
def bulk(bulk_carrier: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkflowContext]:
    context = WorkflowContext.open(bulk_carrier, Settings(data_dir=tmp_path_factory.mktemp("bulk-workflows")))
    yield context
    context.close()


@pytest.fixture(scope="module")
def twin(bulk: WorkflowContext) -> nx.DiGraph:
    return to_networkx(bulk.yard)


def test_block_readiness_of_a_bulk_carrier_block_by_its_own_id(bulk: WorkflowContext, twin: nx.DiGraph) -> None:
    y = bulk.yard
    node = y.node_of(BLOCK)
    closure = {n for n in nx.ancestors(twin, node) if y.role_of(n) not in ("work_package", "resource")}
    lower = sorted(n for n in closure if y.role_of(n) == "block")
    before = run_workflow("block-readiness", {"block": "h1042/db03"}, bulk)  # typed loosely, found all the same
    assert isinstance(before, BlockReadiness)
    assert before.block == BLOCK and before.scope_total == len(closure) == before.missing_total
    assert sorted(y.nodes_of(before.prerequisite_blocks).tolist()) == lower and len(lower) >= 2
    assert before.missing_by_kind == dict(Counter(y.kinds_of(sorted(closure))))
    assert {"PLATE", "PROFILE", "SEAM", "BLK"} <= set(before.missing_by_kind)  # the yard's words, not roles
    assert sum(m.count for m in before.missing) == before.missing_total
    packages = set(bulk.index.codes)
    assert before.work_packages and {w.work_package for w in before.work_packages} <= packages
    assert all(w.work_package.startswith("WP-") for w in before.work_packages)
    assert before.ready_day == max(w.finish_day for w in before.work_packages) > 0
    assert not before.ready and before.remaining_hours > 0

    seams = [m for m in before.missing if m.kind == "SEAM" and m.work_package is not None]
    package = seams[0].work_package
    assert package is not None
    done_codes = [y.code_of(lower[0]), package]
    reports = [{"code": c, "status": "completed", "reported_at": AT} for c in done_codes]
    after = run_workflow("block-readiness", {"block": BLOCK, "reports": reports}, bulk)
    assert isinstance(after, BlockReadiness)
    done = {lower[0]} | nx.ancestors(twin, lower[0])
    for n in bulk.index.scope(bulk.index.work_package(package)).tolist():
        done |= {n} | nx.ancestors(twin, n)
    assert after.missing_total == len(closure - done) < before.missing_total
    assert after.missing_by_kind == dict(Counter(y.kinds_of(sorted(closure - done))))
    assert package not in {w.work_package for w in after.work_packages}
    assert after.as_of.isoformat() == AT[:10] and after.day_zero == y.day0


def test_an_ndt_plan_of_a_bulk_carrier_block(bulk: WorkflowContext) -> None:
    y = bulk.yard
    joints = y.members(y.node_of(BLOCK), kinds=["joint"])
    plan = run_workflow("weld-inspection-plan", {"code": BLOCK, "budget": {"share": 0.05}}, bulk)
    assert isinstance(plan, WeldInspectionPlan)
    assert plan.scope == "block" and plan.code == BLOCK and plan.joints_total == len(joints)
    assert plan.joints_inspected == -(-len(joints) * 5 // 100)
    assert {p.code for p in plan.inspection_points} <= set(y.codes_of(joints))
    risks = [p.defect_probability for p in plan.inspection_points]
    assert risks == sorted(risks, reverse=True)
    for p in plan.inspection_points:  # the yard's SEAM_TYPE and WPOS codes read in the brain's words
        assert p.joint_type in ("butt", "fillet") and p.position in ("1G", "2G", "3G", "4G", "1F", "2F", "3F", "4F")
        assert p.method == ("MT" if p.joint_type == "fillet" else ("UT" if p.thickness_mm >= 8 else "RT"))
    package = run_workflow("weld-inspection-plan", {"code": "wp-db03-fab", "budget": {"joints": 3}}, bulk)
    assert isinstance(package, WeldInspectionPlan)
    assert package.scope == "work_package" and package.code == "WP-DB03-FAB" and package.joints_inspected == 3


def test_an_outfitting_plan_of_a_bulk_carrier_zone_without_planned_stages(bulk: WorkflowContext) -> None:
    y = bulk.yard
    zone = "FORE BODY"
    blocks = y.role_table("block", ["zone"]).to_pydict()
    in_zone = {n for n, z in zip(blocks["node"], blocks["zone"], strict=True) if z == zone}
    items = y.nodes_of_role("outfitting_item")
    expected = {int(i) for i, b in zip(items.tolist(), y.block_of(items).tolist(), strict=True) if b in in_zone}
    plan = run_workflow("outfitting-plan", {"zone": zone}, bulk)
    assert isinstance(plan, OutfittingPlan)
    assert plan.scope == f"zone {zone}" and {y.node_of(i.code) for i in plan.sequence} == expected
    assert set(plan.blocks) == set(y.codes_of(sorted(in_zone))) and len(plan.blocks) > 1
    order = y.field_of("block", "erection_sequence", y.nodes_of(plan.blocks)).tolist()
    assert order == sorted(order)  # the blocks in erection order
    stages = {"on-unit", "on-block", "on-board"}
    assert {i.stage for i in plan.sequence} <= stages
    if "stage" in y.fields("outfitting_item"):  # the yard's own stage words, read as the canonical ones
        table = y.role_table("outfitting_item", ["stage"], nodes=sorted(expected)).to_pydict()
        planned = dict(zip(y.codes_of(table["node"]), table["stage"], strict=True))
        assert all(i.planned_stage == planned[i.code] and i.planned_stage in stages for i in plan.sequence)
        assert all(i.stage_differs == (i.stage != i.planned_stage) for i in plan.sequence)
    else:
        assert all(i.planned_stage is None and not i.stage_differs for i in plan.sequence)
        assert plan.stage_differs == 0 and "the yard gives no planned stages" in plan.summary
    assert {i.work_package for i in plan.sequence} <= set(bulk.index.codes)


def test_a_resource_down_on_the_bulk_carrier_is_repaired(bulk: WorkflowContext) -> None:
    events = [
        {"type": "resource_down", "equipment": "pl-1", "from_day": 2, "days": 6},
        {"type": "material_late", "code": "W-DB03-00017", "days": 4},
    ]
    run = repair_for_events(bulk, RescheduleRequest.model_validate({"events": events, "compare_optimised": False}))
    assert violations(run.request, run.repaired) == []
    # the event's downtime, beside the yard calendar's own (its resources' shutdowns are downtimes of every request)
    events_downtimes = [d for d in run.request.downtimes if d.reason != CALENDAR_REASON]
    assert [(d.resource, d.start_day, d.days) for d in events_downtimes] == [("PL-1", 2, 6)]
    package = bulk.index.package_of("W-DB03-00017")
    starts = {t.code: t.start_day for t in run.baseline.tasks}
    assert {t.code: t for t in run.request.tasks}[package].release_day == starts[package] + 4
    result = run_workflow("reschedule", {"events": events, "compare_optimised": False}, bulk)
    assert isinstance(result, RescheduleResult)
    assert result.events[0].startswith("PL-1 down for 6 days from day 2")
    assert "W-DB03-00017" in result.events[1] and result.makespan_days == run.repaired.makespan_days


@pytest.mark.parametrize(
    ("name", "payload", "where", "what"),
    [
        ("block-readiness", {"block": "B012"}, "block", "B012"),  # a synthetic yard's code means nothing here
        ("block-readiness", {"block": "H1042/DB03-P04"}, "block", "is an assembly (PANEL); give a block code"),
        ("outfitting-plan", {"zone": "MVZ3-L1"}, "zone", "it has ACCOMMODATION, AFT BODY"),
        ("weld-inspection-plan", {"code": "W-DB03-00017"}, "code", "is a joint (SEAM); give a block, assembly"),
        (
            "reschedule",
            {"events": [{"type": "resource_down", "equipment": "PL-9", "days": 2}]},
            "events.0.equipment",
            "no resource 'PL-9' in this yard; it has AH-1",
        ),
    ],
)
def test_bulk_carrier_requests_are_checked_against_its_own_ids(
    bulk: WorkflowContext, name: str, payload: dict[str, object], where: str, what: str
) -> None:
    with pytest.raises(WorkflowInputError) as caught:
        run_workflow(name, payload, bulk)
    assert caught.value.field == where and what in str(caught.value)


def _reimported(root: Path, edit: Callable[[str, str], str | None]) -> Path:
    """The bulk carrier imported again, each yard.toml line as `edit(section, line)` gives it (None: left out)."""
    return bulk_carrier_edited(root, edit)


def test_a_yard_without_planned_stages_or_norms_still_plans_and_forecasts(tmp_path: Path) -> None:
    def edit(section: str, line: str) -> str | None:
        dropped = section == "[columns.outfitting_item]" and line.startswith(("stage", "norm_hours"))
        return None if dropped else line

    context = WorkflowContext.open(_reimported(tmp_path, edit), Settings(data_dir=tmp_path / "data"))
    try:
        assert not {"stage", "norm_hours"} & set(context.yard.fields("outfitting_item"))
        plan = run_workflow("outfitting-plan", {"block": BLOCK}, context)
        assert isinstance(plan, OutfittingPlan) and plan.items_total > 0
        assert all(i.planned_stage is None and not i.stage_differs for i in plan.sequence)
        assert plan.stage_differs == 0 and "the yard gives no planned stages" in plan.summary
        assert all(i.work_package in context.index.codes for i in plan.sequence)  # each item's own package
        ready = run_workflow("block-readiness", {"block": BLOCK}, context)
        assert isinstance(ready, BlockReadiness) and ready.remaining_hours > 0 and ready.ready_day > 0
    finally:
        context.close()


def test_a_yard_without_outfitting_items_is_told_which_role_to_map(tmp_path: Path) -> None:
    def edit(section: str, line: str) -> str | None:
        if section == "[columns.outfitting_item]" or line.startswith("outfitting_item ="):
            return None
        if line.startswith("kinds ="):  # the item kinds stay nodes, of no role
            return 'kinds = ["SYS", "PIPELINE", "SPOOL", "TRAY", "DUCT", "EQUIP"]'
        return line

    context = WorkflowContext.open(_reimported(tmp_path, edit), Settings(data_dir=tmp_path / "data"))
    try:
        for field, payload in (("block", {"block": BLOCK}), ("zone", {"zone": "AFT BODY"})):
            with pytest.raises(WorkflowInputError, match=r"has none.*\[roles\] outfitting_item") as caught:
                run_workflow("outfitting-plan", payload, context)
            assert caught.value.field == field
        ready = run_workflow("block-readiness", {"block": BLOCK}, context)  # the rest still answers
        assert isinstance(ready, BlockReadiness) and "SPOOL" in ready.missing_by_kind  # a node of no role
        assert any(m.kind == "SPOOL" and m.role is None for m in ready.missing)
    finally:
        context.close()
