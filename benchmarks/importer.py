"""Benchmark of the open yard format's import (`knowledge.importer.import_yard`) on the synthetic yard.

Run it from the repository root:

```
python benchmarks/importer.py --size 1M
python benchmarks/importer.py --size 25M                      # about 48M nodes, 72M edges: see the targets
python benchmarks/importer.py --size 25M --yard /path/to/format-25M-seed1   # an existing open-format yard
```

1. **write**: the synthetic yard of that size in the open yard format (`shipbrain yard generate --format-only`,
   Parquet), in a fresh process (reused from `--data-dir` unless `--rewrite`; or `--yard`, any yard's directory).
2. **import**: `import_yard` of that directory into a new store, in a fresh process.

Each fresh process (multiprocessing "spawn") times its steps by the progress callback (wall and CPU seconds) and
reads the peak resident memory of each step (VmHWM, reset when a step starts) and of the whole process. The store
is deleted afterwards unless `--keep`. Prints a table and writes `benchmarks/results/importer-<size>.json`.

Targets (issue 12, at 25M parts, about 48M nodes and 72M edges, from Parquet): import < 3 min, peak RSS < 8 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from multiprocessing import get_context
from pathlib import Path

from _common import (
    REPO,
    GiB,
    Json,
    MemoryWatch,
    fmt_bytes,
    fmt_s,
    machine_info,
    parse_size,
    peak_rss_bytes,
    report_targets,
    reset_peak_rss,
    rss_bytes,
    size_label,
    write_json,
    write_open_format,
)
from rich.console import Console
from rich.table import Table

IMPORT_TARGET_S = 180.0
RSS_TARGET_BYTES = 8 * GiB


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class _Steps:
    """A progress callback that times each step and reads its peak RSS; each finished step is appended to `log`."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.began = time.perf_counter()
        self.steps: list[Json] = []
        self.rss_at_start = rss_bytes()
        self.resettable = reset_peak_rss()

    def __call__(self, name: str) -> None:
        self._close()
        if self.resettable:
            reset_peak_rss()
        self.steps.append(
            {"step": name, "t0": time.perf_counter(), "cpu0": time.process_time(), "rss_at_start_bytes": rss_bytes()}
        )
        with self.log.open("a") as fh:
            fh.write(json.dumps({"started": name, "at_s": time.perf_counter() - self.began}) + "\n")

    def _close(self) -> None:
        if self.steps and "wall_s" not in self.steps[-1]:
            last = self.steps[-1]
            last["wall_s"] = time.perf_counter() - last.pop("t0")
            last["cpu_s"] = time.process_time() - last.pop("cpu0")
            last["peak_rss_bytes"] = peak_rss_bytes()
            with self.log.open("a") as fh:
                fh.write(json.dumps(last) + "\n")

    def result(self) -> Json:
        self._close()
        peaks = [s["peak_rss_bytes"] for s in self.steps]
        return {
            "wall_s": time.perf_counter() - self.began,
            "cpu_s": time.process_time(),
            "rss_at_start_bytes": self.rss_at_start,
            "peak_rss_bytes": max([*peaks, self.rss_at_start]) if self.resettable else peak_rss_bytes(),
            "steps": self.steps,
        }


def phase_import(log: Path, source: str, out: str) -> Json:
    """In a fresh process: `import_yard` of the format's directory into a new store."""
    from knowledge.importer import import_yard

    steps = _Steps(log)
    manifest = import_yard(Path(source), Path(out), overwrite=True, progress=steps)
    return steps.result() | {
        "num_nodes": manifest.num_nodes,
        "num_edges": manifest.num_edges,
        "yard_edges": manifest.tables["edges"],
        "counts": manifest.counts,
        "bytes": _dir_bytes(Path(out)),
    }


def _child(fn: Callable[..., Json], log: Path, args: tuple[str, ...]) -> None:
    result = fn(log, *args)
    log.with_suffix(".result.json").write_text(json.dumps(result))


def run_guarded(fn: Callable[..., Json], *args: str, limit_bytes: int, min_available_bytes: int) -> Json:
    """Run `fn(log, *args)` in a fresh Python process (spawned), killed if memory runs short; its result.

    The child is killed when this process tree passes `limit_bytes` or the machine's available memory falls below
    `min_available_bytes` (other work shares the machine); the result then holds the steps it finished, the one it
    was in (`killed_in`) and why (`killed`).
    """
    with tempfile.TemporaryDirectory(prefix="importer-bench-") as tmp:
        log = Path(tmp) / "steps.jsonl"
        log.touch()
        process = get_context("spawn").Process(target=_child, args=(fn, log, args))
        began = time.perf_counter()
        process.start()
        watch = MemoryWatch(
            limit_bytes=limit_bytes, min_available_bytes=min_available_bytes, on_limit=lambda _why: process.kill()
        ).start()
        try:
            process.join()
        finally:
            memory = watch.stop()
        done = log.with_suffix(".result.json")
        if process.exitcode == 0 and done.is_file():
            return {**json.loads(done.read_text()), "memory_watch": memory}
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        started = [line for line in lines if "started" in line]
        return {
            "killed": memory["limit_hit"] or f"the child exited with {process.exitcode}",
            "killed_in": started[-1]["started"] if started else None,
            "killed_after_s": time.perf_counter() - began,
            "steps": [line for line in lines if "wall_s" in line],
            "memory_watch": memory,
        }


