"""block-readiness against the part graph's networkx twin and the reports it was given."""

from __future__ import annotations

import math
from collections import Counter
from datetime import timedelta

import networkx as nx
import pytest

from tests.helpers.yards import to_networkx
from workflows import WorkflowContext, WorkflowInputError, run_workflow
from workflows.block_readiness import BlockReadiness

AT = "2025-03-20T08:00:00Z"


@pytest.fixture(scope="module")
def twin(ctx: WorkflowContext) -> nx.DiGraph:
    return to_networkx(ctx.yard)


def _run(ctx: WorkflowContext, block: str, reports: list[dict[str, object]], **extra: object) -> BlockReadiness:
    result = run_workflow("block-readiness", {"block": block, "reports": reports, **extra}, ctx)
    assert isinstance(result, BlockReadiness)
    return result


def _top_block(ctx: WorkflowContext, twin: nx.DiGraph) -> str:
    """The block with the most blocks below it."""
    blocks = ctx.yard.nodes_of_role("block").tolist()
    return ctx.yard.code_of(max(blocks, key=lambda b: (len(nx.ancestors(twin, b)), -b)))


def _kinds(ctx: WorkflowContext, ids: set[int]) -> dict[str, int]:
    return dict(Counter(ctx.yard.kinds_of(sorted(ids))))


def test_missing_is_the_upstream_closure_less_what_is_reported_done(ctx: WorkflowContext, twin: nx.DiGraph) -> None:
    g = ctx.yard
    block = _top_block(ctx, twin)
    closure = nx.ancestors(twin, g.node_of(block))
    lower = [g.code_of(b) for b in sorted(closure) if g.kind_of(b) == "block"]
    done_codes = [lower[0], f"{block}-A01", f"{block}-A02-S01", f"{block}-A03-S01-P0001"]
    reports = [{"code": c, "status": "completed", "reported_at": AT} for c in done_codes]
    reports.append({"code": f"{block}-A04", "status": "in_progress", "percent": 40, "reported_at": AT})
    reports.append({"code": f"WP-{block}-OBD", "status": "not_started", "reported_at": AT})  # after the erection
    result = _run(ctx, block, reports)
    assert result.reports_outside_scope == 1
    done: set[int] = set()
    for code in done_codes:
        done |= {g.node_of(code)} | nx.ancestors(twin, g.node_of(code))
    missing = closure - done
    assert result.scope_total == len(closure) and result.missing_total == len(missing)
    assert result.done == len(closure & done)
    assert result.missing_by_kind == _kinds(ctx, missing)
    assert sum(m.count for m in result.missing) == len(missing)
    assert result.prerequisite_blocks == lower
    for group in result.missing:
        assert len(group.sample_codes) == min(group.count, 5)
        assert all(g.node_of(c) in missing for c in group.sample_codes)
    assert not result.ready and result.remaining_hours > 0


def test_a_completed_work_package_is_done_with_everything_before_it(ctx: WorkflowContext, twin: nx.DiGraph) -> None:
    g = ctx.yard
    block = "B006"
    before = _run(ctx, block, [])
    assert before.as_of == before.day_zero  # no reports, no as_of: counted from day 0
    after = _run(ctx, block, [{"code": f"WP-{block}-ASM", "status": "completed", "reported_at": AT}])
    # the ASM work package makes the block's assemblies and the joints the tables book to it
    wp_node = g.node_of(f"WP-{block}-ASM")
    joints = g.role_table("joint", ["work_package"]).to_pydict()
    scope = {j for j, w in zip(joints["node"], joints["work_package"], strict=True) if w == wp_node}
    scope |= set(g.members(g.node_of(block), kinds=["assembly"]).tolist())
    done = set(scope)
    for node in scope:
        done |= nx.ancestors(twin, node)
    closure = nx.ancestors(twin, g.node_of(block))
    assert after.missing_total == len(closure - done) < before.missing_total
    assert after.missing_by_kind == _kinds(ctx, closure - done)
    assert not any(m.work_package in (f"WP-{block}-PNL", f"WP-{block}-ASM") for m in after.missing)
    assert after.as_of.isoformat() == AT[:10]


