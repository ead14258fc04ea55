"""`repair` keeps precedence and each resource's order, on hand-made requests and seeded random ones."""

from __future__ import annotations

import pickle
import random
from collections import defaultdict

import pytest

from adapters.scheduling import (
    InvalidScheduleError,
    ResourceCapacity,
    ResourceDowntime,
    Schedule,
    ScheduleRequest,
    ScheduleTask,
    YardTrade,
    chain_into,
    check_schedule,
    repair,
    solve,
    violations,
)
from tests.adapters.test_scheduling import random_request

DOCK = ResourceCapacity(name="DOCK-1", kind="dock", capacity=1)
TRADES = [YardTrade(trade="ERE", resource_kind="dock"), YardTrade(trade="OBD", resource_kind=None)]


def _dock_request(release: dict[str, int] | None = None) -> ScheduleRequest:
    """Two blocks erected one after the other in one dock, each then outfitted on board."""
    release = release or {}
    tasks = [
        ScheduleTask(
            code="ERE-A", trade="ERE", duration_days=2, resource="DOCK-1", release_day=release.get("ERE-A", 0)
        ),
        ScheduleTask(code="OBD-A", trade="OBD", duration_days=5),
        ScheduleTask(
            code="ERE-B", trade="ERE", duration_days=2, resource="DOCK-1", release_day=release.get("ERE-B", 0)
        ),
        ScheduleTask(code="OBD-B", trade="OBD", duration_days=5),
    ]
    return ScheduleRequest(
        tasks=tasks,
        resources=[DOCK],
        trades=TRADES,
        precedences=[("ERE-A", "OBD-A"), ("ERE-B", "OBD-B")],
        workers=1,
        time_limit_s=10,
    )


def _starts(schedule: Schedule) -> dict[str, int]:
    return {t.code: t.start_day for t in schedule.tasks}


def test_a_late_block_keeps_its_place_in_the_dock_and_its_outfitting_waits() -> None:
    """Issue 11 item 3, in small: the late block's outfitting started before its erection, the next block jumped in."""
    base = solve(_dock_request())
    first, second = sorted(["ERE-A", "ERE-B"], key=_starts(base).__getitem__)
    late = _dock_request({first: _starts(base)[first] + 3})
    fixed = repair(late, base)
    assert violations(late, fixed) == []
    now = _starts(fixed)
    assert now[first] == _starts(base)[first] + 3
    assert now[second] >= now[first] + 2  # the dock keeps its order: the second block waits for the first
    outfit = {"ERE-A": "OBD-A", "ERE-B": "OBD-B"}
    assert now[outfit[first]] >= now[first] + 2  # outfitting on board waits for the erection


def _order_kept(before: Schedule, after: Schedule) -> bool:
    """On every resource and crane, tasks start in the order they started before; none starts earlier."""
    now = _starts(after)
    queues: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for t in before.tasks:
        if now[t.code] < t.start_day:
            return False
        if t.finish_day > t.start_day:
            for name in {t.resource, t.crane} - {None}:
                queues[str(name)].append((t.start_day, now[t.code]))
    return all(
        all(b[1] >= a[1] for a, b in zip(sorted(q), sorted(q)[1:], strict=False) if b[0] > a[0])
        for q in queues.values()
    )


@pytest.mark.parametrize("seed", range(40))
def test_random_events_on_random_requests_keep_every_rule(seed: int) -> None:
    rng = random.Random(7_000 + seed)
    plain = random_request(rng, rng.choice(["same_kind", "named"]))
    base = solve(plain)
    names = [r.name for r in plain.resources]
    downtimes = [
        ResourceDowntime(resource=rng.choice(names), start_day=rng.randint(0, 8), days=rng.randint(1, 4))
        for _ in range(rng.randint(0, 2))
    ]
    tasks = tuple(
        t.model_copy(
            update={
                "release_day": t.release_day + (rng.randint(1, 5) if rng.random() < 0.3 else 0),
                "duration_days": t.duration_days + (rng.randint(1, 3) if rng.random() < 0.2 else 0),
            }
        )
        for t in plain.tasks
    )
    event = ScheduleRequest.model_validate({**dict(plain), "tasks": tasks, "downtimes": tuple(downtimes)})
    fixed = repair(event, base)
    assert violations(event, fixed) == []
    assert _order_kept(base, fixed)
    assert all(a.resource == b.resource for a, b in zip(base.tasks, fixed.tasks, strict=True))
    assert tuple(link.code for link in chain_into(event, fixed)) == fixed.critical_path


def test_a_schedule_that_breaks_its_request_is_a_typed_error() -> None:
    request = _dock_request()
    good = solve(request)
    assert check_schedule(request, good) is good
    broken = good.model_copy(update={"tasks": tuple(t.model_copy(update={"start_day": 0}) for t in good.tasks)})
    with pytest.raises(
        InvalidScheduleError, match=r"^model 'scheduling' over in-process: the test schedule breaks"
    ) as e:
        check_schedule(request, broken, "the test schedule")
    assert e.value.found == tuple(violations(request, broken))
    again = pickle.loads(pickle.dumps(e.value))  # crosses a process (Ray) or a checkpoint as it was
    assert isinstance(again, InvalidScheduleError) and again.found == e.value.found and str(again) == str(e.value)
