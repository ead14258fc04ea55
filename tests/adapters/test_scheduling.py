"""The scheduling reference model: known optima, generated yards checked by an independent validator, bad input."""

from __future__ import annotations

import pickle
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adapters.errors import AdapterInputError, ModelTimeoutError
from adapters.scheduling import (
    OUTAGE_PREFIX,
    ResourceCapacity,
    ResourceDowntime,
    Schedule,
    ScheduledTask,
    ScheduleRequest,
    ScheduleTask,
    SchedulingInputError,
    YardTrade,
    request_from_yard,
    solve,
    work_package_rows,
)
from adapters.scheduling import _solve as scheduling_solve
from adapters.scheduling.validate import violations
from knowledge import YardSpec, generate_yard
from knowledge.importer import import_yard
from knowledge.store import YardStore
from knowledge.synthetic.yardformat import write_format

PL1 = ResourceCapacity(name="PL-1", kind="panel_line", capacity=1)
PL2 = ResourceCapacity(name="PL-2", kind="panel_line", capacity=1)
WS1 = ResourceCapacity(name="WS-1", kind="workshop", capacity=2)
DOCKS = [ResourceCapacity(name=f"DOCK-{i}", kind="dock", capacity=1) for i in (1, 2)]
GC1 = ResourceCapacity(name="GC-1", kind="crane", capacity=1)
# The synthetic yard's trades, restated: the kind of resource each trade's packages run on.
TRADES = [
    YardTrade(trade="PNL", resource_kind="panel_line"),
    YardTrade(trade="ASM", resource_kind="workshop"),
    YardTrade(trade="OFB", resource_kind="outfitting_hall"),
    YardTrade(trade="ERE", resource_kind="dock"),
    YardTrade(trade="OBD", resource_kind=None),
]


def task(code: str, days: int, trade: Any = "PNL", **extra: Any) -> ScheduleTask:
    return ScheduleTask(code=code, trade=trade, duration_days=days, **extra)


def solved(**request: Any) -> tuple[ScheduleRequest, Schedule]:
    req = ScheduleRequest(time_limit_s=10, workers=1, **request)
    schedule = solve(req)
    assert violations(req, schedule) == []
    return req, schedule


def at(schedule: Schedule) -> dict[str, ScheduledTask]:
    return {t.code: t for t in schedule.tasks}


def assert_chained(req: ScheduleRequest, schedule: Schedule) -> None:
    """The critical path is real codes, each starting the day the one before finishes, held by it.

    The first starts on its release day, or, behind a leading "DOWN:<resource>", later: the day that resource is back.
    """
    tasks, by_code = {t.code: t for t in req.tasks}, at(schedule)
    path = list(schedule.critical_path)
    outage = path.pop(0).removeprefix(OUTAGE_PREFIX) if path and path[0].startswith(OUTAGE_PREFIX) else None
    chain = [by_code[c] for c in path]
    assert chain, "a critical path has at least the task that finishes last"
    assert chain[-1].finish_day == schedule.makespan_days
    if outage is None:
        assert chain[0].start_day == tasks[chain[0].code].release_day
    else:
        assert outage in {chain[0].resource, chain[0].crane}
        assert chain[0].start_day > tasks[chain[0].code].release_day
        assert chain[0].start_day in {d.end_day for d in req.downtimes if d.resource == outage}
    pairs = set(req.precedences)
    for a, b in zip(chain, chain[1:], strict=False):
        assert b.start_day == a.finish_day, (a, b)
        shares = {a.resource, a.crane} & {b.resource, b.crane} - {None}
        assert (a.code, b.code) in pairs or shares, (a, b)


# ---- (a) small requests with known optima ---------------------------------------------------------------


def test_two_tasks_on_one_panel_line_serialise() -> None:
    _, s = solved(tasks=[task("A", 3, resource="PL-1"), task("B", 4, resource="PL-1")], resources=[PL1])
    assert (s.makespan_days, s.status, s.gap, s.best_bound) == (7, "optimal", 0.0, 7)
    assert sorted((t.start_day, t.finish_day) for t in s.tasks) in ([(0, 3), (3, 7)], [(0, 4), (4, 7)])


def test_two_panel_lines_run_in_parallel_when_the_solver_may_choose() -> None:
    tasks = [task("A", 3, resource="PL-1"), task("B", 4, resource="PL-1")]
    _, s = solved(tasks=tasks, resources=[PL1, PL2])
    assert s.makespan_days == 4
    assert {t.resource for t in s.tasks} == {"PL-1", "PL-2"}
    _, pinned = solved(tasks=tasks, resources=[PL1, PL2], resource_choice="named")
    assert pinned.makespan_days == 7
    assert {t.resource for t in pinned.tasks} == {"PL-1"}


