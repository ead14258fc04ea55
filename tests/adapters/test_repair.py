"""`repair`: the baseline pushed only as far as an event demands, checked by the independent validator."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.scheduling import (
    ResourceDowntime,
    Schedule,
    ScheduleRequest,
    SchedulingInputError,
    repair,
    request_from_yard,
    solve,
)
from knowledge.store import YardStore
from tests.helpers.schedule_validator import violations


@pytest.fixture(scope="module")
def graph(small_yard: Path) -> YardStore:
    return YardStore.open(small_yard)


@pytest.fixture(scope="module")
def baseline(graph: YardStore) -> tuple[ScheduleRequest, Schedule]:
    request = request_from_yard(graph, time_limit_s=10, workers=1, deterministic_limit=2.0)
    return request, solve(request)


def _starts(schedule: Schedule) -> dict[str, int]:
    return {t.code: t.start_day for t in schedule.tasks}


def test_no_event_keeps_the_baseline(graph: YardStore, baseline: tuple[ScheduleRequest, Schedule]) -> None:
    request, base = baseline
    again = repair(request, base)
    assert _starts(again) == _starts(base)
    assert violations(request, again) == []


@pytest.mark.parametrize(("resource", "start", "days"), [("PL-2", 0, 3), ("PL-1", 5, 10), ("DOCK-1", 20, 4)])
def test_an_outage_pushes_work_later_never_earlier(
    graph: YardStore, baseline: tuple[ScheduleRequest, Schedule], resource: str, start: int, days: int
) -> None:
    _, base = baseline
    request = request_from_yard(
        graph,
        time_limit_s=10,
        workers=1,
        deterministic_limit=2.0,
        downtimes=[ResourceDowntime(resource=resource, start_day=start, days=days)],
    )
    fixed = repair(request, base)
    assert violations(request, fixed) == []  # precedence, capacity and the outage, checked from the request alone
    was, now = _starts(base), _starts(fixed)
    assert all(now[c] >= was[c] for c in was)
    # whatever ran on the resource during the outage moved: later, or onto another resource of its kind
    hit = [t for t in base.tasks if t.resource == resource and t.start_day < start + days and t.finish_day > start]
    placed = {t.code: t.resource for t in fixed.tasks}
    assert all(now[t.code] > was[t.code] or placed[t.code] != resource for t in hit)


def test_late_material_moves_its_package_and_what_follows(
    graph: YardStore, baseline: tuple[ScheduleRequest, Schedule]
) -> None:
    _, base = baseline
    was = _starts(base)
    late = "WP-B003-PNL"
    request = request_from_yard(
        graph, time_limit_s=10, workers=1, deterministic_limit=2.0, release_days={late: was[late] + 6}
    )
    fixed = repair(request, base)
    now = _starts(fixed)
    assert violations(request, fixed) == []
    assert now[late] == was[late] + 6
    assert now["WP-B003-ASM"] >= now[late] + 1  # the block's trade chain follows
    assert fixed.makespan_days >= base.makespan_days


def test_a_baseline_of_another_yard_is_refused(baseline: tuple[ScheduleRequest, Schedule]) -> None:
    request, base = baseline
    smaller = base.model_copy(update={"tasks": base.tasks[1:]})
    with pytest.raises(SchedulingInputError, match="baseline schedule has no task"):
        repair(request, smaller)
