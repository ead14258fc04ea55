"""The scheduling model as a registry adapter, and work-package hours from the other models' predictions.

Rows in are work packages (`WorkPackageRow`), rows out where each lands (`ScheduledRow`). The resources they run
on and the yard's trades are yard data, not the model's: they travel with the rows, in the rows' schema metadata
(`with_yard_context`; `yard_rows` puts the yard's there), or come from the adapter's constructor.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.errors import AdapterConfigError
from adapters.registry import ModelConfig, adapter
from adapters.scheduling._model import (
    ResourceCapacity,
    ResourceDowntime,
    Schedule,
    ScheduleRequest,
    ScheduleTask,
    SchedulingInputError,
    YardTrade,
)
from adapters.scheduling._solve import solve
from adapters.scheduling._yard import request_from_yard, work_package_rows
from adapters.schema import validate_batch
from adapters.spec import AdapterSpec
from knowledge.store import YardStore

__all__ = [
    "DOWNTIMES_KEY",
    "RESOURCES_KEY",
    "TRADES_KEY",
    "ScheduledRow",
    "SchedulingAdapter",
    "WorkPackageRow",
    "from_config",
    "models_in_hours",
    "overdrawn_packages",
    "predicted_hours",
    "with_yard_context",
]

VERSION = "1"
"""Version of the CP-SAT formulation (bump when the model's constraints or objective change)."""
RESOURCES_KEY: Final = b"shipbrain.resources"
"""Schema metadata key of the rows' resources: JSON, a list of {"name", "kind", "capacity"}."""
TRADES_KEY: Final = b"shipbrain.trades"
"""Schema metadata key of the yard's trades: JSON, a list of {"trade", "resource_kind"}."""
DOWNTIMES_KEY: Final = b"shipbrain.downtimes"
"""Schema metadata key of the resources' days out of service (the yard's calendar): JSON, a list of
{"resource", "start_day", "days", "reason"} in working days."""


class WorkPackageRow(BaseModel):
    """One work package to schedule."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    code: str
    """Work package code (the yard's id of the work package)."""
    trade: str
    """The yard's trade (one of the yard's trades, when the rows carry them)."""
    duration_days: int = Field(ge=0)
    """Working days the work package takes."""
    resource: str | None = None
    """The resource it is planned on (another of the same kind may be chosen)."""
    crane: str | None = None
    """The crane an erection needs."""
    release_day: int = Field(default=0, ge=0)
    """Earliest start day."""
    after: str = ""
    """Codes of the work packages that must finish first, one per line (an id holds no control character but may
    hold spaces); codes without spaces may also be separated by spaces."""


class ScheduledRow(BaseModel):
    """Where one work package lands in the schedule."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    start_day: int = Field(ge=0)
    finish_day: int = Field(ge=0)
    resource: str | None = None
    """The resource the solver put it on."""
    on_critical_path: bool


def _spec(batch_size: int) -> AdapterSpec:
    return AdapterSpec(
        name="scheduling",
        system="scheduling",
        version=VERSION,
        owner="production planning",
        description=(
            "Schedules work packages on the yard's resources (panel lines, workshops, outfitting halls, "
            "cranes, one dock) under precedence: shortest makespan found by OR-Tools CP-SAT within a time "
            "limit, with the optimality gap and the critical path. Use it for erection dates, what-ifs "
            "(a resource down, a package late) and rescheduling."
        ),
        input_schema=WorkPackageRow,
        output_schema=ScheduledRow,
        batch_size=batch_size,
        transport="in-process",
        role="work_package",
        key_column="node",
    )


class _Options(BaseModel):
    """The `options` of a `[models.scheduling]` entry."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    time_limit_s: float = Field(default=60.0, gt=0)
    """Wall-clock budget of each solve, seconds."""
    workers: int = Field(default=2, ge=1, le=64)
    """CP-SAT search workers."""


def with_yard_context(
    rows: pa.Table,
    resources: Sequence[ResourceCapacity],
    trades: Sequence[YardTrade] = (),
    downtimes: Sequence[ResourceDowntime] = (),
) -> pa.Table:
    """The rows with the resources they run on (the yard's trades, the resources' downtimes) in their metadata.

    A schedule of the rows then needs nothing else: `SchedulingAdapter.predict` reads them from there.
    """
    metadata = dict(rows.schema.metadata or {})
    metadata[RESOURCES_KEY] = json.dumps([r.model_dump() for r in resources]).encode()
    if trades:
        metadata[TRADES_KEY] = json.dumps([t.model_dump() for t in trades]).encode()
    if downtimes:
        metadata[DOWNTIMES_KEY] = json.dumps([d.model_dump() for d in downtimes]).encode()
    return rows.replace_schema_metadata(metadata)


@adapter("scheduling")
class SchedulingAdapter:
    """A schedule for a set of work packages, as rows aligned with the input rows.

    Args:
        resources: the resources to schedule on when the rows carry none in their metadata.
        trades: the yard's trades (to check each task's resource kind) when the rows carry none.
        time_limit_s: wall-clock budget of each solve, seconds.
        workers: CP-SAT search workers.

    The schedule's makespan, status, bound, gap and critical path ride along in the result table's
    schema metadata (`shipbrain.schedule`, JSON) and in `last_schedule`.
    """

    def __init__(
        self,
        resources: Sequence[ResourceCapacity] = (),
        trades: Sequence[YardTrade] = (),
        *,
        time_limit_s: float = 60.0,
        workers: int = 2,
    ) -> None:
        self.spec = _spec(batch_size=1_000_000)
        self.resources = tuple(resources)
        self.trades = tuple(trades)
        self.time_limit_s = time_limit_s
        self.workers = workers
        self.last_schedule: Schedule | None = None

    @classmethod
    def from_config(cls, name: str, config: ModelConfig) -> SchedulingAdapter:
        """Build from `[models.scheduling]`: options `time_limit_s`, `workers`; resources come with the rows.

        Raises:
            AdapterConfigError: an unknown option, or one of the wrong type.
        """
        try:
            options = _Options.model_validate(config.options)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise AdapterConfigError(f"model {name!r}: options.{where}: {err['msg']}") from None
        return cls(time_limit_s=options.time_limit_s, workers=options.workers)

    def resources_of(self, batch: pa.RecordBatch | pa.Table) -> tuple[ResourceCapacity, ...]:
        """The resources a schedule of `batch` runs on: the rows' own (metadata), else the adapter's."""
        raw = (batch.schema.metadata or {}).get(RESOURCES_KEY)
        return tuple(ResourceCapacity(**r) for r in json.loads(raw)) if raw else self.resources

    def trades_of(self, batch: pa.RecordBatch | pa.Table) -> tuple[YardTrade, ...]:
        """The yard's trades for `batch`: the rows' own (metadata), else the adapter's."""
        raw = (batch.schema.metadata or {}).get(TRADES_KEY)
        return tuple(YardTrade(**t) for t in json.loads(raw)) if raw else self.trades

    def downtimes_of(self, batch: pa.RecordBatch | pa.Table) -> tuple[ResourceDowntime, ...]:
        """The resources' days out of service that came with the rows (the yard's calendar), none else."""
        raw = (batch.schema.metadata or {}).get(DOWNTIMES_KEY)
        return tuple(ResourceDowntime(**d) for d in json.loads(raw)) if raw else ()

    def predict(self, batch: pa.RecordBatch | pa.Table) -> pa.Table:
        """Validate the rows, solve, and return one scheduled row per input row."""
        validate_batch(self.spec.name, WorkPackageRow, batch)
        rows = batch.to_pylist()
        resources = self.resources_of(batch)
        named = sorted({r[k] for r in rows for k in ("resource", "crane") if r.get(k)})
        if named and not resources:
            raise SchedulingInputError(
                f"the work packages name resources ({', '.join(named[:5])}{', ...' if len(named) > 5 else ''}) "
                "but no resources came with them: pass the yard's (`with_yard_context(rows, yard_resources(yard))`,"
                " or rows from `yard_rows`)"
            )
        codes = {r["code"] for r in rows}
        request = ScheduleRequest(
            tasks=[ScheduleTask(**{k: r.get(k) for k in ScheduleTask.model_fields if k in r}) for r in rows],
            resources=resources,
            trades=self.trades_of(batch),
            precedences=[(b, r["code"]) for r in rows for b in _codes_in(r.get("after"), codes) if b in codes],
            downtimes=self.downtimes_of(batch),
            time_limit_s=self.time_limit_s,
            workers=self.workers,
        )
        schedule = solve(request)
        self.last_schedule = schedule
        by_code = {t.code: t for t in schedule.tasks}
        placed = [by_code[r["code"]] for r in rows]
        table = pa.table(
            {
                "start_day": pa.array([t.start_day for t in placed], type=pa.int64()),
                "finish_day": pa.array([t.finish_day for t in placed], type=pa.int64()),
                "resource": pa.array([t.resource for t in placed], type=pa.string()),
                "on_critical_path": pa.array([t.on_critical_path for t in placed], type=pa.bool_()),
            }
        )
        summary = schedule.model_dump_json(exclude={"tasks"})
        return table.replace_schema_metadata({"shipbrain.schedule": summary})

    def yard_rows(self, yard: YardStore, nodes: npt.ArrayLike | None = None) -> pa.Table:
        """The yard's work packages (all, or those among `nodes`) with planned durations and precedences.

        `nodes` may name work packages, or blocks: a block stands for the packages whose `block` field names it.
        Rows are in node order, with `node` (int32) first; `after` keeps the precedences among the chosen rows.
        The yard's resources, trades and the resources' days out of service by its calendar ride in the rows'
        metadata, so `predict` needs nothing else. Days are working days (`WorkCalendar`).
        """
        request = request_from_yard(yard)
        packages = work_package_rows(yard)
        node = np.asarray(packages.node, dtype=np.int64)
        if nodes is None:
            keep = np.ones(len(node), dtype=bool)
        else:
            chosen = np.unique(np.asarray(nodes, dtype=np.int64).ravel())
            keep = np.isin(node, chosen)
            if "block" in yard.fields("work_package"):
                keep |= np.isin(yard.field_of("work_package", "block", node), chosen)
        after: dict[str, list[str]] = {}
        for before, later in request.precedences:
            after.setdefault(later, []).append(before)
        tasks = [t for t, k in zip(request.tasks, keep.tolist(), strict=True) if k]
        codes = {t.code for t in tasks}
        rows = pa.table(
            {
                "node": pa.array(node[keep], pa.int32()),
                "code": pa.array([t.code for t in tasks], pa.string()),
                "trade": pa.array([t.trade for t in tasks], pa.string()),
                "duration_days": pa.array([t.duration_days for t in tasks], pa.int64()),
                "resource": pa.array([t.resource for t in tasks], pa.string()),
                "crane": pa.array([t.crane for t in tasks], pa.string()),
                "release_day": pa.array([t.release_day for t in tasks], pa.int64()),
                "after": pa.array(["\n".join(b for b in after.get(t.code, []) if b in codes) for t in tasks]),
            }
        )
        return with_yard_context(rows, request.resources, request.trades, request.downtimes)

    def close(self) -> None:
        """Nothing to release."""


from_config = SchedulingAdapter.from_config
"""Builds the adapter from its `[models.scheduling]` config entry."""


class Predictor(Protocol):
    """Scores rows with a named model: a `BatchExecutor`, or a view of predictions kept for the whole yard."""

    def run(self, name: str, rows: pa.Table) -> pa.Table:
        """One prediction per row of `rows`, in order."""
        ...


def predicted_hours(yard: YardStore, executor: Predictor, *, clamp: bool = True) -> dict[str, float]:
    """Hours per work package (by code) with the models' predictions in place of the yard's planning norms.

    A joint's welding hours (the welding model) replace its `norm_hours` in the package its `work_package` field
    names; an outfitting item keeps its norm hours, raised by its predicted rework risk (a reworked item is done
    twice); the rest of a package's `estimated_hours` (part handling, erection set-up) stays as planned:
    estimate + predicted welding - the joints' norms + the items' norms x rework risk.

    A model counts only where the yard gives its role's `work_package` and `norm_hours`: without a joint's norm
    there is no telling which share of its package's estimate the prediction replaces, so the estimate stands
    (`models_in_hours` says which models counted).

    Args:
        yard: the imported yard.
        executor: runs the welding and outfitting models over the yard's rows.
        clamp: at least 0 h each (a schedule's hours); False gives the sum as it is, which is negative where a
            package's joint norms exceed its estimate by more than the model's hours (`overdrawn_packages`): a
            change on top of it (a what-if's factor) is added to that sum, and clamped once.
    """
    from adapters.outfitting import OutfittingAdapter
    from adapters.welding import WeldingAdapter

    packages = work_package_rows(yard)
    hours = np.asarray(packages.estimated_hours, dtype=np.float64)
    n = len(hours)
    counted = models_in_hours(yard)
    if "welding" in counted:
        welded = executor.run("welding", WeldingAdapter.yard_rows(yard)).column("hours").to_numpy()
        rows, norm = _package_rows(yard, "joint", packages.node)
        hours += np.bincount(rows[rows >= 0], weights=(welded - norm)[rows >= 0], minlength=n)
    if "outfitting" in counted:
        risk = executor.run("outfitting", OutfittingAdapter.yard_rows(yard)).column("rework_probability").to_numpy()
        rows, norm = _package_rows(yard, "outfitting_item", packages.node)
        hours += np.bincount(rows[rows >= 0], weights=(norm * risk)[rows >= 0], minlength=n)
    return dict(zip(packages.code, (np.maximum(hours, 0.0) if clamp else hours).tolist(), strict=True))


def overdrawn_packages(yard: YardStore) -> list[tuple[str, float, float]]:
    """The work packages whose joints' and items' planning norms exceed their own `estimated_hours`.

    `predicted_hours` takes a package's estimate to include the norms of the joints and items done in it and swaps
    the joints' norms for the welding model's hours; where the norms alone exceed the estimate, that sum falls
    short of the model's hours, often below 0 h (a schedule then gives the package its minimum of 1 day). The yard's
    estimate and its norms disagree there, and a person should be told which packages.

    Returns:
        (code, estimated hours, norm hours of its counted joints and items) per such package, in node order; only
        the models `predicted_hours` counts (`models_in_hours`) add their norms.
    """
    counted = models_in_hours(yard)
    if not counted:
        return []
    packages = work_package_rows(yard)
    norms = np.zeros(len(packages.code), dtype=np.float64)
    for model, role in (("welding", "joint"), ("outfitting", "outfitting_item")):
        if model in counted:
            rows, norm = _package_rows(yard, role, packages.node)
            norms += np.bincount(rows[rows >= 0], weights=norm[rows >= 0], minlength=len(norms))
    estimate = np.asarray(packages.estimated_hours, dtype=np.float64)
    over = np.flatnonzero(norms > estimate + np.maximum(0.01, 1e-6 * estimate))  # beyond the sums' rounding
    return [(packages.code[i], float(estimate[i]), float(norms[i])) for i in over.tolist()]


def models_in_hours(yard: YardStore) -> tuple[str, ...]:
    """The models `predicted_hours` counts on this yard: those whose role gives `work_package` and `norm_hours`."""
    roles = (("welding", "joint"), ("outfitting", "outfitting_item"))
    return tuple(
        model for model, role in roles if yard.count(role) and {"work_package", "norm_hours"} <= set(yard.fields(role))
    )


def _package_rows(
    yard: YardStore, role: str, packages: list[int]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Per node of `role` (node order), the row in `packages` of the package it is done in (-1 none), its norm."""
    table = yard.role_table(role, ["work_package", "norm_hours"])
    package = np.asarray(table.column("work_package").fill_null(-1).to_numpy(), dtype=np.int64)
    norm = np.nan_to_num(np.asarray(table.column("norm_hours").fill_null(0.0).to_numpy(), dtype=np.float64))
    ordered = np.asarray(packages, dtype=np.int64)
    at = np.minimum(np.searchsorted(ordered, package), len(ordered) - 1)
    rows = np.where((package >= 0) & (ordered[at] == package), at, -1) if len(ordered) else np.full(len(package), -1)
    return rows.astype(np.int64), norm


def _codes_in(after: str | None, codes: set[str]) -> list[str]:
    """The codes of a row's `after`: one per line; one code (spaces and all); else codes separated by spaces."""
    if not after:
        return []
    if "\n" in after:
        return [c for c in after.split("\n") if c]
    return [after] if after in codes else after.split()