def test_workshop_of_capacity_two_runs_two_at_once() -> None:
    tasks = [task(c, 2, "ASM", resource="WS-1") for c in "ABC"]
    _, s = solved(tasks=tasks, resources=[WS1])
    assert s.makespan_days == 4


def test_a_shared_crane_serialises_erections_in_two_docks() -> None:
    tasks = [
        task("E1", 2, "ERE", resource="DOCK-1", crane="GC-1"),
        task("E2", 3, "ERE", resource="DOCK-2", crane="GC-1"),
    ]
    _, s = solved(tasks=tasks, resources=[*DOCKS, GC1])
    assert s.makespan_days == 5
    _, free = solved(tasks=[t.model_copy(update={"crane": None}) for t in tasks], resources=DOCKS)
    assert free.makespan_days == 3


def test_precedences_release_days_and_the_critical_path() -> None:
    tasks = [task("A", 2, resource="PL-1"), task("B", 3, "ASM", resource="WS-1"), task("C", 1, resource="PL-1")]
    req, s = solved(tasks=tasks, resources=[PL1, WS1], precedences=[("A", "B")])
    assert s.makespan_days == 5 and s.status == "optimal"
    assert s.critical_path == ("A", "B")
    assert [t.code for t in s.tasks if t.on_critical_path] == ["A", "B"]
    assert_chained(req, s)
    released = [task("A", 2, resource="PL-1"), task("B", 3, "ASM", resource="WS-1", release_day=6)]
    _, later = solved(tasks=released, resources=[PL1, WS1], precedences=[("A", "B")])
    assert later.makespan_days == 9 and later.critical_path == ("B",)


def test_resource_wait_is_on_the_critical_path() -> None:
    req, s = solved(tasks=[task("A", 3, resource="PL-1"), task("B", 4, resource="PL-1")], resources=[PL1])
    assert len(s.critical_path) == 2
    assert_chained(req, s)


def test_milestones_take_no_time_and_no_resource() -> None:
    tasks = [task("A", 2, resource="PL-1"), task("M", 0, "OBD"), task("B", 2, resource="PL-1")]
    _, s = solved(tasks=tasks, resources=[PL1], precedences=[("A", "M"), ("M", "B")])
    assert s.makespan_days == 4
    assert at(s)["M"].start_day == at(s)["M"].finish_day == 2


def test_a_horizon_that_cannot_be_met_is_a_clear_error() -> None:
    req = ScheduleRequest(tasks=[task("A", 3, resource="PL-1"), task("B", 4, resource="PL-1")], resources=[PL1])
    with pytest.raises(SchedulingInputError, match=r"horizon_days=6 is too short.*at least 7 days"):
        solve(req.model_copy(update={"horizon_days": 6}))
    assert solve(req.model_copy(update={"horizon_days": 7})).makespan_days == 7


# ---- (b), (c) generated yards -----------------------------------------------------------------------------


def yard(tmp_path_factory: pytest.TempPathFactory, parts: int, blocks: int) -> YardStore:
    root = tmp_path_factory.mktemp("schedule-yards")
    source = write_format(generate_yard(YardSpec(parts=parts, seed=3, blocks=blocks)), root / "format")
    import_yard(source, root / "store")
    return YardStore.open(root / "store")


@pytest.fixture(scope="module")
def yard30(tmp_path_factory: pytest.TempPathFactory) -> YardStore:
    return yard(tmp_path_factory, 30_000, 30)


@pytest.fixture(scope="module")
def yard200(tmp_path_factory: pytest.TempPathFactory) -> YardStore:
    return yard(tmp_path_factory, 200_000, 200)


def resting_on(g: YardStore) -> set[tuple[int, int]]:
    """(lower, upper) block pairs: each upper block rests on a lower one, joined by erection joints.

    Read from the hierarchy and the graph alone: an erection joint belongs to the upper block and follows a node
    of the lower one.
    """
    joints = g.nodes_of_role("joint")
    before, after = g.edges_into(joints)
    lower, upper = g.block_of(before), g.block_of(after)
    joined = (lower >= 0) & (upper >= 0) & (lower != upper)
    return set(zip(lower[joined].tolist(), upper[joined].tolist(), strict=True))


