"""The yard's plan: the adopted events of the plan book and the schedules computed from yard + events.

A schedule is solved from the yard's work packages (hours from the models' predictions) and a list of
events, deterministically (one CP-SAT worker, a deterministic time budget), and kept per list of events:
the same plan always gets the same schedule, and asking again costs nothing. A what-if repairs the
adopted schedule for more events (`repair`: every work package keeps its order, nothing moves earlier).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Protocol

from brain.planbook import PlanBook, PlanEvent
from knowledge.errors import InputError
from knowledge.partgraph import PartGraph
from knowledge.settings import Settings

if TYPE_CHECKING:
    from adapters.registry import Registry
    from adapters.scheduling import Schedule, ScheduleRequest
    from brain.core.workpackages import WorkPackageIndex

__all__ = ["PlanContext", "YardPlan"]


class PlanContext(Protocol):
    """What the plan reads of its yard (a `brain.core.YardContext`)."""

    @property
    def graph(self) -> PartGraph:
        """The yard's part graph."""

    @property
    def settings(self) -> Settings:
        """Where the plan book is kept."""

    @property
    def registry(self) -> Registry:
        """The models that predict the hours."""

    @property
    def index(self) -> WorkPackageIndex:
        """The yard's work packages."""

    def day_of(self, when: date) -> int:
        """The schedule day of a date."""


class YardPlan:
    """The adopted plan of one yard, and every schedule asked of it (cached per list of events)."""

    def __init__(self, ctx: PlanContext) -> None:
        self._ctx = ctx
        self.planbook = PlanBook(ctx.settings, yard=str(ctx.graph.path.resolve()))
        self._lock = threading.RLock()
        """One solve per list of events, however many threads ask at once."""
        self._hours: dict[str, float] | None = None
        self._schedules: dict[tuple[PlanEvent, ...], tuple[ScheduleRequest, Schedule]] = {}

    def events(self) -> tuple[PlanEvent, ...]:
        """The adopted events, oldest first."""
        return tuple(self.planbook.events())

    def predicted_hours(self) -> dict[str, float]:
        """Hours per work package with the models' predictions in place of the planning norms (computed once)."""
        from adapters.executor import BatchExecutor
        from adapters.scheduling import predicted_hours

        with self._lock:
            if self._hours is None:
                # the whole yard at once: in-process, so the schedule never waits for a Ray cluster to start
                executor = BatchExecutor(self._ctx.registry, backend="in-process", settings=self._ctx.settings)
                self._hours = predicted_hours(self._ctx.graph, executor)
            return self._hours

    def request(self, events: Sequence[PlanEvent], baseline: Schedule | None = None) -> ScheduleRequest:
        """The scheduling request of the yard with `events`: outages as downtimes, late codes as releases.

        A late code holds up the work package that makes it until `days` after that package's start in `baseline`
        (day 0 without one).
        """
        from adapters.scheduling import ResourceDowntime, request_from_yard

        downtimes = [
            ResourceDowntime(resource=e.resource, start_day=e.start_day or 0, days=e.days, reason=e.describe())
            for e in events
            if e.resource
        ]
        releases: dict[str, int] = {}
        starts = {t.code: t.start_day for t in baseline.tasks} if baseline else {}
        for e in events:
            if e.code:
                wp = self._ctx.index.package_of(e.code)
                releases[wp] = max(releases.get(wp, 0), starts.get(wp, 0) + e.days)
        # one worker and a deterministic budget: the same yard and events get the same schedule every time
        return request_from_yard(
            self._ctx.graph,
            self.predicted_hours(),
            time_limit_s=20,
            workers=1,
            deterministic_limit=5.0,
            downtimes=downtimes,
            release_days=releases,
        )

    def schedule(self, events: Sequence[PlanEvent] = ()) -> tuple[ScheduleRequest, Schedule]:
        """The yard's schedule with some events: solved once per list of events and kept."""
        from adapters.scheduling import solve

        key = tuple(events)
        with self._lock:
            if key not in self._schedules:
                base = None if not key else self.schedule(())[1]
                request = self.request(key, base)
                self._schedules[key] = (request, solve(request))
            return self._schedules[key]

    def current(self) -> tuple[tuple[PlanEvent, ...], Schedule]:
        """The adopted events and the schedule of the plan they make."""
        events = self.events()
        return events, self.schedule(events)[1]

    def event(
        self,
        *,
        resource: str | None,
        code: str | None,
        days: int,
        start_day: int | None = None,
        start_date: date | None = None,
    ) -> PlanEvent:
        """A plan event, checked against the yard: its resource exists, its code is made by a work package."""
        if start_date is not None:
            start_day = self._ctx.day_of(start_date)
        if resource is not None:
            known = set(self._ctx.graph.table("resources", ["resource"]).column(0).to_pylist())
            if resource not in known:
                raise InputError(f"no resource {resource!r} in this yard; it has {', '.join(sorted(known))}")
        if code is not None:
            self._ctx.index.package_of(code)  # an unknown code fails here, before any solve
        return PlanEvent(resource=resource, code=code.upper() if code else None, days=days, start_day=start_day)

    def repair(self, extra: Sequence[PlanEvent]) -> tuple[Schedule, Schedule]:
        """(before, after): the adopted schedule, and it repaired for `extra` events (nothing re-optimised)."""
        from adapters.scheduling import repair

        adopted = self.events()
        _, before = self.schedule(adopted)
        after = repair(self.request([*adopted, *extra], self.schedule(())[1]), before)
        return before, after

    def adopt(self, event: PlanEvent, *, by: str, thread_id: str | None = None) -> int:
        """Add `event` to the plan book; returns how many events the plan now holds."""
        total = self.planbook.adopt(event, by=by, thread_id=thread_id)
        self.invalidate()
        return total

    def invalidate(self) -> None:
        """Forget the cached schedules (the plan changed)."""
        with self._lock:
            self._schedules.clear()
