"""The schedule tools' chains of work: the critical path into a block or assembly, and the schedule's breakdown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from adapters.scheduling import OUTAGE_PREFIX, chain_into
from brain.core import YardContext
from brain.tools import TOOLS, ToolResult, run_tool
from brain.tools.schedule import PathStep
from knowledge import Settings


@pytest.fixture(scope="module")
def ctx(small_yard: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[YardContext]:
    context = YardContext.open(small_yard, Settings(data_dir=tmp_path_factory.mktemp("schedule-tools")))
    yield context
    context.close()


def _norm_hours(ctx: YardContext) -> np.ndarray:
    """Per node, the planning norms from the yard's tables, as `shipbrain yard query critical` weighs the graph."""
    yard = ctx.yard
    hours = np.zeros(yard.num_nodes)
    for role in ("joint", "outfitting_item"):
        nodes = yard.nodes_of_role(role)
        hours[nodes] = yard.role_table(role, ["norm_hours"]).column("norm_hours").to_numpy()
    return hours


def _assert_chained(result: ToolResult) -> None:
    """Each step starts the day the step before it finishes (an outage may lead the chain)."""
    steps = [r for r in result.breakdown_as(PathStep) if r.start_day is not None]
    for before, after in zip(steps, steps[1:], strict=False):
        assert after.start_day == before.finish_day, (before, after)


@pytest.mark.parametrize("kind", ["block", "assembly"])
def test_the_critical_path_into_a_block_or_assembly_is_the_part_graphs(ctx: YardContext, kind: str) -> None:
    """Issue 11 item 6: "critical path for B020" answered the whole ship's path."""
    yard = ctx.yard
    nodes = yard.nodes_of_role(kind)
    node = int(nodes[len(nodes) // 2])
    code = yard.code_of(node)
    result = run_tool(ctx, "critical_path", {"code": code})
    expected = yard.critical_path(_norm_hours(ctx), end=node)
    assert [r["code"] for r in result.rows] == yard.codes_of(expected.node_ids)
    assert result.rows[-1]["code"] == code
    assert result.numbers["chain_hours"] == pytest.approx(expected.length)
    assert f"the longest chain of work into {code} in the part graph (planning-norm hours" in result.summary
    assert f"{expected.length:,.1f} h" in result.summary
    # the schedule's chain ends at the work package that makes the code (a block's erection), every step held up
    package = ctx.index.package_of(code)
    assert result.breakdown[-1]["work_package"] == package
    _assert_chained(result)
    assert f"in the adopted schedule {package} starts on day" in result.summary


def test_the_critical_path_of_the_ship_without_a_code(ctx: YardContext) -> None:
    result = run_tool(ctx, "critical_path", {})
    events, schedule = ctx.plan.current()
    expected = ctx.yard.critical_path(_norm_hours(ctx))
    assert [r["code"] for r in result.rows] == ctx.yard.codes_of(expected.node_ids)
    assert [r["work_package"] for r in result.breakdown] == [
        f"{c.removeprefix(OUTAGE_PREFIX)} down" if c.startswith(OUTAGE_PREFIX) else c for c in schedule.critical_path
    ]
    assert "the longest chain of work of the ship" in result.summary
    assert f"the ship finishes on day {schedule.makespan_days}" in result.summary
    spec = TOOLS.get("critical_path")
    assert spec.intent == "critical_path" and spec.args_from is not None and spec.intent_description


def test_the_schedule_table_holds_work_packages_and_its_breakdown_the_path(ctx: YardContext) -> None:
    """Issue 11 item 11: the schedule table mixed the critical path in as blank rows."""
    ship = run_tool(ctx, "erection_schedule", {})
    _, schedule = ctx.plan.current()
    assert ship.rows == []
    assert [r["work_package"] for r in ship.breakdown] == list(schedule.critical_path)
    assert [c.name for c in ship.breakdown_columns][:2] == ["step", "work_package"]
    block = run_tool(ctx, "erection_schedule", {"code": "B004"})
    assert block.rows and all(r["start_day"] is not None and r["finish_day"] is not None for r in block.rows)
    assert "critical_path" not in {c.name for c in block.columns}
    erection = ctx.index.package_of("B004")
    assert block.breakdown[-1]["work_package"] == erection  # the chain into its erection
    assert block.breakdown[-1]["start_day"] == block.numbers["erection_day"]
    _assert_chained(block)


def test_a_chain_into_a_task_after_an_outage_names_the_outage(ctx: YardContext) -> None:
    event = ctx.plan.event(resource="PL-1", code=None, days=5, start_day=0)
    proposal = ctx.plan.propose([event])
    request = ctx.plan.request([event])
    on_line = min((t for t in proposal.after.tasks if t.resource == "PL-1"), key=lambda t: t.start_day)
    links = chain_into(request, proposal.after, on_line.code)
    assert [link.code for link in links] == ["DOWN:PL-1", on_line.code]
    assert links[-1].waits_on == "outage"
    assert chain_into(request, proposal.after) == chain_into(request, proposal.after, None)
    assert tuple(link.code for link in chain_into(request, proposal.after)) == proposal.after.critical_path