def test_request_from_yard(yard30: YardStore) -> None:
    req = request_from_yard(yard30)
    assert len(req.tasks) == 150
    assert {r.name for r in req.resources} >= {"PL-1", "PL-2", "DOCK-1", "GC-1", "GC-2"}
    first = {t.code: t for t in req.tasks}["WP-B001-PNL"]
    assert (first.block, first.trade, first.resource) == ("B001", "PNL", "PL-1")
    assert all(t.duration_days >= 1 for t in req.tasks)
    assert ("WP-B001-PNL", "WP-B001-ASM") in req.precedences
    assert ("WP-B001-ERE", "WP-B001-OBD") in req.precedences
    erections = [(a, b) for a, b in req.precedences if a.endswith("-ERE") and b.endswith("-ERE")]
    assert len(erections) == len(resting_on(yard30)) > 0
    assert req.trades == tuple(TRADES)  # read off the yard's packages and resources
    # the precedences are exactly the edges between work package nodes
    packages = yard30.nodes_of_role("work_package")
    before, after = yard30.edges_from(packages)
    inside = yard30.role_rows("work_package", after) >= 0
    pairs = zip(yard30.codes_of(before[inside]), yard30.codes_of(after[inside]), strict=True)
    assert set(req.precedences) == set(pairs)


def _reimported(g: YardStore, tmp_path: Path, table: str, change: Any) -> YardStore:
    """The yard written in the open format again with one of its tables changed, imported."""
    from knowledge.importer import export_yard

    source = export_yard(g.path, tmp_path / "format")
    pq.write_table(change(pq.read_table(source / f"{table}.parquet")), source / f"{table}.parquet")
    import_yard(source, tmp_path / "store")
    return YardStore.open(tmp_path / "store")


def test_trades_and_resources_are_the_yards_data(yard30: YardStore, tmp_path: Path) -> None:
    def renamed(resources: pa.Table) -> pa.Table:
        kinds = ["assembly_hall" if k == "workshop" else k for k in resources.column("resource_kind").to_pylist()]
        return resources.set_column(resources.schema.get_field_index("resource_kind"), "resource_kind", [kinds])

    other_words = _reimported(yard30, tmp_path / "a", "resources", renamed)
    req = request_from_yard(other_words)
    assert dict((t.trade, t.resource_kind) for t in req.trades)["ASM"] == "assembly_hall"
    assert {r.kind for r in req.resources if r.name.startswith("WS-")} == {"assembly_hall"}

    def on_a_line(packages: pa.Table) -> pa.Table:
        codes = packages.column("id").to_pylist()
        resources = packages.column("resource").to_pylist()
        moved = ["PL-1" if c == "WP-B002-ASM" else r for c, r in zip(codes, resources, strict=True)]
        return packages.set_column(packages.schema.get_field_index("resource"), "resource", [moved])

    mixed = _reimported(yard30, tmp_path / "b", "work_packages", on_a_line)
    req = request_from_yard(mixed, time_limit_s=5, workers=1, deterministic_limit=0.5)
    # ASM packages run on workshops and on a panel line: no one kind for the trade, each runs where it names
    assert req.trades == () and {t.code: t.resource for t in req.tasks}["WP-B002-ASM"] == "PL-1"
    s = solve(req)
    assert violations(req, s) == [] and at(s)["WP-B002-ASM"].resource in {"PL-1", "PL-2"}


def test_predicted_hours_set_durations(yard30: YardStore) -> None:
    wp = work_package_rows(yard30)
    crew = dict(zip(wp.code, wp.crew, strict=True))
    day = 8.0 * crew["WP-B001-PNL"]  # person-hours the crew works in a day
    hours = {"WP-B001-PNL": 10 * day, "WP-B002-PNL": 10 * 8.0 * crew["WP-B002-PNL"] + 1.0, "WP-B003-PNL": 0.0}
    req = request_from_yard(yard30, hours)
    days = {t.code: t.duration_days for t in req.tasks}
    assert (days["WP-B001-PNL"], days["WP-B002-PNL"], days["WP-B003-PNL"]) == (10, 11, 1)


def test_yard_of_30_blocks(yard30: YardStore) -> None:
    req = request_from_yard(yard30, time_limit_s=5)
    s = solve(req)
    assert violations(req, s) == []
    assert 0.0 <= s.gap <= 1.0 and s.best_bound <= s.makespan_days
    assert s.solve_seconds < 10
    assert_chained(req, s)
    assert s.critical_path[-1].endswith("-OBD")


def test_tiny_time_limit_still_gives_a_valid_schedule(yard200: YardStore) -> None:
    req = request_from_yard(yard200, time_limit_s=0.01)
    s = solve(req)
    assert violations(req, s) == []
    assert 0.0 <= s.gap <= 0.05
    assert s.solve_seconds < 5


def test_without_a_cp_sat_answer_the_greedy_schedule_stands(
    yard200: YardStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduling_solve, "_cp_sat", lambda *args: None)  # as if the time ran out
    req = request_from_yard(yard200, time_limit_s=1)
    s = solve(req)
    assert violations(req, s) == []
    assert s.status == "feasible" and 0 < s.gap < 0.05, (s.status, s.gap)
    with pytest.raises(ModelTimeoutError, match=r"'scheduling' over in-process: no schedule within horizon_days="):
        solve(req.model_copy(update={"horizon_days": s.best_bound}))


