"""Benchmark of the brain's end-to-end latency (`brain.supervisor.Brain.ask`) on a big yard.

Run it from the repository root (with the package installed, or with `PYTHONPATH=.`):

```
python benchmarks/brain.py                      # the 25M-part yard, 15 warm questions per category
python benchmarks/brain.py --quick              # the 1M-part yard, 3 warm questions per category
python benchmarks/brain.py --yard PATH --repeat 30 --profile
```

It prints a table and writes `benchmarks/results/brain-<yard size>.json` (`brain-<size>-quick.json`
with `--quick`) with every question asked, its timings, and the machine it ran on (CPU count and
model, RAM, load average, Python, numpy, pyarrow, langgraph, onnxruntime and qdrant-client versions,
date).

What it measures, as the CLI's `shipbrain ask` does it minus process start:

- **Open**: importing `brain.supervisor` and constructing one `Brain(yard, settings)` (memory-maps
  the part graph, compiles the LangGraph graph, opens the SQLite checkpointer), timed apart and
  excluded from the question timings.
- **Questions**: per category, `--repeat` + 1 questions, each about a different code picked
  seeded-randomly (`--seed`) from the yard through `PartGraph`'s layout: lookups ("what is X"),
  upstream ("what must be done before X") and downstream ("what waits on X") over every kind of code
  in turn (assembly, part, joint, block, sub-assembly, outfitting item), block-level weld risk ("how
  risky is the welding in block B012") and NDT plans ("which joints of B012 need NDT at 5%"), and
  procedure questions answered from the document store. The first question of each category is
  reported apart as "first" (it loads what the category needs: the joint-owner column for the first
  assembly lookup, the welding model's ONNX session for the first weld-risk question, the embedder
  for document search); p50, p95 and max are over the others ("warm"). Every answer is checked: the
  plan's intent must be the category's and no tool result may carry an error; a failed question is
  reported and left out of the timings (the exit status is then 1).
- **Baseline in the same run**: each answer's tool results carry the time `YardTools.run` took
  (`ToolResult.seconds`); the raw tool time is set against the end-to-end `ask` time, giving the
  supervisor's overhead (planner, LangGraph, SQLite checkpoints, pydantic round trips) in
  milliseconds and as a ratio. The planner alone (`OfflinePlanner.plan`) is timed on each question
  too. (networkx cannot hold a 25M-part graph, so it is no baseline here; see
  `benchmarks/partgraph.py` for the store against networkx at 5M.)
- **Document search**: `DocumentStore(settings).search(query)` on the demo corpus (`--docs-data-dir`,
  default `.shipbrain`), the store opened once (timed apart), then `--repeat` + 1 searches.

The brain keeps its checkpoints in a temporary data dir (so benchmark threads do not pile up in the
demo's `brain.sqlite`); that dir links `qdrant/` (and `adapters.toml`, when there is one) to the
docs data dir, so procedure questions search the demo corpus and the models are the ones configured
there. The embedded Qdrant store is locked by whoever opens it: nothing else may hold it while this
runs.

The machine is shared: the load average at the start of each category and the CPU other processes
used meanwhile are recorded. `--profile` asks the slowest question of each category once more
under cProfile and prints the top functions.

Targets from the product issue, checked on yards of 20M parts or more (shown for information on
smaller ones): lookup, upstream and downstream p50 < 1 s; weld-risk and NDT-plan p50 < 10 s;
document search p50 < 50 ms (the demo corpus, whatever the yard).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib
import io
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    REPO,
    CpuProbe,
    Json,
    ensure_yard,
    file_backed_rss_bytes,
    fmt_bytes,
    fmt_s,
    fmt_x,
    machine_info,
    peak_rss_bytes,
    quantiles,
    rss_bytes,
    size_label,
    write_json,
    yard_paths,
)
from rich.console import Console
from rich.table import Table

from knowledge.layout import NODE_KINDS, NodeKind
from knowledge.partgraph import PartGraph
from knowledge.settings import Settings

DEFAULT_DATA_DIR = REPO / ".shipbrain" / "bench"
DEFAULT_PARTS, QUICK_PARTS = 25_000_000, 1_000_000
"""The yards asked about unless `--yard` (seed 1, shared with the other benchmarks, generated if missing)."""
DEFAULT_DOCS_DATA_DIR = REPO / ".shipbrain"
DEFAULT_RESULTS_DIR = REPO / "benchmarks" / "results"
DEFAULT_REPEAT = 15
QUICK_REPEAT = 3
TARGET_MIN_PARTS = 20_000_000
"""The latency targets are about the 25M-part yard; smaller yards show them for information."""
PROFILE_LINES = 25
DEPENDENCY_KINDS: tuple[NodeKind, ...] = ("assembly", "part", "joint", "block", "sub_assembly", "outfitting_item")
"""Kinds of code the lookup and dependency questions cycle through (an assembly first: its lookup is the costliest)."""
NDT_BUDGETS = (2, 5, 10, 20)
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


@dataclass(frozen=True)
class Category:
    """One kind of question: how it is phrased, what code it needs, what the planner must make of it."""

    name: str
    label: str
    intent: str
    phrase: Callable[[str, int], str]
    """The question about one code (the index varies the wording, e.g. the NDT budget)."""
    codes: str
    """Which codes it asks about: "mixed" (every kind in turn), "block", or "none" (procedure questions)."""
    target_s: float | None


CATEGORIES: tuple[Category, ...] = (
    Category("lookup", "lookup: what is X", "lookup", lambda c, _: f"what is {c}", "mixed", 1.0),
    Category(
        "upstream",
        "upstream: what must be done before X",
        "upstream",
        lambda c, _: f"what must be done before {c}",
        "mixed",
        1.0,
    ),
    Category(
        "downstream", "downstream: what waits on X", "downstream", lambda c, _: f"what waits on {c}", "mixed", 1.0
    ),
    Category(
        "weld_risk",
        "weld risk of a block",
        "weld_risk",
        lambda c, _: f"how risky is the welding in block {c}",
        "block",
        10.0,
    ),
    Category(
        "ndt_plan",
        "NDT plan of a block",
        "ndt_plan",
        lambda c, i: f"which joints of {c} need NDT at {NDT_BUDGETS[i % len(NDT_BUDGETS)]}%",
        "block",
        10.0,
    ),
    Category(
        "procedure",
        "procedure question (documents)",
        "procedure",
        lambda _, i: PROCEDURE_QUESTIONS[i % len(PROCEDURE_QUESTIONS)],
        "none",
        None,
    ),
)
SEARCH_TARGET_S = 0.050


# ---- picking codes -------------------------------------------------------------------------------


def random_ids(g: PartGraph, kind: NodeKind, count: int, rng: np.random.Generator) -> list[int]:
    """`count` distinct node ids of one kind (fewer if the yard has fewer), drawn from its id range."""
    starts = g.layout.kind_start
    k = NODE_KINDS.index(kind)
    lo, hi = int(starts[k]), int(starts[k + 1])
    local = rng.choice(hi - lo, size=min(count, hi - lo), replace=False)
    return [lo + int(i) for i in local]


def pick_codes(g: PartGraph, category: Category, count: int, rng: np.random.Generator) -> list[str]:
    """The codes one category asks about, all different: every kind in turn, or blocks only."""
    if category.codes == "none":
        return ["" for _ in range(count)]
    if category.codes == "block":
        return [g.code_of(i) for i in random_ids(g, "block", count, rng)]
    per_kind = {kind: random_ids(g, kind, -(-count // len(DEPENDENCY_KINDS)), rng) for kind in DEPENDENCY_KINDS}
    ordered = [
        per_kind[kind][i]
        for i in range(max(map(len, per_kind.values())))
        for kind in DEPENDENCY_KINDS
        if i < len(per_kind[kind])
    ]
    return [g.code_of(i) for i in ordered[:count]]


# ---- asking --------------------------------------------------------------------------------------


def ask_once(brain: Any, question: str, intent: str) -> Json:
    """Ask one question; its end-to-end time, the planner's and the tools' times, and whether it failed."""
    t0 = time.perf_counter()
    answer = brain.ask(question)
    total = time.perf_counter() - t0
    t1 = time.perf_counter()
    brain.planner.plan(question)  # the planner's first step alone, once more (deterministic)
    plan_s = time.perf_counter() - t1
    errors = [r.error for r in answer.results if r.error]
    problem = None
    if answer.plan.intent != intent:
        problem = f"planned as {answer.plan.intent!r} ({answer.plan.reason}), expected {intent!r}"
    elif not answer.results:
        problem = "no tool ran"
    elif errors:
        problem = "; ".join(errors)
    first = answer.results[0] if answer.results else None
    return {
        "question": question,
        "seconds": total,
        "tool_seconds": sum(r.seconds for r in answer.results),
        "plan_seconds": plan_s,
        "tools": [r.tool for r in answer.results],
        "numbers": dict(first.numbers) if first else {},
        "summary": first.summary if first else answer.answer[:200],
        "error": problem,
    }


def by_kind(runs: list[Json]) -> dict[str, Json]:
    """Warm timings per kind of code asked about (the mixed categories)."""
    kinds = sorted({r["kind"] for r in runs if r["kind"]})
    return {k: quantiles([r["seconds"] for r in runs if r["kind"] == k]) for k in kinds}


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


def run_category(brain: Any, category: Category, codes: list[str], args: argparse.Namespace, console: Console) -> Json:
    """Ask every question of one category, in order; its runs, summary and contention figures."""
    console.log(f"{category.name}: {len(codes)} questions ...")
    gc.collect()
    probe = CpuProbe()
    runs = []
    for i, code in enumerate(codes):
        run = ask_once(brain, category.phrase(code, i), category.intent)
        run["code"] = code or None
        run["kind"] = brain.graph.kind_of(brain.graph.id_of(code)) if code else None
        runs.append(run)
        if run["error"]:
            console.print(f"[red]{category.name}: {run['question']!r} failed:[/] {run['error']}")
    out: Json = {"category": category.name, "intent": category.intent, "runs": runs, **summarise(runs)}
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
        runs = []
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


def brain_settings(tmp: Path, docs_data_dir: Path) -> Settings:
    """Settings with a fresh data dir for checkpoints that links the docs data dir's document store and models."""
    for name in ("qdrant", "adapters.toml"):
        if (docs_data_dir / name).exists():
            (tmp / name).symlink_to((docs_data_dir / name).resolve())
    # the offline planner and SQLite checkpoints, whatever the environment says (unknown fields are ignored)
    return Settings(data_dir=tmp, llm_base_url=None, llm_model=None, postgres_dsn=None)


