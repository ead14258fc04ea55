"""`request_from_yard`: a yard's work packages, resources and erection order as a schedule request.

Everything comes from the yard's own tables: `work_packages`, `resources` (resource, kind, capacity), `trades`
(trade, sequence, resource_kind, makes: the order of the trades in a block's life, the kind of resource each
runs on, and the node kinds its work packages make) and `blocks`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from typing import Final

from adapters.scheduling._model import (
    ResourceCapacity,
    ResourceChoice,
    ResourceDowntime,
    ScheduleRequest,
    ScheduleTask,
    SchedulingInputError,
    YardTrade,
)
from knowledge.partgraph import PartGraph

__all__ = ["HOURS_PER_DAY", "erection_order", "request_from_yard", "yard_resources", "yard_trades"]

HOURS_PER_DAY: Final = 8.0
"""Working hours per person per day: a work package of h hours and a crew of c takes ceil(h / (c * 8)) days."""


def request_from_yard(
    graph: PartGraph,
    hours: Mapping[str, float] | None = None,
    *,
    time_limit_s: float = 60.0,
    workers: int = 2,
    resource_choice: ResourceChoice = "same_kind",
    deterministic_limit: float | None = None,
    downtimes: Iterable[ResourceDowntime] = (),
    release_days: Mapping[str, int] | None = None,
    erections: Sequence[tuple[str, str]] | None = None,
) -> ScheduleRequest:
    """One task per work package of the yard, on its planned resource and crane, released on day 0 unless told.

    Each block's work packages follow one another in the order of the yard's trades (its `trades` table's
    `sequence`: PNL -> ASM -> OFB -> ERE -> OBD in the synthetic yard), and the work package that makes a block
    (the trade whose `makes` names "block": its erection) follows that of every block it rests on
    (`PartGraph.block_graph`).

    Args:
        graph: the yard.
        hours: predicted hours per work package code (from the welding and outfitting models); work
            packages not in it take the table's `estimated_hours`.
        time_limit_s: wall-clock budget of `solve`, seconds.
        workers: CP-SAT search workers.
        resource_choice: "same_kind" lets a work package move to another resource of its kind.
        deterministic_limit: CP-SAT's deterministic time budget (see `ScheduleRequest`).
        downtimes: resources out of service (see `ScheduleRequest.downtimes`), e.g. a panel line under repair.
        release_days: earliest start day per work package code, e.g. {"WP-B012-PNL": 5} when its material
            arrives on day 5; the others start from day 0.
        erections: `erection_order(graph)`, when the caller kept it (it reads the whole joints table); None: read.

    Returns:
        The request; durations are ceil(hours / (crew * 8 h)) days, at least 1.

    Raises:
        SchedulingInputError: `hours` or `release_days` names an unknown work package, `hours` holds a negative
            or non-finite value, a release day is negative, a downtime names an unknown resource, or the yard's
            tables disagree (a work package of a trade its `trades` table lacks, no one trade that makes blocks).
    """
    columns = ["code", "block_id", "trade", "resource", "crane", "crew", "estimated_hours"]
    rows = graph.table("work_packages", columns).to_pylist()
    block_code = {b["block_id"]: b["code"] for b in graph.table("blocks", ["block_id", "code"]).to_pylist()}
    worked = _hours([r["code"] for r in rows], [r["estimated_hours"] for r in rows], hours or {})
    released = _release_days([r["code"] for r in rows], release_days or {})
    tasks = [
        ScheduleTask(
            code=r["code"],
            block=block_code[r["block_id"]],
            trade=r["trade"],
            duration_days=max(1, math.ceil(h / (max(r["crew"], 1) * HOURS_PER_DAY) - 1e-9)),  # 1e-9: float noise
            resource=r["resource"],
            crane=r["crane"],
            release_day=released.get(r["code"], 0),
        )
        for r, h in zip(rows, worked, strict=True)
    ]
    trades = yard_trades(graph)
    sequence = {t.trade: i for i, t in enumerate(trades)}
    unknown = sorted({t.trade for t in tasks} - set(sequence))
    if unknown:
        raise SchedulingInputError(
            f"work packages of trade(s) {unknown} that the yard's trades table lacks ({', '.join(sequence)})"
        )
    chains: dict[str | None, list[ScheduleTask]] = {}
    for t in sorted(tasks, key=lambda t: sequence[t.trade]):
        chains.setdefault(t.block, []).append(t)
    precedences = [(a.code, b.code) for chain in chains.values() for a, b in pairwise(chain)]
    order = erection_order(graph) if erections is None else erections
    if order:
        erects = _erection_trade(graph)
        erection = {t.block: t.code for t in tasks if t.trade == erects}
        precedences += [(erection[lower], erection[upper]) for lower, upper in order]
    return ScheduleRequest(
        tasks=tasks,
        resources=yard_resources(graph),
        trades=trades,
        precedences=precedences,
        time_limit_s=time_limit_s,
        workers=workers,
        deterministic_limit=deterministic_limit,
        resource_choice=resource_choice,
        downtimes=tuple(downtimes),
    )


def erection_order(graph: PartGraph) -> list[tuple[str, str]]:
    """(lower, upper) block codes: each block is erected after the block it rests on (`PartGraph.block_graph`).

    In the order of the blocks' node ids. It reads the yard's whole joints table (its erection joints): a caller
    making many requests of one big yard keeps it and passes it to `request_from_yard(erections=...)`.
    """
    blocks = graph.block_graph()
    return [(blocks.nodes[lower]["code"], blocks.nodes[upper]["code"]) for lower, upper in sorted(blocks.edges())]


def yard_trades(graph: PartGraph) -> tuple[YardTrade, ...]:
    """The yard's trades in the order a block goes through them, each with the kind of resource it runs on."""
    table = graph.table("trades", ["trade", "sequence", "resource_kind"]).sort_by("sequence")
    return tuple(YardTrade(trade=r["trade"], resource_kind=r["resource_kind"] or None) for r in table.to_pylist())


def yard_resources(graph: PartGraph) -> tuple[ResourceCapacity, ...]:
    """The yard's resources (its `resources` table): name, kind and how many work packages each runs at once."""
    table = graph.table("resources", ["resource", "kind", "capacity"])
    return tuple(
        ResourceCapacity(name=r["resource"], kind=str(r["kind"]), capacity=r["capacity"]) for r in table.to_pylist()
    )


def _erection_trade(graph: PartGraph) -> str:
    """The trade whose work packages make blocks: a block's erection, which waits on the blocks it rests on."""
    makes = graph.table("trades", ["trade", "makes"]).to_pylist()
    found = [r["trade"] for r in makes if "block" in {k.strip() for k in str(r["makes"] or "").split(",")}]
    if len(found) != 1:
        raise SchedulingInputError(
            f"the yard's trades table must name one trade that makes blocks (its `makes` holds 'block'), "
            f"found {found or 'none'}: erection cannot follow the blocks each block rests on"
        )
    return str(found[0])


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