@pytest.mark.slow
def test_yard_of_200_blocks_within_10_seconds(yard200: YardStore) -> None:
    # The default budget is 60 s; CP-SAT never proves this yard optimal, so a solve takes its whole budget. It is
    # within 2 % of the bound after 3 s on the 2-core CI machine: 10 s is within the default, with room for load.
    req = request_from_yard(yard200, time_limit_s=10)
    s = solve(req)
    assert len(s.tasks) == 1000
    assert violations(req, s) == []
    assert s.solve_seconds < 15
    assert 0.0 <= s.gap <= 0.05, s.gap
    assert_chained(req, s)


# ---- (d) bad input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_fields", "says"),
    [
        ({"precedences": [("A", "Z")]}, r"precedence \('A', 'Z'\) names 'Z', which is not a task code"),
        ({"precedences": [("A", "B"), ("B", "C"), ("C", "A")]}, r"precedences form a cycle: (A|B|C) -> .* -> \1$"),
        ({"precedences": [("A", "A")]}, r"cycle: A -> A"),
        ({"resources": [PL2]}, r"task 'A' needs resource 'PL-1', which is not among the resources \(PL-2\)"),
        ({"resources": [PL1, PL1]}, r"resource name 'PL-1' appears more than once"),
        ({"tasks": [task("A", 1), task("A", 2)]}, r"task code 'A' appears more than once"),
        (
            {"tasks": [task("A", 1, resource="WS-1")], "resources": [WS1], "trades": TRADES},
            r"task 'A' \(PNL\): resource 'WS-1' is a workshop, not a panel_line",
        ),
        (
            {"tasks": [task("A", 1, "OBD", resource="PL-1")], "trades": TRADES},
            r"task 'A' \(OBD\): resource 'PL-1' is a panel_line, and OBD needs none",
        ),
        (
            {"tasks": [task("A", 1, "XYZ")], "trades": TRADES},
            r"task 'A': trade 'XYZ' is not among the trades \(PNL, ASM, OFB, ERE, OBD\)",
        ),
        ({"trades": [*TRADES, TRADES[0]]}, r"trade 'PNL' appears more than once"),
        (
            {"tasks": [{"code": "A", "trade": "PNL", "duration_days": -2}]},
            r"tasks.0: ScheduleTask 'A': duration_days=-2: .*greater than or equal to 0$",
        ),
        ({"time_limit_s": 0}, r"time_limit_s=0"),
    ],
)
def test_bad_requests_are_one_line_errors(request_fields: dict[str, Any], says: str) -> None:
    fields: dict[str, Any] = {
        "tasks": [task("A", 1, resource="PL-1"), task("B", 1, resource="PL-1"), task("C", 1)],
        "resources": [PL1],
    }
    with pytest.raises(SchedulingInputError, match=says) as caught:
        ScheduleRequest(**(fields | request_fields))
    message = str(caught.value)
    assert "\n" not in message and message.startswith("scheduling: ")
    assert isinstance(caught.value, AdapterInputError)
    assert str(pickle.loads(pickle.dumps(caught.value))) == message


def test_negative_duration_names_the_task() -> None:
    with pytest.raises(SchedulingInputError, match=r"ScheduleTask 'A': duration_days=-1: .*greater than or equal to 0"):
        task("A", -1)


def test_bad_hours_are_one_line_errors(yard30: YardStore) -> None:
    with pytest.raises(SchedulingInputError, match=r"unknown work package code.*'WP-B999-PNL'"):
        request_from_yard(yard30, {"WP-B999-PNL": 10.0})
    with pytest.raises(SchedulingInputError, match=r"hours for 'WP-B001-PNL' must be finite and >= 0, got -5"):
        request_from_yard(yard30, {"WP-B001-PNL": -5.0})


# ---- (e) the validator can fail ---------------------------------------------------------------------------


def broken(schedule: Schedule, **changes: dict[str, Any]) -> Schedule:
    tasks = [t.model_copy(update=changes.get(t.code, {})) for t in schedule.tasks]
    return schedule.model_copy(update={"tasks": tuple(tasks)})


def test_validator_reports_an_overlap_on_a_capacity_one_resource() -> None:
    req, s = solved(tasks=[task("A", 3, resource="PL-1"), task("B", 4, resource="PL-1")], resources=[PL1])
    overlapping = broken(s, A={"start_day": 0, "finish_day": 3}, B={"start_day": 1, "finish_day": 5})
    found = violations(req, overlapping.model_copy(update={"makespan_days": 5, "best_bound": 5}))
    assert found and all("PL-1 runs 2 tasks" in v for v in found), found