def yard_summary(g: PartGraph) -> Json:
    """What the yard holds."""
    files = [p for p in g.path.rglob("*") if p.is_file()]
    return {
        "path": str(g.path),
        "parts": g.manifest.parts,
        "seed": g.manifest.seed,
        "generator_version": g.manifest.generator_version,
        "num_nodes": g.num_nodes,
        "num_edges": g.num_edges,
        "counts": dict(g.counts),
        "bytes": sum(p.stat().st_size for p in files),
    }


# ---- reporting -----------------------------------------------------------------------------------


def mark(passed: bool | None, applies: bool) -> str:
    """PASS, FAIL, n/a (target shown for information) or nothing."""
    if passed is None:
        return ""
    if not applies:
        return "[dim]n/a[/]"
    return "[green]PASS[/]" if passed else "[red]FAIL[/]"


def report_rows(result: Json) -> list[Json]:
    """Every line of the table, as JSON (also what the result file keeps)."""
    rows = [{"metric": "open: import brain.supervisor + Brain(yard)", "first_s": result["open"]["total_s"]}]
    for c in CATEGORIES:
        s = result["categories"][c.name]
        warm, tool, over = s["warm"], s["tool_warm"], s["overhead_warm"]
        passed = None if c.target_s is None or warm["p50_s"] is None else warm["p50_s"] < c.target_s
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
                "target": None if c.target_s is None else f"p50 < {fmt_s(c.target_s)}",
                "passed": passed,
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
    """The results table and, per category, its slowest question."""
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
        n = "" if "n" not in r else f"{r['n']}" + (f" ({r['failures']} failed)" if r["failures"] else "")
        table.add_row(
            r["metric"],
            n,
            fmt_s(r.get("first_s")),
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
    for c in CATEGORIES:
        s = result["categories"][c.name]["slowest"]
        if s:
            nodes = s["numbers"].get("nodes") or s["numbers"].get("joints")
            size = f", {nodes:,.0f} {'nodes' if 'nodes' in s['numbers'] else 'joints'}" if nodes else ""
            console.print(
                f"slowest {c.name}: {s['question']!r} {fmt_s(s['seconds'])} (tool {fmt_s(s['tool_seconds'])}{size})"
            )
        kinds = result["categories"][c.name]["by_kind"]
        if len(kinds) > 1:
            listed = ", ".join(
                f"{k.replace('_', ' ')} {fmt_s(q['p50_s'])} / {fmt_s(q['max_s'])} ({q['n']})" for k, q in kinds.items()
            )
            console.print(f"  {c.name} by kind of code, warm p50 / max (n): {listed}")


def caption(result: Json) -> str:
    """Method and machine, under the table."""
    m, o = result["machine"], result["open"]
    scope = "" if result["targets_apply"] else f"; graph targets apply from {TARGET_MIN_PARTS:,} parts (n/a: info)"
    loads = ", ".join(f"{c['contention']['load_average_at_start']:.2f}" for c in result["categories"].values())
    return (
        f"first = first question of the category (loads what it needs); p50/p95 (interpolated)/max over the "
        f"{result['repeat']} warm ones, each a different code (seed {result['seed']}); tool = ToolResult.seconds "
        f"(YardTools.run) of the same calls; overhead = ask - tool; ask/tool = ratio of the p50s. Open: import "
        f"{fmt_s(o['import_s'])} + Brain() {fmt_s(o['brain_s'])}, excluded. RSS after open "
        f"{fmt_bytes(o['rss_after_open_bytes'])}, peak {fmt_bytes(result['peak_rss_bytes'])}{scope}. "
        f"{m['cpu_count']} CPUs ({m['cpu_model']}), {fmt_bytes(m['total_ram_bytes'])} RAM, load average per "
        f"category at start {loads}, {m['load_average'][0]:.2f} at the end; Python {m['python']}, langgraph "
        f"{m['langgraph']}, onnxruntime {m['onnxruntime']}; {m['date']}"
    )


def print_profiles(console: Console, categories: dict[str, Json]) -> None:
    """The profiled question of each category, when `--profile` asked for it."""
    for name, c in categories.items():
        if "profile" in c:
            p = c["profile"]
            title = f"slowest {name} question again: {p['question']!r} ({fmt_s(p['seconds'])} under cProfile)"
            console.rule(title)
            console.print(p["text"], markup=False, highlight=False)


def warn_contention(console: Console, result: Json) -> None:
    """Say so when other processes kept the machine's cores busy while a category ran."""
    probes = {name: c["contention"] for name, c in result["categories"].items()}
    probes["document_search"] = result["document_search"]["contention"]
    # a window under a second is too short for a meaningful average
    shared = {k: p["other_cores_used"] for k, p in probes.items() if p["other_cores_used"] > 0.5 and p["wall_s"] >= 1}
    if shared:
        listed = ", ".join(f"{k} {v:.2f}" for k, v in shared.items())
        console.print(f"[yellow]other processes were busy while these ran (cores, average): {listed}[/]")


# ---- orchestration -------------------------------------------------------------------------------


def run(args: argparse.Namespace, console: Console) -> int:
    """Open the brain, ask every category's questions, search the documents, report; 1 if any question failed."""
    baseline_rss = rss_bytes()
    if args.yard is None:
        args.yard, _ = ensure_yard(DEFAULT_DATA_DIR, QUICK_PARTS if args.quick else DEFAULT_PARTS, 1, console)
    graph = PartGraph.open(args.yard)
    rng = np.random.default_rng(args.seed)
    codes = {c.name: pick_codes(graph, c, args.repeat + 1, rng) for c in CATEGORIES}
    yard = yard_summary(graph)
    del graph
    docs_settings = Settings(data_dir=args.docs_data_dir)
    with tempfile.TemporaryDirectory(prefix="brain-bench-") as tmp:
        settings = brain_settings(Path(tmp), args.docs_data_dir)
        console.log(f"opening the brain on {args.yard} (checkpoints in {tmp}) ...")
        t0 = time.perf_counter()
        supervisor = importlib.import_module("brain.supervisor")
        t1 = time.perf_counter()
        brain = supervisor.Brain(args.yard, settings)
        t2 = time.perf_counter()
        opening = {
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
                categories[c.name] = run_category(brain, c, codes[c.name], args, console)
        finally:
            brain.close()
    searches = document_search(docs_settings, args.repeat + 1, console)
    result: Json = {
        "benchmark": "brain",
        "yard": yard,
        "repeat": args.repeat,
        "seed": args.seed,
        "quick": args.quick,
        "targets_apply": yard["parts"] >= TARGET_MIN_PARTS,
        "docs_data_dir": str(args.docs_data_dir),
        "open": opening,
        "categories": categories,
        "document_search": searches,
        "peak_rss_bytes": peak_rss_bytes(),
        "rss_file_end_bytes": file_backed_rss_bytes(),
        "machine": machine_info(
            langgraph=version("langgraph"), onnxruntime=version("onnxruntime"), qdrant_client=version("qdrant-client")
        ),
    }
    rows = report_rows(result)
    result["rows"] = rows
    out = args.results_dir / f"brain-{size_label(yard['parts'])}{'-quick' if args.quick else ''}.json"
    write_json(out, result)
    print_report(console, result, rows)
    print_profiles(console, categories)
    warn_contention(console, result)
    applies = result["targets_apply"]
    failed = [r["metric"] for r in rows if r.get("passed") is False and (applies or r.get("always_applies"))]
    if failed:
        console.print(f"[red]targets missed:[/] {'; '.join(failed)}")
    console.print(f"results: {out}")
    failures = sum(c["failures"] for c in categories.values()) + searches["failures"]
    if failures:
        console.print(f"[red]{failures} questions failed (left out of the timings); see the JSON[/]")
    return 1 if failures else 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    default_yard = yard_paths(DEFAULT_DATA_DIR, DEFAULT_PARTS, 1)[0].relative_to(REPO)
    parser.add_argument("--yard", type=Path, help=f"the yard (default: {default_yard}, generated if missing)")
    parser.add_argument("--repeat", type=int, help=f"warm questions per category (default: {DEFAULT_REPEAT})")
    parser.add_argument(
        "--quick", action="store_true", help=f"the 1M-part yard and {QUICK_REPEAT} warm questions per category"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the codes asked about (default: 1)")
    parser.add_argument(
        "--docs-data-dir",
        type=Path,
        default=DEFAULT_DOCS_DATA_DIR,
        help="data dir holding the demo document store (qdrant/) (default: .shipbrain)",
    )
    parser.add_argument("--profile", action="store_true", help="profile each category's slowest question")
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS_DIR, help="where the JSON results go")
    args = parser.parse_args(argv)
    args.repeat = args.repeat or (QUICK_REPEAT if args.quick else DEFAULT_REPEAT)
    if args.repeat < 1:
        parser.error("--repeat must be 1 or more")
    if not (args.docs_data_dir / "qdrant").is_dir():
        parser.error(f"no document store at {args.docs_data_dir / 'qdrant'}: run `shipbrain demo` first")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 1 if any question failed."""
    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 200)
    return run(args, console)


if __name__ == "__main__":
    sys.exit(main())
