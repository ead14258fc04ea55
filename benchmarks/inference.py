"""Benchmark of batch inference (`adapters.executor.BatchExecutor`): every weld joint of a yard, in-process and on Ray.

Run it from the repository root (with the package installed, or with `PYTHONPATH=.`):

```
python benchmarks/inference.py --size 1M
python benchmarks/inference.py --size 25M             # or --size all (1M and 25M); any size: --size 200k
python benchmarks/inference.py --size 25M --profile   # plus one profiled run of each variant
```

Each size prints a table and writes `benchmarks/results/inference-<size>.json` with every measurement
and the machine it ran on (CPU count and model, RAM, load average, Python, numpy, pyarrow,
onnxruntime and Ray versions, date).

What it measures, scoring the welding model over every weld joint (the nodes of role joint) of the synthetic
yard's store of 1M parts (about 900k joints) or 25M parts (about 22.5M joints), seed 1 unless `--seed`:

- **Reading the rows**: `WeldingAdapter.yard_rows` (the store's joint table from Parquet, in the model's
  fields), timed apart from scoring. Stores live under `--data-dir` (default `.shipbrain/bench/`, shared with
  `benchmarks/graph.py`) and are reused when the record kept beside them names the parts, seed and installed
  pipeline (`benchmarks/_common.py: store_usable`), else made by `shipbrain yard generate`; `--regenerate`
  makes them afresh.
- **Three variants**, each in a fresh process (this script re-invoked with `--variant`):
  in-process with 1 onnxruntime thread, in-process with 2 threads (`OnnxTransport(threads=...)`,
  through `BatchExecutor(backend="in-process")`), and Ray with 2 workers
  (`BatchExecutor(backend="ray", workers=2)`). Each scores the rows `--repeats` times; rows/s is
  rows over the median wall clock (the first run and the best are kept too). Ray's start-up (local
  cluster and actors holding the model, until both actors answer) is timed apart and excluded.
- **Scaling efficiency**: (rows/s with 2 threads / rows/s with 1 thread) / 2.
- **Equality**: the predictions of each variant are written to an Arrow file and compared with
  `Table.equals` against the in-process 2-thread predictions (they are meant to be bit-identical).
- **Memory**: the peak RSS of each variant's process (`getrusage(RUSAGE_SELF).ru_maxrss`; for Ray,
  the driver), and for Ray the RSS of the worker processes: the two actors (summed at the end of the
  runs, and the peak of that sum sampled every 0.25 s), every `ray::` process (idle workers too) and
  Ray's own processes (raylet, gcs_server, ...) at the end. Worker RSS counts the object-store pages
  they mapped, which the driver's RSS may count as well.
- **Contention**: the machine is shared, so each run records the 1-minute load average at its start,
  the CPU the variant's process tree used (cores busy on average) and the CPU every other process
  used meanwhile (from `/proc/stat`). Before each variant the script waits (up to `--max-wait`
  seconds) for the load average to fall to `--max-load`.

Targets from the product issue are checked when the yard has 2M rows or more (at 1M parts they are
shown for information): in-process with both cores at least 350k rows/s, Ray with 2 workers within
15 % of it (start-up excluded), and the same predictions, row for row. The exit status is 1 if the
predictions differ or a variant failed (targets that fail are reported, not fatal).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Literal

import numpy as np
import psutil
import pyarrow as pa
from _common import (
    REPO,
    CpuProbe,
    Json,
    ensure_yard,
    fmt_bytes,
    fmt_x,
    machine_info,
    parse_size,
    peak_rss_bytes,
    ratio,
    rss_bytes,
    size_label,
    store_summary,
    write_json,
)
from rich.console import Console
from rich.table import Table

from adapters import Registry
from adapters.executor import BatchExecutor
from adapters.spec import ModelAdapter
from adapters.welding import WeldingAdapter
from knowledge.settings import Settings
from knowledge.store import YardStore

SIZES: dict[str, int] = {"1M": 1_000_000, "25M": 25_000_000}
"""The sizes `--size all` runs."""
BIG_PARTS = 10_000_000
DEFAULT_REPEATS, BIG_REPEATS = 5, 2
"""Timed runs per variant unless `--repeats`: fewer from `BIG_PARTS` (a 25M-part yard takes a minute or more)."""
DEFAULT_DATA_DIR = REPO / ".shipbrain" / "bench"
DEFAULT_RESULTS_DIR = REPO / "benchmarks" / "results"
NO_DATA_DIR = Path("/nonexistent")
"""A data dir with no `adapters.toml`: the registry holds the shipped models only."""
MODEL = "welding"
CHUNK_ROWS = 262_144
TARGET_MIN_ROWS = 2_000_000
"""The throughput targets apply to jobs of this many rows or more."""
TARGET_RATE = 350_000.0
TARGET_RAY_RATIO = 0.85
RSS_SAMPLE_S = 0.25
CONTENTION_CORES = 0.25
"""A variant is flagged when other processes were busy on more than this many cores beyond those it left free."""
PROFILE_LINES = 25
LOCAL_RAY_ENV = {"RAY_AUTH_MODE": "disabled", "SHIPBRAIN_RAY_NODE_IP": "127.0.0.2"}
"""Set for the Ray variant unless already set: no token for a local cluster, and Ray kept on loopback."""


@dataclass(frozen=True)
class Variant:
    """One way of scoring the rows."""

    name: str
    backend: Literal["in-process", "ray"]
    parallelism: int
    """onnxruntime threads (in-process) or Ray workers."""
    label: str


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("inproc1", "in-process", 1, "in-process, 1 thread"),
        Variant("inproc2", "in-process", 2, "in-process, 2 threads"),
        Variant("ray2", "ray", 2, "Ray, 2 workers"),
    )
}
REFERENCE = "inproc2"
"""The variant the others' predictions are compared with, and the one the throughput target is about."""


