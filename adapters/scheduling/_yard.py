"""`request_from_yard`: an imported yard's work packages, resources and their order as a schedule request.

Everything comes from the yard's roles (`knowledge.store.YardStore`): the work_package role (its `trade`,
`resource`, `crane`, `block`, `crew`, `estimated_hours`), the resource role (`resource_kind`, `capacity`) and the
edges between work package nodes (what must finish before what: in a yard like the synthetic one, each block's
packages one trade after another, and each block's erection after those of the blocks it rests on), and the
yard's calendar (`WorkCalendar`: days are working days; a resource's days out of service are its downtimes).
Codes are the yard's own ids.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from adapters.scheduling._calendar import WorkCalendar
from adapters.scheduling._model import (
    ResourceCapacity,
    ResourceChoice,
    ResourceDowntime,
    ScheduleRequest,
    ScheduleTask,
    SchedulingInputError,
    YardTrade,
    order_or_cycle,
)
from knowledge.store import YardStore

__all__ = [
    "HOURS_PER_DAY",
    "WorkPackages",
    "package_order",
    "request_from_yard",
    "trade_order",
    "work_package_rows",
    "yard_resources",
    "yard_trades",
]

HOURS_PER_DAY: Final = 8.0
"""Working hours per person per day: a work package of h hours and a crew of c takes ceil(h / (c * 8)) days."""

_PURPOSE: Final = "scheduling the yard's work packages"


def request_from_yard(
    yard: YardStore,
    hours: Mapping[str, float] | None = None,
    *,
    time_limit_s: float = 60.0,
    workers: int = 2,
    resource_choice: ResourceChoice = "same_kind",
    deterministic_limit: float | None = None,
    downtimes: Iterable[ResourceDowntime] = (),
    release_days: Mapping[str, int] | None = None,
    calendar: WorkCalendar | None = None,
) -> ScheduleRequest:
    """One task per work package of the yard, on its planned resource and crane, released on day 0 unless told.

    A task's code is the work package's id, its block the id of the block its `block` field names (None when the
    yard gives none), its resource and crane the ids of the resources its `resource` and `crane` fields name.
    Precedences are exactly the edges between work package nodes (`package_order`). The trades (`yard_trades`)
    state the kind of resource each trade's packages run on, read off the packages themselves.

    Args:
        yard: the imported yard.
        hours: predicted hours per work package code (from the welding and outfitting models: `predicted_hours`);
            work packages not in it take their `estimated_hours`.
        time_limit_s: wall-clock budget of `solve`, seconds.
        workers: CP-SAT search workers.
        resource_choice: "same_kind" lets a work package move to another resource of its kind.
        deterministic_limit: CP-SAT's deterministic time budget (see `ScheduleRequest`).
        downtimes: resources out of service (see `ScheduleRequest.downtimes`), e.g. a panel line under repair.
        release_days: earliest start day per work package code (when its material arrives); the others start
            from day 0.
        calendar: the yard's working days (`WorkCalendar.of(yard)` when not given): every day of the request is a
            working day, and the days a resource is out of service by the calendar join `downtimes`.

    Returns:
        The request; durations are ceil(hours / (crew * 8 h)) days, at least 1 (a crew the yard does not give
        is 1).

    Raises:
        MissingFieldError: the yard has no work packages or resources, or does not give a field scheduling needs
            (work package `trade` and `estimated_hours`; resource `resource_kind` and `capacity`).
        SchedulingInputError: `hours` or `release_days` names an unknown work package, `hours` holds a negative
            or non-finite value, a release day is negative, a downtime names an unknown resource, or the work
            packages' order has a cycle.
    """
    rows = work_package_rows(yard)
    codes = rows.code
    worked = _hours(codes, rows.estimated_hours, hours or {})
    released = _release_days(codes, release_days or {})
    tasks = [
        ScheduleTask(
            code=code,
            block=block,
            trade=trade,
            duration_days=max(1, math.ceil(h / (max(crew, 1) * HOURS_PER_DAY) - 1e-9)),  # 1e-9: float noise
            resource=resource,
            crane=crane,
            release_day=released.get(code, 0),
        )
        for code, block, trade, crew, resource, crane, h in zip(
            codes, rows.block, rows.trade, rows.crew, rows.resource, rows.crane, worked, strict=True
        )
    ]
    before, after = package_order(yard, rows.node)
    resources = yard_resources(yard)
    calendar = WorkCalendar.of(yard) if calendar is None else calendar
    off = calendar.downtimes(r.name for r in resources)
    return ScheduleRequest(
        tasks=tasks,
        resources=resources,
        trades=_trades(rows, resources, before, after),
        precedences=[(codes[b], codes[a]) for b, a in zip(before.tolist(), after.tolist(), strict=True)],
        time_limit_s=time_limit_s,
        workers=workers,
        deterministic_limit=deterministic_limit,
        resource_choice=resource_choice,
        downtimes=(*off, *downtimes),
    )


@dataclass(frozen=True)
class WorkPackages:
    """The yard's work packages as columns of Python values, in node order (`work_package_rows`)."""

    node: list[int]
    code: list[str]
    block: list[str | None]
    """The id of the block its `block` field names, None when none (or the yard gives no `block`)."""
    trade: list[str]
    crew: list[int]
    """1 where the yard gives no crew."""
    resource: list[str | None]
    """The id of the resource it runs on, None for none."""
    crane: list[str | None]
    estimated_hours: list[float]


