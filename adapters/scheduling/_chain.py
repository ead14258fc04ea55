"""`chain_into`: the chain of work packages that sets when one work package starts, read off a schedule.

`Schedule.critical_path` is the chain into the task that finishes last (`solve` reads it with this walk). From
the task, step back to a predecessor that finishes the day it starts, else to a task on its resource or crane
that does; stop at a task nothing held up (it starts on its release day, or its baseline start in a repaired
schedule), or one an outage held up, which then leads the chain as "DOWN:<resource>". A task on a resource that
runs several at once is held up by one that finishes the day it starts only if the resource was full the day
before (a two-slot crane with a slot free holds up nothing).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

from pydantic import BaseModel, ConfigDict

from adapters.scheduling._model import OUTAGE_PREFIX, Schedule, ScheduleRequest, SchedulingInputError

__all__ = ["ChainLink", "chain_into"]


class ChainLink(BaseModel):
    """One link of a chain: a work package (or an outage leading the chain) and what held it up."""

    model_config = ConfigDict(frozen=True)

    code: str
    """The work package, or `OUTAGE_PREFIX` + resource for an outage that held up the first one."""
    waits_on: Literal["nothing", "outage", "precedence", "resource"]
    """What it waited for: nothing (it starts on its own release day), the outage before it, the link before it
    through a precedence, or the link before it for its resource or crane."""


def chain_into(request: ScheduleRequest, schedule: Schedule, code: str | None = None) -> tuple[ChainLink, ...]:
    """The chain of work that ends with `code` (None: the task that finishes last), first to last.

    Args:
        request: the request the schedule answers (its precedences, release days and downtimes).
        schedule: the schedule.
        code: the work package the chain ends at.

    Raises:
        SchedulingInputError: `code` is not a task of the schedule.
    """
    walk = _Walk(request, schedule)
    if code is not None and code not in walk.at:
        raise SchedulingInputError(f"no task {code!r} in the schedule")
    if not walk.at:
        return ()
    node = code if code is not None else max(reversed(schedule.tasks), key=lambda t: t.finish_day).code  # the last
    links: list[ChainLink] = []
    for _ in range(len(walk.at) + 1):  # every step goes back in time, or along a precedence (acyclic)
        held, via = walk.held_by(node)
        if held is not None:
            links.append(ChainLink(code=node, waits_on=via))
            node = held
            continue
        outage = walk.outage_before(node)
        links.append(ChainLink(code=node, waits_on="outage" if outage else "nothing"))
        if outage:
            links.append(ChainLink(code=OUTAGE_PREFIX + outage, waits_on="nothing"))
        return tuple(links[::-1])
    raise SchedulingInputError(f"the chain into {code!r} does not end: the schedule's precedences form a cycle")


class _Walk:
    """What the walk back reads of a schedule and its request."""

    def __init__(self, request: ScheduleRequest, schedule: Schedule) -> None:
        self.at = {t.code: t for t in schedule.tasks}
        self.order = {t.code: i for i, t in enumerate(schedule.tasks)}
        self.release = {t.code: t.release_day for t in request.tasks}
        self.preds: dict[str, list[str]] = defaultdict(list)
        for before, after in request.precedences:
            self.preds[after].append(before)
        self.ending: dict[tuple[str, int], list[str]] = defaultdict(list)  # (resource or crane, finish day) -> tasks
        self.capacity = {r.name: r.capacity for r in request.resources}
        self.runs: dict[str, list[tuple[int, int]]] = defaultdict(list)  # resources of capacity > 1: (start, finish)
        for t in schedule.tasks:
            if t.finish_day > t.start_day:
                for name in {t.resource, t.crane} - {None}:
                    if self.capacity.get(str(name), 1) > 1:
                        self.runs[str(name)].append((t.start_day, t.finish_day))
        for t in schedule.tasks:
            if t.finish_day > t.start_day:
                for name in (t.resource, t.crane):
                    if name is not None:
                        self.ending[(name, t.finish_day)].append(t.code)
        self.back = {(d.resource, d.end_day) for d in request.downtimes}
        self.down = {(d.resource, day) for d in request.downtimes for day in range(d.start_day, d.end_day)}

    def held_by(self, node: str) -> tuple[str | None, Literal["precedence", "resource"]]:
        """The task that finishes the day `node` starts and held it up: a predecessor first, else on its resources."""
        task = self.at[node]
        s = task.start_day
        preds = sorted(
            (u for u in self.preds[node] if u in self.at and self.at[u].finish_day == s), key=self.order.__getitem__
        )
        if preds:
            return preds[0], "precedence"
        if task.finish_day > s:
            for name in (task.resource, task.crane):
                if not name or not self._full(name, s - 1):
                    continue
                for u in self.ending[(name, s)]:
                    if u != node:
                        return u, "resource"
        return None, "precedence"

    def _full(self, name: str, day: int) -> bool:
        """Whether a resource ran as many tasks as it can on `day` (one of capacity 1 always counts as full)."""
        capacity = self.capacity.get(name, 1)
        if capacity <= 1:
            return True
        return sum(a <= day < b for a, b in self.runs[name]) >= capacity

    def outage_before(self, node: str) -> str | None:
        """The resource whose outage ended the day `node` started after its release day, if one did."""
        task = self.at[node]
        s = task.start_day
        if task.finish_day <= s or s <= self.release.get(node, 0):
            return None
        return next(
            (r for r in (task.resource, task.crane) if r and (r, s) in self.back and (r, s) not in self.down), None
        )