# ---- measuring (inside the variant processes) ----------------------------------------------------


class RssSampler:
    """Samples the summed RSS of some processes in a background thread and keeps the peak."""

    def __init__(self, processes: Sequence[psutil.Process], every_s: float = RSS_SAMPLE_S) -> None:
        self.processes = list(processes)
        self.every_s = every_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def sample(self) -> int:
        """The summed RSS now (processes that exited count 0)."""
        total = 0
        for p in self.processes:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        self.peak = max(self.peak, total)
        return total

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self.sample()

    def __enter__(self) -> RssSampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def read_rows(yard: Path) -> tuple[pa.Table, Json]:
    """Every joint of the yard as welding input rows, and how long reading them took."""
    t0 = time.perf_counter()
    rows = WeldingAdapter.yard_rows(YardStore.open(yard))
    read_s = time.perf_counter() - t0
    return rows, {
        "read_s": read_s,
        "rows": rows.num_rows,
        "columns": rows.column_names,
        "rows_bytes": rows.nbytes,
        "rss_after_read_bytes": rss_bytes(),
    }


def shipped_registry(threads: int) -> Registry:
    """The shipped models only, with the welding model's onnxruntime on `threads` threads."""
    registry = Registry.load(Settings(data_dir=NO_DATA_DIR))
    registry.configs[MODEL] = registry.configs[MODEL].model_copy(update={"threads": threads})
    return registry


def timed_runs(executor: BatchExecutor, rows: pa.Table, repeats: int) -> tuple[pa.Table, list[Json]]:
    """Score `rows` `repeats` times; the last predictions and each run's wall clock and CPU figures."""
    runs: list[Json] = []
    result: pa.Table | None = None
    for _ in range(repeats):
        result = None  # let the previous predictions go before the next run allocates its own
        gc.collect()
        probe = CpuProbe(tree=True)  # Ray: the driver, its workers and daemons
        t0 = time.perf_counter()
        result = executor.run(MODEL, rows)
        wall = time.perf_counter() - t0
        runs.append({"seconds": wall, "rows_per_s": rows.num_rows / wall, **probe.stop(wall)})
    assert result is not None
    return result, runs


