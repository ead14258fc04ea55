"""`repair`: a schedule that absorbs an event with the fewest changes (right-shift rescheduling).

When a resource goes down or material comes late, a yard does not re-plan the ship: it keeps every
work package in the order it had and on the resource it had, and pushes later only what the event, or
something pushed before it, holds up. That is the serial schedule-generation scheme run in the
baseline's order with two extra rules: no work package starts earlier than in the baseline (whatever
was pulled forward would need material, drawings and crews that are not ready) and a work package in a
pool split by an outage stays on its baseline resource. An event that touches nothing returns the
baseline unchanged; `solve` on the same request shows what re-optimising everything would gain.
"""

from __future__ import annotations

import time

from adapters.scheduling._model import Schedule, ScheduleRequest, SchedulingInputError
from adapters.scheduling._problem import Problem, lower_bound, serial_schedule
from adapters.scheduling._solve import _schedule

__all__ = ["repair"]


def repair(request: ScheduleRequest, baseline: Schedule) -> Schedule:
    """The baseline schedule, pushed only as far as the request's events (downtimes, release days) demand.

    Args:
        request: the tasks, resources and precedences with the event folded in (e.g. a `ResourceDowntime`,
            a later `release_day`, a changed duration); the same task codes as the baseline.
        baseline: the schedule to keep as much of as possible (usually `solve` of the request before the event).

    Returns:
        A feasible schedule in which every task starts no earlier than in the baseline and tasks keep the
        baseline's order; `status` is "feasible" unless the bound proves it optimal, and `best_bound` is the
        lower bound of the request itself.

    Raises:
        SchedulingInputError: the baseline lacks a task of the request.
    """
    began = time.perf_counter()
    base = {t.code: t for t in baseline.tasks}
    missing = [t.code for t in request.tasks if t.code not in base]
    if missing:
        raise SchedulingInputError(f"the baseline schedule has no task {missing[0]!r} ({len(missing)} missing)")
    pinned = request.model_copy(
        update={
            "tasks": tuple(
                t.model_copy(update={"release_day": max(t.release_day, base[t.code].start_day)}) for t in request.tasks
            )
        }
    )
    problem = Problem.of(pinned)
    start_was = problem.release.copy()  # the baseline's starts (release days never exceed them after pinning)
    keep = [base[code].resource for code in problem.codes]
    start, on = serial_schedule(problem, problem.by_start(start_was), keep)
    makespan = int((start + problem.duration).max())
    bound = min(makespan, lower_bound(Problem.of(request)))
    return _schedule(pinned, problem, start, on, makespan, bound, False, time.perf_counter() - began)
