"""The plan book: the events a person adopted into the yard's plan (a resource down, a code late).

The adopted plan is the yard's generated work packages plus these events, in order; the schedule of
the plan is solved from them (deterministically), so the book stores decisions, not schedules. Each
entry records who adopted it, when, from which conversation, and the exact event. Entries are only
ever added (an append-only log); nothing rewrites them.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Column, DateTime, Engine, Integer, MetaData, String, Table, Text, insert, inspect, select
from sqlalchemy.exc import DBAPIError

from knowledge.database import engine
from knowledge.settings import Settings

__all__ = ["PlanBook", "PlanEvent"]

_META = MetaData()
_CREATING = threading.Lock()  # threads of one process create the table one at a time
_EVENTS = Table(
    "plan_events",
    _META,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("yard", String(1024), nullable=False, index=True),
    Column("event", Text, nullable=False),
    Column("adopted_by", String(200), nullable=False),
    Column("adopted_at", DateTime(timezone=True), nullable=False),
    Column("thread_id", String(200)),
)


class PlanEvent(BaseModel):
    """A disruption taken into the plan: a resource down from a day, or a code late, for some days."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    resource: str | None = None
    code: str | None = None
    days: int = Field(ge=1, le=365)
    start_day: int | None = Field(default=None, ge=0)

    def describe(self) -> str:
        """The event in a planner's words."""
        if self.resource:
            return f"{self.resource} down for {_days(self.days)} from day {self.start_day or 0}"
        return f"{self.code} late by {_days(self.days)}"


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


class PlanBook:
    """The adopted events of one yard."""

    def __init__(self, settings: Settings, yard: str) -> None:
        self._settings = settings
        self.yard = yard
        self._ready = False

    @property
    def where(self) -> str:
        """Where the book is kept (no password)."""
        return engine(self._settings).url.render_as_string(hide_password=True)

    def _engine(self) -> Engine:
        eng = engine(self._settings)
        if not self._ready:
            with _CREATING:
                try:
                    _META.create_all(eng, checkfirst=True)
                except DBAPIError:  # another process created it between the check and the CREATE
                    if not inspect(eng).has_table(_EVENTS.name):
                        raise
            self._ready = True
        return eng

    def events(self) -> list[PlanEvent]:
        """The adopted events, oldest first."""
        with self._engine().connect() as conn:
            rows = conn.execute(select(_EVENTS.c.event).where(_EVENTS.c.yard == self.yard).order_by(_EVENTS.c.id))
            return [PlanEvent.model_validate_json(r[0]) for r in rows]

    def adopt(self, event: PlanEvent, by: str = "unknown", thread_id: str | None = None) -> int:
        """Add an event to the plan; returns how many events the plan now holds."""
        with self._engine().begin() as conn:
            conn.execute(insert(_EVENTS).values(yard=self.yard, event=event.model_dump_json(), adopted_by=by,
                                                adopted_at=datetime.now(UTC), thread_id=thread_id))  # fmt: skip
        return len(self.events())

    def entries(self) -> list[dict[str, object]]:
        """Every entry with who adopted it and when, oldest first."""
        with self._engine().connect() as conn:
            rows = conn.execute(select(_EVENTS).where(_EVENTS.c.yard == self.yard).order_by(_EVENTS.c.id))
            return [dict(r._mapping) for r in rows]
