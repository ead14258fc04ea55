"""The scheduler on a yard that is not ours: a small copy of a reviewer's ferry (tests/helpers/nordlicht_schedule.py).

Its crane's kind is the German "kran"; its calendar has Sundays, Easter Monday and a dock's maintenance week; its
gantry crane lifts two blocks at once, for two hulls erected in parallel. Each test failed on the scheduler before
these were honoured: a crane had to be of the kind "crane", the calendar was read by nothing, and the repair kept
one start order on a resource that runs two packages at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from adapters.scheduling import (
    ResourceCapacity,
    ResourceDowntime,
    Schedule,
    ScheduleRequest,
    ScheduleTask,
    SchedulingAdapter,
    WorkCalendar,
    chain_into,
    overdrawn_packages,
    predicted_hours,
    repair,
    request_from_yard,
    solve,
    violations,
)
from knowledge.store import YardStore
from tests.helpers.nordlicht_schedule import (
    CRANE,
    DAY0,
    EASTER_MONDAY,
    MAINTENANCE,
    OVERDRAWN,
    OVERDRAWN_ESTIMATE,
    calendar_rows,
    nordlicht_store,
)


@pytest.fixture(scope="module")
def nordlicht(tmp_path_factory: pytest.TempPathFactory) -> YardStore:
    return YardStore.open(nordlicht_store(tmp_path_factory.mktemp("nordlicht")))


@pytest.fixture(scope="module")
def no_calendar(tmp_path_factory: pytest.TempPathFactory) -> YardStore:
    return YardStore.open(nordlicht_store(tmp_path_factory.mktemp("nordlicht-every-day"), calendar=False))


def _working_days() -> list[date]:
    """The yard's working days from day0, counted out by hand from the calendar it was written with."""
    off = {date.fromisoformat(d) for d, resource, _ in calendar_rows() if not resource}
    return [d for d in (DAY0 + timedelta(days=k) for k in range(400)) if d not in off]


# ---- 1. a crane is a crane because a work package names it ----------------------------------------------------


def test_a_crane_of_kind_kran_lifts_the_erections(nordlicht: YardStore) -> None:
    request = request_from_yard(nordlicht, time_limit_s=10)
    assert {r.name: r.kind for r in request.resources}[CRANE] == "kran"
    assert {t.crane for t in request.tasks} - {None} == {CRANE}
    schedule = solve(request)
    assert violations(request, schedule) == []
    erections = [t for t in schedule.tasks if t.crane is not None]
    assert len(erections) == 6 and {t.crane for t in erections} == {CRANE}
    busiest = max(sum(t.start_day <= d < t.finish_day for t in erections) for d in range(schedule.makespan_days))
    assert busiest == 2  # the two hulls are erected side by side: both of the crane's slots in use at once


def test_a_crane_is_never_pooled_with_the_resources_of_its_kind() -> None:
    # the crane shares its kind with the dock: the dock's work may not move onto the crane
    dock, crane = (
        ResourceCapacity(name="dock", kind="dock", capacity=1),
        ResourceCapacity(name="K", kind="dock", capacity=1),
    )
    tasks = [
        ScheduleTask(
            code=f"aufbau {k}", trade="aufbau", duration_days=2, resource="dock", crane="K" if k == 0 else None
        )
        for k in range(3)
    ]
    request = ScheduleRequest(tasks=tasks, resources=[dock, crane], time_limit_s=5)
    schedule = solve(request)
    assert violations(request, schedule) == []
    assert {t.resource for t in schedule.tasks} == {"dock"} and schedule.makespan_days == 6


# ---- 3. the yard's calendar ----------------------------------------------------------------------------------


