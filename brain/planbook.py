"""The plan book: what a person adopted into the yard's plan, and the schedule they approved with it.

An **adoption** is one decision: the events it takes into the plan (a resource down, a code late), the
schedule that was shown for approval (the adopted schedule repaired for those events, stored as JSON and
kept byte for byte), who approved it (the approving API key's id and its name: names are not unique), when, from
which conversation or run, and its idempotency key. The
plan's **version** is the number of adoptions; an adoption names the version it was computed against and
is refused (`PlanChangedError`) when the plan moved since, so what a person approved is exactly what
becomes the plan. A key is unique per yard: adopting under a key already used returns the first adoption
and writes nothing (a retried approval, a crash after the write). Entries are only ever added.

**No adoption without a decision.** `adopt_all` takes the decision record, an `Approver` (the approving key's id,
its name, the digest of the change they were shown), either as `by` or from the `deciding` block the caller runs
the plan-changing tool in (`brain.supervisor` does; the tools pass only a name through): a bare name is refused, and
so is a schedule whose digest is not the approved one. This keeps every path of the project (the API, the page, the
CLI, the runs' adoption) honest about who decided what; it is not a wall against code in the same process, which
can forge a record or write the table directly.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Self

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator
from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from brain.errors import PlanChangedError
from knowledge.database import engine
from knowledge.errors import InputError
from knowledge.settings import Settings

__all__ = ["Adoption", "Approver", "PlanBook", "PlanEvent", "deciding", "decision_in_force", "schedule_digest"]

MAX_NAME_CHARS: Final = 200
"""Longest approver name the plan book keeps (an API key's name is at most this long)."""
_DIGEST: Final = re.compile(r"^[0-9a-f]{64}$")

_META = MetaData()
_CREATING = threading.Lock()  # threads of one process create the table one at a time
_ADOPTIONS = Table(
    "plan_adoptions",
    _META,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("yard", String(1024), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("key", String(300), nullable=False),
    Column("events", Text, nullable=False),
    Column("schedule", Text),
    Column("digest", String(64)),
    Column("adopted_by", String(MAX_NAME_CHARS), nullable=False),
    Column("adopted_by_key", String(64)),
    Column("adopted_at", DateTime(timezone=True), nullable=False),
    Column("thread_id", String(300)),
    UniqueConstraint("yard", "key", name="uq_plan_adoptions_key"),
    UniqueConstraint("yard", "version", name="uq_plan_adoptions_version"),
)


class PlanEvent(BaseModel):
    """A change taken into the plan: a resource down, a code late, or a model's output on a code changed.

    A resource is down from a day for some days; a code is late by some days; a model change scales the welding
    hours or the outfitting rework risk on a code, which changes the hours and so the durations of the work
    packages that make it.

    A late code may also carry a model change (both apply). Events stored before the model changes existed read as
    they were: the new fields default to None.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    resource: str | None = None
    code: str | None = None
    days: int | None = Field(default=None, ge=1, le=365)
    """How long the resource is down or the code late (None: a model change only)."""
    start_day: int | None = Field(default=None, ge=0)
    welding_factor: float | None = Field(default=None, gt=0, le=10, allow_inf_nan=False)
    """Multiplies the welding model's hours of the code's joints (1.2: its welding takes 20 % longer)."""
    rework_factor: float | None = Field(default=None, gt=0, le=100, allow_inf_nan=False)
    """Multiplies the outfitting model's rework probability of the code's items (each capped at 1)."""

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.resource is None) == (self.code is None):
            raise ValueError("an event names either a resource that is down or a code, not both or neither")
        if self.resource is not None and self.changes_model:
            raise ValueError("a model change applies to a code, not to a resource")
        if self.days is None and not self.changes_model:
            raise ValueError("a resource down or a code late needs its days")
        return self

    @property
    def changes_model(self) -> bool:
        """It scales a model's output on its code (welding hours, rework risk)."""
        return self.welding_factor is not None or self.rework_factor is not None

    def describe(self) -> str:
        """The event in a planner's words."""
        if self.resource:
            return f"{self.resource} down for {_days(self.days or 0)} from day {self.start_day or 0}"
        said = []
        if self.welding_factor is not None:
            said.append(f"{self.code}'s welding {_percent(self.welding_factor)}")
        if self.rework_factor is not None:
            said.append(f"{self.code}'s outfitting rework risk ×{self.rework_factor:g}")
        if self.days is not None:
            said.append(f"{self.code} late by {_days(self.days)}")
        return " and ".join(said)


_EVENTS = TypeAdapter(list[PlanEvent])


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def _percent(factor: float) -> str:
    """A factor as a change: 1.2 -> "+20 %", 0.9 -> "-10 %", 2 -> "+100 %"."""
    return f"{100 * (factor - 1):+.4g} %"


def schedule_digest(schedule_json: str) -> str:
    """The SHA-256 of a schedule's JSON: what an approval names, and what adoption checks it against."""
    return hashlib.sha256(schedule_json.encode()).hexdigest()


@dataclass(frozen=True)
class Approver:
    """The decision record an adoption needs: who approved it (an API key) and what they were shown.

    Raises:
        InputError: an empty or overlong name or key id, or a digest that is not a SHA-256 in hex.
    """

    name: str
    """The approving key's name (what answers say: "approved by anna"); at most `MAX_NAME_CHARS`."""
    key_id: str
    """The approving key's id: names are not unique, ids are."""
    digest: str | None = None
    """The digest of the change they were shown and approved (a schedule's `schedule_digest`), if it has one."""
    on_adopt: Callable[[Connection, int], None] | None = field(default=None, compare=False, repr=False)
    """Called inside the adoption's transaction with its connection and the plan's new version: what the caller
    records with the adoption (the service's audit entry), so the two are written together or not at all."""

    def __post_init__(self) -> None:
        if not self.name.strip() or len(self.name) > MAX_NAME_CHARS:
            raise InputError(f"an approver's name is 1-{MAX_NAME_CHARS} characters, got {len(self.name)}")
        if not self.key_id.strip() or len(self.key_id) > 64:
            raise InputError(f"an approver's key id is 1-64 characters, got {self.key_id!r}")
        if self.digest is not None and not _DIGEST.match(self.digest):
            raise InputError(f"an approval's digest is a SHA-256 in hex (64 characters), got {self.digest!r}")


_DECIDING: ContextVar[Approver | None] = ContextVar("shipbrain_deciding", default=None)


@contextmanager
def deciding(approver: Approver) -> Iterator[Approver]:
    """Run a plan-changing tool under `approver`'s decision: an adoption in the block takes it as its record.

    The tools pass the approver's name through (`brain.tools.Approved.by`); the plan book takes the record from here
    when that name is the approver's.
    """
    token = _DECIDING.set(approver)
    try:
        yield approver
    finally:
        _DECIDING.reset(token)


def decision_in_force() -> Approver | None:
    """The decision record of the `deciding` block the caller runs in, if any."""
    return _DECIDING.get()


def _decision(by: str | Approver, schedule: str | None) -> Approver:
    """The decision record of an adoption by `by` (a record, or the name of the one `deciding` holds)."""
    approver = by if isinstance(by, Approver) else _DECIDING.get()
    if approver is None or (not isinstance(by, Approver) and by != approver.name):
        raise InputError(
            f"an adoption needs the approver's decision record (brain.planbook.Approver: key id, name, digest), not "
            f"a name alone ({str(by)!r}): plan changes are adopted through a person's decision"
        )
    if approver.digest is not None and schedule is not None and approver.digest != schedule_digest(schedule):
        raise PlanChangedError(
            f"the schedule to adopt (digest {schedule_digest(schedule)}) is not the one approved "
            f"(digest {approver.digest}): compute the change again"
        )
    return approver


class Adoption(BaseModel):
    """One adoption, as the plan book holds it."""

    model_config = ConfigDict(frozen=True)

    version: int
    """The plan's version after it (1 for the first adoption)."""
    key: str
    """Its idempotency key."""
    events: list[PlanEvent]
    schedule: str | None
    """The adopted schedule as JSON (None for an entry that stored none)."""
    digest: str | None
    adopted_by: str
    """The approving key's name."""
    adopted_by_key: str | None = None
    """The approving key's id (None for an adoption recorded before ids were)."""
    adopted_at: datetime
    thread_id: str | None


class PlanBook:
    """The adoptions of one yard."""

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
                    if not inspect(eng).has_table(_ADOPTIONS.name):
                        raise
                _add_key_column(eng)
            self._ready = True
        return eng

    def version(self) -> int:
        """How many adoptions the plan holds (0: the yard as generated or imported)."""
        with self._engine().connect() as conn:
            found = conn.execute(select(func.max(_ADOPTIONS.c.version)).where(_ADOPTIONS.c.yard == self.yard))
            return int(found.scalar() or 0)

    def adoptions(self) -> list[Adoption]:
        """Every adoption, oldest first."""
        with self._engine().connect() as conn:
            rows = conn.execute(select(_ADOPTIONS).where(_ADOPTIONS.c.yard == self.yard).order_by(_ADOPTIONS.c.version))
            return [self._adoption(dict(r._mapping)) for r in rows]

    @staticmethod
    def _adoption(row: dict[str, object]) -> Adoption:
        return Adoption.model_validate({**row, "events": _EVENTS.validate_json(str(row["events"]))})

    def events(self) -> list[PlanEvent]:
        """The adopted events, oldest first."""
        return [e for a in self.adoptions() for e in a.events]

    def by_key(self, key: str) -> Adoption | None:
        """The adoption made under `key`, or None."""
        with self._engine().connect() as conn:
            row = conn.execute(
                select(_ADOPTIONS).where(_ADOPTIONS.c.yard == self.yard, _ADOPTIONS.c.key == key)
            ).first()
        return None if row is None else self._adoption(dict(row._mapping))

    def adopt_all(
        self,
        events: Sequence[PlanEvent],
        *,
        key: str,
        by: str | Approver,
        base_version: int | None = None,
        schedule: str | None = None,
        thread_id: str | None = None,
    ) -> Adoption:
        """Adopt `events` (with the schedule shown for them) once under `key`; returns the adoption.

        Args:
            events: what happens, in order.
            key: the idempotency key; an adoption under a key already used is returned as it was, nothing written.
            by: the decision record (`Approver`), or its name when the caller runs inside `deciding` with it; a
                name alone is refused (`InputError`), and so is a schedule whose digest is not the approved one
                (`PlanChangedError`).
            base_version: the plan version the change was computed against; another current version raises
                `PlanChangedError` (None: adopt on top of whatever the plan is).
            schedule: the approved schedule as JSON, kept byte for byte.
            thread_id: the conversation or run it came from.
        """
        if (done := self.by_key(key)) is not None:
            return done
        approver = _decision(by, schedule)
        eng = self._engine()
        try:
            with eng.begin() as conn:
                current = conn.execute(
                    select(func.max(_ADOPTIONS.c.version)).where(_ADOPTIONS.c.yard == self.yard)
                ).scalar()
                version = int(current or 0)
                if base_version is not None and version != base_version:
                    raise PlanChangedError(
                        f"the plan changed since this change was computed (version {base_version}, now {version}): "
                        "compute it again against the current plan"
                    )
                conn.execute(
                    insert(_ADOPTIONS).values(
                        yard=self.yard,
                        version=version + 1,
                        key=key,
                        events=_EVENTS.dump_json(list(events)).decode(),
                        schedule=schedule,
                        digest=schedule_digest(schedule) if schedule is not None else None,
                        adopted_by=approver.name,
                        adopted_by_key=approver.key_id,
                        adopted_at=datetime.now(UTC),
                        thread_id=thread_id,
                    )
                )
                if approver.on_adopt is not None:
                    approver.on_adopt(conn, version + 1)
        except IntegrityError:
            # the same key adopted meanwhile (a second process, a retry): that one stands; or another adoption took
            # this version, so the plan moved
            if (done := self.by_key(key)) is not None:
                return done
            raise PlanChangedError("the plan changed while this change was adopted: compute it again") from None
        adopted = self.by_key(key)
        assert adopted is not None
        return adopted

    def entries(self) -> list[dict[str, object]]:
        """Every adopted event with who adopted it, when, from where and under which key, oldest first."""
        return [
            {
                "event": e.model_dump_json(),
                "adopted_by": a.adopted_by,
                "adopted_by_key": a.adopted_by_key,
                "adopted_at": a.adopted_at,
                "thread_id": a.thread_id,
                "key": a.key,
                "version": a.version,
            }
            for a in self.adoptions()
            for e in a.events
        ]


def _add_key_column(eng: Engine) -> None:
    """Add `adopted_by_key` to a plan book made before it was kept (once; another process may add it meanwhile)."""
    if "adopted_by_key" in {c["name"] for c in inspect(eng).get_columns(_ADOPTIONS.name)}:
        return
    try:
        with eng.begin() as conn:
            conn.execute(text(f"ALTER TABLE {_ADOPTIONS.name} ADD COLUMN adopted_by_key VARCHAR(64)"))
    except DBAPIError:  # another process added it first
        if "adopted_by_key" not in {c["name"] for c in inspect(eng).get_columns(_ADOPTIONS.name)}:
            raise