def profiled_run(executor: BatchExecutor, rows: pa.Table) -> Json:
    """One more run under cProfile (this thread only: the driver); the top functions by own time."""
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    result = executor.run(MODEL, rows)
    profiler.disable()
    wall = time.perf_counter() - t0
    del result
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).strip_dirs()
    stats.sort_stats("tottime").print_stats(PROFILE_LINES)
    stats.sort_stats("cumulative").print_stats(PROFILE_LINES)
    return {"seconds": wall, "text": text.getvalue()}


def validation_seconds(registry: Registry, rows: pa.Table) -> float | None:
    """Time of validating every row once (what the Ray driver does before it sends any chunk)."""
    adapter = registry.get(MODEL)
    if not isinstance(adapter, ModelAdapter):
        return None
    t0 = time.perf_counter()
    adapter.validate(rows)
    return time.perf_counter() - t0


def write_predictions(table: pa.Table, path: Path) -> None:
    """Write predictions to an uncompressed Arrow file (memory-mapped back for the comparison)."""
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def run_in_process(variant: Variant, rows: pa.Table, args: argparse.Namespace) -> tuple[pa.Table, Json]:
    """Score with `BatchExecutor(backend="in-process")`, onnxruntime on `variant.parallelism` threads."""
    registry = shipped_registry(variant.parallelism)
    executor = BatchExecutor(
        registry, backend="in-process", chunk_rows=args.chunk_rows, settings=Settings(data_dir=NO_DATA_DIR)
    )
    result, runs = timed_runs(executor, rows, args.repeats)
    out: Json = {"runs": runs, "peak_rss_bytes": peak_rss_bytes()}
    if args.profile:
        out["profile"] = profiled_run(executor, rows)
    out["validate_s"] = validation_seconds(registry, rows)
    registry.close()
    return result, out


def ray_processes() -> tuple[list[psutil.Process], list[psutil.Process]]:
    """This process's descendants: Ray workers (`ray::...` process titles) and Ray's other processes."""
    workers: list[psutil.Process] = []
    system: list[psutil.Process] = []
    for child in psutil.Process().children(recursive=True):
        try:
            title = " ".join(child.cmdline())
        except psutil.Error:
            continue
        (workers if title.startswith("ray::") else system).append(child)
    return workers, system


def summed_rss(processes: Sequence[psutil.Process], uss: bool = False) -> int:
    """Summed RSS (or USS, memory private to each process) of processes still alive."""
    total = 0
    for p in processes:
        try:
            total += p.memory_full_info().uss if uss else p.memory_info().rss
        except psutil.Error:
            pass
    return total


def ray_memory(actors: Sequence[psutil.Process], sampler: RssSampler) -> Json:
    """RSS of the actors, of every `ray::` process and of Ray's own processes, at the end of the runs."""
    workers, system = ray_processes()
    return {
        "actor_rss_bytes": summed_rss(actors),
        "actor_uss_bytes": summed_rss(actors, uss=True),
        "actor_rss_peak_sampled_bytes": sampler.peak,
        "ray_workers": len(workers),
        "ray_workers_rss_bytes": summed_rss(workers),
        "ray_system_processes": sorted({p.name() for p in system if p.is_running()}),
        "ray_system_rss_bytes": summed_rss(system),
    }


def start_ray(executor: BatchExecutor) -> tuple[list[psutil.Process], Json]:
    """Start the cluster and the actors (timed), until every actor has answered."""
    import ray

    t0 = time.perf_counter()
    actors = executor.actors(MODEL)  # ray.init(), then actors created asynchronously
    t1 = time.perf_counter()
    pids = ray.get([a.pid.remote() for a in actors])  # each has loaded the model
    t2 = time.perf_counter()
    startup = {"startup_s": t2 - t0, "ray_init_s": t1 - t0, "actors_ready_s": t2 - t1, "actor_pids": pids}
    return [psutil.Process(pid) for pid in pids], startup


