"""`repair`: a schedule that absorbs an event with the fewest changes (right-shift rescheduling).

When a resource goes down, material comes late or a work package takes longer, a yard does not re-plan
the ship: it keeps every work package on the resource it had, and every resource (and crane) works its
packages in the order it had them, and pushes later only what the event, or something pushed before it,
holds up. What repair **keeps**:

- each work package's resource and crane (it waits for its own resource rather than moving to another);
- each resource's order: on every resource and crane of capacity 1, work packages start in the order they started
  in the baseline (none overtakes another, so a late block never loses its place in the dock to the next one); a
  resource of capacity c is c such queues: a work package takes, in the baseline's order, the queue whose last
  start is the latest one not after its own, and starts no earlier than the earliest of the c queues' last starts
  (a package held up on one slot of a 2-slot crane does not hold up the packages that go on the other slot, so two
  hulls erected in parallel keep their own pace);
- nothing starts earlier than in the baseline (what was pulled forward would need material, drawings and
  crews that are not ready);

and what it **moves**: a work package starts on the first day from its baseline start on which its release
day (the late material), its predecessors (precedences, the request's durations), its place in its
resources' order, their capacity and their outages all allow it. It is the serial schedule-generation scheme
run in the baseline's order (by baseline start, predecessors first) with those rules, so every precedence,
capacity, downtime and release day of the request holds. An event that touches nothing returns the baseline
unchanged; `solve` on the same request shows what re-optimising everything would gain.
"""

from __future__ import annotations

import bisect
import heapq
import time

import numpy as np

from adapters.scheduling._model import Schedule, ScheduleRequest, SchedulingInputError
from adapters.scheduling._problem import Days, Problem, lower_bound
from adapters.scheduling._solve import _schedule

__all__ = ["repair"]


def repair(request: ScheduleRequest, baseline: Schedule) -> Schedule:
    """The baseline schedule, pushed only as far as the request's events (downtimes, release days, durations) demand.

    Args:
        request: the tasks, resources and precedences with the event folded in (e.g. a `ResourceDowntime`,
            a later `release_day`, a changed duration); the same task codes as the baseline.
        baseline: the schedule to keep as much of as possible (usually `solve` of the request before the event).

    Returns:
        A schedule of `request` in which every task keeps its baseline resource, starts no earlier than in the
        baseline, and every resource and crane keeps the baseline's order (one of capacity c in each of its c
        queues); `status` is "feasible"
        unless the bound proves it optimal, and `best_bound` is the lower bound of the request itself.

    Raises:
        SchedulingInputError: the baseline lacks a task of the request, or puts one on a resource the request
            does not have or of another kind.
    """
    began = time.perf_counter()
    base = {t.code: t for t in baseline.tasks}
    missing = [t.code for t in request.tasks if t.code not in base]
    if missing:
        raise SchedulingInputError(f"the baseline schedule has no task {missing[0]!r} ({len(missing)} missing)")
    kind = {r.name: r.kind for r in request.resources}
    tasks = []
    for t in request.tasks:
        was = base[t.code]
        resource = t.resource
        if t.resource is not None and was.resource is not None:
            if kind.get(was.resource) != kind.get(t.resource):
                raise SchedulingInputError(
                    f"the baseline runs {t.code!r} on {was.resource!r}, not a resource of the request's kind "
                    f"{kind.get(t.resource)!r}"
                )
            resource = was.resource
        tasks.append(t.model_copy(update={"resource": resource, "release_day": max(t.release_day, was.start_day)}))
    # each task on its baseline resource ("named": no pools), released no earlier than its baseline start
    pinned = request.model_copy(update={"tasks": tuple(tasks), "resource_choice": "named"})
    problem = Problem.of(pinned)
    start_was = np.array([base[code].start_day for code in problem.codes], dtype=np.int64)
    start = _right_shift(problem, start_was)
    makespan = int((start + problem.duration).max())
    bound = min(makespan, lower_bound(Problem.of(request)))
    return _schedule(pinned, problem, start, [None] * len(start), makespan, bound, False, time.perf_counter() - began)


def _baseline_order(problem: Problem, start_was: Days) -> list[int]:
    """Every task, predecessors first, otherwise by baseline start (then the topological rank).

    For a baseline that keeps the precedences this is simply the order of its starts.
    """
    p = problem
    waiting = [len(preds) for preds in p.preds]
    ready = [(int(start_was[i]), int(p.rank[i]), i) for i in range(len(p.codes)) if not waiting[i]]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        _, _, u = heapq.heappop(ready)
        order.append(u)
        for v in p.succs[u]:
            waiting[v] -= 1
            if not waiting[v]:
                heapq.heappush(ready, (int(start_was[v]), int(p.rank[v]), v))
    return order


def _right_shift(problem: Problem, start_was: Days) -> Days:
    """Start days of the right shift (see the module's docstring).

    Each task, in the baseline's order, at the first day its release, predecessors, place in its resources' order,
    their capacity and their outages allow.
    """
    p = problem
    names = sorted(p.units)
    row = {name: k for k, name in enumerate(names)}
    capacity = np.array([p.units[name] for name in names], dtype=np.int32)
    width = int(p.release.max()) + p.down_end + int(p.duration.sum()) + 1  # no task can start later than this
    usage = np.zeros((len(names), width + int(p.duration.max()) + 1), dtype=np.int32)
    for name, outages in p.outages.items():
        for a, b in outages:
            usage[row[name], a:b] = capacity[row[name]]  # down: full
    # per resource, the last start of each of its `capacity` queues, ascending: a task starts no earlier than the
    # earliest of them (for a resource of capacity 1: its last start, so its order is kept)
    queues: list[list[int]] = [[0] * int(c) for c in capacity]
    start = np.full(len(p.codes), -1, dtype=np.int64)
    for i in _baseline_order(p, start_was):
        d = int(p.duration[i])
        held = [row[name] for name in (p.named[i], p.cranes[i]) if name is not None] if d > 0 else []
        t = max([int(p.release[i])] + [int(start[u] + p.duration[u]) for u in p.preds[i]])
        t = max([t] + [queues[k][0] for k in held])
        moved = True
        while moved:
            moved = False
            for k in held:
                full = np.flatnonzero(usage[k, t : t + d] >= capacity[k])
                if full.size:
                    t += int(full[-1]) + 1  # past the last full day of the window
                    moved = True
        if t > width:  # cannot happen: every task fits once everything before it and every outage is over
            raise SchedulingInputError(f"repair found no day for {p.codes[i]!r} within {width} days")
        for k in held:
            usage[k, t : t + d] += 1
            # the queue whose last start is the latest not after t (one is: t >= the earliest); sorted stays sorted
            queues[k][bisect.bisect_right(queues[k], t) - 1] = t
        start[i] = t
    return start
