"""What-ifs against the adopted plan: the repair keeps order and resources, and the answer names what moves."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pydantic import TypeAdapter

from adapters import Registry
from adapters.outfitting import OutfittingAdapter
from adapters.scheduling import HOURS_PER_DAY, Schedule, violations
from adapters.welding import WeldingAdapter
from brain.core import YardContext
from brain.core.yardplan import schedule_json
from brain.planbook import Approver, PlanEvent, deciding
from brain.tools import describe_change, pin_change, run_tool
from brain.tools.schedule import MovedPackage
from knowledge import InputError, Settings


@pytest.fixture(scope="module")
def ctx(small_yard: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[YardContext]:
    context = YardContext.open(small_yard, Settings(data_dir=tmp_path_factory.mktemp("what-if")))
    yield context
    context.close()


def _erections(ctx: YardContext, schedule: Schedule) -> dict[str, tuple[int, int]]:
    """Each block's erection (start, finish)."""
    index = ctx.index
    erects = index.trades[index.trade_making("block") or 0]
    return {
        index.block_code(index.row_of[t.code]): (t.start_day, t.finish_day)
        for t in schedule.tasks
        if index.trade[index.row_of[t.code]] == erects
    }


def test_a_late_block_keeps_its_place_in_the_dock_and_what_follows_it_waits(ctx: YardContext) -> None:
    """Issue 11 item 3: B020 3 days late moved its erection, but its outfitting on board started before it."""
    base = ctx.plan.current()[1]
    dock_order = [b for b, _ in sorted(_erections(ctx, base).items(), key=lambda kv: kv[1])]
    for block in dock_order:
        event = ctx.plan.event(resource=None, code=block, days=3)
        proposal = ctx.plan.propose([event])
        assert violations(ctx.plan.request([event]), proposal.after) == []
        erected = _erections(ctx, proposal.after)
        assert erected[block][0] >= _erections(ctx, base)[block][0] + 3
        # the dock takes the blocks in the order it had them: none overtakes the late one
        assert [b for b, _ in sorted(erected.items(), key=lambda kv: kv[1])] == dock_order, block
        after = {t.code: t for t in proposal.after.tasks}
        before = {t.code: t for t in base.tasks}
        assert all(after[c].resource == before[c].resource for c in after)  # every package keeps its resource


def test_the_answer_says_what_repair_keeps_and_lists_every_moved_package(ctx: YardContext) -> None:
    """Issue 11 item 3: the moved panel and assembly packages were never mentioned, only erections."""
    result = run_tool(ctx, "what_if", {"resource": "PL-1", "days": 6, "start_day": 0})
    moved = result.breakdown
    assert moved and result.numbers["moved_work_packages"] == len(moved)
    index = ctx.index
    first = index.trades[0]  # the first trade of a block's life: the panel line's
    assert any(index.trade[index.row_of[str(r["work_package"])]] == first for r in moved), "not only erections"
    assert f"{len(moved)} work package" in result.summary
    source = " ".join(result.sources)
    assert "keeps its resource" in source and "order" in source and "none starts earlier" in source


# ---- cross-model what-ifs: a model's output on a code changes, durations follow ---------------------------------


def _independent_hours(
    ctx: YardContext, settings: Settings, block: str, welding: float, rework: float
) -> dict[str, float]:
    """Hours each work package gains: the models run afresh over the block's rows (not the plan's kept predictions)."""
    yard = ctx.yard
    registry = Registry.load(settings)
    gained: dict[str, float] = {}
    node = yard.node_of(block)

    def in_block(role: str) -> np.ndarray:  # the role's nodes whose block is this one (on-board items included)
        nodes = yard.nodes_of_role(role)
        return nodes[yard.block_of(nodes) == node]

    joints = WeldingAdapter.yard_rows(yard, in_block("joint"))
    hours = registry.get("welding").predict(joints).column("hours").to_numpy()
    joint_nodes = joints.column("node").to_numpy()
    wp_codes = yard.codes_of(yard.field_of("joint", "work_package", joint_nodes))
    for code, h in zip(wp_codes, hours.tolist(), strict=True):
        gained[code] = gained.get(code, 0.0) + (welding - 1) * h
    items = OutfittingAdapter.yard_rows(yard, in_block("outfitting_item"))
    risk = registry.get("outfitting").predict(items).column("rework_probability").to_numpy()
    item_nodes = items.column("node").to_numpy()
    wp_codes = yard.codes_of(yard.field_of("outfitting_item", "work_package", item_nodes))
    norms = yard.field_of("outfitting_item", "norm_hours", item_nodes)
    for code, norm, p in zip(wp_codes, norms.tolist(), risk.tolist(), strict=True):
        gained[code] = gained.get(code, 0.0) + norm * (min(1.0, rework * p) - p)
    return gained


