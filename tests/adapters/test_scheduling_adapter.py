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
    models_in_hours,
    predicted_hours,
    request_from_yard,
    solve,
    with_yard_context,
    work_package_rows,
    yard_resources,
)
from adapters.scheduling.validate import violations
from knowledge import Settings
from knowledge.store import YardStore


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    return Registry.load(Settings(data_dir=tmp_path_factory.mktemp("data")))


def test_scheduling_rows_in_rows_out(registry: Registry, small_yard: Path) -> None:
    g = YardStore.open(small_yard)
    scheduler = registry.get("scheduling")
    rows = scheduler.yard_rows(g, [g.node_of("B001"), g.node_of("B002"), g.node_of("B003")])  # type: ignore[attr-defined]
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
    g = YardStore.open(small_yard)
    scheduler = registry.get("scheduling")
    rows = scheduler.yard_rows(g, [g.node_of("B001")])  # type: ignore[attr-defined]
    bad = rows.set_column(rows.schema.get_field_index("duration_days"), "duration_days", [[3, 4, -2, 1, 5]])
    with pytest.raises(SchemaError, match="row 2, field 'duration_days': Input should be greater than or equal to 0"):
        scheduler.predict(bad)


def test_durations_from_the_models_predictions(registry: Registry, small_yard: Path) -> None:
    g = YardStore.open(small_yard)
    hours = predicted_hours(g, BatchExecutor(registry, backend="in-process"))
    wp = work_package_rows(g)
    assert set(hours) == set(wp.code) and all(h >= 0 for h in hours.values())
    assert models_in_hours(g) == ("welding", "outfitting")
    welding = [i for i, t in enumerate(wp.trade) if t == "PNL"]
    predicted = np.array([hours[wp.code[i]] for i in welding])
    planned = np.array([wp.estimated_hours[i] for i in welding])
    actuals = g.actuals(["node", "hours"])
    assert actuals is not None
    booked = dict(zip(actuals.column("node").to_pylist(), actuals.column("hours").to_pylist(), strict=True))
    actual = np.array([booked[wp.node[i]] for i in welding])
    # welding-heavy packages: the models' hours are closer to what happened than the yard's norms
    assert np.abs(predicted - actual).mean() < np.abs(planned - actual).mean()
    request = request_from_yard(g, hours, time_limit_s=5)
    assert violations(request, solve(request)) == []


def test_resources_come_from_the_yard(registry: Registry, small_yard: Path) -> None:
    g = YardStore.open(small_yard)
    scheduler = registry.get("scheduling")
    rows = scheduler.yard_rows(g, [g.node_of("B001")])  # type: ignore[attr-defined]
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
    g = YardStore.open(small_yard)
    rows = SchedulingAdapter().yard_rows(g, [g.node_of("B001")])
    moved = rows.set_column(rows.schema.get_field_index("resource"), "resource", [["WS-1", None, None, None, None]])
    with pytest.raises(
        SchedulingInputError, match=r"task 'WP-B001-PNL' \(PNL\): resource 'WS-1' is a workshop, not a panel_line"
    ):
        SchedulingAdapter().predict(moved.replace_schema_metadata(rows.schema.metadata))


def test_scheduling_rows_name_their_nodes(registry: Registry, small_yard: Path) -> None:
    g = YardStore.open(small_yard)
    scheduler = registry.get("scheduling")
    assert (scheduler.spec.role, scheduler.spec.key_column) == ("work_package", "node")
    rows = scheduler.yard_rows(g)  # type: ignore[attr-defined]
    assert rows.column("node").to_pylist() == g.nodes_of_role("work_package").tolist()
    assert rows.column("code").to_pylist() == g.codes_of(rows.column("node").to_numpy())
    # a block stands for its packages, a package for itself
    block, package = g.node_of("B002"), g.node_of("WP-B003-OFB")
    some = scheduler.yard_rows(g, [package, block])  # type: ignore[attr-defined]
    assert some.column("code").to_pylist() == [
        *(f"WP-B002-{t}" for t in ("PNL", "ASM", "OFB", "ERE", "OBD")),
        "WP-B003-OFB",
    ]


def test_the_bulk_carrier_schedules_from_its_own_data(registry: Registry, bulk_carrier: Path) -> None:
    g = YardStore.open(bulk_carrier)
    request = request_from_yard(g, time_limit_s=5, workers=1, deterministic_limit=0.5)
    packages = g.nodes_of_role("work_package")
    assert [t.code for t in request.tasks] == g.codes_of(packages)
    assert {r.name for r in request.resources} == set(g.codes_of(g.nodes_of_role("resource")))
    before, after = g.edges_from(packages)
    assert len(request.precedences) == int((g.role_rows("work_package", after) >= 0).sum()) > 0
    # its trades, each with the one kind of resource its packages run on (none stated when they run on several)
    kind = {r.name: r.kind for r in request.resources}
    kinds: dict[str, set[str | None]] = {}
    for t in request.tasks:
        kinds.setdefault(t.trade, set()).add(kind[t.resource] if t.resource else None)
    if all(len(k) == 1 for k in kinds.values()):
        assert {t.trade: t.resource_kind for t in request.trades} == {t: k.pop() for t, k in kinds.items()}
    else:
        assert request.trades == ()
    schedule = solve(request)
    assert violations(request, schedule) == []
    assert schedule.makespan_days > 0 and schedule.critical_path
    # hours from the models where the yard gives the norms they replace; the estimates elsewhere
    hours = predicted_hours(g, BatchExecutor(registry, backend="in-process"))
    assert set(hours) == {t.code for t in request.tasks} and all(h >= 0 for h in hours.values())
    estimated = dict(zip(work_package_rows(g).code, work_package_rows(g).estimated_hours, strict=True))
    assert (hours == estimated) == (models_in_hours(g) == ())
    with_hours = request_from_yard(g, hours, time_limit_s=5, workers=1, deterministic_limit=0.5)
    assert violations(with_hours, solve(with_hours)) == []
