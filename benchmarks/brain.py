"""Benchmark of the brain's end-to-end latency (`brain.supervisor.Brain.ask`) on a big yard, from the first question.

Run it from the repository root (with the package installed, or with `PYTHONPATH=.`):

```
python benchmarks/brain.py                      # the 25M-part yard, 15 warm questions per category
python benchmarks/brain.py --size 1M            # the 1M-part yard (generated if missing), 15 per category
python benchmarks/brain.py --quick              # a 200k-part yard, 3 warm questions per category (about a minute)
python benchmarks/brain.py --yard PATH --repeat 30 --profile
```

It prints a table and writes `benchmarks/results/brain-<yard size>.json` (`brain-<size>-quick.json` with `--quick`)
with every question asked, its timings, the memory it took, and the machine it ran on (CPU count and model, RAM,
load average, Python, numpy, pyarrow, langgraph, onnxruntime and qdrant-client versions, date).

What it measures, as `shipbrain serve` and `shipbrain ask` do it minus process start:

- **First questions, each in a fresh process** (`python benchmarks/brain.py --child ...`: nothing is warm in
  memory), over one data dir made for the run:
  - *cold*: no kept predictions or schedule on disk. The process opens a `Brain`, runs `YardContext.warm()` (the
    models over every joint and outfitting item, the base schedule solved; the service runs it in the background
    when it starts) with the time of each step, then asks its first schedule question.
  - *after a restart*: the kept files exist (the same data dir). One new process per category asks its first
    question: a schedule question, a what-if (a resource down, a code late), a weld-risk question (and critical
    path and cross-model what-ifs where the product has them), without `warm()`: the latency a planner sees when
    the first question comes before the background warm-up is done. One more process times `warm()` alone over
    the kept files (how long a restarted service takes to be warm).
  Opening the brain (imports, `Brain(yard)`) is timed apart in each process; each question's time is `Brain.ask`.
- **Warm questions**: then this process opens one `Brain(yard, settings)` on the same data dir (timed apart) and
  asks, per category, `--repeat` + 1 questions, each about a subject picked seeded-randomly (`--seed`) from the
  yard (by role: the nodes of each role, whatever the yard calls its kinds): lookups ("what is X"), upstream
  ("what must be done before X") and downstream ("what waits on X") over codes of every role in turn; block-level
  weld risk, the weld risk of one joint, NDT plans by a share of the joints and by an hours budget; "when will
  BLOCK be erected?"; the critical path into a block; what-ifs (a resource down N days from day D, a code of any
  role late N days); cross-model what-ifs ("if welding on BLOCK takes 20 % longer", "if outfitting rework on
  BLOCK doubles"); procedure questions answered from the document store. The
  first question of each category is reported apart as "first" (it loads what the category needs); p50, p95 and
  max are over the others ("warm").
- **Every answer is checked**: the plan's intent must be the category's, the category's tool must run, no tool
  result may carry an error, and the tool's arguments must be the ones asked (the code, the resource, the days
  and start day, the NDT budget or hours): a budget silently replaced by a default is a failure. A failed
  question is reported and left out of the timings (the exit status is then 1). A category the product does not
  offer (no `critical_path` tool, no tool taking a `welding_factor` or `rework_factor`, an NDT plan without an
  hours budget) is skipped and says why; one whose first question the product refuses (the weld risk of a single
  joint) is reported as not supported, with the product's answer.
- **Baseline in the same run**: each answer's tool results carry the time the tool took (`ToolResult.seconds`);
  the raw tool time is set against the end-to-end `ask` time, giving the supervisor's overhead (planner,
  LangGraph, SQLite checkpoints, pydantic round trips) in milliseconds and as a ratio. The planner alone
  (`planner.plan`) is timed on each question too.
- **Document search**: `DocumentStore(settings).search(query)` on the demo corpus (`--docs-data-dir`, default
  `.shipbrain`), the store opened once (timed apart), then `--repeat` + 1 searches.
- **Memory**: this process and every process it starts (the fresh processes, their Ray daemons and workers) are
  sampled together (summed PSS: pages shared through the yard's memory maps count once), with the machine's used
  and available memory. Past `--memory-limit` (default 16 GiB) for the tree, or under 2 GiB available on the
  machine, the benchmark stops the processes it started and reports it: making the 25M-part store (`shipbrain yard
  generate`: generate, then import) runs in its own process before anything else and is not watched, the cold
  `warm()` predicts 22.5M joints once (Ray, a few GiB) and the kept predictions are memory-mapped (~0.4 GiB on
  disk).

The brain keeps its checkpoints and the yard's kept files in a temporary data dir (so benchmark threads do not
pile up in the demo's `brain.sqlite`, and the cold run is cold); that dir links `qdrant/` (and `adapters.toml`,
when there is one) to the docs data dir, so procedure questions search the demo corpus and the models are the
ones configured there. The embedded Qdrant store is locked by whoever opens it: nothing else may hold it while
this runs.

The machine is shared: the load average at the start of each category and the CPU other processes used
meanwhile are recorded. `--profile` asks the slowest question of each category once more under cProfile and
prints the top functions.

Targets, from the product issues, checked on yards of 20M parts or more (shown for information on smaller ones):
every question category p95 < 2 s (issue 11, "fast at 25M from the first question"), and so is every first
question after a restart and the first schedule question after a cold `warm()`; lookup, upstream and downstream
p50 < 1 s as before; document search p50 < 50 ms (the demo corpus, whatever the yard). `warm()` itself has no
target: the service runs it in the background and shows its progress.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib
import io
import json
import math
import os
import pstats
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pyarrow.compute as pc
from _common import (
    REPO,
    CpuProbe,
    GiB,
    Json,
    MemoryWatch,
    ensure_yard,
    file_backed_rss_bytes,
    fmt_bytes,
    fmt_s,
    fmt_x,
    machine_info,
    parse_size,
    peak_rss_bytes,
    quantiles,
    rss_bytes,
    run_child,
    size_label,
    store_summary,
    write_json,
    yard_paths,
)
from rich.console import Console
from rich.table import Table

from knowledge.settings import Settings
from knowledge.store import YardStore

DEFAULT_DATA_DIR = REPO / ".shipbrain" / "bench"
DEFAULT_PARTS, QUICK_PARTS = 25_000_000, 200_000
"""The stores asked about unless `--yard` or `--size` (seed 1, shared with the other benchmarks, made if missing)."""
DEFAULT_DOCS_DATA_DIR = REPO / ".shipbrain"
DEFAULT_RESULTS_DIR = REPO / "benchmarks" / "results"
DEFAULT_REPEAT = 15
QUICK_REPEAT = 3
TARGET_MIN_PARTS = 20_000_000
"""The latency targets are about the 25M-part yard; smaller yards show them for information."""
TARGET_P95_S = 2.0
"""Issue 11: every question category p95 under 2 s on the 25M-part yard, the first question after a restart too."""
FIRST_TARGET_S = TARGET_P95_S
DEFAULT_MEMORY_LIMIT_GIB = 16.0
DEFAULT_FRESH_TIMEOUT_S = 1800.0
MIN_AVAILABLE_BYTES = 2 * GiB
PROFILE_LINES = 25
CHILD_MARK = "BRAIN-BENCH-RESULT "
"""The line a fresh process prints its measurements on (stdout)."""
GIVEN = "<given>"
"""An expected argument that must be there, whatever its value (the product chooses the scale)."""
DEPENDENCY_ROLES = ("assembly", "part", "joint", "block", "sub_assembly", "outfitting_item")
"""Roles of the codes the lookup and dependency questions cycle through (an assembly first: its lookup is the
costliest); a role the yard does not map is left out."""
LATE_ROLES = ("block", "assembly", "part", "sub_assembly", "outfitting_item")
"""Roles of the codes the "late" what-ifs cycle through."""
NDT_BUDGETS = (2, 5, 10, 20)
NDT_HOURS = (20, 40, 80)
WELDING_SLOWER_PCT = (10, 20, 30, 50)
OUTAGE_DAYS = (1, 10)
LATE_DAYS = (1, 15)
"""What-if durations drawn from, inclusive (the issue's property test ranges)."""
OUTAGE_START_SHARE = 0.7
"""Outages start on a day within this share of the yard's planned horizon."""
DEFAULT_HORIZON_DAYS = 100
"""The planned horizon of a yard whose work packages give no planned start and finish."""
PROCEDURE_QUESTIONS = (
    "what is the preheat procedure for thick high strength plate",
    "which WPS covers overhead FCAW welding",
    "what lessons were learned about pipe supports",
    "what are the acceptance criteria for undercut",
    "what procedure do we follow for welding in the vertical position",
    "what are the rules for fixing cable runs to bulkheads",
    "what does the standard say about interpass temperature",
    "what lessons learned are there about distortion of thin plate",
)
"""Procedure questions (routed by the planner's `procedure` rule), asked in turn."""
SEARCH_QUERIES = (
    "preheat for thick high strength plate",
    "overhead flux cored welding procedure",
    "pipe support spacing",
    "undercut acceptance",
    "vertical up welding technique",
    "cable tray fixing rules",
    "interpass temperature limit",
    "distortion of thin plate",
)
SEARCH_TARGET_S = 0.050


# ---- what a question is about --------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """What one question is about, picked seeded-randomly from the yard."""

    code: str | None = None
    """The yard code it names."""
    kind: str | None = None
    """The role of that code (block, joint, ...: its kind in the yard's canonical words)."""
    resource: str | None = None
    """The resource that is down (a what-if)."""
    days: int | None = None
    """How long it is down or late, days."""
    start_day: int | None = None
    """The schedule day an outage starts."""
    amount: float | None = None
    """An NDT budget (%), NDT hours, or how much longer welding takes (%)."""

    def to_json(self) -> Json:
        """The fields that are set."""
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class YardFacts:
    """What subjects are picked from: the store, the yard's resources and its planned horizon."""

    yard: YardStore
    resources: tuple[str, ...]
    horizon_days: int

    @classmethod
    def of(cls, yard: YardStore) -> YardFacts:
        """Read from the store: the codes of the role resource, the work packages' planned dates."""
        resources = tuple(sorted(yard.codes_of(yard.nodes_of_role("resource"))))
        horizon = DEFAULT_HORIZON_DAYS
        if {"planned_start", "planned_finish"} <= set(yard.fields("work_package")):
            wp = yard.role_table("work_package", ["planned_start", "planned_finish"])
            first, last = pc.min(wp.column("planned_start")).as_py(), pc.max(wp.column("planned_finish")).as_py()
            if first is not None and last is not None:
                horizon = (last - first).days
        return cls(yard, resources, max(horizon, 1))


Picker = Callable[[YardFacts, int, np.random.Generator], list[Subject]]


def random_nodes(yard: YardStore, role: str, count: int, rng: np.random.Generator) -> list[int]:
    """`count` distinct nodes of one role (fewer if the yard has fewer, none for a role it does not map)."""
    nodes = yard.nodes_of_role(role)
    return [int(n) for n in rng.choice(nodes, size=min(count, len(nodes)), replace=False)]


def codes_of_roles(roles: Sequence[str]) -> Picker:
    """Codes of every role in turn, all different."""

    def pick(facts: YardFacts, count: int, rng: np.random.Generator) -> list[Subject]:
        yard = facts.yard
        per_role = {role: random_nodes(yard, role, -(-count // len(roles)), rng) for role in roles}
        ordered = [
            (role, per_role[role][i])
            for i in range(max(map(len, per_role.values()), default=0))
            for role in roles
            if i < len(per_role[role])
        ]
        return [Subject(code=yard.code_of(n), kind=role) for role, n in ordered[:count]]

    return pick


def nothing(facts: YardFacts, count: int, rng: np.random.Generator) -> list[Subject]:
    """Questions about no code (procedure questions)."""
    return [Subject() for _ in range(count)]


def blocks_with(amounts: Sequence[float] = ()) -> Picker:
    """Blocks, all different, each with the next of `amounts` (in turn) when there are any."""

    def pick(facts: YardFacts, count: int, rng: np.random.Generator) -> list[Subject]:
        yard = facts.yard
        blocks = random_nodes(yard, "block", count, rng)
        return [
            Subject(code=yard.code_of(b), kind="block", amount=float(amounts[i % len(amounts)]) if amounts else None)
            for i, b in enumerate(blocks)
        ]

    return pick


def outages(facts: YardFacts, count: int, rng: np.random.Generator) -> list[Subject]:
    """Distinct (resource, days, start day): every resource of the yard, down 1-10 days, from a day in the horizon."""
    latest = max(int(facts.horizon_days * OUTAGE_START_SHARE), 1)
    seen: set[tuple[str, int, int]] = set()
    out: list[Subject] = []
    while len(out) < count and len(seen) < len(facts.resources) * OUTAGE_DAYS[1] * latest:
        pick = (
            str(rng.choice(facts.resources)),
            int(rng.integers(OUTAGE_DAYS[0], OUTAGE_DAYS[1] + 1)),
            int(rng.integers(0, latest)),
        )
        if pick not in seen:
            seen.add(pick)
            out.append(Subject(resource=pick[0], days=pick[1], start_day=pick[2]))
    return out


def late_codes(facts: YardFacts, count: int, rng: np.random.Generator) -> list[Subject]:
    """Codes of every late-able role in turn, each late 1-15 days."""
    codes = codes_of_roles(LATE_ROLES)(facts, count, rng)
    days = rng.integers(LATE_DAYS[0], LATE_DAYS[1] + 1, size=len(codes))
    return [Subject(code=s.code, kind=s.kind, days=int(d)) for s, d in zip(codes, days, strict=True)]


# ---- categories ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Category:
    """One kind of question: how it is phrased, what it is about, which tool must answer it and with what."""

    name: str
    label: str
    tool: str | None
    """The tool that must answer (None: whichever tool takes `needs_arg`)."""
    phrase: Callable[[Subject, int], str]
    """The question about one subject (the index varies the wording)."""
    pick: Picker
    expect: Callable[[Subject], Json] = lambda _: {}
    """The arguments the tool must have run with (`GIVEN`: any value)."""
    targets: tuple[tuple[str, float], ...] = (("p95_s", TARGET_P95_S),)
    needs_arg: str | None = None
    """The category runs only if the tool (or some tool) takes this argument."""
    optional: bool = False
    """A first question the product refuses means it does not answer this kind yet: reported, not a failure."""
    fresh: bool = False
    """Also asked as the first question of a fresh process after a restart."""


LOOKUP_TARGETS = (("p50_s", 1.0), ("p95_s", TARGET_P95_S))
CATEGORIES: tuple[Category, ...] = (
    Category(
        "lookup",
        "lookup: what is X",
        "lookup",
        lambda s, _: f"what is {s.code}",
        codes_of_roles(DEPENDENCY_ROLES),
        targets=LOOKUP_TARGETS,
    ),
    Category(
        "upstream",
        "upstream: what must be done before X",
        "upstream",
        lambda s, _: f"what must be done before {s.code}",
        codes_of_roles(DEPENDENCY_ROLES),
        targets=LOOKUP_TARGETS,
    ),
    Category(
        "downstream",
        "downstream: what waits on X",
        "downstream",
        lambda s, _: f"what waits on {s.code}",
        codes_of_roles(DEPENDENCY_ROLES),
        targets=LOOKUP_TARGETS,
    ),
    Category(
        "weld_risk",
        "weld risk of a block",
        "weld_risk",
        lambda s, _: f"how risky is the welding in block {s.code}",
        blocks_with(),
        expect=lambda s: {"code": s.code},
        fresh=True,
    ),
    Category(
        "joint_risk",
        "weld risk of one joint",
        "weld_risk",
        lambda s, _: f"how risky is joint {s.code}?",
        codes_of_roles(("joint",)),
        expect=lambda s: {"code": s.code},
        optional=True,
    ),
    Category(
        "ndt_plan",
        "NDT plan of a block, % of joints",
        "ndt_plan",
        lambda s, _: f"which joints of {s.code} need NDT at {s.amount:g}%",
        blocks_with(NDT_BUDGETS),
        expect=lambda s: {"code": s.code, "budget": (s.amount or 0) / 100},
    ),
    Category(
        "ndt_hours",
        "NDT plan of a block, hours budget",
        "ndt_plan",
        lambda s, _: f"NDT plan for {s.code} with {s.amount:g} hours of inspection",
        blocks_with(NDT_HOURS),
        expect=lambda s: {"code": s.code, "hours": s.amount},
        needs_arg="hours",
    ),
    Category(
        "schedule",
        "schedule: when will a block be erected?",
        "erection_schedule",
        lambda s, _: f"when will {s.code} be erected?",
        blocks_with(),
        expect=lambda s: {"code": s.code},
        fresh=True,
    ),
    Category(
        "critical_path",
        "critical path into a block",
        "critical_path",
        lambda s, _: f"what is the critical path into {s.code}?",
        blocks_with(),
        expect=lambda s: {"code": s.code},
        fresh=True,
    ),
    Category(
        "whatif_outage",
        "what-if: a resource down N days from day D",
        "what_if",
        lambda s, _: f"what if {s.resource} is down for {s.days} days from day {s.start_day}",
        outages,
        expect=lambda s: {"resource": s.resource, "days": s.days, "start_day": s.start_day},
        fresh=True,
    ),
    Category(
        "whatif_late",
        "what-if: a code late N days",
        "what_if",
        lambda s, _: f"what if {s.code} is late by {s.days} days",
        late_codes,
        expect=lambda s: {"code": s.code, "days": s.days},
        fresh=True,
    ),
    Category(
        "cross_model",
        "cross-model what-if: welding on a block N % longer",
        None,
        lambda s, _: f"if welding on {s.code} takes {s.amount:g} % longer",
        blocks_with(WELDING_SLOWER_PCT),
        expect=lambda s: {"code": s.code, "welding_factor": GIVEN},
        needs_arg="welding_factor",
        fresh=True,
    ),
    Category(
        "cross_model_rework",
        "cross-model what-if: outfitting rework on a block doubles",
        None,
        lambda s, _: f"if outfitting rework on {s.code} doubles",
        blocks_with(),
        expect=lambda s: {"code": s.code, "rework_factor": GIVEN},
        needs_arg="rework_factor",
    ),
    Category(
        "procedure",
        "procedure question (documents)",
        "search_documents",
        lambda _, i: PROCEDURE_QUESTIONS[i % len(PROCEDURE_QUESTIONS)],
        nothing,
    ),
)
CATEGORY = {c.name: c for c in CATEGORIES}


@dataclass(frozen=True)
class Resolved:
    """A category against the installed product: the tool that answers it and its intent, or why it cannot run."""

    tool: str | None
    intent: str | None
    skipped: str | None


def resolve(category: Category) -> Resolved:
    """The tool and intent of a category in the tool registry, or why the product does not offer it."""
    from brain.tools import TOOLS

    if category.tool is not None and category.tool not in TOOLS:
        return Resolved(None, None, f"the product has no tool {category.tool!r} (tools: {', '.join(TOOLS.names())})")
    if category.needs_arg is not None:
        names = [category.tool] if category.tool is not None else TOOLS.names()
        # a question is answered by a tool that changes nothing (adopting a what-if takes the same arguments)
        taking = [
            n for n in names if category.needs_arg in TOOLS.get(n).args.model_fields and not TOOLS.get(n).changes_plan
        ]
        if not taking:
            where = f"tool {category.tool!r} takes" if category.tool else "no tool of the product takes a"
            return Resolved(None, None, f"{where} no {category.needs_arg!r} argument")
        tool = taking[0]
    else:
        assert category.tool is not None
        tool = category.tool
    spec = TOOLS.get(tool)
    return Resolved(tool, spec.intent or spec.name, None)


# ---- asking --------------------------------------------------------------------------------------


def args_problem(args: Json, expected: Json) -> str | None:
    """How a tool's arguments differ from the ones asked for, or None."""
    problems = []
    for key, want in expected.items():
        got = args.get(key)
        if want == GIVEN:
            ok = got is not None
        elif isinstance(want, str):
            ok = isinstance(got, str) and got.upper() == want.upper()
        elif isinstance(want, int | float):
            ok = isinstance(got, int | float) and math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9)
        else:
            ok = got == want
        if not ok:
            problems.append(f"{key}={got!r} (asked {'a value' if want == GIVEN else repr(want)})")
    return "the tool ran with " + ", ".join(problems) if problems else None


def ask_once(brain: Any, question: str, intent: str, tool: str, expected: Json) -> Json:
    """Ask one question; its end-to-end time, the planner's and the tools' times, and what is wrong with it."""
    t0 = time.perf_counter()
    answer = brain.ask(question)
    total = time.perf_counter() - t0
    t1 = time.perf_counter()
    brain.planner.plan(question)  # the planner's first step alone, once more (deterministic)
    plan_s = time.perf_counter() - t1
    errors = [r.error for r in answer.results if r.error]
    mine = next((r for r in answer.results if r.tool == tool), None)
    problem = None
    if answer.plan.intent != intent:
        problem = f"planned as {answer.plan.intent!r} ({answer.plan.reason}), expected {intent!r}"
    elif mine is None:
        ran = ", ".join(r.tool for r in answer.results) or "no tool"
        problem = f"{ran} ran, not {tool}"
    elif errors:
        problem = "; ".join(errors)
    else:
        problem = args_problem(dict(mine.args), expected)
    shown = mine or (answer.results[0] if answer.results else None)
    return {
        "question": question,
        "seconds": total,
        "tool_seconds": sum(r.seconds for r in answer.results),
        "plan_seconds": plan_s,
        "tools": [r.tool for r in answer.results],
        "args": dict(shown.args) if shown else {},
        "numbers": dict(shown.numbers) if shown else {},
        "summary": shown.summary if shown else answer.answer[:200],
        "error": problem,
    }


def by_kind(runs: list[Json]) -> dict[str, Json]:
    """Warm timings per role of the code asked about."""
    kinds = sorted({r["kind"] for r in runs if r.get("kind")})
    return {k: quantiles([r["seconds"] for r in runs if r.get("kind") == k]) for k in kinds}


def summarise(runs: list[Json]) -> Json:
    """The first question apart, quantiles of the warm ones, and the supervisor's overhead."""
    ok = [r for r in runs if r["error"] is None]
    warm = [r for r in runs[1:] if r["error"] is None]
    first = runs[0] if runs and runs[0]["error"] is None else None
    ask = quantiles([r["seconds"] for r in warm])
    tool = quantiles([r["tool_seconds"] for r in warm])
    overhead = quantiles([r["seconds"] - r["tool_seconds"] for r in warm])
    ratios = [r["seconds"] / r["tool_seconds"] for r in warm if r["tool_seconds"] > 0]
    slowest = max(ok, key=lambda r: r["seconds"], default=None)
    return {
        "first_s": first["seconds"] if first else None,
        "first_tool_s": first["tool_seconds"] if first else None,
        "warm": ask,
        "tool_warm": tool,
        "overhead_warm": overhead,
        "plan_p50_s": statistics.median([r["plan_seconds"] for r in warm]) if warm else None,
        "plan_steps": sorted({len(r["tools"]) for r in ok}),
        "ratio_of_p50s": (ask["p50_s"] / tool["p50_s"]) if warm and tool["p50_s"] else None,
        "ratio_p50": statistics.median(ratios) if ratios else None,
        "failures": len(runs) - len(ok),
        "slowest": slowest,
        "by_kind": by_kind(warm),
    }


def profile_question(brain: Any, question: str) -> Json:
    """A question asked once more under cProfile: the top functions by cumulative and by own time."""
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    brain.ask(question)
    profiler.disable()
    wall = time.perf_counter() - t0
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).strip_dirs()
    stats.sort_stats("cumulative").print_stats(PROFILE_LINES)
    stats.sort_stats("tottime").print_stats(PROFILE_LINES)
    return {"question": question, "seconds": wall, "text": text.getvalue()}


def skipped(category: Category, reason: str, *, unsupported: bool = False, runs: Sequence[Json] = ()) -> Json:
    """A category that did not run: why (the product does not offer it, or refused its first question)."""
    return {
        "category": category.name,
        "skipped": reason,
        "unsupported": unsupported,
        "runs": list(runs),
        **summarise([]),
        "failures": 0,
    }


def run_category(
    brain: Any,
    category: Category,
    resolved: Resolved,
    subjects: list[Subject],
    args: argparse.Namespace,
    console: Console,
) -> Json:
    """Ask every question of one category, in order; its runs, summary and contention figures."""
    if resolved.skipped is not None:
        console.log(f"{category.name}: skipped: {resolved.skipped}")
        return skipped(category, resolved.skipped)
    assert resolved.tool is not None and resolved.intent is not None
    console.log(f"{category.name}: {len(subjects)} questions ...")
    gc.collect()
    probe = CpuProbe()
    runs = []
    for i, subject in enumerate(subjects):
        question = category.phrase(subject, i)
        run = ask_once(brain, question, resolved.intent, resolved.tool, category.expect(subject))
        run["subject"] = subject.to_json()
        run["kind"] = subject.kind
        runs.append(run)
        if run["error"] and category.optional and i == 0:
            reason = f"{question!r}: {run['error']}"
            console.log(f"{category.name}: not supported by the product: {reason}")
            return skipped(category, f"not supported: {reason}", unsupported=True, runs=runs)
        if run["error"]:
            console.print(f"[red]{category.name}: {run['question']!r} failed:[/] {run['error']}")
    out: Json = {
        "category": category.name,
        "tool": resolved.tool,
        "intent": resolved.intent,
        "skipped": None,
        "runs": runs,
        **summarise(runs),
    }
    out["contention"] = probe.stop()
    out["rss_after_bytes"] = rss_bytes()
    if args.profile and out["slowest"]:
        out["profile"] = profile_question(brain, out["slowest"]["question"])
    return out


def document_search(docs_settings: Settings, count: int, console: Console) -> Json:
    """Open the demo document store once, then search it `count` times (the first apart)."""
    from knowledge.documents import DocumentStore

    console.log(f"document search: {count} queries on {docs_settings.data_dir / 'qdrant'} ...")
    t0 = time.perf_counter()
    store = DocumentStore(docs_settings)
    open_s = time.perf_counter() - t0
    try:
        sections = store.count()
        probe = CpuProbe()
        runs: list[Json] = []
        for i in range(count):
            query = SEARCH_QUERIES[i % len(SEARCH_QUERIES)]
            t1 = time.perf_counter()
            hits = store.search(query)
            seconds = time.perf_counter() - t1
            best = hits[0].citation if hits else None
            runs.append(
                {
                    "query": query,
                    "seconds": seconds,
                    "hits": len(hits),
                    "best": best,
                    "error": None if hits else "no hits",
                }
            )
        contention = probe.stop()
    finally:
        store.close()
    warm = [r["seconds"] for r in runs[1:] if r["error"] is None]
    return {
        "open_s": open_s,
        "sections": sections,
        "runs": runs,
        "first_s": runs[0]["seconds"] if runs else None,
        "warm": quantiles(warm),
        "failures": sum(r["error"] is not None for r in runs),
        "contention": contention,
    }


def brain_settings(data_dir: Path) -> Settings:
    """Settings over the run's data dir: the offline planner and SQLite checkpoints, whatever the environment says."""
    return Settings(data_dir=data_dir, llm_base_url=None, llm_model=None, postgres_dsn=None)


def link_docs(data_dir: Path, docs_data_dir: Path) -> None:
    """Link the docs data dir's document store and model configuration into the run's data dir."""
    for name in ("qdrant", "adapters.toml"):
        if (docs_data_dir / name).exists():
            (data_dir / name).symlink_to((docs_data_dir / name).resolve())


# ---- first questions, each in a fresh process -----------------------------------------------------


def child_main(spec: Json) -> Json:
    """In a fresh process: open a brain on the data dir, optionally `warm()` it, ask the questions; the timings."""
    t0 = time.perf_counter()
    supervisor = importlib.import_module("brain.supervisor")
    t1 = time.perf_counter()
    brain = supervisor.Brain(Path(spec["yard"]), brain_settings(Path(spec["data_dir"])))
    t2 = time.perf_counter()
    out: Json = {"import_s": t1 - t0, "brain_s": t2 - t1, "rss_after_open_bytes": rss_bytes()}
    try:
        if spec["warm"]:
            steps: list[tuple[str, float]] = []
            t3 = time.perf_counter()
            brain.context.warm(lambda step, done, total: steps.append((step, time.perf_counter())))
            t4 = time.perf_counter()
            ends = [at for _, at in steps[1:]] + [t4]
            out["warm_s"] = t4 - t3
            timed = zip(steps, ends, strict=True)
            out["warm_steps_s"] = {name: end - at for (name, at), end in timed if name != "done"}
            out["cache"] = brain.context.cache.describe()
        if spec.get("profile"):  # the question once, under cProfile (its timing is not reported as a first question)
            out["profiles"] = [profile_question(brain, q["question"]) for q in spec["questions"]]
        else:
            out["runs"] = [
                ask_once(brain, q["question"], q["intent"], q["tool"], q["expect"]) | {"category": q["category"]}
                for q in spec["questions"]
            ]
    finally:
        brain.close()
    out["peak_rss_bytes"] = peak_rss_bytes()
    return out


def fresh_process(spec: Json, args: argparse.Namespace, console: Console, what: str) -> Json:
    """Run `child_main(spec)` in a new Python process; its measurements, wall time, CPU and memory.

    The process (with whatever it started: Ray's daemons and workers) is stopped if it outgrows the memory limit,
    leaves the machine short of memory, or runs past `--fresh-timeout`.
    """
    console.log(f"fresh process: {what} ...")
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    stopper = Stopper(console)
    watch = MemoryWatch(
        interval_s=1.0,
        limit_bytes=int(args.memory_limit * GiB),
        min_available_bytes=MIN_AVAILABLE_BYTES,
        on_limit=stopper.stop,
    ).start()
    timer = threading.Timer(args.fresh_timeout, stopper.stop, [f"it ran longer than {args.fresh_timeout:g} s"])
    timer.start()
    try:
        done = run_child(argv, cwd=REPO, env={**os.environ, "SHIPBRAIN_PROGRESS": "false"})
    finally:
        timer.cancel()
        memory = watch.stop()
    found = [line for line in done.stdout.splitlines() if line.startswith(CHILD_MARK)]
    base: Json = {
        "what": what,
        "process_s": done.wall_s,
        "cpu_s": done.cpu_s,
        "process_peak_rss_bytes": done.peak_rss_bytes,
        "memory": memory,
    }
    if done.returncode != 0 or not found:
        reason = stopper.reason or f"exit status {done.returncode}"
        last = (done.stderr.strip().splitlines() or [""])[-1]
        console.print(f"[red]fresh process ({what}) failed: {reason}[/]\n{done.stderr[-3000:]}")
        return {**base, "error": f"{reason}: {last}" if last else reason}
    result: Json = json.loads(found[-1][len(CHILD_MARK) :])
    for run in result.get("runs", []):
        if run["error"]:
            console.print(f"[red]fresh process ({what}): {run['question']!r} failed:[/] {run['error']}")
    return {**base, **result, "error": None}


class Stopper:
    """Stops every process this benchmark started (its descendants, listed first, then killed by id), once."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.reason: str | None = None
        self._lock = threading.Lock()

    def stop(self, reason: str) -> None:
        """Stop them, saying why."""
        with self._lock:
            if self.reason is not None:
                return
            self.reason = reason
        self.console.print(f"[red]{reason}: stopping the processes this benchmark started[/]")
        for child in psutil.Process().children(recursive=True):  # Ray's workers too, before their raylet goes
            try:
                child.kill()
            except psutil.Error:  # gone already
                continue


def question_spec(category: Category, resolved: Resolved, subject: Subject) -> Json:
    """One question for a fresh process, with what its answer must show."""
    return {
        "category": category.name,
        "question": category.phrase(subject, 0),
        "intent": resolved.intent,
        "tool": resolved.tool,
        "expect": category.expect(subject),
        "subject": subject.to_json(),
    }


def first_questions(
    args: argparse.Namespace,
    console: Console,
    data_dir: Path,
    resolved: dict[str, Resolved],
    subjects: dict[str, list[Subject]],
) -> Json:
    """Cold (fresh data dir) then after a restart (the kept files): the first questions, each in a fresh process.

    Each category's fresh question is about its last subject, one the warm questions do not ask about.
    """
    spec: Json = {"yard": str(args.yard), "data_dir": str(data_dir)}
    schedule = CATEGORY["schedule"]
    cold = fresh_process(
        {
            **spec,
            "warm": True,
            "questions": [question_spec(schedule, resolved["schedule"], subjects["schedule"][-1])],
        },
        args,
        console,
        "cold: YardContext.warm() over an empty data dir, then the first schedule question",
    )
    restart: dict[str, Json] = {}
    if cold["error"] is not None:  # it could not open or warm the brain: the processes after it would fail the same way
        return {"data_dir": str(data_dir), "cold": cold, "restart": restart, "restart_warm": cold}
    for c in CATEGORIES:
        r = resolved[c.name]
        if not c.fresh or r.skipped is not None or not subjects[c.name]:
            continue
        q = question_spec(c, r, subjects[c.name][-1])
        restart[c.name] = fresh_process(
            {**spec, "warm": False, "questions": [q]}, args, console, f"after a restart: {q['question']!r}"
        )
        if args.profile:
            again = fresh_process(
                {**spec, "warm": False, "questions": [q], "profile": True},
                args,
                console,
                f"after a restart, under cProfile: {q['question']!r}",
            )
            restart[c.name]["profile"] = (again.get("profiles") or [None])[0] or {"error": again["error"]}
    restart_warm = fresh_process(
        {**spec, "warm": True, "questions": []}, args, console, "after a restart: YardContext.warm() over kept files"
    )
    return {"data_dir": str(data_dir), "cold": cold, "restart": restart, "restart_warm": restart_warm}


# ---- reporting -----------------------------------------------------------------------------------


def mark(passed: bool | None, applies: bool) -> str:
    """PASS, FAIL, n/a (target shown for information) or nothing."""
    if passed is None:
        return ""
    if not applies:
        return "[dim]n/a[/]"
    return "[green]PASS[/]" if passed else "[red]FAIL[/]"


def target_text(targets: Sequence[tuple[str, float]]) -> str:
    """`p50 < 1.00 s, p95 < 2.00 s`."""
    return ", ".join(f"{stat.removesuffix('_s')} < {fmt_s(limit)}" for stat, limit in targets)


def check_targets(warm: Json, targets: Sequence[tuple[str, float]]) -> bool | None:
    """Whether every target is met (None: nothing measured)."""
    if not targets or warm["n"] == 0:
        return None
    return all(warm[stat] is not None and warm[stat] < limit for stat, limit in targets)


def first_row(metric: str, record: Json, run: Json | None, target_s: float | None) -> Json:
    """A table line for one fresh-process measurement."""
    failed = record.get("error") is not None or (run is not None and run["error"] is not None)
    seconds = None if failed or run is None else run["seconds"]
    return {
        "metric": metric,
        "first_s": seconds,
        "tool_p50_s": None if failed or run is None else run["tool_seconds"],
        "fresh_failed": failed,
        "target": None if target_s is None else f"< {fmt_s(target_s)}",
        "passed": None if target_s is None or seconds is None else seconds < target_s,
        "error": record.get("error") or (run["error"] if run else None),
    }


def report_rows(result: Json) -> list[Json]:
    """Every line of the table, as JSON (also what the result file keeps)."""
    rows: list[Json] = []
    fresh = result.get("first_questions")
    if fresh:
        cold = fresh["cold"]
        warm_s = cold.get("warm_s") if cold.get("error") is None else None
        rows.append({"metric": "cold: YardContext.warm() (fresh data dir)", "first_s": warm_s, "section": "first"})
        cold_run = (cold.get("runs") or [None])[0]
        rows.append(first_row("cold: first schedule question after warm()", cold, cold_run, FIRST_TARGET_S))
        for name, record in fresh["restart"].items():
            run = (record.get("runs") or [None])[0]
            rows.append(first_row(f"restart: first question, {CATEGORY[name].label}", record, run, FIRST_TARGET_S))
        rw = fresh["restart_warm"]
        rows.append(
            {
                "metric": "restart: YardContext.warm() over kept files",
                "first_s": rw.get("warm_s") if rw.get("error") is None else None,
            }
        )
    rows.append({"metric": "open: import brain.supervisor + Brain(yard)", "first_s": result["open"]["total_s"]})
    for c in CATEGORIES:
        s = result["categories"][c.name]
        if s["skipped"] is not None:
            rows.append({"metric": c.label, "skipped": s["skipped"], "unsupported": s["unsupported"]})
            continue
        warm, tool, over = s["warm"], s["tool_warm"], s["overhead_warm"]
        rows.append(
            {
                "metric": c.label,
                "n": warm["n"],
                "failures": s["failures"],
                "first_s": s["first_s"],
                "p50_s": warm["p50_s"],
                "p95_s": warm["p95_s"],
                "max_s": warm["max_s"],
                "tool_p50_s": tool["p50_s"],
                "overhead_p50_s": over["p50_s"],
                "ratio": s["ratio_of_p50s"],
                "plan_p50_s": s["plan_p50_s"],
                "target": target_text(c.targets),
                "passed": check_targets(warm, c.targets),
            }
        )
    d = result["document_search"]
    rows.append({"metric": "document store: open (DocumentStore(settings))", "first_s": d["open_s"]})
    w = d["warm"]
    rows.append(
        {
            "metric": "document search: DocumentStore.search",
            "n": w["n"],
            "failures": d["failures"],
            "first_s": d["first_s"],
            "p50_s": w["p50_s"],
            "p95_s": w["p95_s"],
            "max_s": w["max_s"],
            "target": f"p50 < {fmt_s(SEARCH_TARGET_S)}",
            "passed": None if w["p50_s"] is None else w["p50_s"] < SEARCH_TARGET_S,
            "always_applies": True,
        }
    )
    return rows


def print_report(console: Console, result: Json, rows: list[Json]) -> None:
    """The results table, the first questions' details, and per category its slowest question."""
    yard = result["yard"]
    title = (
        f"Brain end to end (Brain.ask), {size_label(yard['parts'])} parts: {yard['num_nodes']:,} nodes, "
        f"{yard['num_edges']:,} edges; planner: {result['open']['planner']}"
    )
    table = Table(title=title, caption=caption(result))
    for name in ("metric", "n", "first", "p50", "p95", "max", "tool p50", "overhead p50", "ask/tool", "target"):
        table.add_column(name, justify="left" if name == "metric" else "right")
    table.add_column("pass", justify="center")
    for r in rows:
        if r.get("skipped"):
            why = "not supported" if r["unsupported"] else "not offered"
            table.add_row(r["metric"], "", "", "", "", "", "", "", "", f"[dim]{why}: see below[/]", "")
            continue
        n = "" if "n" not in r else f"{r['n']}" + (f" ({r['failures']} failed)" if r["failures"] else "")
        first = "[red]failed[/]" if r.get("fresh_failed") else fmt_s(r.get("first_s"))
        table.add_row(
            r["metric"],
            n,
            first,
            fmt_s(r.get("p50_s")),
            fmt_s(r.get("p95_s")),
            fmt_s(r.get("max_s")),
            fmt_s(r.get("tool_p50_s")),
            fmt_s(r.get("overhead_p50_s")),
            fmt_x(r.get("ratio")) if "ratio" in r else "",
            r.get("target") or "",
            mark(r.get("passed"), result["targets_apply"] or bool(r.get("always_applies"))),
        )
    console.print(table)
    print_first_details(console, result.get("first_questions"))
    for c in CATEGORIES:
        cat = result["categories"][c.name]
        if cat["skipped"]:
            console.print(f"{c.name}: skipped: {cat['skipped']}")
            continue
        s = cat["slowest"]
        if s:
            nodes = s["numbers"].get("nodes") or s["numbers"].get("joints")
            size = f", {nodes:,.0f} {'nodes' if 'nodes' in s['numbers'] else 'joints'}" if nodes else ""
            console.print(
                f"slowest {c.name}: {s['question']!r} {fmt_s(s['seconds'])} (tool {fmt_s(s['tool_seconds'])}{size})"
            )
        kinds = cat["by_kind"]
        if len(kinds) > 1:
            listed = ", ".join(
                f"{k.replace('_', ' ')} {fmt_s(q['p50_s'])} / {fmt_s(q['max_s'])} ({q['n']})" for k, q in kinds.items()
            )
            console.print(f"  {c.name} by kind of code, warm p50 / max (n): {listed}")


def print_first_details(console: Console, fresh: Json | None) -> None:
    """Each fresh process: its warm-up steps, what opening cost, its memory."""
    if not fresh:
        return
    records = [("cold", fresh["cold"]), *fresh["restart"].items(), ("restart warm()", fresh["restart_warm"])]
    for name, r in records:
        if r.get("error"):
            console.print(f"fresh process {name}: [red]{r['error']}[/]")
            continue
        steps = ", ".join(f"{k} {fmt_s(v)}" for k, v in r.get("warm_steps_s", {}).items())
        asked = "; ".join(f"{q['question']!r} {fmt_s(q['seconds'])}" for q in r.get("runs", []))
        console.print(
            f"fresh process {name}: open {fmt_s(r['import_s'] + r['brain_s'])}"
            + (f", warm() {fmt_s(r['warm_s'])} ({steps})" if "warm_s" in r else "")
            + (f", {asked}" if asked else "")
            + f"; process {fmt_s(r['process_s'])}, {r['cpu_s']:.1f} s CPU, peak RSS "
            f"{fmt_bytes(r['process_peak_rss_bytes'])}, with its descendants "
            f"{fmt_bytes(r['memory']['peak_tree_bytes'])}"
        )


def caption(result: Json) -> str:
    """Method and machine, under the table."""
    m, o, mem = result["machine"], result["open"], result["memory"]
    scope = "" if result["targets_apply"] else f"; targets apply from {TARGET_MIN_PARTS:,} parts (n/a: info)"
    loads = ", ".join(
        f"{c['contention']['load_average_at_start']:.2f}" for c in result["categories"].values() if "contention" in c
    )
    return (
        f"first = first question of the category: in a fresh process for the cold and restart rows (open timed apart), "
        f"else in this process (loads what it needs); p50/p95 (interpolated)/max over the {result['repeat']} warm "
        f"ones, each about a different subject (seed {result['seed']}); tool = ToolResult.seconds of the same calls; "
        f"overhead = ask - tool; ask/tool = ratio of the p50s. Open here: import {fmt_s(o['import_s'])} + Brain() "
        f"{fmt_s(o['brain_s'])}, excluded. Memory: this process peak {fmt_bytes(result['peak_rss_bytes'])}; with "
        f"every process it started (summed PSS) peak {fmt_bytes(mem['peak_tree_bytes'])}; the machine's used memory "
        f"peak {fmt_bytes(mem['peak_machine_used_bytes'])} of {fmt_bytes(m['total_ram_bytes'])} (least available "
        f"{fmt_bytes(mem['least_available_bytes'])}){scope}. {m['cpu_count']} CPUs ({m['cpu_model']}), load average "
        f"per category at start {loads}, {m['load_average'][0]:.2f} at the end; Python {m['python']}, langgraph "
        f"{m['langgraph']}, onnxruntime {m['onnxruntime']}; {m['date']}"
    )


def print_profiles(console: Console, categories: dict[str, Json], fresh: Json | None) -> None:
    """The questions profiled when `--profile` asked: each first question after a restart, each slowest warm one."""
    profiled = [
        (f"first {name} question after a restart", r.get("profile"))
        for name, r in (fresh or {}).get("restart", {}).items()
    ] + [(f"slowest {name} question", c.get("profile")) for name, c in categories.items()]
    for what, p in profiled:
        if not p:
            continue
        if "error" in p:
            console.print(f"[red]{what} under cProfile failed: {p['error']}[/]")
            continue
        console.rule(f"{what} again: {p['question']!r} ({fmt_s(p['seconds'])} under cProfile)")
        console.print(p["text"], markup=False, highlight=False)


def warn_contention(console: Console, result: Json) -> None:
    """Say so when other processes kept the machine's cores busy while a category ran."""
    probes = {name: c["contention"] for name, c in result["categories"].items() if "contention" in c}
    probes["document_search"] = result["document_search"]["contention"]
    # a window under a second is too short for a meaningful average
    shared = {k: p["other_cores_used"] for k, p in probes.items() if p["other_cores_used"] > 0.5 and p["wall_s"] >= 1}
    if shared:
        listed = ", ".join(f"{k} {v:.2f}" for k, v in shared.items())
        console.print(f"[yellow]other processes were busy while these ran (cores, average): {listed}[/]")


def merge_memory(*watches: Json) -> Json:
    """The peaks over several phases."""
    return {
        "peak_tree_bytes": max(w["peak_tree_bytes"] for w in watches),
        "peak_machine_used_bytes": max(w["peak_machine_used_bytes"] for w in watches),
        "least_available_bytes": min(w["least_available_bytes"] for w in watches),
        "limit_hit": next((w["limit_hit"] for w in watches if w["limit_hit"]), None),
    }


# ---- orchestration -------------------------------------------------------------------------------


def pick_subjects(path: Path, seed: int, repeat: int) -> tuple[Json, dict[str, list[Subject]]]:
    """The store's summary and each category's subjects: `repeat` + 1 for this process, one more for a fresh one."""
    yard = YardStore.open(path)
    facts = YardFacts.of(yard)
    rng = np.random.default_rng(seed)
    subjects = {c.name: c.pick(facts, repeat + 1 + c.fresh, rng) for c in CATEGORIES}
    return {**store_summary(yard), "horizon_days": facts.horizon_days, "resources": list(facts.resources)}, subjects


def run(args: argparse.Namespace, console: Console) -> int:
    """First questions in fresh processes, then every category here, then document search; 1 if any failed."""
    baseline_rss = rss_bytes()
    generation: Json = {"measured": False, "path": str(args.yard)}
    if args.yard is None:
        args.yard, generation = ensure_yard(DEFAULT_DATA_DIR, args.parts, 1, console)
    yard, subjects = pick_subjects(args.yard, args.seed, args.repeat)
    yard["generation"] = generation
    importlib.import_module("brain.tools")
    resolved = {c.name: resolve(c) for c in CATEGORIES}
    docs_settings = Settings(data_dir=args.docs_data_dir)
    with tempfile.TemporaryDirectory(prefix="brain-bench-") as tmp:
        data_dir = Path(tmp)
        link_docs(data_dir, args.docs_data_dir)
        fresh = None
        fresh_watch = None
        if not args.no_fresh:
            fresh = first_questions(args, console, data_dir, resolved, subjects)
            records = [fresh["cold"], *fresh["restart"].values(), fresh["restart_warm"]]
            fresh_watch = merge_memory(*[r["memory"] for r in records])
        main_watch = MemoryWatch(
            interval_s=2.0, limit_bytes=int(args.memory_limit * GiB), min_available_bytes=MIN_AVAILABLE_BYTES
        ).start()
        console.log(f"opening the brain on {args.yard} (data dir {tmp}) ...")
        t0 = time.perf_counter()
        supervisor = importlib.import_module("brain.supervisor")
        t1 = time.perf_counter()
        brain = supervisor.Brain(args.yard, brain_settings(data_dir))
        t2 = time.perf_counter()
        opening: Json = {
            "import_s": t1 - t0,
            "brain_s": t2 - t1,
            "total_s": t2 - t0,
            "baseline_rss_bytes": baseline_rss,
            "rss_after_open_bytes": rss_bytes(),
            "rss_file_after_open_bytes": file_backed_rss_bytes(),
        }
        opening["planner"] = getattr(brain, "planner_name", type(brain.planner).__name__)
        if "offline" not in opening["planner"].lower():
            console.print(f"[yellow]the brain chose the {opening['planner']} planner, not the offline one[/]")
        categories: dict[str, Json] = {}
        try:
            for c in CATEGORIES:
                mine = subjects[c.name][: args.repeat + 1]
                categories[c.name] = run_category(brain, c, resolved[c.name], mine, args, console)
        finally:
            brain.close()
        main_memory = main_watch.stop()
        if main_memory["limit_hit"]:
            console.print(f"[red]memory: {main_memory['limit_hit']}[/]")
    searches = document_search(docs_settings, args.repeat + 1, console)
    result: Json = {
        "benchmark": "brain",
        "yard": yard,
        "repeat": args.repeat,
        "seed": args.seed,
        "quick": args.quick,
        "targets_apply": yard["parts"] >= TARGET_MIN_PARTS,
        "target_p95_s": TARGET_P95_S,
        "docs_data_dir": str(args.docs_data_dir),
        "first_questions": fresh,
        "open": opening,
        "categories": categories,
        "document_search": searches,
        "peak_rss_bytes": peak_rss_bytes(),
        "rss_file_end_bytes": file_backed_rss_bytes(),
        "memory": merge_memory(*[m for m in (fresh_watch, main_memory) if m is not None]),
        "memory_limit_bytes": int(args.memory_limit * GiB),
        "machine": machine_info(
            langgraph=version("langgraph"), onnxruntime=version("onnxruntime"), qdrant_client=version("qdrant-client")
        ),
    }
    rows = report_rows(result)
    result["rows"] = rows
    out = args.results_dir / f"brain-{size_label(yard['parts'])}{'-quick' if args.quick else ''}.json"
    write_json(out, result)
    print_report(console, result, rows)
    print_profiles(console, categories, fresh)
    warn_contention(console, result)
    applies = result["targets_apply"]
    missed = [r["metric"] for r in rows if r.get("passed") is False and (applies or r.get("always_applies"))]
    if missed:
        console.print(f"[red]targets missed:[/] {'; '.join(missed)}")
    console.print(f"results: {out}")
    failures = sum(c["failures"] for c in categories.values()) + searches["failures"]
    failures += sum(bool(r.get("fresh_failed")) for r in rows)
    if fresh and fresh["cold"].get("error"):
        failures += 1
    if failures:
        console.print(f"[red]{failures} questions or fresh processes failed (left out of the timings); see the JSON[/]")
    return 1 if failures else 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    default_yard = yard_paths(DEFAULT_DATA_DIR, DEFAULT_PARTS, 1)[0].relative_to(REPO)
    parser.add_argument("--yard", type=Path, help=f"the store (default: {default_yard}, made if missing)")
    parser.add_argument(
        "--size",
        help=f"parts of the benchmarks' store of seed 1 (made if missing): 25M, 1M, 200k ... (default: "
        f"{size_label(DEFAULT_PARTS)}, {size_label(QUICK_PARTS)} with --quick)",
    )
    parser.add_argument("--repeat", type=int, help=f"warm questions per category (default: {DEFAULT_REPEAT})")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a small yard ({size_label(QUICK_PARTS)} parts unless --size) and {QUICK_REPEAT} warm questions per "
        "category: checks the benchmark in about a minute",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the subjects asked about (default: 1)")
    parser.add_argument(
        "--docs-data-dir",
        type=Path,
        default=DEFAULT_DOCS_DATA_DIR,
        help="data dir holding the demo document store (qdrant/) (default: .shipbrain)",
    )
    parser.add_argument(
        "--no-fresh",
        action="store_true",
        help="skip the first questions in fresh processes (cold and after a restart)",
    )
    parser.add_argument(
        "--memory-limit",
        type=float,
        default=DEFAULT_MEMORY_LIMIT_GIB,
        help=f"GiB this benchmark's processes may use together before it stops them (default: "
        f"{DEFAULT_MEMORY_LIMIT_GIB:g})",
    )
    parser.add_argument(
        "--fresh-timeout",
        type=float,
        default=DEFAULT_FRESH_TIMEOUT_S,
        help=f"seconds a fresh process may run before it is stopped (default: {DEFAULT_FRESH_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile each category's slowest warm question, and each first question after a restart (in one more "
        "fresh process)",
    )
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS_DIR, help="where the JSON results go")
    args = parser.parse_args(argv)
    args.repeat = args.repeat or (QUICK_REPEAT if args.quick else DEFAULT_REPEAT)
    if args.repeat < 1:
        parser.error("--repeat must be 1 or more")
    try:
        args.parts = parse_size(args.size) if args.size else (QUICK_PARTS if args.quick else DEFAULT_PARTS)
    except ValueError as exc:
        parser.error(str(exc))
    if args.yard is not None and args.size:
        parser.error("give --yard or --size, not both")
    if not (args.docs_data_dir / "qdrant").is_dir():
        parser.error(f"no document store at {args.docs_data_dir / 'qdrant'}: run `shipbrain demo` first")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (or, with `--child SPEC`, one fresh process's part of it); 1 if any question failed."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        print(CHILD_MARK + json.dumps(child_main(json.loads(argv[1]))), flush=True)
        return 0
    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 200)
    return run(args, console)


if __name__ == "__main__":
    sys.exit(main())
