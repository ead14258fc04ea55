"""The yard's plan: the adoptions of the plan book and the schedules they make.

The **base schedule** is solved from the yard's work packages (hours from the models' predictions),
deterministically (one CP-SAT worker, a deterministic time budget), once per yard and model versions, and
kept on disk. A **proposal** repairs the adopted schedule for more events (`repair`: every work package keeps
its order and resource, nothing moves earlier) against the plan's current version; adopting it stores that
very schedule with the events, so the plan is exactly what was shown for approval, and a proposal made
against an older version is refused. The **adopted schedule** is the last adoption's stored schedule (the
base schedule before any).

Days are the yard's working days (`calendar`, `adapters.scheduling.WorkCalendar`): its days off are no schedule
days, a resource's days out of service are downtimes of every request, and `date_of` / `last_date` give the dates
a person reads. A yard without a calendar works every day (day k is day0 + k).

Every schedule the plan gives out (the base schedule, one re-solved for events, a proposal) has passed the
independent validator (`adapters.scheduling.validate`: precedences, capacities, downtimes, release days) against
the request it answers; one that breaks a rule is an `InvalidScheduleError`, never shown.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from pydantic import ValidationError

from brain.core.cache import YardCache, digest_of, take_rows
from brain.core.workpackages import node_of_code
from brain.errors import PlanChangedError
from brain.planbook import Adoption, PlanBook, PlanEvent, schedule_digest
from knowledge.errors import InputError
from knowledge.settings import Settings
from knowledge.store import YardStore

if TYPE_CHECKING:
    from adapters.registry import Registry
    from adapters.scheduling import Schedule, ScheduledTask, ScheduleRequest, WorkCalendar
    from brain.core.workpackages import WorkPackageIndex

__all__ = ["PlanContext", "Proposal", "YardPlan", "schedule_json"]


class PlanContext(Protocol):
    """What the plan reads of its yard (a `brain.core.YardContext`)."""

    @property
    def yard(self) -> YardStore:
        """The yard's store."""

    @property
    def settings(self) -> Settings:
        """Where the plan book is kept."""

    @property
    def registry(self) -> Registry:
        """The models that predict the hours."""

    @property
    def index(self) -> WorkPackageIndex:
        """The yard's work packages."""

    @property
    def cache(self) -> YardCache:
        """Where schedules are kept on disk."""

    def yard_predictions(self, model: str) -> pa.Table:
        """A model over every row of its yard table."""

    def day_of(self, when: date) -> int:
        """The schedule day of a date."""


def schedule_json(schedule: Schedule) -> str:
    """A schedule as the plan book keeps it: its JSON without the solver's wall time (the same plan, the same bytes)."""
    return schedule.model_copy(update={"solve_seconds": 0.0}).model_dump_json()


@dataclass(frozen=True)
class Proposal:
    """A change of the plan as computed for approval: the events, and the adopted schedule repaired for them."""

    version: int
    """The plan version it was computed against."""
    adopted: tuple[PlanEvent, ...]
    """The events the plan held then."""
    events: tuple[PlanEvent, ...]
    """What the change adds."""
    before: Schedule
    """The adopted schedule."""
    after: Schedule
    """The schedule with the change: what adopting it makes the plan."""
    after_json: str = field(repr=False)
    """`after` as the plan book will keep it, byte for byte."""

    @property
    def digest(self) -> str:
        """The SHA-256 of `after_json`: an approval names it, adoption checks it."""
        return schedule_digest(self.after_json)

    def moved(self) -> list[tuple[ScheduledTask, ScheduledTask]]:
        """(before, after) of every work package that starts, finishes or runs elsewhere, in the schedule's order."""
        old = {t.code: t for t in self.before.tasks}
        return [
            (old[t.code], t)
            for t in self.after.tasks
            if (old[t.code].start_day, old[t.code].finish_day, old[t.code].resource)
            != (t.start_day, t.finish_day, t.resource)
        ]