def test_ready_when_everything_before_the_block_is_reported(ctx: WorkflowContext) -> None:
    g = ctx.yard
    block = "B006"
    reports = [
        {"code": c, "status": "completed", "reported_at": AT} for c in g.codes_of(g.predecessors(g.node_of(block)))
    ]
    result = _run(ctx, block, reports)
    assert result.ready and result.missing_total == 0 and result.missing == []
    assert result.ready_in_days == 0 and result.remaining_hours == 0
    assert result.ready_date == result.as_of


def test_the_forecast_counts_crews_at_eight_hours_a_day(ctx: WorkflowContext) -> None:
    result = _run(ctx, "B006", [], as_of="2025-03-01")
    as_of_day = (result.as_of - result.day_zero).days
    for w in result.work_packages:
        day = w.crew * 8  # hours a crew works in a day; remaining_hours is rounded to 0.1 h
        assert (
            math.ceil((w.remaining_hours - 0.05) / day)
            <= w.remaining_days
            <= math.ceil((w.remaining_hours + 0.05) / day)
        )
        assert w.finish_day >= as_of_day + w.remaining_days
    assert result.ready_day == as_of_day + result.ready_in_days
    assert result.ready_day == max(w.finish_day for w in result.work_packages)
    assert result.ready_date == result.day_zero + timedelta(days=result.ready_day)
    assert result.remaining_hours == pytest.approx(sum(w.remaining_hours for w in result.work_packages), abs=1)
    half = _run(ctx, "B006", [{"code": "WP-B006-OFB", "status": "in_progress", "percent": 50, "reported_at": AT}])
    hours = {w.work_package: w.remaining_hours for w in result.work_packages}
    halved = {w.work_package: w.remaining_hours for w in half.work_packages}
    assert halved["WP-B006-OFB"] == pytest.approx(hours["WP-B006-OFB"] / 2, abs=0.1)
    assert halved["WP-B006-ASM"] == hours["WP-B006-ASM"]


def test_the_latest_report_of_a_code_counts(ctx: WorkflowContext) -> None:
    done = {"code": "B006-A01", "status": "completed", "reported_at": "2025-03-01T08:00:00"}
    undone = {"code": "b006-a01", "status": "not_started", "reported_at": "2025-03-02T08:00:00+00:00"}
    assert _run(ctx, "B006", [done]).missing_total < _run(ctx, "B006", [done, undone]).missing_total
    assert _run(ctx, "B006", [undone, done]).missing_total == _run(ctx, "B006", [done, undone]).missing_total


@pytest.mark.parametrize(
    ("report", "where", "what"),
    [
        ({"code": "B006-A77", "status": "completed"}, "reports.1.code", "B006-A77"),
        ({"code": "WP-B006-XXX", "status": "completed"}, "reports.1.code", "no work package 'WP-B006-XXX'"),
        ({"code": "B006-A01", "status": "done"}, "reports.1.status", "'completed', 'in_progress' or 'not_started'"),
        ({"code": "B006-A01", "status": "completed", "percent": 20}, "reports.1", "only for in_progress"),
        ({"code": "B006-A01", "status": "in_progress", "percent": 120}, "reports.1.percent", "less than or equal"),
    ],
)
def test_bad_reports_are_refused_with_their_index(
    ctx: WorkflowContext, report: dict[str, object], where: str, what: str
) -> None:
    good = {"code": "B006-A02", "status": "completed", "reported_at": AT}
    with pytest.raises(WorkflowInputError) as caught:
        _run(ctx, "B006", [good, {"reported_at": AT, **report}])
    assert caught.value.field == where and what in str(caught.value)


def test_only_a_block_can_be_erected(ctx: WorkflowContext) -> None:
    with pytest.raises(WorkflowInputError, match="block: 'B006-A01' is an assembly; give a block code"):
        _run(ctx, "B006-A01", [])
