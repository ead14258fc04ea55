"""An independent check of a schedule against the request it answers, for the `schedule_validity` scorer.

Written from the request's documented meaning alone (the work package rows and the yard's resources), sharing
no code with `adapters.scheduling`: days are whole and a work package occupies days start..finish-1; it runs
exactly `duration_days` and not before its `release_day`; it starts no earlier than every work package named
in its `after` has finished; it runs on a resource of the kind of the one it is planned on (another panel line
for one planned on a panel line; none for one planned on none) and holds the crane it names; a resource (or
crane) runs at most `capacity` work packages on any day, and none on a day it is down.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

__all__ = ["schedule_violations"]


def schedule_violations(
    rows: pa.Table,
    resources: Sequence[Mapping[str, Any]],
    downtimes: Sequence[Mapping[str, Any]] = (),
) -> list[str]:
    """Every way a schedule breaks its request, one line each; empty if it keeps every rule.

    Args:
        rows: one row per work package: code, trade, duration_days, release_day, after, resource, crane
            (the request) and predicted_start_day, predicted_finish_day, predicted_resource (the schedule).
        resources: {resource, kind, capacity} for every resource and crane.
        downtimes: {resource, start_day, days} outages.
    """
    tasks = rows.to_pylist()
    kind = {str(r["resource"]): str(r["kind"]) for r in resources}
    capacity = {str(r["resource"]): int(r["capacity"]) for r in resources}
    down: dict[str, set[int]] = defaultdict(set)
    for d in downtimes:
        down[str(d["resource"])].update(range(int(d["start_day"]), int(d["start_day"]) + int(d["days"])))
    found: list[str] = []
    at = {t["code"]: t for t in tasks}
    counts = Counter(t["code"] for t in tasks)
    found += [f"{c} is scheduled {n} times" for c, n in sorted(counts.items()) if n > 1]
    usage: Counter[tuple[str, int]] = Counter()
    for t in tasks:
        found += _task(t, kind)
        start, finish = int(t["predicted_start_day"]), int(t["predicted_finish_day"])
        for before in str(t.get("after") or "").split():
            if before in at and start < int(at[before]["predicted_finish_day"]):
                found.append(
                    f"{t['code']} starts on day {start}, before {before} finishes on day "
                    f"{at[before]['predicted_finish_day']}"
                )
        for name in {t.get("predicted_resource"), t.get("crane")} - {None}:
            for day in range(start, finish):
                usage[(str(name), day)] += 1
                if day in down.get(str(name), set()):
                    found.append(f"{t['code']} runs on {name} on day {day}, while {name} is down")
    for (name, day), n in sorted(usage.items()):
        if n > capacity.get(name, 0):
            found.append(f"{name} runs {n} work packages on day {day} (capacity {capacity.get(name, 0)})")
    return found


def _task(t: Mapping[str, Any], kind: Mapping[str, str]) -> list[str]:
    out: list[str] = []
    code, start, finish = t["code"], int(t["predicted_start_day"]), int(t["predicted_finish_day"])
    if finish - start != int(t["duration_days"]):
        out.append(f"{code}: runs {finish - start} days, needs {t['duration_days']}")
    if start < int(t.get("release_day") or 0):
        out.append(f"{code}: starts on day {start}, before its release day {t['release_day']}")
    planned = t.get("resource")
    wanted = None if planned is None else kind.get(str(planned))
    placed = t.get("predicted_resource")
    if planned is None and placed is not None:
        out.append(f"{code}: needs no resource but was put on {placed}")
    elif planned is not None and (wanted is None or kind.get(str(placed)) != wanted):
        what = f"a {wanted}" if wanted is not None else f"a resource like {planned} (not among the resources)"
        out.append(f"{code}: a {t.get('trade')} work package put on {placed!r}, not {what}")
    return out