def test_validator_reports_a_broken_precedence_and_more() -> None:
    tasks = [task("A", 2, resource="PL-1"), task("B", 3, "ASM", resource="WS-1")]
    req, s = solved(tasks=tasks, resources=[PL1, WS1], precedences=[("A", "B")])
    early = broken(s, B={"start_day": 1, "finish_day": 4})
    assert violations(req, early.model_copy(update={"makespan_days": 4, "best_bound": 4})) == [
        "B starts on day 1, before A finishes on day 2"
    ]
    assert any("runs 1 days, needs 3" in v for v in violations(req, broken(s, B={"finish_day": 3})))
    assert any("makespan" in v for v in violations(req, s.model_copy(update={"makespan_days": 99})))
    assert any("ASM task put on PL-1, a panel_line" in v for v in violations(req, broken(s, B={"resource": "PL-1"})))
    missing = s.model_copy(update={"tasks": s.tasks[:1]})
    assert "task B is missing" in violations(req, missing)


# ---- small random requests against brute force ------------------------------------------------------------

RANDOM_RESOURCES = [PL1, PL2, WS1, *DOCKS, GC1, ResourceCapacity(name="GC-2", kind="crane", capacity=1)]


def random_request(rng: random.Random, choice: Any) -> ScheduleRequest:
    tasks = []
    for i in range(rng.randint(3, 6)):
        kind = rng.choice(["PL", "WS", "ERE", "OBD"])
        extra: dict[str, Any] = {"release_day": rng.choice([0, 0, 0, 1, 3])}
        if kind == "PL":
            extra |= {"trade": "PNL", "resource": rng.choice(["PL-1", "PL-2"])}
        elif kind == "WS":
            extra |= {"trade": "ASM", "resource": "WS-1"}
        elif kind == "ERE":
            extra |= {
                "trade": "ERE",
                "resource": rng.choice(["DOCK-1", "DOCK-2"]),
                "crane": rng.choice(["GC-1", "GC-2"]),
            }
        else:
            extra |= {"trade": "OBD"}
        tasks.append(ScheduleTask(code=f"T{i}", duration_days=rng.randint(0, 4), **extra))
    edges = [(f"T{i}", f"T{j}") for i in range(len(tasks)) for j in range(i + 1, len(tasks)) if rng.random() < 0.3]
    return ScheduleRequest(
        tasks=tasks, resources=RANDOM_RESOURCES, precedences=edges, workers=1, time_limit_s=10, resource_choice=choice
    )


def brute_force_makespan(req: ScheduleRequest) -> int:
    """The optimum by trying every start day, kind capacities summed when tasks may move within a kind."""
    kind = {r.name: r.kind for r in req.resources}
    cap: Counter[str] = Counter()
    for r in req.resources:
        cap[r.kind if req.resource_choice == "same_kind" and r.kind != "crane" else r.name] += r.capacity
    tasks = list(req.tasks)  # codes T0.. with edges only from lower to higher index: already in topological order
    preds = {t.code: [b for b, a in req.precedences if a == t.code] for t in tasks}
    horizon = max(t.release_day for t in tasks) + sum(t.duration_days for t in tasks)
    usage: Counter[tuple[str, int]] = Counter()
    finish: dict[str, int] = {}
    best = horizon

    def pools(t: ScheduleTask) -> list[str]:
        named = [t.resource] if t.resource else []
        if req.resource_choice == "same_kind":
            named = [kind[n] for n in named]
        return named + ([t.crane] if t.crane else [])

    def occupy(t: ScheduleTask, s: int, delta: int) -> None:
        for q in pools(t):
            for d in range(s, s + t.duration_days):
                usage[(q, d)] += delta

    def place(k: int, makespan: int) -> None:
        nonlocal best
        if makespan >= best:
            return
        if k == len(tasks):
            best = makespan
            return
        t = tasks[k]
        earliest = max([t.release_day] + [finish[p] for p in preds[t.code]])
        for s in range(earliest, horizon - t.duration_days + 1):
            if all(usage[(q, d)] < cap[q] for q in pools(t) for d in range(s, s + t.duration_days)):
                occupy(t, s, 1)
                finish[t.code] = s + t.duration_days
                place(k + 1, max(makespan, s + t.duration_days))
                occupy(t, s, -1)

    place(0, 0)
    return best


@pytest.mark.parametrize("seed", range(40))
def test_small_random_requests_reach_the_brute_force_optimum(seed: int) -> None:
    rng = random.Random(seed)
    req = random_request(rng, rng.choice(["same_kind", "named"]))
    s = solve(req)
    assert violations(req, s) == []
    optimum = brute_force_makespan(req)
    assert (s.makespan_days, s.status, s.best_bound) == (optimum, "optimal", optimum)
    assert_chained(req, s)


