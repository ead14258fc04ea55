"""An independent check of a schedule against the request it answers: `violations` and `check_schedule`.

Written from the request's documented meaning alone: it reads the request and the schedule and shares no
code with the solver or the repair (`_problem`, `_solve`, `_repair`), only the pydantic types. The rules:

- every task of the request is scheduled once, and nothing else is;
- days are whole, a task occupies days `start_day` .. `finish_day - 1` and runs its `duration_days`;
- no task starts before its `release_day`;
- a precedence (before, after) means after.start >= before.finish;
- a resource runs at most `capacity` tasks on any day; a task runs on a resource of the kind its trade works on
  (the request's `trades`; without them, the kind of the resource it named), on the one it named when the
  request says "named", and holds the crane it named;
- a resource runs nothing on the days of its downtimes, so a kind's resources together run no more than the
  capacity of those of them that are up;
- the makespan is the last finish, the bound and gap agree with it, the tasks flagged on the critical path are
  its tasks, and only its first entry may be an outage ("DOWN:<resource>"), one that ended the day its first
  task started on that resource.

A product check, not only a test's: every schedule the brain shows passes it first (`check_schedule` raises
`InvalidScheduleError` instead of returning one that breaks a rule).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from adapters.errors import ModelResponseError
from adapters.scheduling._model import MODEL, Schedule, ScheduleRequest

__all__ = ["InvalidScheduleError", "check_schedule", "violations"]

_DOWN = "DOWN:"  # how the critical path names an outage, restated from `Schedule.critical_path`'s documentation


class InvalidScheduleError(ModelResponseError):
    """A schedule that breaks its request (a bug in the scheduler, never the caller's mistake): never shown.

    `what` names the schedule ("the repaired schedule"), `found` holds every violation, one line each.
    """

    def __init__(self, what: str, found: Sequence[str]) -> None:
        self.what, self.found = what, tuple(found)
        more = f" (and {len(self.found) - 1} more)" if len(self.found) > 1 else ""
        first = self.found[0] if self.found else "no violation named"
        super().__init__(MODEL, "in-process", f"{what} breaks its request: {first}{more}")

    def __reduce__(self) -> tuple[type[InvalidScheduleError], tuple[str, tuple[str, ...]]]:  # type: ignore[override]
        return (type(self), (self.what, self.found))


def check_schedule(request: ScheduleRequest, schedule: Schedule, what: str = "the schedule") -> Schedule:
    """`schedule` if it keeps every rule of `request`.

    Raises:
        InvalidScheduleError: naming `what` and every rule it breaks.
    """
    found = violations(request, schedule)
    if found:
        raise InvalidScheduleError(what, found)
    return schedule


def violations(request: ScheduleRequest, schedule: Schedule) -> list[str]:
    """Every way `schedule` breaks `request`, one line each; empty if it keeps every rule."""
    found: list[str] = []
    found += _coverage(request, schedule)
    found += _each_task(request, schedule)
    found += _precedences(request, schedule)
    found += _capacities(request, schedule)
    found += _downtimes(request, schedule)
    found += _kind_capacities(request, schedule)
    found += _summary(schedule)
    found += _outage_on_path(request, schedule)
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
    trade_kind = {t.trade: t.resource_kind for t in request.trades}
    out: list[str] = []
    for s in schedule.tasks:
        t = asked.get(s.code)
        if t is None:
            continue
        if s.finish_day - s.start_day != t.duration_days:
            out.append(f"{s.code}: runs {s.finish_day - s.start_day} days, needs {t.duration_days}")
        if s.start_day < t.release_day:
            out.append(f"{s.code}: starts on day {s.start_day}, before its release day {t.release_day}")
        want = trade_kind.get(t.trade) if request.trades else (kind.get(t.resource) if t.resource else None)
        if t.resource is None:
            if s.resource is not None:
                out.append(f"{s.code}: needs no resource but was put on {s.resource}")
        elif s.resource not in kind:
            out.append(f"{s.code}: put on {s.resource!r}, which is not a resource of the request")
        elif kind[s.resource] != want or kind[s.resource] != kind.get(t.resource):
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
    if flagged != {c for c in schedule.critical_path if not c.startswith(_DOWN)}:
        out.append("the tasks flagged on_critical_path are not those of critical_path")
    return out


def _down_days(request: ScheduleRequest) -> dict[str, set[int]]:
    """Per resource, every day it is down."""
    days: dict[str, set[int]] = defaultdict(set)
    for d in request.downtimes:
        days[d.resource].update(range(d.start_day, d.start_day + d.days))
    return days


def _downtimes(request: ScheduleRequest, schedule: Schedule) -> list[str]:
    down = _down_days(request)
    out: list[str] = []
    for s in schedule.tasks:
        for name in sorted({s.resource, s.crane} - {None}, key=str):
            clash = sorted(down.get(str(name), set()).intersection(range(s.start_day, s.finish_day)))
            if clash:
                out.append(f"{s.code} runs on {name} on day {clash[0]}, while {name} is down")
    return out


def _kind_capacities(request: ScheduleRequest, schedule: Schedule) -> list[str]:
    kind = {r.name: r.kind for r in request.resources}
    down = _down_days(request)
    running: Counter[tuple[str, int]] = Counter()
    for s in schedule.tasks:
        for name in {s.resource, s.crane} - {None}:
            if name in kind:
                for day in range(s.start_day, s.finish_day):
                    running[(kind[str(name)], day)] += 1
    out: list[str] = []
    for (k, day), n in sorted(running.items()):
        if not any(day in down.get(r.name, set()) for r in request.resources if r.kind == k):
            continue  # no outage that day: `_capacities` has checked each resource already
        up = sum(r.capacity for r in request.resources if r.kind == k and day not in down.get(r.name, set()))
        if n > up:
            out.append(f"{n} tasks run on {k}s on day {day}, which have capacity {up} that day")
    return out


def _outage_on_path(request: ScheduleRequest, schedule: Schedule) -> list[str]:
    path = schedule.critical_path
    outages = [(k, c) for k, c in enumerate(path) if c.startswith(_DOWN)]
    if not outages:
        return []
    k, entry = outages[0]
    name = entry.removeprefix(_DOWN)
    if len(outages) > 1 or k != 0 or len(path) < 2:
        return [f"critical path {path}: an outage can only lead it, once, before a task"]
    first = next((s for s in schedule.tasks if s.code == path[1]), None)
    ends = {d.start_day + d.days for d in request.downtimes if d.resource == name}
    if first is None or name not in {first.resource, first.crane}:
        return [f"critical path starts with {entry}, but its first task does not run on {name}"]
    if first.start_day not in ends or first.start_day in _down_days(request)[name]:
        return [f"critical path starts with {entry}, but {first.code} does not start the day {name} is back"]
    return []
