"""The scheduler as a registry tool, with durations from the welding and outfitting models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adapters import Registry, SchemaError
from adapters.executor import BatchExecutor
from adapters.scheduling import (
    ResourceCapacity,
    Schedule,
    ScheduledTask,
    ScheduleRequest,
    ScheduleTask,
    SchedulingAdapter,
    SchedulingInputError,
    predicted_hours,
    request_from_yard,
    solve,
    with_yard_context,
    yard_resources,
)
from adapters.scheduling.validate import violations
from knowledge import PartGraph, Settings


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    return Registry.load(Settings(data_dir=tmp_path_factory.mktemp("data")))


def test_scheduling_rows_in_rows_out(registry: Registry, small_yard: Path) -> None:
    g = PartGraph.open(small_yard)
    scheduler = registry.get("scheduling")
    rows = scheduler.yard_rows(g, [g.id_of("B001"), g.id_of("B002"), g.id_of("B003")])  # type: ignore[attr-defined]
    result = scheduler.predict(rows)
    assert result.num_rows == rows.num_rows == 15
    summary = json.loads(result.schema.metadata[b"shipbrain.schedule"])
    assert summary["makespan_days"] == max(result.column("finish_day").to_pylist())
    # check the answer independently, from the rows alone
    tasks = rows.to_pylist()
    request = ScheduleRequest(
        tasks=[
            ScheduleTask(**{k: t[k] for k in ("code", "trade", "duration_days", "resource", "crane")}) for t in tasks
        ],
        resources=scheduler.resources_of(rows),  # type: ignore[attr-defined]
        trades=scheduler.trades_of(rows),  # type: ignore[attr-defined]
        precedences=[(b, t["code"]) for t in tasks for b in t["after"].split()],
    )
    placed = [
        ScheduledTask(code=t["code"], crane=t["crane"], **r) for t, r in zip(tasks, result.to_pylist(), strict=True)
    ]
    schedule = Schedule(tasks=tuple(placed), **{k: v for k, v in summary.items() if k != "tasks"})
    assert violations(request, schedule) == []


def test_bad_rows_are_refused(registry: Registry, small_yard: Path) -> None:
    g = PartGraph.open(small_yard)
    scheduler = registry.get("scheduling")
    rows = scheduler.yard_rows(g, [g.id_of("B001")])  # type: ignore[attr-defined]
    bad = rows.set_column(rows.schema.get_field_index("duration_days"), "duration_days", [[3, 4, -2, 1, 5]])
    with pytest.raises(SchemaError, match="row 2, field 'duration_days': Input should be greater than or equal to 0"):
        scheduler.predict(bad)


def test_durations_from_the_models_predictions(registry: Registry, small_yard: Path) -> None:
    g = PartGraph.open(small_yard)
    hours = predicted_hours(g, BatchExecutor(registry, backend="in-process"))
    wp = g.table("work_packages", ["code", "trade", "estimated_hours", "actual_hours"]).to_pydict()
    assert set(hours) == set(wp["code"]) and all(h >= 0 for h in hours.values())
    welding = [i for i, t in enumerate(wp["trade"]) if t == "PNL"]
    predicted = np.array([hours[wp["code"][i]] for i in welding])
    planned = np.array([wp["estimated_hours"][i] for i in welding])
    actual = np.array([wp["actual_hours"][i] for i in welding])
    # welding-heavy packages: the models' hours are closer to what happened than the yard's norms
    assert np.abs(predicted - actual).mean() < np.abs(planned - actual).mean()
    request = request_from_yard(g, hours, time_limit_s=5)
    assert violations(request, solve(request)) == []


def test_resources_come_from_the_yard(registry: Registry, small_yard: Path) -> None:
    g = PartGraph.open(small_yard)
    scheduler = registry.get("scheduling")
    rows = scheduler.yard_rows(g, [g.id_of("B001")])  # type: ignore[attr-defined]
    resources = scheduler.resources_of(rows)  # type: ignore[attr-defined]
    assert {r.kind for r in resources} == {"panel_line", "workshop", "outfitting_hall", "crane", "dock"}
    assert all(isinstance(r, ResourceCapacity) for r in resources)
    assert resources == yard_resources(g)
    assert [t.trade for t in scheduler.trades_of(rows)] == ["PNL", "ASM", "OFB", "ERE", "OBD"]  # type: ignore[attr-defined]
    # rows that come without their yard's resources are refused, naming what they lack
    bare = rows.replace_schema_metadata(None)
    with pytest.raises(SchedulingInputError, match=r"name resources \(.*PL-1.*\) but no resources came with them"):
        scheduler.predict(bare)
    assert scheduler.predict(with_yard_context(bare, resources)).num_rows == rows.num_rows


def test_the_yards_trades_check_each_resource(small_yard: Path) -> None:
    g = PartGraph.open(small_yard)
    rows = SchedulingAdapter().yard_rows(g, [g.id_of("B001")])
    moved = rows.set_column(rows.schema.get_field_index("resource"), "resource", [["WS-1", None, None, None, None]])
    with pytest.raises(
        SchedulingInputError, match=r"task 'WP-B001-PNL' \(PNL\): resource 'WS-1' is a workshop, not a panel_line"
    ):
        SchedulingAdapter().predict(moved.replace_schema_metadata(rows.schema.metadata))
