"""`solve`: a schedule request to a schedule with OR-Tools CP-SAT.

The CP-SAT model: one fixed-size interval per task whose start ranges from its earliest start (release,
precedences and outages) to the horizon minus its duration and the chain after it; a no-overlap
constraint per pool of capacity 1, a cumulative per larger pool (each task takes one unit); `after.start >=
before.start + before.duration` per precedence; the makespan at least every sink's finish, minimised.
An outage is a fixed interval in its pool's no-overlap or cumulative, taking the resource's capacity.

A pool is a resource kind when the request lets tasks move between resources of a kind: a cumulative
over the kind's summed capacity is exact there, because every task takes one unit and whole-day intervals
that never exceed k at once can always be dealt to k units (interval graphs are perfect), which
`assign_slots` does afterwards. It is a much smaller model than one optional interval per task and
resource, and propagates as well. An outage of one of the kind's resources breaks that argument (a task
could fit the kind's free units only by hopping resources mid-run), so such a pool is split: each of its
tasks also gets one optional interval per resource of the kind, exactly one present, in that resource's
no-overlap or cumulative with its outages; the pool's cumulative stays as a redundant constraint. Pools
without outages, and so requests without downtimes, get the same model as before.

Before CP-SAT, a greedy serial schedule gives the horizon (so CP-SAT never searches past a schedule
already in hand) and a complete hint, and a lower bound starts the makespan's domain (so CP-SAT stops
when it reaches it); if the greedy schedule reaches it, CP-SAT is not called at all. After it,
CP-SAT's schedule is left-justified by the same serial scheme in order of CP-SAT's starts, each task kept
on its resource in a split pool, which never makes it longer and lets the critical path be read off the
schedule.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from adapters.errors import ModelCallError, ModelTimeoutError
from adapters.scheduling._chain import chain_into
from adapters.scheduling._model import (
    MODEL,
    Schedule,
    ScheduledTask,
    ScheduleRequest,
    SchedulingInputError,
)
from adapters.scheduling._problem import (
    Days,
    Problem,
    Resources,
    assign_slots,
    greedy,
    lower_bound,
    serial_schedule,
)

if TYPE_CHECKING:
    from ortools.sat.python import cp_model

__all__ = ["solve"]

_TRANSPORT = "in-process"
_MIN_SOLVER_S = 0.05  # CP-SAT gets at least this, so a budget spent on the greedy still tries to improve on it


def solve(request: ScheduleRequest) -> Schedule:
    """Schedule every task, minimising the makespan, within the request's time limit.

    Reproducibility: the greedy schedule and the checks are deterministic. CP-SAT with `workers=1` follows
    one deterministic search, so a solve that proves optimality before the time limit gives the same
    schedule every time; stopped by the time limit, where it stops depends on the machine's speed and load,
    and with several workers on how their threads interleave. The makespan of an optimal solve is always
    the same.

    Args:
        request: the tasks, resources, precedences and limits.

    Returns:
        The best schedule found, left-justified, with its proven bound, gap and critical path.

    Raises:
        SchedulingInputError: no schedule finishes by `horizon_days`.
        ModelTimeoutError: the time limit passed before any schedule within `horizon_days` was found.
        ModelCallError: CP-SAT rejected the model (a bug here, not in the request).
    """
    began = time.perf_counter()
    problem = Problem.of(request)
    bound = lower_bound(problem)
    horizon = request.horizon_days
    if horizon is not None and horizon < bound:
        raise SchedulingInputError(
            f"horizon_days={horizon} is too short: precedences, capacities and outages need at least {bound} days"
        )
    first, first_on = greedy(problem)
    greedy_makespan = int((first + problem.duration).max())
    hint = (first, first_on) if horizon is None or greedy_makespan <= horizon else None
    (start, on), cp_bound, proven = (first, first_on), bound, False
    if greedy_makespan > bound or hint is None:  # else the greedy schedule is already optimal
        remaining = request.time_limit_s - (time.perf_counter() - began)
        cp_horizon = greedy_makespan if horizon is None else min(greedy_makespan, horizon)
        found = _cp_sat(problem, cp_horizon, bound, hint, request, remaining)
        if found is not None:
            start, on, cp_bound, proven = found
        elif hint is None:
            raise ModelTimeoutError(
                MODEL,
                _TRANSPORT,
                f"no schedule within horizon_days={horizon} found in time_limit_s={request.time_limit_s:g}",
            )
    start, on = _left_justified(problem, start, on)
    makespan = int((start + problem.duration).max())
    best_bound = min(makespan, max(bound, cp_bound))
    return _schedule(request, problem, start, on, makespan, best_bound, proven, time.perf_counter() - began)


def _cp_sat(
    problem: Problem,
    horizon: int,
    bound: int,
    hint: tuple[Days, Resources] | None,
    request: ScheduleRequest,
    seconds: float,
) -> tuple[Days, Resources, int, bool] | None:
    """CP-SAT's best start days and resources in split pools, its proven bound and whether it proved optimality.

    None if it found no schedule.
    """
    from ortools.sat.python import cp_model  # here: half a second to import, and a kept schedule needs no solver

    model, starts, choices = _model(problem, horizon, bound, hint)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(seconds, _MIN_SOLVER_S)
    solver.parameters.num_workers = request.workers
    if request.deterministic_limit is not None:
        solver.parameters.max_deterministic_time = request.deterministic_limit
    # CP-SAT's fixed search (start variables in task order, earliest day first) closes the last days of a
    # 200-block yard in a second where its LP search and LNS can take minutes; from 3 workers it is in the
    # default portfolio, below that it has to be asked for.
    if request.workers == 1:
        solver.parameters.search_branching = cp_model.FIXED_SEARCH
    elif request.workers == 2:
        solver.parameters.extra_subsolvers.append("fixed")
    status = solver.solve(model)
    if status == cp_model.INFEASIBLE:
        raise SchedulingInputError(f"no schedule finishes by horizon_days={horizon}")
    if status == cp_model.MODEL_INVALID:
        raise ModelCallError(MODEL, _TRANSPORT, f"CP-SAT rejected the model: {model.validate()}")
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    values = np.array([solver.value(s) for s in starts], dtype=np.int64)
    on: Resources = [None] * len(starts)
    for i, options in choices.items():
        on[i] = next(r for r, lit in options if solver.boolean_value(lit))
    return values, on, math.ceil(solver.best_objective_bound - 1e-6), status == cp_model.OPTIMAL


def _model(
    problem: Problem, horizon: int, bound: int, hint: tuple[Days, Resources] | None
) -> tuple[cp_model.CpModel, list[Any], dict[int, list[tuple[str, Any]]]]:
    """The CP-SAT model of the problem within the horizon, and its start variables.

    Also, per task of a split pool, each resource it may run on with the literal that puts it there.
    """
    from ortools.sat.python import cp_model

    p = problem
    model = cp_model.CpModel()
    starts, intervals = [], []
    for i, code in enumerate(p.codes):
        d = int(p.duration[i])
        s = model.new_int_var(int(p.head[i]), horizon - d - int(p.tail[i]), f"start[{code}]")
        starts.append(s)
        intervals.append(model.new_fixed_size_interval_var(s, d, f"run[{code}]"))
    choices: dict[int, list[tuple[str, Any]]] = {}
    for q, pool in enumerate(p.pools):
        tasks = [i for i, need in enumerate(p.needs) if q in need]
        members = [intervals[i] for i in tasks]
        _capacity(model, members, p.down[q], pool.capacity, pool.name)
        if p.split[q]:
            choices |= _choices(model, p, q, tasks, starts)
    for v, preds in enumerate(p.preds):
        for u in preds:
            model.add(starts[v] >= starts[u] + int(p.duration[u]))
    # the makespan starts at the lower bound, so CP-SAT stops as soon as a schedule reaches it
    makespan = model.new_int_var(bound, horizon, "makespan")
    for i, succs in enumerate(p.succs):
        if not succs:
            model.add(makespan >= starts[i] + int(p.duration[i]))
    model.minimize(makespan)
    if hint is not None:
        hint_start, hint_on = hint
        for s, value in zip(starts, hint_start.tolist(), strict=True):
            model.add_hint(s, value)
        model.add_hint(makespan, int((hint_start + p.duration).max()))
        for i, options in choices.items():
            for r, lit in options:
                model.add_hint(lit, r == hint_on[i])
    return model, starts, choices


def _choices(
    model: cp_model.CpModel, problem: Problem, q: int, tasks: list[int], starts: list[Any]
) -> dict[int, list[tuple[str, Any]]]:
    """Split pool q: each task on exactly one of its resources, each resource within its capacity and outages."""
    p = problem
    runs: dict[str, list[Any]] = {r: [] for r in p.split[q]}
    choices: dict[int, list[tuple[str, Any]]] = {}
    for i in tasks:
        code, d = p.codes[i], int(p.duration[i])
        choices[i] = [(r, model.new_bool_var(f"on[{code}@{r}]")) for r in p.split[q]]
        model.add_exactly_one(lit for _, lit in choices[i])
        for r, lit in choices[i]:
            runs[r].append(model.new_optional_fixed_size_interval_var(starts[i], d, lit, f"run[{code}@{r}]"))
    for r, members in runs.items():
        _capacity(model, members, [(a, b, p.units[r]) for a, b in p.outages.get(r, [])], p.units[r], r)
    return choices


def _capacity(
    model: cp_model.CpModel, members: list[Any], down: list[tuple[int, int, int]], capacity: int, name: str
) -> None:
    """Tasks taking one unit each and outages taking theirs, within `capacity`: a no-overlap or a cumulative."""
    outages = [model.new_fixed_size_interval_var(a, b - a, f"down[{name}@{a}]") for a, b, _ in down]
    if capacity == 1:
        model.add_no_overlap(members + outages)
    elif len(members) > capacity or outages:
        model.add_cumulative(members + outages, [1] * len(members) + [units for _, _, units in down], capacity)


def _left_justified(problem: Problem, start: Days, on: Resources) -> tuple[Days, Resources]:
    """The same schedule with every task moved as early as the tasks placed before it allow; never longer.

    Tasks of split pools stay on their resources: that is what makes "never later" hold task by task.
    """
    shifted, _ = serial_schedule(problem, problem.by_start(start), on)
    if (shifted + problem.duration).max() > (start + problem.duration).max():  # a guard: `_problem` shows it cannot
        return start, on
    return shifted, on


def _schedule(
    request: ScheduleRequest,
    problem: Problem,
    start: Days,
    on: Resources,
    makespan: int,
    bound: int,
    proven: bool,
    seconds: float,
) -> Schedule:
    resource = assign_slots(problem, start, on)
    finish = start + problem.duration
    tasks = tuple(
        ScheduledTask(
            code=t.code,
            start_day=int(start[i]),
            finish_day=int(finish[i]),
            resource=resource[i],
            crane=t.crane,
            on_critical_path=False,
        )
        for i, t in enumerate(request.tasks)
    )
    optimal = proven or bound >= makespan
    schedule = Schedule(
        tasks=tasks,
        makespan_days=makespan,
        status="optimal" if optimal else "feasible",
        objective=request.objective,
        best_bound=makespan if optimal else bound,
        gap=0.0 if optimal or makespan == 0 else (makespan - bound) / makespan,
        solve_seconds=seconds,
        critical_path=(),
    )
    chain = tuple(link.code for link in chain_into(request, schedule))  # into the task that finishes last
    on_chain = set(chain)
    return schedule.model_copy(
        update={
            "tasks": tuple(t.model_copy(update={"on_critical_path": True}) if t.code in on_chain else t for t in tasks),
            "critical_path": chain,
        }
    )