def run_ray(variant: Variant, rows: pa.Table, args: argparse.Namespace) -> tuple[pa.Table, Json]:
    """Score with `BatchExecutor(backend="ray", workers=variant.parallelism)`; start-up timed apart."""
    import ray

    registry = shipped_registry(1)  # the actors run one thread each whatever this says
    settings = Settings(data_dir=NO_DATA_DIR)
    executor = BatchExecutor(
        registry, backend="ray", workers=variant.parallelism, chunk_rows=args.chunk_rows, settings=settings
    )
    try:
        actors, out = start_ray(executor)
        out["ray_address"] = os.environ.get("RAY_ADDRESS")
        with RssSampler(actors) as sampler:
            result, out["runs"] = timed_runs(executor, rows, args.repeats)
        out["peak_rss_bytes"] = peak_rss_bytes()
        out["memory"] = ray_memory(actors, sampler)
        out["chunks"] = executor.last_report.chunks if executor.last_report else None
        if args.profile:
            out["profile"] = profiled_run(executor, rows)
        out["validate_s"] = validation_seconds(registry, rows)
    finally:
        executor.close()
        ray.shutdown()
    return result, out


def variant_main(args: argparse.Namespace) -> int:
    """Run one variant in this process; write its measurements (JSON) to `--report` or stdout."""
    variant = VARIANTS[args.variant]
    baseline = rss_bytes()
    rows, reading = read_rows(args.yard)
    run = run_in_process if variant.backend == "in-process" else run_ray
    result, out = run(variant, rows, args)
    del rows
    if args.predictions:
        write_predictions(result, args.predictions)
    report = {"variant": variant.name, "label": variant.label, "baseline_rss_bytes": baseline, **reading, **out}
    text = json.dumps(report, indent=2) + "\n"
    if args.report:
        args.report.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


# ---- yards ---------------------------------------------------------------------------------------


def yard_summary(path: Path) -> Json:
    """Sizes of the store: its nodes by kind and role, its joints and the bytes of their table."""
    yard = YardStore.open(path)
    joint_table = yard.manifest.files.get("roles/joint.parquet")
    return {
        **store_summary(yard),
        "joints": yard.count("joint"),
        "joints_parquet_bytes": None if joint_table is None else int(joint_table["bytes"]),
    }


# ---- running the variants (from the parent process) ----------------------------------------------


def self_command() -> list[str]:
    """This script, run by this Python."""
    return [sys.executable, str(Path(__file__).resolve())]


def wait_for_quiet(max_load: float, max_wait_s: float, console: Console) -> Json:
    """Wait until the 1-minute load average is at most `max_load`, for `max_wait_s` seconds at most."""
    first = load = os.getloadavg()[0]
    t0 = time.monotonic()
    if load > max_load:
        console.log(f"load average {load:.2f} > {max_load}: waiting for it (at most {max_wait_s:.0f} s) ...")
    while load > max_load and time.monotonic() - t0 < max_wait_s:
        time.sleep(10)
        load = os.getloadavg()[0]
    return {"load_before_wait": first, "waited_s": time.monotonic() - t0, "load_at_start": load}


def run_variant(name: str, yard: Path, args: argparse.Namespace, workdir: Path, console: Console) -> Json:
    """Run one variant in a fresh process; its report, or `{"error": ...}` if it failed."""
    variant = VARIANTS[name]
    quiet = wait_for_quiet(args.max_load, args.max_wait, console)
    console.log(f"{variant.label}: scoring {args.repeats} times in a fresh process (load {quiet['load_at_start']:.2f})")
    report, predictions = workdir / f"{name}.json", workdir / f"{name}.arrow"
    command = [*self_command(), "--variant", name, "--yard", str(yard), "--repeats", str(args.repeats)]
    command += ["--chunk-rows", str(args.chunk_rows), "--report", str(report), "--predictions", str(predictions)]
    command += ["--profile"] if args.profile else []
    env = dict(os.environ)
    if variant.backend == "ray":
        env.update({k: v for k, v in LOCAL_RAY_ENV.items() if k not in env})
    t0 = time.perf_counter()
    done = subprocess.run(command, env=env, check=False)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0 or not report.is_file():
        console.log(f"[red]{variant.label} failed (exit status {done.returncode})[/]")
        return {"variant": name, "label": variant.label, "error": f"exit status {done.returncode}", **quiet}
    out: Json = json.loads(report.read_text())
    console.log(f"{variant.label}: {fmt_rate(median_rate(out))} (process {elapsed:.1f} s)")
    return {**out, **quiet, "process_s": elapsed}


