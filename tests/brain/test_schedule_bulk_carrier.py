"""The schedule tools on the bulk carrier sample: a yard with other ids, kinds, trades and column names.

A what-if (a resource down for some days), a block's erection, the critical path into a block and a block's
predicted hours, each through the tool as the brain calls it; and a yard that does not say which work package
erects its blocks is told which field to map, before anything is solved.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from adapters import Registry
from adapters.outfitting import OutfittingAdapter
from adapters.scheduling import violations
from adapters.welding import WeldingAdapter
from brain.core import YardContext
from brain.supervisor import Brain
from brain.tools import run_tool
from brain.tools.schedule import MovedPackage, PathStep, Slip
from knowledge import Settings
from knowledge.errors import MissingFieldError
from tests.helpers.yards import bulk_carrier_edited


@pytest.fixture(scope="module")
def ctx(bulk_carrier: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[YardContext]:
    context = YardContext.open(bulk_carrier, Settings(data_dir=tmp_path_factory.mktemp("bulk-schedule")))
    yield context
    context.close()


def _middle_block(ctx: YardContext) -> tuple[int, str]:
    blocks = ctx.yard.nodes_of_role("block")
    node = int(blocks[len(blocks) // 2])
    return node, ctx.yard.code_of(node)


def test_a_resource_down_on_the_bulk_carrier_holds_up_what_runs_on_it(ctx: YardContext) -> None:
    _, base = ctx.plan.current()
    tasks = {t.code: t for t in base.tasks}
    # the earliest step of the ship's critical path that runs on a resource: down from its start, it must wait
    first = min((tasks[c] for c in base.critical_path if c in tasks and tasks[c].resource), key=lambda t: t.start_day)
    resource, days = str(first.resource), 10
    assert resource in ctx.yard.codes_of(ctx.yard.nodes_of_role("resource"))
    result = run_tool(ctx, "what_if", {"resource": resource, "days": days, "start_day": first.start_day})
    proposal = ctx.plan.propose([ctx.plan.event(resource=resource, code=None, days=days, start_day=first.start_day)])
    assert violations(ctx.plan.request([*proposal.adopted, *proposal.events]), proposal.after) == []
    moved = result.breakdown_as(MovedPackage)
    assert first.code in {m.work_package for m in moved}
    assert moved and result.numbers["moved_work_packages"] == len(moved)
    assert all(m.shift_days >= 0 for m in moved)  # nothing starts earlier
    after = {t.code: t for t in proposal.after.tasks}
    assert all(after[c].resource == tasks[c].resource for c in tasks)  # every package keeps its resource
    # the critical path is held up from its first step: the ship finishes at least `days` later
    assert result.numbers["makespan_days_after"] >= result.numbers["makespan_days_before"] + days
    slips = result.rows_as(Slip)
    assert slips and all(ctx.yard.role_of(ctx.yard.node_of(r.block)) == "block" for r in slips)
    assert f"if {resource} down for {days} days" in result.summary


def test_when_a_bulk_carrier_block_is_erected(ctx: YardContext) -> None:
    node, code = _middle_block(ctx)
    result = run_tool(ctx, "erection_schedule", {"code": code})
    _, schedule = ctx.plan.current()
    erection = ctx.index.package_of(code)  # the package the block's work_package field names
    task = next(t for t in schedule.tasks if t.code == erection)
    assert result.numbers["erection_day"] == task.start_day
    assert result.summary.startswith(f"{code} is erected on day {task.start_day}")
    assert result.breakdown[-1]["work_package"] == erection
    mine = {c for r, c in enumerate(ctx.index.codes) if ctx.index.block[r] == node}
    assert erection in mine and {r["code"] for r in result.rows} == mine


def test_when_a_work_package_of_no_block_runs(ctx: YardContext) -> None:
    index = ctx.index
    on_board = [row for row in range(len(index.codes)) if index.block[row] < 0]
    assert on_board, "the sample has packages that work on board, in no one block"
    code = index.codes[on_board[0]]
    result = run_tool(ctx, "erection_schedule", {"code": code.lower()})  # typed loosely
    _, schedule = ctx.plan.current()
    task = next(t for t in schedule.tasks if t.code == code)
    assert result.numbers["start_day"] == task.start_day and result.numbers["finish_day"] == task.finish_day
    assert result.summary.startswith(f"{code} runs from day {task.start_day} ({ctx.date_of(task.start_day)})")
    assert [r["code"] for r in result.rows] == [code]


def test_the_critical_path_into_a_bulk_carrier_block(ctx: YardContext) -> None:
    yard = ctx.yard
    node, code = _middle_block(ctx)
    result = run_tool(ctx, "critical_path", {"code": code})
    norms = np.zeros(yard.num_nodes)
    for role in ("joint", "outfitting_item"):
        norms[yard.nodes_of_role(role)] = yard.role_table(role, ["norm_hours"]).column("norm_hours").to_numpy()
    expected = yard.critical_path(norms, end=node)
    assert [r["code"] for r in result.rows] == yard.codes_of(expected.node_ids)
    assert result.rows[-1]["code"] == code and result.rows[-1]["kind"] == "block"
    assert result.numbers["chain_hours"] == pytest.approx(expected.length)
    # the kinds are the roles the yard's kinds play, never the yard's words (SEAM, PLATE)
    assert {r["kind"] for r in result.rows} <= {"block", "assembly", "sub assembly", "part", "joint", "outfitting item"}
    package = ctx.index.package_of(code)
    steps = result.breakdown_as(PathStep)
    assert steps[-1].work_package == package
    assert f"in the adopted schedule {package} starts on day {steps[-1].start_day}" in result.summary


def test_the_hours_of_a_bulk_carrier_block_are_the_models_over_what_it_holds(ctx: YardContext) -> None:
    yard = ctx.yard
    node, code = _middle_block(ctx)
    result = run_tool(ctx, "predicted_hours", {"codes": [code]})
    row = result.rows[0]
    registry = Registry.load(ctx.settings)

    def in_block(role: str) -> np.ndarray:  # the role's nodes whose block is this one (on-board items included)
        nodes = yard.nodes_of_role(role)
        return nodes[yard.block_of(nodes) == node]

    joints = WeldingAdapter.yard_rows(yard, in_block("joint"))
    welding = float(registry.get("welding").predict(joints).column("hours").to_numpy().sum())
    items = OutfittingAdapter.yard_rows(yard, in_block("outfitting_item"))
    risk = registry.get("outfitting").predict(items).column("rework_probability").to_numpy()
    norms = yard.field_of("outfitting_item", "norm_hours", items.column("node").to_numpy())
    assert row["kind"] == "block" and row["joints"] == joints.num_rows and row["items"] == items.num_rows > 0
    assert row["welding_hours"] == pytest.approx(welding, abs=0.01)
    assert row["outfitting_hours"] == pytest.approx(float((norms * (1 + risk)).sum()), abs=0.01)


def _without_block_packages(root: Path) -> Path:
    """The bulk carrier imported with its blocks' `work_package` mapping left out of its yard.toml."""
    return bulk_carrier_edited(
        root, lambda section, line: None if section == "[columns.block]" and line.startswith("work_package") else line
    )


def test_a_yard_that_does_not_say_what_erects_its_blocks_is_told_which_field_to_map(tmp_path: Path) -> None:
    store = _without_block_packages(tmp_path)
    settings = Settings(data_dir=tmp_path / "data")
    context = YardContext.open(store, settings)
    try:
        assert "work_package" not in context.yard.fields("block")
        _, code = _middle_block(context)
        for tool, args in (("erection_schedule", {"code": code}), ("what_if", {"resource": "PL-1", "days": 3})):
            with pytest.raises(MissingFieldError, match=r"work_package.*\[columns\.block\] work_package = "):
                run_tool(context, tool, args)
    finally:
        context.close()
    brain = Brain(store, settings)  # the answer is the message: which field, and how to map it
    try:
        answer = brain.ask(f"When is {code} erected?")
        assert answer.results[0].tool == "erection_schedule"
        assert "needs the block field(s) work_package" in answer.answer and "[columns.block]" in answer.answer
    finally:
        brain.close()