def test_working_days_map_to_the_dates_the_calendar_leaves(nordlicht: YardStore) -> None:
    calendar = WorkCalendar.of(nordlicht)
    working = _working_days()
    assert [calendar.date_of(k) for k in range(300)] == working[:300]
    assert [calendar.day_of(d) for d in working[:300]] == list(range(300))
    assert calendar.date_of(6) == date(2026, 3, 9)  # Monday: Sunday 03-08 is no schedule day
    assert calendar.day_of(date(2026, 3, 8)) == 6  # a Sunday asked for is the next working day
    assert calendar.last_date(7) == date(2026, 3, 9)  # 7 days' work ends on the 7th working day, inclusive
    assert calendar.day_of(EASTER_MONDAY) == calendar.day_of(EASTER_MONDAY + timedelta(days=1))
    # past the calendar's last row every day works
    last = max(date.fromisoformat(d) for d, _, _ in calendar_rows())
    beyond = calendar.day_of(last + timedelta(days=1))
    assert calendar.date_of(beyond + 10) == last + timedelta(days=11)


def test_no_work_package_works_on_a_day_off_nor_on_dock_2_in_its_maintenance_week(nordlicht: YardStore) -> None:
    calendar = WorkCalendar.of(nordlicht)
    # pinned to their own docks, so the starboard erections must wait for dock 2 (moving them would dodge the test)
    request = request_from_yard(nordlicht, time_limit_s=10, resource_choice="named")
    week = [calendar.day_of(d) for d in MAINTENANCE]
    assert [(d.resource, d.start_day, d.days) for d in request.downtimes] == [("dock 2", week[0], 5)]
    assert week == list(range(week[0], week[0] + 5))
    loose = solve(request.model_copy(update={"downtimes": ()}))  # the same yard, its calendar's outage ignored
    on_dock_2 = [t for t in loose.tasks if t.resource == "dock 2"]
    assert any(t.start_day <= week[-1] and t.finish_day > week[0] for t in on_dock_2), "dock 2 is wanted that week"
    schedule = solve(request)
    assert violations(request, schedule) == []
    for t in schedule.tasks:
        dates = [calendar.date_of(d) for d in range(t.start_day, t.finish_day)]
        assert all(d.weekday() != 6 and d != EASTER_MONDAY for d in dates), (t.code, dates)
        if "dock 2" in (t.resource, t.crane):
            assert not set(dates) & set(MAINTENANCE), (t.code, dates)


def test_the_adapter_carries_the_calendars_outages_with_its_rows(nordlicht: YardStore) -> None:
    adapter = SchedulingAdapter(time_limit_s=10)
    rows = adapter.yard_rows(nordlicht)
    assert [(d.resource, d.reason) for d in adapter.downtimes_of(rows)] == [("dock 2", "the yard's calendar")]
    out = adapter.predict(rows).to_pylist()
    week = {WorkCalendar.of(nordlicht).day_of(d) for d in MAINTENANCE}
    for r in out:
        if r["resource"] == "dock 2":
            assert not week & set(range(r["start_day"], r["finish_day"]))


def test_a_yard_without_a_calendar_works_every_day(no_calendar: YardStore) -> None:
    calendar = WorkCalendar.of(no_calendar)
    assert calendar.is_empty and no_calendar.calendar() is None
    assert [calendar.date_of(k) for k in (0, 6, 37)] == [DAY0 + timedelta(days=k) for k in (0, 6, 37)]
    assert calendar.day_of(DAY0 + timedelta(days=40)) == 40 and calendar.last_date(107) == DAY0 + timedelta(days=106)
    assert request_from_yard(no_calendar).downtimes == ()


# ---- 4. packages whose norms exceed their estimate -------------------------------------------------------------


class _Norms:
    """A stand-in 'model' that predicts each joint's own planning norm: the predicted hours are then the estimates."""

    def __init__(self, yard: YardStore) -> None:
        self.yard = yard

    def run(self, name: str, rows: pa.Table) -> pa.Table:
        assert name == "welding"  # the yard has no outfitting items
        return pa.table({"hours": self.yard.role_table("joint", ["norm_hours"]).column("norm_hours")})


