"""`request_from_yard`: a yard's work packages, resources and erection order as a schedule request."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from itertools import pairwise
from typing import Final

from adapters.scheduling._model import (
    ResourceCapacity,
    ResourceChoice,
    ResourceDowntime,
    ScheduleRequest,
    ScheduleTask,
    SchedulingInputError,
)
from knowledge.partgraph import PartGraph
from knowledge.synthetic.vocabulary import TRADES

__all__ = ["HOURS_PER_DAY", "request_from_yard"]

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
) -> ScheduleRequest:
    """One task per work package of the yard, on its planned resource and crane, released on day 0 unless told.

    Each block's work packages follow its trade chain (PNL -> ASM -> OFB -> ERE -> OBD), and a block's
    erection (ERE) follows the erection of every block it rests on (`PartGraph.block_graph`).

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

    Returns:
        The request; durations are ceil(hours / (crew * 8 h)) days, at least 1.

    Raises:
        SchedulingInputError: `hours` or `release_days` names an unknown work package, `hours` holds a negative
            or non-finite value, a release day is negative, or a downtime names an unknown resource.
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
    chains: dict[str | None, list[ScheduleTask]] = {}
    for t in sorted(tasks, key=lambda t: TRADES.index(t.trade)):
        chains.setdefault(t.block, []).append(t)
    precedences = [(a.code, b.code) for chain in chains.values() for a, b in pairwise(chain)]
    erection = {t.block: t.code for t in tasks if t.trade == "ERE"}
    blocks = graph.block_graph()
    precedences += [
        (erection[blocks.nodes[lower]["code"]], erection[blocks.nodes[upper]["code"]])
        for lower, upper in sorted(blocks.edges())
    ]
    resources = [
        ResourceCapacity(name=r["resource"], kind=r["kind"], capacity=r["capacity"])
        for r in graph.table("resources", ["resource", "kind", "capacity"]).to_pylist()
    ]
    return ScheduleRequest(
        tasks=tasks,
        resources=resources,
        precedences=precedences,
        time_limit_s=time_limit_s,
        workers=workers,
        deterministic_limit=deterministic_limit,
        resource_choice=resource_choice,
        downtimes=tuple(downtimes),
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