def load_predictions(path: Path) -> pa.Table:
    """Predictions written by a variant, memory-mapped (no copy)."""
    return pa.ipc.open_file(pa.memory_map(str(path))).read_all()


def compare_predictions(workdir: Path, name: str, reference: str) -> Json | None:
    """Whether a variant's predictions equal the reference's (`Table.equals`), and where they differ if not."""
    a_path, b_path = workdir / f"{name}.arrow", workdir / f"{reference}.arrow"
    if not (a_path.is_file() and b_path.is_file()):
        return None
    a, b = load_predictions(a_path), load_predictions(b_path)
    out: Json = {"against": reference, "equal": a.equals(b), "rows": a.num_rows, "reference_rows": b.num_rows}
    if not out["equal"] and a.num_rows == b.num_rows and a.schema.equals(b.schema):
        for column in a.column_names:
            x, y = np.asarray(a.column(column)), np.asarray(b.column(column))
            differ = np.flatnonzero(x != y)
            out[column] = {
                "rows_differing": int(len(differ)),
                "first_row": int(differ[0]) if len(differ) else None,
                "max_abs_difference": float(np.max(np.abs(x - y))) if len(differ) else 0.0,
            }
    return out


# ---- targets and rows of the table ---------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A figure from the product issue: a floor (`value >= limit`)."""

    limit: float
    unit: str

    def passed(self, value: float | None) -> bool | None:
        """Whether `value` meets the target (None if it was not measured)."""
        return None if value is None else value >= self.limit

    def label(self) -> str:
        """The target as text."""
        if self.unit == "equal":
            return "equal, row for row"
        if self.unit == "ratio":
            return f">= {self.limit:.2f}x (within {1 - self.limit:.0%})"
        return f">= {fmt_rate(self.limit)}"


@dataclass
class Row:
    """One line of the printed table (and of the JSON `rows`)."""

    metric: str
    cells: dict[str, str]
    target: Target | None = None
    checked: float | None = None
    """The figure the target is checked against."""
    applies: bool = True
    """False when the target is shown for information only (fewer rows than the target is about)."""

    def passed(self) -> bool | None:
        """Whether the target passed (None without a target, a figure, or when it does not apply)."""
        return self.target.passed(self.checked) if self.target and self.applies else None

    def to_json(self) -> Json:
        """The row as JSON, with its target and whether it passed."""
        return {
            "metric": self.metric,
            "cells": self.cells,
            "target": self.target.label() if self.target else None,
            "target_applies": self.applies if self.target else None,
            "value": self.checked,
            "passed": self.passed(),
        }


def median_rate(v: Json) -> float | None:
    """Rows over the median wall clock of a variant's runs."""
    if "runs" not in v:
        return None
    return float(v["rows"] / statistics.median(r["seconds"] for r in v["runs"]))


def best_rate(v: Json) -> float | None:
    """Rows per second of a variant's fastest run."""
    return max(r["rows_per_s"] for r in v["runs"]) if "runs" in v else None


def median_of(v: Json, key: str) -> float | None:
    """Median of one per-run figure of a variant."""
    return statistics.median(r[key] for r in v["runs"]) if "runs" in v else None


def derived(variants: dict[str, Json]) -> Json:
    """Rates, scaling efficiency and the Ray / in-process ratio."""
    rates = {name: median_rate(v) for name, v in variants.items()}
    two_over_one = ratio(rates.get("inproc2"), rates.get("inproc1"))
    return {
        "rows_per_s": rates,
        "best_rows_per_s": {name: best_rate(v) for name, v in variants.items()},
        "scaling_efficiency": two_over_one / 2 if two_over_one is not None else None,
        "ray_over_in_process": ratio(rates.get("ray2"), rates.get(REFERENCE)),
    }


def per_variant(variants: dict[str, Json], cell: Callable[[Json], str]) -> dict[str, str]:
    """One cell per variant ("failed" for a variant that failed)."""
    return {name: ("failed" if "error" in v else cell(v)) for name, v in variants.items()}


def ray_only(variants: dict[str, Json], cell: Callable[[Json], str]) -> dict[str, str]:
    """A cell for the Ray variant only."""
    v = variants.get("ray2")
    return {} if v is None or "error" in v else {"ray2": cell(v)}