def test_packages_whose_norms_exceed_their_estimate_are_named(nordlicht: YardStore) -> None:
    over = overdrawn_packages(nordlicht)
    assert [code for code, _, _ in over] == [OVERDRAWN]
    code, estimate, norms = over[0]
    assert estimate == OVERDRAWN_ESTIMATE and norms > 10 * estimate
    # a model that predicts the norms leaves every package at its estimate: nothing clamps
    same = predicted_hours(nordlicht, _Norms(nordlicht), clamp=False)
    assert same[OVERDRAWN] == pytest.approx(OVERDRAWN_ESTIMATE)
    # the sum as it is goes below 0 where a model predicts less than the norms; clamped, it is 0 h
    half = _Half(nordlicht)
    raw, clamped = predicted_hours(nordlicht, half, clamp=False), predicted_hours(nordlicht, half)
    assert raw[OVERDRAWN] == pytest.approx(OVERDRAWN_ESTIMATE - norms / 2) and raw[OVERDRAWN] < 0
    assert clamped[OVERDRAWN] == 0.0 and all(clamped[c] == max(h, 0.0) for c, h in raw.items())


class _Half(_Norms):
    def run(self, name: str, rows: pa.Table) -> pa.Table:
        norms = self.yard.role_table("joint", ["norm_hours"]).column("norm_hours")
        return pa.table({"hours": pc.multiply(norms, 0.5)})


# ---- 5. repair on a resource that runs two packages at once ----------------------------------------------------


def _reference_repair(request: ScheduleRequest, baseline: Schedule) -> dict[str, int]:
    """The reviewer's right shift: in the order of the baseline's starts, each package at the first day from its
    baseline start that its predecessors, release day, its resources' capacity and outages allow (no order kept)."""
    was = {t.code: t for t in baseline.tasks}
    task = {t.code: t for t in request.tasks}
    capacity = {r.name: r.capacity for r in request.resources}
    used: dict[tuple[str, int], int] = {}
    for d in request.downtimes:
        for day in range(d.start_day, d.end_day):
            used[(d.resource, day)] = capacity[d.resource]
    preds: dict[str, list[str]] = {}
    for b, a in request.precedences:
        preds.setdefault(a, []).append(b)
    start: dict[str, int] = {}
    for code in sorted(was, key=lambda c: (was[c].start_day, c)):
        t = task[code]
        day = max(
            [was[code].start_day, t.release_day] + [start[p] + task[p].duration_days for p in preds.get(code, [])]
        )
        held = [r for r in (was[code].resource, t.crane) if r is not None]
        while any(used.get((r, x), 0) >= capacity[r] for r in held for x in range(day, day + t.duration_days)):
            day += 1
        for r in held:
            for x in range(day, day + t.duration_days):
                used[(r, x)] = used.get((r, x), 0) + 1
        start[code] = day
    return start


def _two_hulls(crane_capacity: int, starboard_days: int = 3) -> ScheduleRequest:
    """Two hulls of three erections, each hull in its own dock, every erection on one crane."""
    resources = [
        ResourceCapacity(name="dock 1", kind="dock", capacity=1),
        ResourceCapacity(name="dock 2", kind="dock", capacity=1),
        ResourceCapacity(name=CRANE, kind="kran", capacity=crane_capacity),
    ]
    tasks = [
        ScheduleTask(code=f"ap sec-0{k}.{side} aufbau", trade="aufbau", duration_days=days, resource=dock, crane=CRANE)
        for side, dock, days in (("bb", "dock 1", 3), ("sb", "dock 2", starboard_days))
        for k in (1, 2, 3)
    ]
    precedences = [
        (f"ap sec-0{k}.{side} aufbau", f"ap sec-0{k + 1}.{side} aufbau") for side in ("bb", "sb") for k in (1, 2)
    ]
    return ScheduleRequest(
        tasks=tasks, resources=resources, precedences=precedences, resource_choice="named", time_limit_s=5
    )


def _starts(schedule: Schedule) -> dict[str, int]:
    return {t.code: t.start_day for t in schedule.tasks}


def _down(request: ScheduleRequest, outages: Sequence[ResourceDowntime]) -> ScheduleRequest:
    return request.model_copy(update={"downtimes": tuple(outages)})