def test_the_same_request_gives_the_same_schedule(yard30: YardStore) -> None:
    # one worker and a deterministic budget: the solve stops at the same point of the same search
    req = request_from_yard(yard30, workers=1, deterministic_limit=0.5)
    first, again = solve(req), solve(req)
    assert first.status == "feasible", "the budget did not cut the search short: the test would check nothing"
    assert first.tasks == again.tasks and first.critical_path == again.critical_path


# ---- resource downtime --------------------------------------------------------------------------------------


def down(resource: str, start_day: int, days: int) -> ResourceDowntime:
    return ResourceDowntime(resource=resource, start_day=start_day, days=days)


def test_a_downtime_forces_a_later_start() -> None:
    # PL-1 is down on days 2, 3 and 4. A (4 days) fits neither the 2 free days before (0-1) nor any
    # other gap, so it starts on day 5 and finishes on day 9; B follows A on the workshop: days 9-10,
    # finishing on day 11. C (2 days) fits exactly into days 0-1, before the outage. Without the
    # downtime: C 0-2, A 2-6 (or A first), B 6-8 at the latest... the makespan is 8 at most.
    tasks = [task("A", 4, resource="PL-1"), task("B", 2, "ASM", resource="WS-1"), task("C", 2, resource="PL-1")]
    fields: dict[str, Any] = {"tasks": tasks, "resources": [PL1, WS1], "precedences": [("A", "B")]}
    req, s = solved(**fields, downtimes=[down("PL-1", 2, 3)])
    placed = {t.code: (t.start_day, t.finish_day) for t in s.tasks}
    assert placed == {"A": (5, 9), "B": (9, 11), "C": (0, 2)}
    assert (s.makespan_days, s.status, s.best_bound) == (11, "optimal", 11)
    # A waited for PL-1 to come back: the outage leads the critical path
    assert s.critical_path == ("DOWN:PL-1", "A", "B")
    assert [t.code for t in s.tasks if t.on_critical_path] == ["A", "B"]
    assert_chained(req, s)
    _, free = solved(**fields)
    assert free.makespan_days == 6  # A 0-4, B 4-6, C 4-6


def test_overlapping_and_touching_downtimes_are_merged() -> None:
    # PL-1 down days 2-4 and 4-7 (overlapping), then 8-9 touching 10-11: down on days 2-7 and 8-11.
    downtimes = [down("PL-1", 2, 3), down("PL-1", 4, 4), down("PL-1", 8, 2), down("PL-1", 10, 2)]
    req, s = solved(tasks=[task("A", 2, resource="PL-1", release_day=1)], resources=[PL1], downtimes=downtimes)
    # released on day 1, A needs 2 free days in a row: day 1 alone is free before 2, none until 12
    assert at(s)["A"].start_day == 12 and s.critical_path == ("DOWN:PL-1", "A")
    assert_chained(req, s)
    _, touching = solved(tasks=[task("A", 1, resource="PL-1", release_day=8)], resources=[PL1], downtimes=downtimes)
    assert at(touching)["A"].start_day == 12


def test_same_kind_moves_a_task_to_the_other_panel_line() -> None:
    # P2 is planned on PL-2, which is down on days 0-9. With "same_kind" it runs on PL-1 after P1 (or
    # before it): days 3-6 instead of 10-13; pinned ("named"), it waits for PL-2: 10-13.
    tasks = [task("P1", 3, resource="PL-1"), task("P2", 3, resource="PL-2")]
    fields: dict[str, Any] = {"tasks": tasks, "resources": [PL1, PL2], "downtimes": [down("PL-2", 0, 10)]}
    req, s = solved(**fields)
    assert s.makespan_days == 6 and {t.resource for t in s.tasks} == {"PL-1"}
    assert sorted((t.start_day, t.finish_day) for t in s.tasks) == [(0, 3), (3, 6)]
    assert_chained(req, s)
    req, named = solved(**fields, resource_choice="named")
    assert (at(named)["P2"].start_day, at(named)["P2"].resource, named.makespan_days) == (10, "PL-2", 13)
    assert named.critical_path == ("DOWN:PL-2", "P2")
    assert_chained(req, named)


def test_same_kind_keeps_a_task_on_one_line_for_its_whole_run() -> None:
    # PL-1 is down on days 2-3, PL-2 on days 0-1: on each day one line is up, but no line is up on all
    # of days 0-3, so a 4-day task cannot start before day 2 (on PL-2) -- summed capacity would say day 0.
    downtimes = [down("PL-1", 2, 2), down("PL-2", 0, 2)]
    req, s = solved(tasks=[task("A", 4, resource="PL-1")], resources=[PL1, PL2], downtimes=downtimes)
    assert (at(s)["A"].start_day, at(s)["A"].resource) == (2, "PL-2")
    assert s.critical_path == ("DOWN:PL-2", "A")
    assert_chained(req, s)