def _combined(
    changes: list[tuple[npt.NDArray[np.int64], float]],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Nodes and the product of the factors of every change that covers each (each id once, ascending)."""
    ids, inverse = np.unique(np.concatenate([i for i, _ in changes]), return_inverse=True)
    factors = np.concatenate([np.full(len(i), f, dtype=np.float64) for i, f in changes])
    product = np.ones(len(ids), dtype=np.float64)
    np.multiply.at(product, inverse, factors)
    return ids, product


def _rows_of(table: pa.Table, column: str, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """Some rows of a kept predictions column, as float64 (only those rows: the column holds 22.5M at 25M parts)."""
    return np.asarray(take_rows(table.select([column]), rows).column(0).to_numpy(), dtype=np.float64)


class _CachedModels:
    """The executor-shaped view `predicted_hours` asks: the yard's kept predictions of each model."""

    def __init__(self, ctx: PlanContext) -> None:
        self._ctx = ctx

    def run(self, name: str, rows: pa.Table) -> pa.Table:
        predicted = self._ctx.yard_predictions(name)
        if predicted.num_rows != rows.num_rows:
            raise InputError(f"kept {name} predictions hold {predicted.num_rows:,} rows, the yard {rows.num_rows:,}")
        return predicted


class YardPlan:
    """The adopted plan of one yard: its adoptions, the base schedule, proposals and the adopted schedule."""

    TIME_LIMIT_S = 20.0
    WORKERS = 1
    DETERMINISTIC_LIMIT = 5.0
    """One worker and a deterministic budget: the same yard gets the same base schedule every time."""

    def __init__(self, ctx: PlanContext) -> None:
        self._ctx = ctx
        self.planbook = PlanBook(ctx.settings, yard=str(ctx.yard.path.resolve()))
        self._lock = threading.RLock()
        """One solve at a time, however many threads ask at once."""
        self._hours: dict[str, float] | None = None
        self._calendar: WorkCalendar | None = None
        self._overdrawn: list[tuple[str, float, float]] | None = None
        self._base: Schedule | None = None
        self._solved: dict[tuple[PlanEvent, ...], tuple[ScheduleRequest, Schedule]] = {}
        self._requests: dict[tuple[PlanEvent, ...], ScheduleRequest] = {}
        self._adopted: dict[int, tuple[tuple[PlanEvent, ...], Schedule]] = {}
        self._proposals: dict[tuple[int, tuple[PlanEvent, ...]], Proposal] = {}

    def version(self) -> int:
        """The plan's version: how many adoptions it holds."""
        return self.planbook.version()

    def events(self) -> tuple[PlanEvent, ...]:
        """The adopted events, oldest first."""
        return tuple(self.planbook.events())

    @property
    def calendar(self) -> WorkCalendar:
        """The yard's working days (`adapters.scheduling.WorkCalendar`): every day a working day without a calendar."""
        from adapters.scheduling import WorkCalendar

        with self._lock:
            if self._calendar is None:
                self._calendar = WorkCalendar.of(self._ctx.yard)
            return self._calendar

    def date_of(self, day: int) -> date:
        """The calendar date of schedule day `day` (the `day`-th working day)."""
        return self.calendar.date_of(day)

    def last_date(self, finish_day: int) -> date:
        """The last working date of what finishes on schedule day `finish_day` (it works up to the day before)."""
        return self.calendar.last_date(finish_day)

    def day_of(self, when: date) -> int:
        """The schedule day of a calendar date (its working day, or the next one when the yard does not work then).

        Raises:
            InputError: a date before day 0 or past the horizon (the context's rule).
        """
        self._ctx.day_of(when)
        return self.calendar.day_of(when)

    def raw_hours(self) -> dict[str, float]:
        """Hours per work package with the models' predictions in place of the planning norms, not clamped at 0 h.

        `adapters.scheduling.predicted_hours(..., clamp=False)`, computed once.
        """
        from adapters.scheduling import predicted_hours

        with self._lock:
            if self._hours is None:
                from brain.core.cache import model_identity

                registry = self._ctx.registry
                key = "hours-raw-" + digest_of(*(model_identity(registry, m) for m in ("welding", "outfitting")))
                kept = self._ctx.cache.text(key)
                if kept is not None:
                    self._hours = {str(k): float(v) for k, v in json.loads(kept).items()}
                else:
                    self._hours = predicted_hours(self._ctx.yard, _CachedModels(self._ctx), clamp=False)
                    self._ctx.cache.put_text(key, json.dumps(self._hours))
            return self._hours

    def predicted_hours(self) -> dict[str, float]:
        """Hours per work package with the models' predictions in place of the planning norms (at least 0 h)."""
        return {code: max(h, 0.0) for code, h in self.raw_hours().items()}

    def overdrawn(self) -> list[tuple[str, float, float]]:
        """The work packages whose joints' and items' norms exceed their estimate: (code, estimate, norms) each.

        `adapters.scheduling.overdrawn_packages`: their predicted hours fall short, often to 0 h (1 day).
        """
        from adapters.scheduling import overdrawn_packages

        with self._lock:
            if self._overdrawn is None:
                self._overdrawn = overdrawn_packages(self._ctx.yard) if self._ctx.yard.count("work_package") else []
            return self._overdrawn

    def overdrawn_in(self, events: Sequence[PlanEvent]) -> list[tuple[str, float, float]]:
        """The `overdrawn` work packages whose joints or items the model changes among `events` cover."""
        over = self.overdrawn()
        changes = [e for e in events if e.changes_model and e.code]
        if not over or not changes:
            return []
        index = self._ctx.index
        rows: set[int] = set()
        for e in changes:
            joints, items = self._members(str(e.code))
            for ids in (joints, items):
                if len(ids):
                    rows.update(int(r) for r in index.work_package_of(ids) if r >= 0)
        touched = {index.codes[r] for r in rows}
        return [o for o in over if o[0] in touched]

    def hours(self, events: Sequence[PlanEvent] = ()) -> dict[str, float]:
        """Hours per work package with `events`' model changes applied (the predicted hours without any).

        The same rule as the predicted hours (`adapters.scheduling.predicted_hours`): a joint's welding hours are the
        welding model's, an outfitting item's are its norm raised by its rework risk. A `welding_factor` multiplies
        the model's hours of the joints of its code; a `rework_factor` multiplies the rework risk of its code's items,
        each capped at 1. Factors of several events on the same joint or item multiply. The change is added to the
        unclamped sum (`raw_hours`: negative where a package's norms exceed its estimate), which is clamped at 0 h
        once, at the end.
        """
        raw = self.raw_hours()
        changes = [e for e in events if e.changes_model and e.code]
        if not changes:
            return {code: max(h, 0.0) for code, h in raw.items()}
        ctx, index = self._ctx, self._ctx.index
        delta = np.zeros(len(index.codes))
        welded = [(self._members(str(e.code))[0], e.welding_factor) for e in changes if e.welding_factor is not None]
        if welded:
            ids, factor = _combined(welded)
            h = _rows_of(ctx.yard_predictions("welding"), "hours", ctx.yard.role_rows("joint", ids))
            delta += np.bincount(index.work_package_of(ids), weights=(factor - 1) * h, minlength=len(delta))
        reworked = [(self._members(str(e.code))[1], e.rework_factor) for e in changes if e.rework_factor is not None]
        if reworked:
            ids, factor = _combined(reworked)
            rows = ctx.yard.role_rows("outfitting_item", ids)
            risk = _rows_of(ctx.yard_predictions("outfitting"), "rework_probability", rows)
            extra = index.item_norm_hours(ids) * (np.minimum(risk * factor, 1.0) - risk)
            delta += np.bincount(index.work_package_of(ids), weights=extra, minlength=len(delta))
        return {code: max(raw[code] + float(delta[row]), 0.0) for row, code in enumerate(index.codes)}

    def _members(self, code: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The weld joints and outfitting items a code covers (itself, for a joint or an item)."""
        index, yard = self._ctx.index, self._ctx.yard
        none = np.zeros(0, dtype=np.int64)
        if not index.is_work_package(code):
            node = node_of_code(yard, code)
            role = yard.role_of(node)
            if role == "joint":
                return np.asarray([node], dtype=np.int64), none
            if role == "outfitting_item":
                return none, np.asarray([node], dtype=np.int64)
        scope = index.scope_of(code)
        return scope.joint_ids.astype(np.int64), scope.item_ids.astype(np.int64)

    def request(self, events: Sequence[PlanEvent]) -> ScheduleRequest:
        """The scheduling request of the yard with `events`: outages, late codes and model changes.

        Outages become downtimes, late codes release days, model changes the hours (so the durations) of the work
        packages they touch (`hours`). A late code holds up the work package that makes it until `days` after that
        package's start in the base schedule.
        """
        key = tuple(events)
        with self._lock:
            if key in self._requests:
                return self._requests[key]
        made = self._request(events)
        with self._lock:
            return self._requests.setdefault(key, made)

    def _request(self, events: Sequence[PlanEvent]) -> ScheduleRequest:
        from adapters.scheduling import ResourceDowntime, request_from_yard

        downtimes = [
            ResourceDowntime(resource=e.resource, start_day=e.start_day or 0, days=e.days or 0, reason=e.describe())
            for e in events
            if e.resource
        ]
        releases: dict[str, int] = {}
        late = [e for e in events if e.code and e.days]
        starts = {t.code: t.start_day for t in self.base().tasks} if late else {}
        for e in late:
            wp = self._ctx.index.package_of(str(e.code))
            releases[wp] = max(releases.get(wp, 0), starts.get(wp, 0) + (e.days or 0))
        request = request_from_yard(
            self._ctx.yard,
            self.hours(events),
            time_limit_s=self.TIME_LIMIT_S,
            workers=self.WORKERS,
            deterministic_limit=self.DETERMINISTIC_LIMIT,
            downtimes=downtimes,
            release_days=releases,
        )
        if all(t.block is not None for t in request.tasks):
            return request
        # a yard whose packages name no block: the block the index reads off their nodes and neighbours (reader only)
        index = self._ctx.index
        tasks = [
            t if t.block is not None else t.model_copy(update={"block": index.block_code(index.row_of[t.code]) or None})
            for t in request.tasks
        ]
        return request.model_copy(update={"tasks": tasks})

    def base(self) -> Schedule:
        """The yard's schedule before any adoption: solved once per yard and model versions, kept on disk."""
        from adapters.scheduling import Schedule, check_schedule, solve

        with self._lock:
            if self._base is None:
                hours = self.predicted_hours()
                request = self.request(())
                key = "schedule-base-" + digest_of(
                    str(sorted(hours.items())),
                    str((self.TIME_LIMIT_S, self.WORKERS, self.DETERMINISTIC_LIMIT)),
                    str([d.model_dump() for d in request.downtimes]),  # the calendar's: a new calendar, a new schedule
                )
                kept = self._ctx.cache.text(key)
                if kept is not None:
                    base = check_schedule(request, Schedule.model_validate_json(kept), "the kept base schedule")
                else:
                    base = check_schedule(request, solve(request), "the base schedule")
                    self._ctx.cache.put_text(key, schedule_json(base))
                self._base = base
            return self._base

    def schedule(self, events: Sequence[PlanEvent] = ()) -> tuple[ScheduleRequest, Schedule]:
        """The yard's schedule with `events` solved afresh (CP-SAT re-optimised, not the adopted plan), kept."""
        from adapters.scheduling import check_schedule, solve

        key = tuple(events)
        with self._lock:
            if key not in self._solved:
                request = self.request(key)
                solved = self.base() if not key else check_schedule(request, solve(request), "the re-solved schedule")
                self._solved[key] = (request, solved)
            return self._solved[key]

    def current(self) -> tuple[tuple[PlanEvent, ...], Schedule]:
        """The adopted events and the adopted schedule: the last adoption's, exactly as it was approved."""
        from adapters.scheduling import Schedule

        adoptions = self.planbook.adoptions()
        version = len(adoptions)
        with self._lock:
            if version not in self._adopted:
                events = tuple(e for a in adoptions for e in a.events)
                last = adoptions[-1] if adoptions else None
                if last is None:
                    schedule = self.base()
                elif last.schedule is not None:
                    schedule = Schedule.model_validate_json(last.schedule)
                else:  # an adoption that stored no schedule: the events re-solved
                    schedule = self.schedule(events)[1]
                self._adopted[version] = (events, schedule)
            return self._adopted[version]

    def propose(self, extra: Sequence[PlanEvent]) -> Proposal:
        """The adopted schedule repaired for `extra` events: the change as a person approves it (computed once).

        Raises:
            InvalidScheduleError: the repair broke a rule of the request (a bug: nothing is shown).
        """
        from adapters.scheduling import check_schedule, repair

        version = self.version()
        key = (version, tuple(extra))
        with self._lock:
            if key not in self._proposals:
                adopted, before = self.current()
                request = self.request([*adopted, *extra])
                after = check_schedule(request, repair(request, before), "the repaired schedule")
                self._proposals[key] = Proposal(version, adopted, tuple(extra), before, after, schedule_json(after))
            return self._proposals[key]

    def event(
        self,
        *,
        resource: str | None,
        code: str | None,
        days: int | None,
        start_day: int | None = None,
        start_date: date | None = None,
        welding_factor: float | None = None,
        rework_factor: float | None = None,
    ) -> PlanEvent:
        """A plan event, checked against the yard.

        Its resource exists, its code is made by a work package, and a model change has something to change (joints
        to weld, items to fit).

        Raises:
            InputError: an unknown resource or code, a model change on a code without joints or items, or an event
                that is not one (see `PlanEvent`).
        """
        if start_date is not None:
            start_day = self.day_of(start_date)
        yard = self._ctx.yard
        if resource is not None:
            known = set(yard.codes_of(yard.nodes_of_role("resource")))
            if resource not in known:
                raise InputError(f"no resource {resource!r} in this yard; it has {', '.join(sorted(known))}")
        if code is not None:
            code = self._own_code(code)
            if days is not None:
                self._ctx.index.package_of(code)  # an unknown code fails here, before any solve
            changes = welding_factor is not None or rework_factor is not None
            joints, items = self._members(code) if changes else ((), ())
            if welding_factor is not None and not len(joints):
                raise InputError(f"{code} has no weld joints: a change of its welding hours changes nothing")
            if rework_factor is not None and not len(items):
                raise InputError(f"{code} has no outfitting items: a change of their rework risk changes nothing")
        try:
            return PlanEvent(
                resource=resource,
                code=code,
                days=days,
                start_day=start_day,
                welding_factor=welding_factor,
                rework_factor=rework_factor,
            )
        except ValidationError as exc:
            raise InputError(str(exc.errors()[0]["msg"]).removeprefix("Value error, ")) from None

    def _own_code(self, code: str) -> str:
        """The yard's own code of what `code` names (a work package or a node), as a person may type it loosely.

        Raises:
            UnknownCodeError: it names nothing in this yard.
        """
        index = self._ctx.index
        if index.is_work_package(code):
            return index.codes[index.work_package(code)]
        return self._ctx.yard.code_of(node_of_code(self._ctx.yard, code))

    def adopt(
        self,
        proposal: Proposal,
        *,
        by: str,
        key: str,
        thread_id: str | None = None,
        digest: str | None = None,
    ) -> Adoption:
        """Adopt a proposal exactly as computed, once per `key`.

        Args:
            proposal: what was shown.
            by: who approved it.
            key: the approval's idempotency key: adopting again under it changes nothing and returns the adoption.
            thread_id: the conversation or run it came from.
            digest: the digest the approval named; a proposal that differs is refused.

        Raises:
            PlanChangedError: the plan moved since the proposal was computed, or it is not the approved one.
        """
        if (done := self.planbook.by_key(key)) is not None:
            return done
        if digest is not None and digest != proposal.digest:
            raise PlanChangedError("the change computed now differs from the one approved: compute it again")
        adoption = self.planbook.adopt_all(
            proposal.events,
            key=key,
            by=by,
            base_version=proposal.version,
            schedule=proposal.after_json,
            thread_id=thread_id,
        )
        return adoption

    def invalidate(self) -> None:
        """Forget the schedules kept in memory (the yard's models changed)."""
        with self._lock:
            self._hours = None
            self._calendar = None
            self._overdrawn = None
            self._base = None
            self._solved.clear()
            self._requests.clear()
            self._adopted.clear()
            self._proposals.clear()