@pytest.mark.parametrize(("welding", "rework"), [(1.5, 1.0), (1.0, 3.0), (1.2, 100.0)])
def test_a_model_change_moves_the_hours_by_the_models_rule(ctx: YardContext, welding: float, rework: float) -> None:
    """Welding hours scale the joints' predicted hours; rework scales the items' risk, capped at 1."""
    event = ctx.plan.event(
        resource=None,
        code="B003",
        days=None,
        welding_factor=welding if welding != 1.0 else None,
        rework_factor=rework if rework != 1.0 else None,
    )
    before, after = ctx.plan.hours(()), ctx.plan.hours([event])
    expected = _independent_hours(ctx, ctx.settings, "B003", welding, rework)
    for code in before:
        assert after[code] - before[code] == pytest.approx(expected.get(code, 0.0), rel=1e-4, abs=1e-3), code
    request = ctx.plan.request([event])
    durations = {t.code: t.duration_days for t in request.tasks}
    crews = dict(zip(ctx.index.codes, ctx.index.crew.tolist(), strict=True))
    assert all(durations[c] == max(1, math.ceil(after[c] / (crews[c] * HOURS_PER_DAY) - 1e-9)) for c in after)


def test_welding_longer_on_a_block_is_answered_with_its_chain_of_causes(ctx: YardContext) -> None:
    """Issue 11: "if welding on B003 takes 50 % longer": durations follow, the schedule is repaired, the chain said."""
    result = run_tool(ctx, "what_if", {"code": "B003", "welding_factor": 1.5})
    proposal = ctx.plan.propose([ctx.plan.event(resource=None, code="B003", days=None, welding_factor=1.5)])
    assert violations(ctx.plan.request([*proposal.adopted, *proposal.events]), proposal.after) == []
    longer = [m for m in result.breakdown_as(MovedPackage) if m.duration_days is not None]
    assert longer and all(m.duration_days > (m.duration_days_was or 0) for m in longer if m.duration_days is not None)
    assert result.numbers["makespan_days_after"] == proposal.after.makespan_days
    summary = result.summary
    assert summary.startswith("if B003's welding +50 %:") and "Chain of causes: B003's welding +50 % -> " in summary
    first = next(m for m in longer if m.work_package in summary)
    assert f"{first.work_package} {first.duration_days_was} -> {first.duration_days} days" in summary
    delta = proposal.after.makespan_days - proposal.before.makespan_days
    assert summary.endswith(f"ship finishes day {proposal.after.makespan_days} ({delta:+d})")
    assert any("welding model" in s for s in result.sources)


def test_a_model_change_is_refused_where_it_changes_nothing_or_is_not_one(ctx: YardContext) -> None:
    with pytest.raises(InputError, match="needs how many days"):
        run_tool(ctx, "what_if", {"code": "B003"})
    with pytest.raises(InputError, match="applies to a code, not to a resource"):
        run_tool(ctx, "what_if", {"resource": "PL-1", "days": 2, "welding_factor": 1.2})
    with pytest.raises(InputError, match="welding_factor"):
        run_tool(ctx, "what_if", {"code": "B003", "welding_factor": float("inf")})
    item = ctx.yard.codes_of(ctx.yard.nodes_of_role("outfitting_item")[:1])[0]
    with pytest.raises(InputError, match="has no weld joints"):
        run_tool(ctx, "what_if", {"code": item, "welding_factor": 1.2})


def test_a_model_change_is_adopted_exactly_as_shown(small_yard: Path, tmp_path: Path) -> None:
    """Adoption works like the other events: pinned, adopted once, the plan is the schedule shown; it reads back."""
    ctx = YardContext.open(small_yard, Settings(data_dir=tmp_path))
    try:
        args = {"code": "B003", "rework_factor": 2.0, "welding_factor": 1.3}
        shown = run_tool(ctx, "what_if", args)
        change = describe_change(ctx, "adopt_plan", args)
        assert change.startswith("adopt into the yard's plan: B003's welding +30 % and B003's outfitting rework")
        pinned = {**args, **pin_change(ctx, "adopt_plan", args)}
        with deciding(Approver("planner.anna", "key_anna", str(pinned["schedule_digest"]))):
            done = run_tool(ctx, "adopt_plan", pinned, approved_by="planner.anna", key="approval:1")
            again = run_tool(ctx, "adopt_plan", pinned, approved_by="planner.anna", key="approval:1")
        assert done.numbers == again.numbers and done.numbers["adopted_events"] == 1
        events, schedule = ctx.plan.current()
        assert events == (PlanEvent(code="B003", welding_factor=1.3, rework_factor=2.0),)
        assert schedule.makespan_days == shown.numbers["makespan_days_after"]
        assert schedule_json(schedule) == ctx.plan.planbook.adoptions()[0].schedule
        # the next what-if starts from the adopted hours: the same change again moves hours again
        assert ctx.plan.hours(events) != ctx.plan.hours(())
    finally:
        ctx.close()


def test_events_stored_before_model_changes_still_read() -> None:
    old = '[{"resource":"PL-1","code":null,"days":6,"start_day":2},{"resource":null,"code":"B006-A01","days":4}]'
    events = TypeAdapter(list[PlanEvent]).validate_json(old)
    assert [e.describe() for e in events] == ["PL-1 down for 6 days from day 2", "B006-A01 late by 4 days"]
    assert not any(e.changes_model for e in events)