def test_a_downed_crane_holds_up_the_erections_that_need_it() -> None:
    # GC-1 is down on days 2-4. E1 (2 days) fits before it, days 0-1; E2 (3 days) does not, and waits for
    # it: days 5-7. The docks are free all along; without the crane's outage E2 would run 2-5.
    tasks = [
        task("E1", 2, "ERE", resource="DOCK-1", crane="GC-1"),
        task("E2", 3, "ERE", resource="DOCK-2", crane="GC-1"),
    ]
    req, s = solved(tasks=tasks, resources=[*DOCKS, GC1], downtimes=[down("GC-1", 2, 3)])
    assert {t.code: (t.start_day, t.finish_day) for t in s.tasks} == {"E1": (0, 2), "E2": (5, 8)}
    assert s.critical_path == ("DOWN:GC-1", "E2") and s.status == "optimal"
    assert_chained(req, s)


def test_a_downtime_outside_the_work_changes_nothing() -> None:
    tasks = [task("A", 3, resource="PL-1"), task("B", 4, resource="PL-1")]
    _, s = solved(tasks=tasks, resources=[PL1, PL2], downtimes=[down("PL-2", 50, 5)])
    assert s.makespan_days == 4 and "DOWN:PL-2" not in s.critical_path


def test_a_horizon_within_an_outage_is_too_short() -> None:
    req = ScheduleRequest(
        tasks=[task("A", 3, resource="PL-1")], resources=[PL1], downtimes=[down("PL-1", 1, 5)], horizon_days=7
    )
    with pytest.raises(SchedulingInputError, match=r"horizon_days=7 is too short.*at least 9 days"):
        solve(req)


@pytest.mark.parametrize(
    ("downtime", "says"),
    [
        (
            {"resource": "PL-9", "start_day": 0, "days": 1},
            r"downtimes\.0: resource 'PL-9' is not among the resources \(PL-1, WS-1\)$",
        ),
        (
            {"resource": "PL-1", "start_day": -1, "days": 1},
            r"downtimes\.0: ResourceDowntime 'PL-1': start_day=-1: .*greater than or equal to 0$",
        ),
        (
            {"resource": "PL-1", "start_day": 3, "days": 0},
            r"downtimes\.0: ResourceDowntime 'PL-1': days=0: .*greater than or equal to 1$",
        ),
    ],
)
def test_bad_downtimes_are_one_line_errors(downtime: dict[str, Any], says: str) -> None:
    with pytest.raises(SchedulingInputError, match=says) as caught:
        ScheduleRequest(tasks=[task("A", 1, resource="PL-1")], resources=[PL1, WS1], downtimes=[downtime])
    message = str(caught.value)
    assert "\n" not in message and message.startswith("scheduling: ")
    assert str(pickle.loads(pickle.dumps(caught.value))) == message


def test_a_downtime_on_its_own_names_its_resource() -> None:
    with pytest.raises(SchedulingInputError, match=r"^scheduling: ResourceDowntime 'PL-2': days=0: "):
        down("PL-2", 10, 0)
    assert down("PL-2", 10, 3).end_day == 13


def test_validator_reports_a_task_run_during_a_downtime() -> None:
    tasks = [task("A", 3, resource="PL-1"), task("B", 3, resource="PL-2")]
    req, s = solved(tasks=tasks, resources=[PL1, PL2])  # both from day 0, one on each line
    downed = req.model_copy(update={"downtimes": (down("PL-2", 1, 2),)})
    found = violations(downed, s)
    assert "B runs on PL-2 on day 1, while PL-2 is down" in found
    assert "2 tasks run on panel_lines on day 1, which have capacity 1 that day" in found
    # a critical path that blames an outage that did not hold its first task up
    blamed = s.model_copy(update={"critical_path": ("DOWN:PL-2", *s.critical_path)})
    assert any("does not start the day PL-2 is back" in v for v in violations(downed, blamed))
    misplaced = s.model_copy(update={"critical_path": (*s.critical_path, "DOWN:PL-2")})
    assert any("an outage can only lead it" in v for v in violations(downed, misplaced))


def held(req: ScheduleRequest, kind: dict[str, str], t: ScheduleTask) -> list[list[str]]:
    """Each set of resources the task could hold: a resource of its kind (or the named one) and its crane."""
    if t.duration_days == 0:
        return [[]]
    crane = [t.crane] if t.crane else []
    if t.resource is None:
        return [crane]
    lines = [n for n in kind if kind[n] == kind[t.resource]] if req.resource_choice == "same_kind" else []
    return [[n, *crane] for n in (lines or [t.resource])]


