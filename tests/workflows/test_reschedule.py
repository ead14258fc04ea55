"""reschedule: the repaired schedule checked by the independent validator, and the events it folds in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.helpers.schedule_validator import violations
from workflows import WorkflowContext, WorkflowInputError, run_workflow
from workflows.reschedule import RescheduleRequest, RescheduleResult, repair_for_events


def _result(ctx: WorkflowContext, events: list[dict[str, Any]], **extra: Any) -> RescheduleResult:
    result = run_workflow("reschedule", {"events": events, **extra}, ctx)
    assert isinstance(result, RescheduleResult)
    return result


def test_events_are_folded_in_and_the_repair_is_valid(ctx: WorkflowContext) -> None:
    events = [
        {"type": "resource_down", "equipment": "PL-1", "from_day": 2, "days": 6, "reason": "hydraulics"},
        {"type": "material_late", "code": "B006-A01", "days": 4},
        {"type": "finished_early", "work_package": "WP-B001-OFB", "days": 1},
    ]
    run = repair_for_events(ctx, RescheduleRequest.model_validate({"events": events}))
    assert violations(run.request, run.repaired) == []
    assert run.optimised is not None and violations(run.request, run.optimised) == []
    base = {t.code: t for t in run.baseline_request.tasks}
    asked = {t.code: t for t in run.request.tasks}
    starts = {t.code: t.start_day for t in run.baseline.tasks}
    assert [(d.resource, d.start_day, d.days) for d in run.request.downtimes] == [("PL-1", 2, 6)]
    assert asked["WP-B006-ASM"].release_day == starts["WP-B006-ASM"] + 4  # an assembly's material feeds ASM
    assert asked["WP-B001-OFB"].duration_days == base["WP-B001-OFB"].duration_days - 1
    assert all(asked[c].duration_days == base[c].duration_days for c in base if c != "WP-B001-OFB")
    new = {t.code: t for t in run.repaired.tasks}
    assert all(new[c].start_day >= starts[c] for c in starts)  # repair pushes, never pulls
    assert new["WP-B006-ASM"].start_day >= starts["WP-B006-ASM"] + 4

    result = _result(ctx, events)
    assert result.makespan_days == run.repaired.makespan_days
    assert result.baseline_makespan_days == run.baseline.makespan_days
    assert result.makespan_delta_days == result.makespan_days - result.baseline_makespan_days
    assert result.critical_path == list(run.repaired.critical_path)
    moved = {c.work_package: c for c in result.changes}
    for t in run.repaired.tasks:
        was = next(b for b in run.baseline.tasks if b.code == t.code)
        if (t.start_day, t.finish_day, t.resource) != (was.start_day, was.finish_day, was.resource):
            assert moved[t.code].change_days == t.start_day - was.start_day
        else:
            assert t.code not in moved
    assert result.changed == len(result.changes) > 0
    assert [s.start_day for s in result.schedule] == [t.start_day for t in run.repaired.tasks]
    assert result.optimised is not None and result.optimised.makespan_days == run.optimised.makespan_days
    assert "PL-1 down for 6 days from day 2 (hydraulics)" in result.events[0]


def test_an_event_that_touches_nothing_keeps_the_baseline(ctx: WorkflowContext) -> None:
    _, baseline = ctx.plan.schedule(())
    late = baseline.makespan_days + 30
    result = _result(
        ctx, [{"type": "resource_down", "equipment": "WS-2", "from_day": late, "days": 3}], compare_optimised=False
    )
    assert result.changes == [] and result.changed == 0 and result.optimised is None
    assert result.makespan_days == baseline.makespan_days and result.makespan_delta_days == 0
    assert [(s.work_package, s.start_day, s.finish_day, s.resource) for s in result.schedule] == [
        (t.code, t.start_day, t.finish_day, t.resource) for t in baseline.tasks
    ]


def test_a_start_date_becomes_a_schedule_day(ctx: WorkflowContext) -> None:
    when = ctx.day_zero + timedelta(days=3)
    run = repair_for_events(
        ctx,
        RescheduleRequest.model_validate(
            {
                "events": [{"type": "resource_down", "equipment": "DOCK-1", "from_date": when.isoformat(), "days": 2}],
                "compare_optimised": False,
            }
        ),
    )
    assert [(d.resource, d.start_day) for d in run.request.downtimes] == [("DOCK-1", 3)]
    assert violations(run.request, run.repaired) == []


@pytest.mark.parametrize(
    ("event", "where", "what"),
    [
        ({"type": "finished_early", "work_package": "WP-B001-ERE", "days": 40}, "events.0.days", "at most"),
        ({"type": "finished_early", "work_package": "WP-B001", "days": 1}, "events.0.work_package", "WP-B001"),
        (
            {"type": "resource_down", "equipment": "PL-1", "days": 2, "from_date": "2001-01-01"},
            "events.0.from_date",
            "before the schedule's day 0",
        ),
        (
            {"type": "resource_down", "equipment": "PL-1", "days": 2, "from_day": 1, "from_date": "2025-03-01"},
            "events.0",
            "not both",
        ),
        ({"type": "meteor", "days": 2}, "events.0", "does not match any of the expected tags"),
    ],
)
def test_bad_events_are_refused_naming_the_field(
    ctx: WorkflowContext, event: dict[str, Any], where: str, what: str
) -> None:
    with pytest.raises(WorkflowInputError) as caught:
        _result(ctx, [event])
    assert caught.value.field == where and what in str(caught.value)