def ensure_format(
    yard: Path | None, data_dir: Path, parts: int, seed: int, console: Console, *, rewrite: bool = False
) -> tuple[Path, Json]:
    """The yard in the open format to import, and how it came.

    `yard` as given (read only), else the synthetic yard of `parts` and `seed` under `data_dir`: reused unless
    `rewrite`, else written by `yard generate --format-only` and timed.
    """
    fmt = yard if yard is not None else data_dir / f"format-{size_label(parts)}-seed{seed}"
    if yard is None and (rewrite or not (fmt / "yard.toml").is_file()):
        console.log(f"writing the synthetic yard of {parts:,} parts in the open yard format into {fmt} ...")
        written = _as_phase(write_open_format(fmt, parts, seed), fmt)
        console.log(f"written in {fmt_s(written['wall_s'])}")
        return fmt, written
    console.log(f"reusing {fmt}" + ("" if yard is not None else " (--rewrite to write it again)"))
    return fmt, {"reused": True, "bytes": _dir_bytes(fmt)}


def _as_phase(record: Json, fmt: Path) -> Json:
    """`write_open_format`'s record (a `shipbrain yard generate --format-only` child) in the shape of a phase."""
    steps = [
        {"step": name, "wall_s": seconds, "cpu_s": None, "peak_rss_bytes": None, "rss_at_start_bytes": None}
        for name, seconds in record["steps_s"].items()
    ]
    return {
        "wall_s": record["total_s"],
        "cpu_s": record["cpu_s"],
        "peak_rss_bytes": record["peak_rss_bytes"],
        "rss_at_start_bytes": None,
        "steps": steps,
        "bytes": _dir_bytes(fmt),
        "command": record["command"],
    }


def report(result: Json, console: Console) -> list[str]:
    """Print the steps of both phases and the targets; the targets missed."""
    table = Table(title=f"open yard format at {result['size']} parts: write, then import (fresh processes)")
    for column in ("phase / step", "wall", "CPU", "peak RSS (step)", "RSS at start"):
        table.add_column(column, justify="left" if column.startswith("phase") else "right")
    for phase in ("write", "import"):
        run = result[phase]
        if run.get("reused"):
            table.add_row(f"[bold]{phase}[/] (reused)", "-", "-", "-", "-")
            continue
        if run.get("killed"):
            table.add_row(f"[bold]{phase}[/] [red]killed[/]", fmt_s(run["killed_after_s"]), "-", "-", "-")
        else:
            table.add_row(
                f"[bold]{phase}[/]",
                fmt_s(run["wall_s"]),
                fmt_s(run["cpu_s"]),
                fmt_bytes(run["peak_rss_bytes"]),
                fmt_bytes(run["rss_at_start_bytes"]),
            )
        for s in run["steps"]:
            table.add_row(
                f"  {s['step']}",
                fmt_s(s["wall_s"]),
                fmt_s(s["cpu_s"]),
                fmt_bytes(s["peak_rss_bytes"]),
                fmt_bytes(s["rss_at_start_bytes"]),
            )
        if run.get("killed"):
            table.add_row(f"  {run['killed_in']} [red](killed: {run['killed']})[/]", "-", "-", "-", "-")
    console.print(table)
    imported = result["import"]
    if imported.get("killed"):
        console.print(f"[red]the import was killed in {imported['killed_in']!r}: {imported['killed']}[/]")
        return ["import < 3 min", "import peak RSS < 8 GiB"]
    console.print(
        f"{imported['num_nodes']:,} nodes, {imported['yard_edges']:,} yard edges "
        f"({imported['num_edges']:,} in the graph with the hierarchy's links); format "
        f"{fmt_bytes(result['write'].get('bytes'))} on disk, store {fmt_bytes(imported['bytes'])}"
    )
    checks = [
        ("import < 3 min", imported["wall_s"] < IMPORT_TARGET_S),
        ("import peak RSS < 8 GiB", imported["peak_rss_bytes"] < RSS_TARGET_BYTES),
    ]
    return report_targets(console, checks)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", default="1M", help="parts of the synthetic yard: 1M (default), 25M, 200k ...")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--data-dir", type=Path, default=REPO / ".shipbrain" / "bench")
    p.add_argument("--yard", type=Path, help="a yard in the open yard format to import (read only) instead")
    p.add_argument("--rewrite", action="store_true", help="write the format again even if it is there")
    p.add_argument("--keep", action="store_true", help="keep the imported store")
    p.add_argument("--max-memory", type=float, default=12.0, help="GiB this benchmark's processes may use (kill)")
    p.add_argument("--min-available", type=float, default=5.0, help="GiB the machine must keep available (kill)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 200)
    parts = parse_size(args.size)
    label = size_label(parts)
    guard = {"limit_bytes": int(args.max_memory * GiB), "min_available_bytes": int(args.min_available * GiB)}
    result: Json = {"size": label, "parts": parts, "seed": args.seed, "machine": machine_info(), "guard": guard}
    fmt, result["write"] = ensure_format(args.yard, args.data_dir, parts, args.seed, console, rewrite=args.rewrite)
    target = args.data_dir / f"imported-{label}-seed{args.seed}"
    if not result["write"].get("killed"):
        console.log(f"importing {fmt} into {target} in a fresh process ...")
        result["import"] = run_guarded(phase_import, str(fmt), str(target), **guard)
    else:
        result["import"] = {"killed": "not run: the write was killed", "killed_in": None, "killed_after_s": 0.0}
        result["import"]["steps"] = []
    for stale in [target, *args.data_dir.glob(f".{target.name}.importing-*")]:
        if stale != target or not args.keep:
            shutil.rmtree(stale, ignore_errors=True)  # a killed import leaves its temporary sibling
    result["machine"]["load_average_at_end"] = list(os.getloadavg())
    result["targets_missed"] = report(result, console)
    out = REPO / "benchmarks" / "results" / f"importer-{label}.json"
    write_json(out, result)
    console.log(f"wrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