def brute_force_with_downtimes(req: ScheduleRequest) -> int:
    """The optimum by trying every start day and, where a task may move within its kind, every resource of it."""
    kind: dict[str, str] = {r.name: r.kind for r in req.resources}
    cap = {r.name: r.capacity for r in req.resources}
    downed = {(d.resource, day) for d in req.downtimes for day in range(d.start_day, d.end_day)}
    tasks = list(req.tasks)  # in topological order, as `random_request` makes them
    preds = {t.code: [b for b, a in req.precedences if a == t.code] for t in tasks}
    last_outage = max((d.end_day for d in req.downtimes), default=0)
    horizon = max(t.release_day for t in tasks) + last_outage + sum(t.duration_days for t in tasks)
    usage: Counter[tuple[str, int]] = Counter()
    finish: dict[str, int] = {}
    best = horizon

    def fits(names: list[str], s: int, days: int) -> bool:
        return all(usage[(n, d)] < cap[n] and (n, d) not in downed for n in names for d in range(s, s + days))

    def occupy(names: list[str], s: int, days: int, delta: int) -> None:
        for n in names:
            for d in range(s, s + days):
                usage[(n, d)] += delta

    def place(k: int, makespan: int) -> None:
        nonlocal best
        if makespan >= best:
            return
        if k == len(tasks):
            best = makespan
            return
        t = tasks[k]
        earliest = max([t.release_day] + [finish[p] for p in preds[t.code]])
        for s in range(earliest, horizon - t.duration_days + 1):
            for names in (names for names in held(req, kind, t) if fits(names, s, t.duration_days)):
                occupy(names, s, t.duration_days, 1)
                finish[t.code] = s + t.duration_days
                place(k + 1, max(makespan, s + t.duration_days))
                occupy(names, s, t.duration_days, -1)

    place(0, 0)
    return best


def random_downtimes(rng: random.Random) -> list[ResourceDowntime]:
    names = [r.name for r in RANDOM_RESOURCES]
    return [down(rng.choice(names), rng.randint(0, 6), rng.randint(1, 4)) for _ in range(rng.randint(1, 3))]


@pytest.mark.parametrize("seed", range(30))
def test_random_downtimes_keep_schedules_valid_and_never_shorter(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(1000 + seed)
    plain = random_request(rng, rng.choice(["same_kind", "named"]))
    req = plain.model_copy(update={"downtimes": tuple(random_downtimes(rng))})
    before, after = solve(plain), solve(req)
    assert violations(req, after) == []
    assert_chained(req, after)
    assert after.makespan_days >= before.makespan_days
    optimum = brute_force_with_downtimes(req)
    assert (after.makespan_days, after.status, after.best_bound) == (optimum, "optimal", optimum)
    # the greedy schedule alone (as if CP-SAT found nothing in time) keeps the downtimes too
    monkeypatch.setattr(scheduling_solve, "_cp_sat", lambda *args: None)
    greedy = solve(req)
    assert violations(req, greedy) == [] and greedy.best_bound <= optimum <= greedy.makespan_days
    assert_chained(req, greedy)


def test_a_panel_line_down_on_a_yard(yard30: YardStore) -> None:
    base = request_from_yard(yard30, workers=1, deterministic_limit=0.5)
    before = solve(base)
    # take PL-2 out for 3 days from the first day it runs something in the adopted schedule
    first = min((t for t in before.tasks if t.resource == "PL-2"), key=lambda t: t.start_day)
    outage = ResourceDowntime(resource="PL-2", start_day=first.start_day, days=3, reason="hydraulics")
    req = request_from_yard(yard30, workers=1, deterministic_limit=0.5, downtimes=[outage])
    assert req.downtimes == (outage,)
    after = solve(req)
    assert violations(req, after) == []
    assert_chained(req, after)
    assert after.best_bound >= before.best_bound - 0  # the bound only grows with an outage
    window = range(outage.start_day, outage.end_day)
    assert not [
        t.code for t in after.tasks if t.resource == "PL-2" and set(window) & set(range(t.start_day, t.finish_day))
    ]
    assert after.solve_seconds < 5


def test_release_days_from_the_yard(yard30: YardStore) -> None:
    req = request_from_yard(yard30, release_days={"WP-B012-PNL": 5})
    released = {t.code: t.release_day for t in req.tasks}
    assert released["WP-B012-PNL"] == 5 and sum(released.values()) == 5
    with pytest.raises(
        SchedulingInputError, match=r"release_days given for 1 unknown work package code.*'WP-B999-PNL'"
    ):
        request_from_yard(yard30, release_days={"WP-B999-PNL": 5})
    with pytest.raises(SchedulingInputError, match=r"release day for 'WP-B012-PNL' must be a whole day >= 0, got -1"):
        request_from_yard(yard30, release_days={"WP-B012-PNL": -1})
    with pytest.raises(SchedulingInputError, match=r"downtimes\.0: resource 'PL-9' is not among the resources \(PL-1"):
        request_from_yard(yard30, downtimes=[down("PL-9", 0, 1)])
