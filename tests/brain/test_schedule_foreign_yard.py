"""The schedule tools on a yard that is not ours (tests/helpers/nordlicht_schedule.py: crane kind "kran", Sundays,
Easter Monday and a dock's maintenance week, a package estimated below its own joints' norms).

Each test failed before: every schedule question was refused ("portalkran is a kran, not a crane"); dates were day0
plus calendar days and the end date the day after the last one worked; a what-if's welding change was added to
hours already clamped at 0 h, silently; the hours of a work package gave only its welding and outfitting; "+1 days".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta

import numpy as np
import pytest

from adapters.scheduling import violations
from brain.core import YardContext
from brain.tools import run_tool
from brain.tools.schedule import MovedPackage, ScheduleRow, Slip, _what_if_lines
from knowledge import Settings
from tests.helpers.nordlicht_schedule import DAY0, EASTER_MONDAY, OVERDRAWN, OVERDRAWN_ESTIMATE, calendar_rows
from tests.helpers.nordlicht_schedule import nordlicht_store as store_of


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[YardContext]:
    root = tmp_path_factory.mktemp("nordlicht-brain")
    context = YardContext.open(store_of(root), Settings(data_dir=root / "data"))
    yield context
    context.close()


def _working_days() -> list[date]:
    off = {date.fromisoformat(d) for d, resource, _ in calendar_rows() if not resource}
    return [d for d in (DAY0 + timedelta(days=k) for k in range(400)) if d not in off]


def _welding(ctx: YardContext, package: str) -> tuple[float, float]:
    """The welding model's hours and the planning norms of a package's joints, from the store and the predictions."""
    yard = ctx.yard
    joints = yard.nodes_of_role("joint")
    table = yard.role_table("joint", ["work_package", "norm_hours"])
    mine = table.column("work_package").to_numpy() == yard.node_of(package)
    predicted = ctx.yard_predictions("welding").column("hours").to_numpy()
    assert len(predicted) == len(joints)
    return float(predicted[mine].sum()), float(table.column("norm_hours").to_numpy()[mine].sum())


def test_the_schedule_takes_working_days_to_its_last_working_day(ctx: YardContext) -> None:
    result = run_tool(ctx, "erection_schedule", {})
    _, schedule = ctx.plan.current()
    makespan = schedule.makespan_days
    last = _working_days()[makespan - 1]
    assert f"the schedule takes {makespan} working days, to {last.isoformat()} (its last working day" in result.summary
    assert last.weekday() != 6 and last != EASTER_MONDAY
    assert violations(ctx.plan.request(()), schedule) == []
    assert any(s.startswith("calendar: days are working days") and "dock 2 (5 days)" in s for s in result.sources)


def test_dates_shown_are_the_working_days_and_dock_2_rests_in_its_maintenance_week(ctx: YardContext) -> None:
    working = _working_days()
    result = run_tool(ctx, "erection_schedule", {"code": "sec-02.sb"})
    rows = result.rows_as(ScheduleRow)
    erection = next(r for r in rows if r.code == "ap sec-02.sb aufbau")
    assert erection.start_day is not None
    assert f"sec-02.sb is erected on day {erection.start_day} ({working[erection.start_day]})" in result.summary
    for row in rows:
        assert row.start_day is not None and row.start_date == working[row.start_day]
    request, (_, schedule) = ctx.plan.request(()), ctx.plan.current()
    assert [(d.resource, d.days) for d in request.downtimes] == [("dock 2", 5)]
    week = set(range(request.downtimes[0].start_day, request.downtimes[0].end_day))
    assert [working[d] for d in sorted(week)] == [date(2026, 3, 16) + timedelta(days=k) for k in range(5)]
    for t in schedule.tasks:
        if "dock 2" in (t.resource, t.crane):
            assert not week & set(range(t.start_day, t.finish_day)), t.code


def test_an_outage_given_by_date_starts_on_that_working_day_and_one_day_is_singular(ctx: YardContext) -> None:
    when = date(2026, 3, 23)
    result = run_tool(ctx, "what_if", {"resource": "dock 1", "days": 1, "start_date": when.isoformat()})
    assert f"from day {_working_days().index(when)}" in result.summary
    first = next(r for r in result.rows_as(Slip) if r.slip_days > 0)
    assert f"{first.block} is held up by dock 1 down -> " in result.summary  # the cause of the largest slip
    for slip in result.rows_as(Slip):
        assert slip.erection_date == _working_days()[slip.erection_day]
    lines = _what_if_lines(result)
    shifts = [
        re.search(r"\(([+-]\d+) (days?)\)$", line) for line in lines if line.startswith("- ") and "erected" in line
    ]
    assert shifts and all(m is not None for m in shifts)
    assert all((m.group(2) == "day") == (abs(int(m.group(1))) == 1) for m in shifts if m is not None)
    delta = int(result.numbers["makespan_delta_days"])
    assert f"({'+' if delta >= 0 else '-'}{abs(delta)} day{'' if abs(delta) == 1 else 's'});" in result.summary


def test_a_welding_change_is_added_to_the_unclamped_hours_and_the_package_is_named(ctx: YardContext) -> None:
    predicted, norms = _welding(ctx, OVERDRAWN)
    raw = OVERDRAWN_ESTIMATE + predicted - norms
    assert raw < 0 and ctx.plan.raw_hours()[OVERDRAWN] == pytest.approx(raw)
    assert ctx.plan.predicted_hours()[OVERDRAWN] == 0.0
    # 20 % more welding: still below 0 h, so 0 h (clamped once, at the end), not 0 h + 20 % of the welding
    more = ctx.plan.event(resource=None, code="sec-02.bb", days=None, welding_factor=1.2)
    assert raw + 0.2 * predicted < 0
    assert ctx.plan.hours([more])[OVERDRAWN] == 0.0
    result = run_tool(ctx, "what_if", {"code": "sec-02.bb", "welding_factor": 1.2})
    assert result.numbers["overdrawn_work_packages"] == 1
    assert (
        f"Warning: the planning norms of the joints and items of 1 work package exceed its estimate ({OVERDRAWN}"
        in (result.summary)
    )
    # ten times the welding lifts it above 0 h: exactly the unclamped sum plus the change
    tenfold = ctx.plan.event(resource=None, code="sec-02.bb", days=None, welding_factor=10.0)
    assert raw + 9 * predicted > 0
    assert ctx.plan.hours([tenfold])[OVERDRAWN] == pytest.approx(raw + 9 * predicted)


def test_the_hours_of_a_work_package_give_its_estimate_and_the_schedules_hours(ctx: YardContext) -> None:
    code = "ap sec-01.bb fertigung"
    predicted, norms = _welding(ctx, code)
    estimate = float(ctx.index.estimated_hours[ctx.index.work_package(code)])
    result = run_tool(ctx, "predicted_hours", {"codes": [code]})
    row = result.rows[0]
    _, schedule = ctx.plan.current()
    task = next(t for t in schedule.tasks if t.code == code)
    assert row["welding_hours"] == pytest.approx(predicted, abs=0.01)
    assert row["estimated_hours"] == pytest.approx(estimate, abs=0.01)
    assert row["schedule_hours"] == pytest.approx(estimate + predicted - norms, abs=0.01)
    assert row["schedule_days"] == task.finish_day - task.start_day
    assert result.numbers["schedule_hours"] == row["schedule_hours"]
    assert f"its estimate is {estimate:,.0f} h" in result.summary and "the schedule uses" in result.summary
    over = run_tool(ctx, "predicted_hours", {"codes": [OVERDRAWN]})
    assert over.rows[0]["schedule_hours"] == 0.0 and over.rows[0]["schedule_days"] == 1
    assert "Warning: the planning norms of its joints and items" in over.summary


def test_a_what_if_on_the_foreign_yard_moves_nothing_earlier_and_keeps_resources(ctx: YardContext) -> None:
    result = run_tool(ctx, "what_if", {"code": "ap sec-01.sb fertigung", "days": 3})
    proposal = ctx.plan.propose([ctx.plan.event(resource=None, code="ap sec-01.sb fertigung", days=3)])
    assert violations(ctx.plan.request([*proposal.adopted, *proposal.events]), proposal.after) == []
    before = {t.code: t for t in proposal.before.tasks}
    assert all(t.start_day >= before[t.code].start_day for t in proposal.after.tasks)
    assert all(t.resource == before[t.code].resource for t in proposal.after.tasks)
    moved = result.breakdown_as(MovedPackage)
    assert moved and np.all([m.shift_days > 0 for m in moved])