def timing_rows(variants: dict[str, Json], figures: Json, applies: bool) -> list[Row]:
    """Reading, start-up, scoring time and throughput, with the throughput targets."""
    rates, best = figures["rows_per_s"], figures["best_rows_per_s"]
    runs = max((len(v.get("runs", [])) for v in variants.values()), default=0)
    ray_ratio, efficiency = figures["ray_over_in_process"], figures["scaling_efficiency"]
    return [
        Row("read rows from Parquet (yard_rows)", per_variant(variants, lambda v: fmt_s(v["read_s"]))),
        Row(
            "start-up (excluded): ray.init + actors",
            ray_only(
                variants, lambda v: f"{fmt_s(v['startup_s'])} ({fmt_s(v['ray_init_s'])} + {fmt_s(v['actors_ready_s'])})"
            ),
        ),
        Row(
            f"scoring, median of {runs} (first)",
            per_variant(variants, lambda v: f"{fmt_s(median_of(v, 'seconds'))} ({fmt_s(v['runs'][0]['seconds'])})"),
        ),
        Row(
            "rows/s, median (best)",
            per_variant(variants, lambda v: f"{fmt_rate(rates[v['variant']])} ({fmt_rate(best[v['variant']])})"),
            Target(TARGET_RATE, "rate"),
            rates.get(REFERENCE),
            applies,
        ),
        Row(
            "Ray / in-process 2 threads (rows/s)",
            {"ray2": fmt_x(ray_ratio)} if ray_ratio else {},
            Target(TARGET_RAY_RATIO, "ratio"),
            ray_ratio,
            applies,
        ),
        Row("scaling efficiency (rate2 / rate1) / 2", {"inproc2": fmt_pct(efficiency)} if efficiency else {}),
        Row("validate all rows once (driver, after the runs)", per_variant(variants, lambda v: fmt_s(v["validate_s"]))),
    ]


def contention_rows(variants: dict[str, Json]) -> list[Row]:
    """How busy the machine was while each variant scored."""
    return [
        Row("load average (1 min) at start", per_variant(variants, lambda v: f"{v['load_at_start']:.2f}")),
        Row(
            "cores used while scoring: variant (process tree)",
            per_variant(variants, lambda v: f"{median_of(v, 'cores_used'):.2f}"),
        ),
        Row(
            "cores used while scoring: other processes",
            per_variant(variants, lambda v: f"{median_of(v, 'other_cores_used'):.2f}"),
        ),
    ]


def memory_rows(variants: dict[str, Json]) -> list[Row]:
    """Rows table size, peak RSS of each variant's process, and Ray's processes."""

    def memory(v: Json, key: str) -> str:
        return fmt_bytes(v["memory"][key])

    return [
        Row("rows table in memory (Arrow)", per_variant(variants, lambda v: fmt_bytes(v["rows_bytes"]))),
        Row(
            "peak RSS of the variant's process (ru_maxrss; Ray: driver)",
            per_variant(variants, lambda v: fmt_bytes(v["peak_rss_bytes"])),
        ),
        Row(
            "Ray actors' RSS: end of runs, sum of 2 (sampled peak)",
            ray_only(
                variants, lambda v: f"{memory(v, 'actor_rss_bytes')} ({memory(v, 'actor_rss_peak_sampled_bytes')})"
            ),
        ),
        Row(
            "Ray actors' USS (private memory) at the end, sum",
            ray_only(variants, lambda v: memory(v, "actor_uss_bytes")),
        ),
        Row(
            "all ray:: processes' RSS at the end (count)",
            ray_only(variants, lambda v: f"{memory(v, 'ray_workers_rss_bytes')} ({v['memory']['ray_workers']})"),
        ),
        Row(
            "Ray system processes' RSS at the end (raylet, gcs, ...)",
            ray_only(variants, lambda v: memory(v, "ray_system_rss_bytes")),
        ),
    ]