def work_package_rows(yard: YardStore) -> WorkPackages:
    """The yard's work packages, in node order, with the ids their references name.

    Raises:
        MissingFieldError: the yard has no work packages, or gives no `trade` or `estimated_hours`.
    """
    yard.require("work_package", ["trade", "estimated_hours"], _PURPOSE)
    given = set(yard.fields("work_package"))
    wanted = ["trade", "estimated_hours", *(f for f in ("crew", "resource", "crane", "block") if f in given)]
    table = yard.role_table("work_package", wanted)
    nodes = table.column("node").to_numpy().astype(np.int64)
    n = len(nodes)

    def refs(field: str) -> list[str | None]:
        out: list[str | None] = [None] * n
        if field not in given:
            return out
        column = np.asarray(table.column(field).fill_null(-1).to_numpy(), dtype=np.int64)
        named = np.flatnonzero(column >= 0)
        for i, code in zip(named.tolist(), yard.codes_of(column[named]), strict=True):
            out[i] = code
        return out

    crew = table.column("crew").fill_null(1).to_pylist() if "crew" in given else [1] * n
    return WorkPackages(
        node=nodes.tolist(),
        code=yard.codes_of(nodes),
        block=refs("block"),
        trade=[str(t) for t in table.column("trade").to_pylist()],
        crew=[int(c) for c in crew],
        resource=refs("resource"),
        crane=refs("crane"),
        estimated_hours=[float(h or 0.0) for h in table.column("estimated_hours").to_pylist()],
    )


