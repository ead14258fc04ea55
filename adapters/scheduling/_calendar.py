"""`WorkCalendar`: the yard's working days, and what its calendar takes out of service.

A schedule counts **working days**: day 0 is the first working day on or after the yard's `day0`, day k the k-th
working day after it. The yard's calendar (`knowledge.store.YardStore.calendar`: one row per non-working day, `date`
and, where the day is one resource's, `resource`) says which days those are:

- a row without a resource is a day off for the whole yard (a Sunday, a holiday, a summer shutdown): it is no
  schedule day at all, so no work package starts or works on it, and one that runs over it simply resumes the
  next working day (its duration is in working days);
- a row naming a resource is a day that resource is out of service (a dock's maintenance week): the yard works,
  that resource does not; `downtimes` gives those days as `ResourceDowntime`s in working days, which the solver,
  the repair and the validator honour like any outage (a work package that needs the resource runs wholly before
  or after, or moves to another resource of its kind).

A yard without a calendar (or with an empty one) works every day: day k is `day0 + k` calendar days, as before.
Days off after the calendar's last row are none: the yard works every day from there on.

```python
calendar = WorkCalendar.of(yard)
calendar.date_of(0), calendar.day_of(date(2026, 4, 13)), calendar.last_date(107)
request_from_yard(yard)  # takes calendar.downtimes(...) itself
```
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from typing import Final

from adapters.scheduling._model import ResourceDowntime
from knowledge.store import YardStore

__all__ = ["CALENDAR_REASON", "WorkCalendar"]

CALENDAR_REASON: Final = "the yard's calendar"
"""The `reason` of a downtime that comes from the yard's calendar (a resource's non-working days)."""


@dataclass(frozen=True)
class WorkCalendar:
    """Working days from `day0`, given the yard's days off (whole yard) and each resource's days out of service."""

    day0: date
    """The yard's `day0`: schedule day 0 is the first working day from it on."""
    days_off: frozenset[date] = frozenset()
    """The whole yard's non-working days."""
    resource_days_off: dict[str, frozenset[date]] = field(default_factory=dict)
    """Per resource (its id), the days it is out of service while the yard works (days off of the yard left out)."""

    @classmethod
    def of(cls, yard: YardStore) -> WorkCalendar:
        """The calendar of an imported yard (every day a working day when it has none)."""
        table = yard.calendar()
        day0 = yard.day0
        if table is None or not table.num_rows or "date" not in table.column_names:
            return cls(day0)
        days = [_as_date(d) for d in table.column("date").to_pylist()]
        nodes: list[int | None] = (
            table.column("resource_node").to_pylist() if "resource_node" in table.column_names else [None] * len(days)
        )
        whole = frozenset(d for d, n in zip(days, nodes, strict=True) if d is not None and (n is None or n < 0))
        named = sorted({int(n) for n in nodes if n is not None and n >= 0})
        code = dict(zip(named, yard.codes_of(named), strict=True)) if named else {}
        per: dict[str, set[date]] = {}
        for d, n in zip(days, nodes, strict=True):
            if d is not None and n is not None and n >= 0 and d not in whole:
                per.setdefault(code[int(n)], set()).add(d)
        return cls(day0, whole, {r: frozenset(ds) for r, ds in sorted(per.items())})

    @property
    def is_empty(self) -> bool:
        """Whether every day is a working day for everything (a yard without a calendar)."""
        return not self.days_off and not self.resource_days_off

    @cached_property
    def _off(self) -> list[int]:
        """The whole yard's days off from day0 on, as calendar days after day0, ascending."""
        return sorted((d - self.day0).days for d in self.days_off if d >= self.day0)

    @cached_property
    def _working(self) -> list[int]:
        """The working days up to the last day off, as calendar days after day0 (every day after it works)."""
        off = self._off
        if not off:
            return []
        taken = set(off)
        return [c for c in range(off[-1] + 1) if c not in taken]

    def date_of(self, day: int) -> date:
        """The calendar date of schedule day `day` (the `day`-th working day); before day 0, calendar days back."""
        day = int(day)
        if day < 0 or not self.days_off:
            return self.day0 + timedelta(days=day)
        working = self._working
        if day < len(working):
            return self.day0 + timedelta(days=working[day])
        last = self._off[-1] if self._off else -1
        return self.day0 + timedelta(days=last + 1 + day - len(working))

    def day_of(self, when: date) -> int:
        """The schedule day of a calendar date: its working day, or the next one when the yard does not work then.

        A date before day0 gives a negative number (calendar days back), which callers refuse.
        """
        c = (when - self.day0).days
        if c < 0 or not self.days_off:
            return c
        off = self._off
        if not off or c > off[-1]:
            return c - len(off)
        return bisect_left(self._working, c)

    def last_date(self, finish_day: int) -> date:
        """The last working date of what finishes on schedule day `finish_day` (it works up to the day before).

        A schedule of 107 days runs from `date_of(0)` to `last_date(107)`, both days included.
        """
        return self.date_of(max(int(finish_day) - 1, 0))

    def works_on(self, when: date, resource: str | None = None) -> bool:
        """Whether the yard (and `resource`, when named) works on a date."""
        if when in self.days_off:
            return False
        return resource is None or when not in self.resource_days_off.get(resource, frozenset())

    def downtimes(self, resources: Iterable[str]) -> tuple[ResourceDowntime, ...]:
        """The days each of `resources` is out of service while the yard works, as outages in working days.

        Consecutive working days of one resource make one downtime; days before day0 and resources not among
        `resources` are left out.
        """
        known = set(resources)
        out: list[ResourceDowntime] = []
        for resource, dates in self.resource_days_off.items():
            if resource not in known:
                continue
            days = sorted({self.day_of(d) for d in dates if d >= self.day0})
            start = previous = None
            for d in [*days, None]:
                if d is not None and previous is not None and d == previous + 1:
                    previous = d
                    continue
                if start is not None and previous is not None:
                    out.append(
                        ResourceDowntime(
                            resource=resource, start_day=start, days=previous - start + 1, reason=CALENDAR_REASON
                        )
                    )
                start = previous = d
        return tuple(out)


def _as_date(value: object) -> date | None:
    """A calendar row's date: a date, or ISO text (a CSV calendar keeps its dates as text)."""
    if value is None:
        return None
    if isinstance(value, date):
        return value
    text = str(value).strip()
    return date.fromisoformat(text[:10]) if text else None
