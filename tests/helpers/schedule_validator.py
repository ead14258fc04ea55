"""An independent check of a schedule against the request it answers.

Written from the request's documented meaning alone, sharing no code with `adapters.scheduling`
beyond the pydantic types: days are whole, a task occupies days start..finish-1, a precedence
(before, after) means after.start >= before.finish, a resource runs at most `capacity` tasks on any
day, and a task runs on a resource of the kind its trade works on (the one it named, when the
request says "named"), holding the crane it named.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from adapters.scheduling import Schedule, ScheduleRequest

__all__ = ["violations"]

# Which kind of resource each trade works on, restated here rather than imported from the solver.
_KIND_OF_TRADE = {"PNL": "panel_line", "ASM": "workshop", "OFB": "outfitting_hall", "ERE": "dock", "OBD": None}


def violations(request: ScheduleRequest, schedule: Schedule) -> list[str]:
    """Every way `schedule` breaks `request`, one line each; empty if it keeps every rule."""
    found: list[str] = []
    found += _coverage(request, schedule)
    found += _each_task(request, schedule)
    found += _precedences(request, schedule)
    found += _capacities(request, schedule)
    found += _summary(schedule)
    return found


def _coverage(request: ScheduleRequest, schedule: Schedule) -> list[str]:
    wanted = Counter(t.code for t in request.tasks)
    got = Counter(s.code for s in schedule.tasks)
    out = [f"task {c} is missing" for c in sorted(wanted - got)]
    out += [f"task {c} is not in the request" for c in sorted(set(got) - set(wanted))]
    out += [f"task {c} is scheduled {n} times" for c, n in sorted(got.items()) if n > 1]
    return out


def _each_task(request: ScheduleRequest, schedule: Schedule) -> list[str]:
    asked = {t.code: t for t in request.tasks}
    kind = {r.name: r.kind for r in request.resources}
    out: list[str] = []
    for s in schedule.tasks:
        t = asked.get(s.code)
        if t is None:
            continue
        if s.finish_day - s.start_day != t.duration_days:
            out.append(f"{s.code}: runs {s.finish_day - s.start_day} days, needs {t.duration_days}")
        if s.start_day < t.release_day:
            out.append(f"{s.code}: starts on day {s.start_day}, before its release day {t.release_day}")
        if t.resource is None:
            if s.resource is not None:
                out.append(f"{s.code}: needs no resource but was put on {s.resource}")
        elif s.resource not in kind:
            out.append(f"{s.code}: put on {s.resource!r}, which is not a resource of the request")
        elif kind[s.resource] != _KIND_OF_TRADE[t.trade] or kind[s.resource] != kind[t.resource]:
            out.append(f"{s.code}: {t.trade} task put on {s.resource}, a {kind[s.resource]}")
        elif request.resource_choice == "named" and s.resource != t.resource:
            out.append(f"{s.code}: must run on {t.resource}, was put on {s.resource}")
        if s.crane != t.crane:
            out.append(f"{s.code}: needs crane {t.crane}, holds {s.crane}")
    return out


def _precedences(request: ScheduleRequest, schedule: Schedule) -> list[str]:
    at = {s.code: s for s in schedule.tasks}
    out: list[str] = []
    for before, after in request.precedences:
        if before in at and after in at and at[after].start_day < at[before].finish_day:
            out.append(
                f"{after} starts on day {at[after].start_day}, before {before} finishes on day {at[before].finish_day}"
            )
    return out


def _capacities(request: ScheduleRequest, schedule: Schedule) -> list[str]:
    capacity = {r.name: r.capacity for r in request.resources}
    events: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for s in schedule.tasks:
        if s.finish_day <= s.start_day:
            continue  # a milestone occupies no day
        for name in {s.resource, s.crane} - {None}:
            events[str(name)].append((s.start_day, 1, s.code))
            events[str(name)].append((s.finish_day, -1, s.code))
    out: list[str] = []
    for name, evs in sorted(events.items()):
        running: set[str] = set()
        # at one day, releases (-1) come before starts (+1): a task may start the day another finishes
        for day, delta, code in sorted(evs):
            if delta < 0:
                running.discard(code)
                continue
            running.add(code)
            if len(running) > capacity.get(name, 0):
                out.append(f"{name} runs {len(running)} tasks on day {day} (capacity {capacity.get(name, 0)})")
    return out


def _summary(schedule: Schedule) -> list[str]:
    out: list[str] = []
    last = max((s.finish_day for s in schedule.tasks), default=0)
    if schedule.makespan_days != last:
        out.append(f"makespan is {schedule.makespan_days} days, but the last task finishes on day {last}")
    if not 0.0 <= schedule.gap <= 1.0:
        out.append(f"gap {schedule.gap} is outside 0..1")
    if schedule.best_bound > schedule.makespan_days:
        out.append(f"best bound {schedule.best_bound} exceeds the makespan {schedule.makespan_days}")
    if schedule.status == "optimal" and schedule.best_bound != schedule.makespan_days:
        out.append(f"optimal, but its bound {schedule.best_bound} differs from the makespan {schedule.makespan_days}")
    flagged = {s.code for s in schedule.tasks if s.on_critical_path}
    if flagged != set(schedule.critical_path):
        out.append("the tasks flagged on_critical_path are not those of critical_path")
    return out
