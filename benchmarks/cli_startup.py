"""Benchmark of the command line's start-up: `shipbrain --help` and `shipbrain yard info`, CPU, wall time and imports.

Run it from the repository root (with the package installed: it runs `.venv/bin/shipbrain`):

```
python benchmarks/cli_startup.py              # 10 runs of each command
python benchmarks/cli_startup.py --quick      # 3 runs of each
python benchmarks/cli_startup.py --runs 30 --yard PATH
```

It prints two tables and writes `benchmarks/results/cli_startup.json` (`cli_startup-quick.json` with `--quick`)
with every run, the imports of each command and the machine it ran on.

What it measures, for `shipbrain --help` and `shipbrain yard info YARD` (the store of a 5,000-part synthetic yard,
seed 1, kept in `--data-dir` and made by `shipbrain yard generate` when missing; `--yard` names another store):

- **Start-up cost**: each command runs `--runs` times in a fresh process, after one untimed run (it warms the
  page cache and writes the bytecode caches; its figures are kept as "first"). Wall time is from the start of the
  process to its exit; CPU is the user + system time of that process (`os.wait4`: the same figure as a
  `getrusage(RUSAGE_CHILDREN)` delta around it). The CPU time is the figure the target is about: it hardly moves
  when other processes share the machine, where the wall time does (the CPU other processes used meanwhile is
  recorded). Medians are reported, with the fastest and slowest run.
- **Imports**: each command once more under `python -X importtime`: which of fastapi, pyarrow, langgraph, ray,
  gradio, numpy and pydantic it imports, and through which chain of imports (the outermost module that pulled
  each in), the number of modules imported, and the 10 largest cumulative import times.

The target, from issue 10: both commands under 0.3 s of CPU (median), and `shipbrain --help` importing none of
FastAPI, pyarrow, LangGraph or Ray. Targets that fail are reported, not fatal; the exit status is 1 if a command
failed.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from _common import (
    REPO,
    SHIPBRAIN,
    CpuProbe,
    Json,
    ensure_yard,
    fmt_bytes,
    fmt_s,
    machine_info,
    run_child,
    write_json,
)
from rich.console import Console
from rich.table import Table

DEFAULT_DATA_DIR = REPO / ".shipbrain" / "bench"
DEFAULT_RESULTS_DIR = REPO / "benchmarks" / "results"
RUNS, QUICK_RUNS = 10, 3
YARD_PARTS, YARD_SEED = 5_000, 1
TARGET_CPU_S = 0.3
WATCHED = ("fastapi", "pyarrow", "langgraph", "ray", "gradio", "numpy", "pydantic")
"""Libraries whose import the report shows (heavy ones a command that only prints should not need)."""
NOT_IN_HELP = ("fastapi", "pyarrow", "langgraph", "ray")
"""What `shipbrain --help` must not import (issue 10)."""
TOP_IMPORTS = 10
IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)\s*$")
"""`import time: SELF_US | CUMULATIVE_US | <2 spaces per level>MODULE` (CPython's -X importtime, on stderr)."""


# ---- imports -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    """One line of `-X importtime`: a module, its own and cumulative import time, how deep it was imported."""

    module: str
    self_us: int
    cumulative_us: int
    depth: int
    parent: int | None
    """Index of the import that pulled this one in (the next line one level up), None at the top."""


def parse_importtime(stderr: str) -> list[Import]:
    """The imports of a `-X importtime` run, in the order they finished (a module after those it imported)."""
    rows = []
    for line in stderr.splitlines():
        if found := IMPORT_LINE.match(line):
            rows.append((found.group(4), int(found.group(1)), int(found.group(2)), len(found.group(3)) // 2))
    imports = []
    for i, (module, self_us, cumulative_us, depth) in enumerate(rows):
        parent = next((j for j in range(i + 1, len(rows)) if rows[j][3] == depth - 1), None) if depth else None
        imports.append(Import(module, self_us, cumulative_us, depth, parent))
    return imports


def chain(imports: Sequence[Import], index: int) -> list[str]:
    """The module at `index` and those that imported it, outwards (`pyarrow`, `knowledge.store`, ...)."""
    out: list[str] = []
    at: int | None = index
    while at is not None:
        out.append(imports[at].module)
        at = imports[at].parent
    return out


def watched_imports(imports: Sequence[Import]) -> dict[str, Json]:
    """For each watched library: whether it was imported, its cumulative time, and the chain that pulled it in.

    The time is summed over the library's outermost imports (those not made by the library itself); the chain is
    that of the first of them, outwards (`numpy`, `knowledge.store`, ...).
    """
    out: dict[str, Json] = {}
    for library in WATCHED:

        def own(module: str, library: str = library) -> bool:
            return module == library or module.startswith(library + ".")

        found = [i for i, imp in enumerate(imports) if own(imp.module)]
        roots = [i for i in found if (parent := imports[i].parent) is None or not own(imports[parent].module)]
        out[library] = {
            "imported": bool(found),
            "modules": len(found),
            "cumulative_ms": sum(imports[i].cumulative_us for i in roots) / 1e3 if roots else None,
            "via": chain(imports, roots[0])[1:] if roots else [],
        }
    return out


def top_imports(imports: Sequence[Import], count: int = TOP_IMPORTS) -> list[Json]:
    """The `count` imports with the largest cumulative time, with the module that imported each."""
    ranked = sorted(imports, key=lambda imp: -imp.cumulative_us)[:count]
    return [
        {
            "module": imp.module,
            "cumulative_ms": imp.cumulative_us / 1e3,
            "self_ms": imp.self_us / 1e3,
            "depth": imp.depth,
            "imported_by": None if imp.parent is None else imports[imp.parent].module,
        }
        for imp in ranked
    ]


def import_report(argv: Sequence[str]) -> Json:
    """The command once under `python -X importtime`: watched libraries, module count and the top imports."""
    done = run_child([sys.executable, "-X", "importtime", str(SHIPBRAIN), *argv])
    imports = parse_importtime(done.stderr)
    return {
        "returncode": done.returncode,
        "modules": len(imports),
        "watched": watched_imports(imports),
        "top": top_imports(imports),
    }


# ---- runs ----------------------------------------------------------------------------------------


def measure(name: str, argv: Sequence[str], runs: int, console: Console) -> Json:
    """One untimed run, `runs` timed ones, then the import report; every figure of one command."""
    console.log(f"{name}: 1 + {runs} runs, then once under -X importtime ...")
    command = [str(SHIPBRAIN), *argv]
    first = run_child(command)
    if first.returncode != 0:
        return {"argv": ["shipbrain", *argv], "error": f"exit status {first.returncode}: {first.stderr[-2000:]}"}
    probe = CpuProbe()
    timed = [run_child(command) for _ in range(runs)]
    contention = probe.stop()
    failed = [r for r in timed if r.returncode != 0]
    walls, cpus = [r.wall_s for r in timed], [r.cpu_s for r in timed]
    cpu_p50 = statistics.median(cpus)
    out: Json = {
        "argv": ["shipbrain", *argv],
        "first": {"wall_s": first.wall_s, "cpu_s": first.cpu_s},
        "runs": [
            {
                "wall_s": r.wall_s,
                "user_s": r.user_s,
                "system_s": r.system_s,
                "cpu_s": r.cpu_s,
                "peak_rss_bytes": r.peak_rss_bytes,
                "returncode": r.returncode,
            }
            for r in timed
        ],
        "failures": len(failed),
        "wall": {"p50_s": statistics.median(walls), "min_s": min(walls), "max_s": max(walls)},
        "cpu": {"p50_s": cpu_p50, "min_s": min(cpus), "max_s": max(cpus)},
        "peak_rss_bytes": int(statistics.median(r.peak_rss_bytes for r in timed)),
        "contention": contention,
        "target": f"CPU p50 < {fmt_s(TARGET_CPU_S)}",
        "passed": cpu_p50 < TARGET_CPU_S and not failed,
        "imports": import_report(argv),
    }
    return out


# ---- reporting -----------------------------------------------------------------------------------


def mark(passed: bool | None) -> str:
    """PASS, FAIL or nothing."""
    return "" if passed is None else ("[green]PASS[/]" if passed else "[red]FAIL[/]")


def heavy_free(result: Json) -> bool | None:
    """Whether `shipbrain --help` imported none of NOT_IN_HELP (None if it did not run)."""
    imports = result.get("imports")
    return None if imports is None else not any(imports["watched"][lib]["imported"] for lib in NOT_IN_HELP)


def print_report(console: Console, result: Json) -> None:
    """The start-up table, the watched imports, and each command's top imports."""
    m = result["machine"]
    caption = (
        f"CPU = user + system time of the process (os.wait4); median over {result['runs']} runs after one untimed "
        f"run (first). {m['cpu_count']} CPUs ({m['cpu_model']}), load average {m['load_average'][0]:.2f} at the "
        f"end; Python {m['python']}, typer {m['typer']}, rich {m['rich']}; {m['date']}"
    )
    table = Table(title="shipbrain start-up: wall and CPU time of a fresh process", caption=caption)
    for column in (
        "command",
        "wall p50 (min-max)",
        "CPU p50 (min-max)",
        "first: wall / CPU",
        "peak RSS",
        "modules",
        "other cores",
        "target",
    ):
        table.add_column(column, justify="left" if column == "command" else "right")
    table.add_column("pass", justify="center")
    for name, c in result["commands"].items():
        if "error" in c:
            table.add_row(name, f"[red]failed: {c['error'][:80]}[/]")
            continue
        w, u = c["wall"], c["cpu"]
        table.add_row(
            name,
            f"{fmt_s(w['p50_s'])} ({fmt_s(w['min_s'])}-{fmt_s(w['max_s'])})",
            f"{fmt_s(u['p50_s'])} ({fmt_s(u['min_s'])}-{fmt_s(u['max_s'])})",
            f"{fmt_s(c['first']['wall_s'])} / {fmt_s(c['first']['cpu_s'])}",
            fmt_bytes(c["peak_rss_bytes"]),
            str(c["imports"]["modules"]),
            f"{c['contention']['other_cores_used']:.2f}",
            c["target"],
            mark(c["passed"]),
        )
    console.print(table)
    imported = Table(
        title="watched libraries imported (-X importtime): cumulative time, and the chain that pulled them in"
    )
    imported.add_column("command")
    for library in WATCHED:
        imported.add_column(library, justify="right")
    imported.add_column("imported via (outwards)")
    for name, c in result["commands"].items():
        if "imports" not in c:
            continue
        watched = c["imports"]["watched"]
        cells = [fmt_s(w["cumulative_ms"] / 1e3) if w["imported"] else "-" for w in watched.values()]
        via = "; ".join(" <- ".join([lib, *w["via"][:3]]) for lib, w in watched.items() if w["imported"])
        imported.add_row(name, *cells, via)
    console.print(imported)
    for name, c in result["commands"].items():
        if "imports" not in c:
            continue
        top = Table(title=f"{name}: the {TOP_IMPORTS} largest cumulative imports")
        for column in ("module", "cumulative", "self", "depth", "imported by"):
            top.add_column(column, justify="left" if column in ("module", "imported by") else "right")
        for t in c["imports"]["top"]:
            top.add_row(
                t["module"],
                fmt_s(t["cumulative_ms"] / 1e3),
                fmt_s(t["self_ms"] / 1e3),
                str(t["depth"]),
                t["imported_by"] or "",
            )
        console.print(top)


def print_verdicts(console: Console, result: Json) -> None:
    """One line per target."""
    for name, c in result["commands"].items():
        if "error" not in c:
            console.print(f"{name}: CPU p50 {fmt_s(c['cpu']['p50_s'])} (< {fmt_s(TARGET_CPU_S)}): {mark(c['passed'])}")
    help_result = result["commands"]["shipbrain --help"]
    free = heavy_free(help_result)
    if free is not None:
        found = [lib for lib in NOT_IN_HELP if help_result["imports"]["watched"][lib]["imported"]]
        listed = f" (imports {', '.join(found)})" if found else ""
        console.print(f"shipbrain --help imports none of {', '.join(NOT_IN_HELP)}{listed}: {mark(free)}")


# ---- orchestration -------------------------------------------------------------------------------


def run(args: argparse.Namespace, console: Console) -> int:
    """Make or reuse the store, measure both commands, report; 1 if a command failed."""
    if args.yard is None:
        args.yard, generation = ensure_yard(args.data_dir, YARD_PARTS, YARD_SEED, console)
    else:
        generation = None
    commands = {"shipbrain --help": ["--help"], "shipbrain yard info": ["yard", "info", str(args.yard)]}
    measured = {name: measure(name, argv, args.runs, console) for name, argv in commands.items()}
    result: Json = {
        "benchmark": "cli_startup",
        "quick": args.quick,
        "runs": args.runs,
        "yard": str(args.yard),
        "generation": generation,
        "commands": measured,
        "target_cpu_s": TARGET_CPU_S,
        "not_in_help": list(NOT_IN_HELP),
        "help_imports_none_of_them": heavy_free(measured["shipbrain --help"]),
        "machine": machine_info(typer=version("typer"), click=version("click"), rich=version("rich")),
    }
    out = args.results_dir / f"cli_startup{'-quick' if args.quick else ''}.json"
    write_json(out, result)
    print_report(console, result)
    print_verdicts(console, result)
    console.print(f"results: {out}")
    failed = [name for name, c in measured.items() if "error" in c or c["failures"]]
    if failed:
        console.print(f"[red]failed: {', '.join(failed)}; see the JSON[/]")
    return 1 if failed else 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, help=f"timed runs of each command (default: {RUNS}; --quick {QUICK_RUNS})")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_RUNS} runs of each command")
    parser.add_argument("--yard", type=Path, help="the store `yard info` reads (default: a 5,000-part one)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="where the small store is kept")
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS_DIR, help="where the JSON results go")
    args = parser.parse_args(argv)
    args.runs = args.runs or (QUICK_RUNS if args.quick else RUNS)
    if args.runs < 1:
        parser.error("--runs must be 1 or more")
    if not SHIPBRAIN.is_file():
        parser.error(f"no {SHIPBRAIN}: install the package (pip install -e .) in this environment")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 1 if a command failed."""
    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 200)
    return run(args, console)


if __name__ == "__main__":
    sys.exit(main())