def equality_rows(equality: dict[str, Json | None]) -> list[Row]:
    """Whether each variant's predictions equal the reference's."""
    cells = {name: ("-" if e is None else ("equal" if e["equal"] else "DIFFERENT")) for name, e in equality.items()}
    ray = equality.get("ray2")
    checked = None if ray is None else float(ray["equal"])
    return [Row("predictions equal to in-process 2 threads", cells, Target(1.0, "equal"), checked)]


def report_rows(variants: dict[str, Json], figures: Json, equality: dict[str, Json | None], rows: int) -> list[Row]:
    """Every line of the table."""
    applies = rows >= TARGET_MIN_ROWS
    return [
        *timing_rows(variants, figures, applies),
        *equality_rows(equality),
        *contention_rows(variants),
        *memory_rows(variants),
    ]


# ---- formatting and reporting --------------------------------------------------------------------


def fmt_s(value: float | None) -> str:
    """Seconds for humans."""
    if value is None:
        return "-"
    return f"{value * 1e3:.0f} ms" if value < 1 else f"{value:.2f} s"


def fmt_rate(value: float | None) -> str:
    """Rows per second for humans."""
    return "-" if value is None else f"{value / 1e3:,.0f}k rows/s"


def fmt_pct(value: float | None) -> str:
    """A fraction as a percentage."""
    return "-" if value is None else f"{value:.0%}"


def print_report(console: Console, result: Json, rows: list[Row]) -> None:
    """The results table of one size."""
    yard = result["yard"]
    title = (
        f"Welding inference, {result['size']} parts: {yard['joints']:,} joints, chunks of {result['chunk_rows']:,} rows"
    )
    table = Table(title=title, caption=caption(result), show_lines=False)
    table.add_column("metric")
    for name in result["variants"]:
        table.add_column(VARIANTS[name].label, justify="right")
    table.add_column("target", justify="right")
    table.add_column("pass", justify="center")
    for row in rows:
        passed = row.passed()
        if row.target and not row.applies:
            mark = "[dim]n/a[/]"
        else:
            mark = "" if passed is None else ("[green]PASS[/]" if passed else "[red]FAIL[/]")
        cells = [row.cells.get(name, "") for name in result["variants"]]
        table.add_row(row.metric, *cells, row.target.label() if row.target else "", mark)
    console.print(table)


def caption(result: Json) -> str:
    """Machine and method, under the table."""
    m = result["machine"]
    scope = "" if result["targets_apply"] else f"; targets apply from {TARGET_MIN_ROWS:,} rows (n/a: information)"
    return (
        f"each variant in a fresh process, rows/s over the median run; Ray start-up excluded{scope}. "
        f"{m['cpu_count']} CPUs ({m['cpu_model']}), {fmt_bytes(m['total_ram_bytes'])} RAM, load average "
        f"{m['load_average'][0]:.2f} at the end; Python {m['python']}, numpy {m['numpy']}, pyarrow {m['pyarrow']}, "
        f"onnxruntime {m['onnxruntime']}, ray {m['ray']}; {m['date']}"
    )


def print_profiles(console: Console, variants: dict[str, Json]) -> None:
    """The profiled run of each variant (the driver's thread), when `--profile` asked for it."""
    for v in variants.values():
        if "profile" in v:
            console.rule(f"profile of one run, {v['label']} ({fmt_s(v['profile']['seconds'])} under cProfile)")
            console.print(v["profile"]["text"], markup=False, highlight=False)


def contended(v: Json) -> float | None:
    """Cores other processes took, beyond those the variant left free, while it scored (median; None if not)."""
    others = median_of(v, "other_cores_used")
    free = (os.cpu_count() or 1) - VARIANTS[v["variant"]].parallelism
    return others if others is not None and others > free + CONTENTION_CORES else None


def warn_contention(console: Console, variants: dict[str, Json]) -> None:
    """Say so when other processes took cores a variant needed while it scored (its rate is then understated)."""
    shared = {v["label"]: cores for v in variants.values() if (cores := contended(v)) is not None}
    if shared:
        listed = ", ".join(f"{label} {cores:.2f}" for label, cores in shared.items())
        console.print(
            f"[yellow]other processes took cores the variant needed (cores, median): {listed}; "
            "its rate is understated[/]"
        )


# ---- orchestration -------------------------------------------------------------------------------