def package_order(
    yard: YardStore, nodes: npt.ArrayLike | None = None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The edges between work package nodes, as (before, after) positions in `nodes` (all work packages if None).

    Each edge once, in the order of the store's edges (grouped by `before`, ascending).
    """
    packages = yard.nodes_of_role("work_package") if nodes is None else np.asarray(nodes, dtype=np.int64)
    if not len(packages):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    before, after = yard.edges_from(packages)
    order = np.argsort(packages, kind="stable")
    ascending = packages[order]

    def position(x: npt.NDArray[np.int32]) -> npt.NDArray[np.int64]:
        at = np.minimum(np.searchsorted(ascending, x), len(ascending) - 1)
        return np.where(ascending[at] == x, order[at], -1).astype(np.int64)

    b, a = position(before), position(after)
    keep = (a >= 0) & (b >= 0)
    pairs = np.column_stack([b[keep], a[keep]])
    _, first = np.unique(pairs, axis=0, return_index=True)
    pairs = pairs[np.sort(first)]
    return pairs[:, 0], pairs[:, 1]


def trade_order(yard: YardStore) -> list[str]:
    """The yard's trades in the order a block goes through them, from the work packages' order.

    Each trade by the earliest place its packages take in that order (the longest chain of packages before one
    of them), ties by its first package in node order.

    Raises:
        SchedulingInputError: the work packages' order has a cycle.
    """
    rows = work_package_rows(yard)
    return _trade_order(rows, *package_order(yard, rows.node))


def yard_trades(yard: YardStore) -> tuple[YardTrade, ...]:
    """The yard's trades (`trade_order`), each with the kind of resource its packages run on (None: none).

    Empty when a trade's packages run on resources of several kinds (or some on one and some on none): no one
    kind can be stated for it, and a request without trades takes each package's resource as named.
    """
    rows = work_package_rows(yard)
    return _trades(rows, yard_resources(yard), *package_order(yard, rows.node))


def _trades(
    rows: WorkPackages,
    resources: Iterable[ResourceCapacity],
    before: npt.NDArray[np.int64],
    after: npt.NDArray[np.int64],
) -> tuple[YardTrade, ...]:
    kind = {r.name: r.kind for r in resources}
    kinds: dict[str, set[str | None]] = {}
    for trade, resource in zip(rows.trade, rows.resource, strict=True):
        kinds.setdefault(trade, set()).add(kind.get(resource) if resource is not None else None)
    if any(len(found) != 1 for found in kinds.values()):
        return ()
    return tuple(YardTrade(trade=t, resource_kind=next(iter(kinds[t]))) for t in _trade_order(rows, before, after))


def _trade_order(rows: WorkPackages, before: npt.NDArray[np.int64], after: npt.NDArray[np.int64]) -> list[str]:
    edges = list(zip(before.tolist(), after.tolist(), strict=True))
    order, cycle = order_or_cycle(len(rows.trade), edges)
    if cycle:
        raise SchedulingInputError(
            "the work packages' order has a cycle: " + " -> ".join(rows.code[i] for i in [*cycle, cycle[0]])
        )
    successors: list[list[int]] = [[] for _ in rows.trade]
    for b, a in edges:
        successors[b].append(a)
    level = [0] * len(rows.trade)
    for u in order:
        for v in successors[u]:
            level[v] = max(level[v], level[u] + 1)
    earliest: dict[str, tuple[int, int]] = {}
    for i, trade in enumerate(rows.trade):
        earliest[trade] = min(earliest.get(trade, (level[i], i)), (level[i], i))
    return sorted(earliest, key=earliest.__getitem__)


def yard_resources(yard: YardStore) -> tuple[ResourceCapacity, ...]:
    """The yard's resources (its resource role): id, `resource_kind` and `capacity` (work packages at once)."""
    if not yard.count("resource"):
        return ()
    yard.require("resource", ["resource_kind", "capacity"], _PURPOSE)
    table = yard.role_table("resource", ["resource_kind", "capacity"])
    names = yard.codes_of(table.column("node").to_numpy())
    return tuple(
        ResourceCapacity(name=name, kind=str(kind), capacity=int(capacity))
        for name, kind, capacity in zip(
            names, table.column("resource_kind").to_pylist(), table.column("capacity").to_pylist(), strict=True
        )
    )


def _hours(codes: list[str], estimated: list[float], predicted: Mapping[str, float]) -> list[float]:
    """Hours per work package: the prediction where there is one, else the estimate."""
    unknown = sorted(set(predicted).difference(codes))
    if unknown:
        raise SchedulingInputError(
            f"hours given for {len(unknown)} unknown work package code(s), e.g. {unknown[0]!r} "
            f"(codes look like {codes[0]!r})"
        )
    bad = sorted(code for code, h in predicted.items() if not (math.isfinite(h) and h >= 0))
    if bad:
        raise SchedulingInputError(f"hours for {bad[0]!r} must be finite and >= 0, got {predicted[bad[0]]!r}")
    return [float(predicted.get(code, est)) for code, est in zip(codes, estimated, strict=True)]


def _release_days(codes: list[str], release_days: Mapping[str, int]) -> Mapping[str, int]:
    """The release days, checked: known work package codes and whole days >= 0."""
    unknown = sorted(set(release_days).difference(codes))
    if unknown:
        raise SchedulingInputError(
            f"release_days given for {len(unknown)} unknown work package code(s), e.g. {unknown[0]!r} "
            f"(codes look like {codes[0]!r})"
        )
    bad = sorted(code for code, day in release_days.items() if type(day) is not int or day < 0)
    if bad:
        raise SchedulingInputError(f"release day for {bad[0]!r} must be a whole day >= 0, got {release_days[bad[0]]!r}")
    return release_days