def test_a_dock_down_on_one_hull_does_not_hold_up_the_other_on_a_two_slot_crane() -> None:
    request = _two_hulls(crane_capacity=2)
    baseline = solve(request)
    assert _starts(baseline) == {f"ap sec-0{k}.{s} aufbau": 3 * (k - 1) for s in ("bb", "sb") for k in (1, 2, 3)}
    event = _down(request, [ResourceDowntime(resource="dock 1", start_day=3, days=2)])
    after = repair(event, baseline)
    assert violations(event, after) == []
    starts = _starts(after)
    assert all(starts[c] >= s for c, s in _starts(baseline).items())  # nothing earlier
    assert [starts[f"ap sec-0{k}.sb aufbau"] for k in (1, 2, 3)] == [0, 3, 6]  # starboard keeps its pace
    assert [starts[f"ap sec-0{k}.bb aufbau"] for k in (1, 2, 3)] == [0, 5, 8]
    assert starts == _reference_repair(event, baseline)


def test_on_a_one_slot_crane_the_order_is_kept_as_before() -> None:
    request = _two_hulls(crane_capacity=1)
    baseline = solve(request)
    event = _down(request, [ResourceDowntime(resource="dock 1", start_day=0, days=4)])
    after = repair(event, baseline)
    assert violations(event, after) == []
    order = sorted(baseline.tasks, key=lambda t: (t.start_day, t.code))
    now = _starts(after)
    assert [now[t.code] for t in order] == sorted(now[t.code] for t in order)  # none overtakes another on the crane


def test_on_a_two_slot_crane_each_hull_keeps_its_own_pace_whichever_dock_is_down() -> None:
    request = _two_hulls(crane_capacity=2)
    baseline = solve(request)
    for dock, first in (("dock 1", 0), ("dock 2", 2), ("dock 1", 5), ("dock 2", 4)):
        event = _down(request, [ResourceDowntime(resource=dock, start_day=first, days=3)])
        after = repair(event, baseline)
        assert violations(event, after) == []
        was, now = _starts(baseline), _starts(after)
        other = "sb" if dock == "dock 1" else "bb"
        assert all(now[c] == was[c] for c in was if c.endswith(f".{other} aufbau")), (dock, first, now)
        assert now == _reference_repair(event, baseline), (dock, first)


def test_a_package_held_up_by_its_docks_outage_is_not_said_to_wait_for_the_crane_it_shares() -> None:
    # starboard's first erection leaves the two-slot crane the day port's second one can start again: the crane had
    # a slot free all along, so what held port up is its dock's outage, not the crane
    request = _two_hulls(crane_capacity=2, starboard_days=5)
    baseline = solve(request)
    event = _down(request, [ResourceDowntime(resource="dock 1", start_day=3, days=2)])
    after = repair(event, baseline)
    assert _starts(after)["ap sec-02.bb aufbau"] == 5 == _starts(after)["ap sec-02.sb aufbau"]
    chain = chain_into(event, after, "ap sec-02.bb aufbau")
    assert [link.code for link in chain] == ["DOWN:dock 1", "ap sec-02.bb aufbau"]
    assert [link.waits_on for link in chain] == ["nothing", "outage"]


def test_the_critical_path_does_not_blame_a_crane_that_had_a_slot_free() -> None:
    # port's second erection waits for its dock's outage (days 3-4); starboard's first leaves the two-slot crane the
    # day it starts, but the crane ran one erection the day before: the outage leads the critical path, not starboard
    request = _two_hulls(crane_capacity=2)
    quick = {"ap sec-02.sb aufbau": 1, "ap sec-03.sb aufbau": 1, "ap sec-01.sb aufbau": 5}
    tasks = tuple(t.model_copy(update={"duration_days": quick.get(t.code, t.duration_days)}) for t in request.tasks)
    event = _down(
        request.model_copy(update={"tasks": tasks}), [ResourceDowntime(resource="dock 1", start_day=3, days=2)]
    )
    schedule = solve(event)
    assert violations(event, schedule) == []
    assert _starts(schedule)["ap sec-02.bb aufbau"] == 5 and schedule.makespan_days == 11
    assert schedule.critical_path == ("DOWN:dock 1", "ap sec-02.bb aufbau", "ap sec-03.bb aufbau")
    assert {t.code for t in schedule.tasks if t.on_critical_path} == {"ap sec-02.bb aufbau", "ap sec-03.bb aufbau"}