def run_size(parts: int, args: argparse.Namespace, console: Console) -> bool:
    """Benchmark one size, print its table and write its JSON; False if predictions differ or a variant failed."""
    size = size_label(parts)
    path, generation = ensure_yard(args.data_dir, parts, args.seed, console, regenerate=args.regenerate)
    args.repeats = args.repeats_option or (BIG_REPEATS if parts >= BIG_PARTS else DEFAULT_REPEATS)
    variants: dict[str, Json] = {}
    equality: dict[str, Json | None] = {}
    with tempfile.TemporaryDirectory(prefix="inference-", dir=args.data_dir) as tmp:
        for name in VARIANTS:
            variants[name] = run_variant(name, path, args, Path(tmp), console)
        for name in VARIANTS:
            if name != REFERENCE:
                equality[name] = compare_predictions(Path(tmp), name, REFERENCE)
    figures = derived(variants)
    yard = yard_summary(path)
    rows = report_rows(variants, figures, equality, yard["joints"] or 0)
    result: Json = {
        "benchmark": "inference",
        "size": size,
        "model": MODEL,
        "repeats": args.repeats,
        "chunk_rows": args.chunk_rows,
        "targets_apply": (yard["joints"] or 0) >= TARGET_MIN_ROWS,
        "machine": machine_info(onnxruntime=version("onnxruntime"), ray=version("ray")),
        "yard": yard,
        "generation": generation,
        "variants": variants,
        "equality": equality,
        **figures,
        "rows": [r.to_json() for r in rows],
    }
    out = args.results_dir / f"inference-{size}.json"
    write_json(out, result)
    print_report(console, result, rows)
    print_profiles(console, variants)
    warn_contention(console, variants)
    failed = [r.metric for r in rows if r.passed() is False]
    if failed:
        console.print(f"[red]targets missed at {size}:[/] {'; '.join(failed)}")
    console.print(f"results: {out}")
    all_ran = all("error" not in v for v in variants.values())
    return all_ran and all(e is not None and e["equal"] for e in equality.values())


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--size", action="append", help="parts of the yard: 1M, 25M, 200k ...; repeat, or 'all' (default: 1M)"
    )
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default: 1)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="where stores are made and reused")
    parser.add_argument("--regenerate", action="store_true", help="make the stores even if they exist")
    parser.add_argument("--repeats", dest="repeats_option", type=int, help="timed runs per variant (1M: 5, 25M: 2)")
    parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS, help=f"rows per chunk (default {CHUNK_ROWS:,})")
    parser.add_argument("--profile", action="store_true", help="one more run of each variant under cProfile")
    parser.add_argument("--max-load", type=float, default=1.5, help="wait for this load average before a variant")
    parser.add_argument("--max-wait", type=float, default=180, help="seconds to wait for it at most (default: 180)")
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS_DIR, help="where the JSON results go")
    internal = parser.add_argument_group("internal (the script re-invokes itself with these)")
    internal.add_argument("--variant", choices=list(VARIANTS), help="run one variant in this process")
    internal.add_argument("--yard", type=Path, help="the store the variant scores")
    internal.add_argument("--report", type=Path, help="where the variant writes its JSON (default: stdout)")
    internal.add_argument("--predictions", type=Path, help="where the variant writes its predictions (Arrow file)")
    args = parser.parse_args(argv)
    chosen = args.size or ["1M"]
    try:
        args.sizes = sorted({p for c in chosen for p in (SIZES.values() if c == "all" else [parse_size(c)])})
    except ValueError as exc:
        parser.error(str(exc))
    args.repeats = args.repeats_option or DEFAULT_REPEATS
    if args.repeats < 1 or args.chunk_rows < 1:
        parser.error("--repeats and --chunk-rows must be 1 or more")
    if args.variant and args.yard is None:
        parser.error("--variant needs --yard")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark for every size asked; 1 if predictions differed or a variant failed anywhere."""
    args = parse_args(argv)
    if args.variant:
        return variant_main(args)
    console = Console(width=None if sys.stdout.isatty() else 180)
    ok = True
    for parts in args.sizes:
        ok = run_size(parts, args, console) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
