"""What the benchmarks share: timings, CPU and memory figures, child processes, yards, the machine, result files.

Import it first (`from _common import ...`, the benchmarks run as scripts from this folder): it puts the
repository first on `sys.path`, ahead of this folder, whose `brain.py` would otherwise shadow the `brain` package
(this folder stays on the path, last, so that processes spawned by a benchmark find `_common` too).
"""

from __future__ import annotations

import functools
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import psutil
import pyarrow as pa
from rich.console import Console

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:] = [str(REPO), *(p for p in sys.path if Path(p or ".").resolve() not in (HERE, REPO)), str(HERE)]

if TYPE_CHECKING:
    from knowledge.store import YardStore

Json = dict[str, Any]
MiB = 1 << 20
GiB = 1 << 30
SHIPBRAIN = Path(sys.executable).with_name("shipbrain")
"""The `shipbrain` command of this Python environment."""


def fmt_s(value: float | None) -> str:
    """Seconds for humans (milliseconds to one decimal below a second)."""
    if value is None:
        return "-"
    return f"{value * 1e3:.1f} ms" if value < 1 else f"{value:.2f} s"


def fmt_x(value: float | None) -> str:
    """A ratio for humans."""
    return "-" if value is None else f"{value:.2f}x"


def fmt_bytes(value: float | None) -> str:
    """Bytes for humans."""
    if value is None:
        return "-"
    return f"{value / GiB:.2f} GiB" if abs(value) >= GiB else f"{value / MiB:.0f} MiB"


def report_targets(console: Console, checks: Sequence[tuple[str, bool]]) -> list[str]:
    """Print each target as met or missed; the names of those missed."""
    for name, ok in checks:
        console.print(f"{'[green]met' if ok else '[red]missed'}[/] {name}")
    return [name for name, ok in checks if not ok]


def rss_bytes() -> int:
    """Resident set size of this process now."""
    return int(psutil.Process().memory_info().rss)


def _proc_status_bytes(field: str) -> int | None:
    """A memory figure of this process from `/proc/self/status` (Linux), in bytes."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024  # "VmHWM:   123456 kB"
    except OSError:
        pass
    return None


def file_backed_rss_bytes() -> int | None:
    """Resident pages of this process that map files (RssFile: libraries and the yard's memory maps)."""
    return _proc_status_bytes("RssFile")


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (since start, or since `reset_peak_rss`)."""
    peak = _proc_status_bytes("VmHWM")
    if peak is not None:
        return peak
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is in bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def reset_peak_rss() -> bool:
    """Reset the peak RSS to the current RSS (Linux >= 4.0); False if not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def machine_info(**versions: str) -> Json:
    """What the benchmark ran on; `versions` adds the libraries a benchmark measures (name=version)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False)
        git = commit.stdout.strip() or None
    except OSError:
        git = None
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "total_ram_bytes": psutil.virtual_memory().total,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pyarrow": pa.__version__,
        **versions,
        "git_commit": git,
        "load_average": list(os.getloadavg()),  # other work on the machine skews the timings
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def write_json(path: Path, data: Json) -> None:
    """Write `data` to `path` atomically (a temporary file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def size_label(parts: int) -> str:
    """1M, 25M, 200k, 5k ... for file names and titles."""
    return f"{parts / 1e6:g}M" if parts >= 1_000_000 else f"{parts / 1e3:g}k"


# ---- timings -------------------------------------------------------------------------------------


def quantiles(values: Sequence[float], percentiles: Sequence[int] = (50, 95)) -> Json:
    """n, the percentiles (`p50_s`, `p95_s`, ...: linear interpolation between ranks), mean and max of timings.

    Each figure is None when there are no values.
    """
    names = [f"p{p}_s" for p in percentiles]
    if not values:
        return {"n": 0, **dict.fromkeys(names), "mean_s": None, "max_s": None}
    found = np.percentile(np.asarray(values, dtype=np.float64), list(percentiles))
    return {
        "n": len(values),
        **{n: float(v) for n, v in zip(names, found, strict=True)},
        "mean_s": float(np.mean(values)),
        "max_s": float(max(values)),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    """`a / b`, or None when either is missing or `b` is not positive."""
    return a / b if a is not None and b is not None and b > 0 else None


# ---- CPU -----------------------------------------------------------------------------------------


def process_cpu_seconds(process: psutil.Process, *, tree: bool = False) -> float:
    """User + system CPU seconds of a process and of its children that ended (with `tree`, live descendants too)."""
    t = process.cpu_times()
    total = float(t.user + t.system + t.children_user + t.children_system)
    if tree:
        for child in process.children(recursive=True):
            try:
                c = child.cpu_times()
            except psutil.Error:  # gone since the listing
                continue
            total += float(c.user + c.system)
    return total


def machine_cpu_seconds() -> tuple[float, float]:
    """CPU seconds every process of the machine spent busy, and the seconds the hypervisor stole."""
    t = psutil.cpu_times()
    busy = t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)
    return float(busy), float(getattr(t, "steal", 0.0))


def _watched_cpu(process: psutil.Process) -> float | None:
    try:
        return process_cpu_seconds(process)
    except psutil.Error:  # it exited
        return None


@dataclass
class CpuProbe:
    """CPU used while something ran: by this process, by the processes it watches, and by everything else.

    Made when the measured work starts; `stop()` gives cores busy on average over the wall time (1.0 is one core
    all the time): `cores_used` (this process, with `tree` its live descendants too), `NAME_cores` and
    `NAME_rss_bytes` per watched process, `other_cores_used` (the rest of the machine) and `stolen_cores`.
    """

    watched: Mapping[str, psutil.Process] = field(default_factory=dict)
    """Other processes whose CPU is reported apart, by name (e.g. `{"server": psutil.Process(pid)}`)."""
    tree: bool = False
    """Count this process's live descendants as its own (Ray's workers and daemons)."""
    load: float = field(init=False)
    began: float = field(init=False)
    _own: float = field(init=False)
    _watched: dict[str, float | None] = field(init=False)
    _machine: tuple[float, float] = field(init=False)

    def __post_init__(self) -> None:
        self.load = os.getloadavg()[0]
        self._own = process_cpu_seconds(psutil.Process(), tree=self.tree)
        self._watched = {name: _watched_cpu(p) for name, p in self.watched.items()}
        self._machine = machine_cpu_seconds()
        self.began = time.perf_counter()

    def stop(self, wall_s: float | None = None) -> Json:
        """The figures since the probe was made, over `wall_s` (default: the wall time since then)."""
        wall = max(time.perf_counter() - self.began if wall_s is None else wall_s, 1e-9)
        own = process_cpu_seconds(psutil.Process(), tree=self.tree) - self._own
        out: Json = {"load_average_at_start": self.load, "wall_s": wall, "cores_used": own / wall}
        watched = 0.0
        for name, process in self.watched.items():
            before, now = self._watched[name], _watched_cpu(process)
            used = None if before is None or now is None else now - before
            watched += used or 0.0
            out[f"{name}_cores"] = None if used is None else used / wall
            try:
                out[f"{name}_rss_bytes"] = int(process.memory_info().rss)
            except psutil.Error:
                out[f"{name}_rss_bytes"] = None
        busy, steal = machine_cpu_seconds()
        out["other_cores_used"] = max(busy - self._machine[0] - own - watched, 0.0) / wall
        out["stolen_cores"] = (steal - self._machine[1]) / wall
        return out


# ---- child processes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChildRun:
    """A command run to its end, with what it cost (`os.wait4`: this child alone, as a RUSAGE_CHILDREN delta)."""

    argv: tuple[str, ...]
    returncode: int
    wall_s: float
    user_s: float
    system_s: float
    peak_rss_bytes: int
    stdout: str
    stderr: str

    @property
    def cpu_s(self) -> float:
        """User + system CPU seconds."""
        return self.user_s + self.system_s


def run_child(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    on_stderr_line: Callable[[str, float], None] | None = None,
) -> ChildRun:
    """Run `argv` to its end: its output, wall clock, CPU and peak RSS.

    `on_stderr_line(line, seconds_since_start)` is called for each line the child writes to stderr, as it
    arrives (for progress lines).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        stderr = err if on_stderr_line is None else subprocess.PIPE
        process = subprocess.Popen(list(argv), env=env, cwd=cwd, stdout=out, stderr=stderr)
        if process.stderr is not None and on_stderr_line is not None:
            with process.stderr:
                for raw in process.stderr:
                    err.write(raw)
                    on_stderr_line(raw.decode(errors="replace").rstrip("\n"), time.perf_counter() - t0)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - t0
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is in bytes on macOS, KiB on Linux
        return ChildRun(
            argv=tuple(argv),
            returncode=process.returncode,
            wall_s=wall,
            user_s=usage.ru_utime,
            system_s=usage.ru_stime,
            peak_rss_bytes=usage.ru_maxrss * scale,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )


# ---- yards ---------------------------------------------------------------------------------------

GENERATE_STEP = re.compile(r"^\[(\d+)/(\d+)\] [\d,]+ parts: (.+?)\s*$")
"""A progress line of `shipbrain yard generate` (stderr not a terminal): `[11/16] 5,000 parts: checking the yard`."""
IMPORT_STEP = "checking the yard"
"""The first step of the import (`knowledge.importer.import_yard`); the steps before it generate the yard and write
it in the open yard format."""
FINGERPRINT_PARTS, FINGERPRINT_SEED = 5_000, 0
"""The small store whose digest stands for the installed generator, open-format writer and importer."""


def yard_paths(data_dir: Path, parts: int, seed: int) -> tuple[Path, Path]:
    """The store directory of a size and seed under `data_dir`, and the record (JSON) kept beside it.

    The names (`yard-1M-seed1`, ...) are the benchmarks' own: every benchmark shares the stores of
    `.shipbrain/bench`. The record says what the store is (parts, seed, the pipeline that made it, its digest) and
    how long making it took; a store is reused only with its record (`store_usable`).
    """
    name = f"yard-{size_label(parts)}-seed{seed}"
    return data_dir / name, data_dir / f"{name}.generation.json"


def _record_path(store: Path) -> Path:
    return store.with_name(f"{store.name}.generation.json")


def _generation_env() -> dict[str, str]:
    # one plain progress line per step (no bars), whatever the environment asks for
    return {**os.environ, "SHIPBRAIN_PROGRESS": "false"}


@functools.cache
def pipeline_fingerprint() -> str:
    """What the installed `shipbrain yard generate` makes, as one digest: that of a 5,000-part store it writes.

    The digest (`knowledge.importer.store_digest`, the checksums of every file of the store) changes when the
    generator, the open-format writer or the importer changes what a store holds; the same spec gives the same
    bytes, so an unchanged pipeline gives the same digest.
    """
    from knowledge.importer import store_digest

    with tempfile.TemporaryDirectory(prefix="pipeline-fingerprint-") as tmp:
        path = Path(tmp) / "yard"
        argv = [str(SHIPBRAIN), "yard", "generate", "--parts", str(FINGERPRINT_PARTS)]
        argv += ["--seed", str(FINGERPRINT_SEED), "--out", str(path)]
        done = run_child(argv, env=_generation_env())
        if done.returncode != 0:
            raise RuntimeError(f"`{' '.join(argv[1:])}` failed ({done.returncode}):\n{done.stderr[-4000:]}")
        return store_digest(path)


def store_usable(path: Path, parts: int, seed: int) -> bool:
    """Whether `path` holds a store of these parts and seed that the installed pipeline would make, and that opens.

    It needs its record (`yard_paths`) naming the parts, seed and `pipeline_fingerprint`, and the digest of the
    store as it is now: a store of an older format (a format-3 yard), replaced, or made by an older generator or
    importer is not usable.
    """
    from knowledge.errors import KnowledgeError
    from knowledge.importer import store_digest
    from knowledge.store import YardStore

    try:
        record = json.loads(_record_path(path).read_text())
        YardStore.open(path)
        digest = store_digest(path)
    except (KnowledgeError, OSError, ValueError):  # missing, incomplete, or of an older format
        return False
    if not isinstance(record, dict):
        return False
    return (
        record.get("parts") == parts
        and record.get("seed") == seed
        and record.get("store_digest") == digest
        and record.get("pipeline") == pipeline_fingerprint()
    )


def _run_generate(parts: int, seed: int, blocks: int | None, target: list[str]) -> tuple[Json, dict[str, float]]:
    """`shipbrain yard generate --parts --seed TARGET... --force [--blocks]` run to its end; what it cost, and steps.

    The steps: when each started, in seconds since the process started (from its progress lines). What it cost:
    `startup_s` (the process's start before the first step: interpreter and imports), `steps_s` (each step, to the
    next one or the process's end), `process_s`, `cpu_s`, `peak_rss_bytes`.
    """
    argv = [str(SHIPBRAIN), "yard", "generate", "--parts", str(parts), "--seed", str(seed), *target, "--force"]
    argv += [] if blocks is None else ["--blocks", str(blocks)]
    steps: list[tuple[str, float]] = []

    def step(line: str, at: float) -> None:
        if found := GENERATE_STEP.match(line):
            steps.append((found.group(3), at))

    done = run_child(argv, env=_generation_env(), on_stderr_line=step)
    if done.returncode != 0:
        raise RuntimeError(f"`{' '.join(argv[1:])}` failed ({done.returncode}):\n{done.stderr[-4000:]}")
    ends = [at for _, at in steps[1:]] + [done.wall_s]
    record = {
        "parts": parts,
        "seed": seed,
        "blocks": blocks,
        "command": " ".join(["shipbrain", *argv[1:]]),
        "startup_s": steps[0][1] if steps else None,
        "process_s": done.wall_s,
        "cpu_s": done.cpu_s,
        "steps_s": {name: end - at for (name, at), end in zip(steps, ends, strict=True)},
        "peak_rss_bytes": done.peak_rss_bytes,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return record, dict(steps)


def make_store(path: Path, parts: int, seed: int, *, blocks: int | None = None) -> Json:
    """Run `shipbrain yard generate` into `path` (replacing it): its timings per step and its peak memory.

    The command is `knowledge.generate_store` (generate -> open yard format -> import), run as a user runs it, in
    its own process. `generate_s` runs from its first step to the import (the yard generated and written in the
    open format), `import_s` from there to the process's end (the import and the printed summary); `total_s` is
    their sum, and `startup_s` the process's start before the first step (interpreter and imports).
    """
    from knowledge.importer import store_digest

    record, starts = _run_generate(parts, seed, blocks, ["--out", str(path)])
    first, importing, end = record["startup_s"], starts.get(IMPORT_STEP), record["process_s"]
    generate_s = importing - first if importing is not None and first is not None else None
    import_s = end - importing if importing is not None else None
    total_s = generate_s + import_s if generate_s is not None and import_s is not None else end
    return {
        **record,
        "store_digest": store_digest(path),
        "generate_s": generate_s,
        "import_s": import_s,
        "total_s": total_s,
    }


def write_open_format(path: Path, parts: int, seed: int, *, blocks: int | None = None) -> Json:
    """Run `shipbrain yard generate --format-only` into `path` (replacing it): its timings per step, peak memory.

    The synthetic yard in the open yard format alone (an export, to import): `knowledge.generate_store` with no
    store. `total_s` runs from its first step to the process's end.
    """
    record, _ = _run_generate(parts, seed, blocks, ["--open-format", str(path), "--format-only"])
    first, end = record["startup_s"], record["process_s"]
    return {**record, "total_s": end - first if first is not None else end}


def ensure_yard(
    data_dir: Path, parts: int, seed: int, console: Console, *, regenerate: bool = False
) -> tuple[Path, Json]:
    """Reuse or make (`shipbrain yard generate`) the synthetic yard's store of a size and seed; its path and record.

    A store is reused when `store_usable` accepts it (its record is returned, with `reused`); anything else at its
    path (a format-3 yard of older benchmarks, a store of an older pipeline) is replaced.
    """
    path, record = yard_paths(data_dir, parts, seed)
    if not regenerate and store_usable(path, parts, seed):
        generation = json.loads(record.read_text())
        console.log(f"reusing {path} (made {generation.get('date')})")
        return path, {**generation, "reused": True}
    console.log(f"making the store of {parts:,} parts (seed {seed}) in {path} (shipbrain yard generate) ...")
    data_dir.mkdir(parents=True, exist_ok=True)
    record.unlink(missing_ok=True)  # a record names the store it was written with, never a later one
    generation = {**make_store(path, parts, seed), "pipeline": pipeline_fingerprint()}
    record.write_text(json.dumps(generation, indent=2) + "\n")
    console.log(f"made in {generation['total_s']:.1f} s, peak {fmt_bytes(generation['peak_rss_bytes'])}")
    return path, {**generation, "reused": False}


def yard_parts(yard: YardStore) -> int:
    """A yard's physical parts: its parts and outfitting items (what `shipbrain yard generate --parts` counts)."""
    return yard.count("part") + yard.count("outfitting_item")


def store_summary(yard: YardStore) -> Json:
    """What a store holds: its path, name, parts, nodes and edges, nodes by kind and role, and its bytes on disk."""
    files = yard.manifest.files
    return {
        "path": str(yard.path),
        "name": yard.name,
        "parts": yard_parts(yard),
        "num_nodes": yard.num_nodes,
        "num_edges": yard.num_edges,
        "counts": yard.counts,
        "roles": {role: yard.count(role) for role in yard.roles},
        "graph_bytes": sum(int(e["bytes"]) for rel, e in files.items() if rel.startswith("graph/")),
        "bytes": sum(int(e["bytes"]) for e in files.values()),
    }


def parse_size(text: str) -> int:
    """A yard size as `size_label` writes it, back to parts: "25M", "1M", "200k", "1.5M" or a plain number."""
    value = text.strip().replace("_", "").replace(",", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(value[-1:].lower(), 1)
    number = value[:-1] if scale > 1 else value
    try:
        parts = round(float(number) * scale)
    except ValueError:
        raise ValueError(f"a yard size is a number of parts such as 25M, 1M or 200k, got {text!r}") from None
    if parts < 1:
        raise ValueError(f"a yard size is at least one part, got {text!r}")
    return parts


# ---- memory of a process tree ----------------------------------------------------------------------


def _pss_bytes(process: psutil.Process) -> int:
    """Proportional set size of a process (shared pages split between their users), or its RSS where unknown.

    Summed over processes that share memory maps (the yard's files, Ray's object store), PSS counts each page once.
    """
    try:
        for line in Path(f"/proc/{process.pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return int(process.memory_info().rss)


def tree_memory_bytes(root: psutil.Process | None = None) -> int:
    """Memory of a process and every live descendant (child processes, Ray's daemons and workers), as summed PSS."""
    root = root or psutil.Process()
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += _pss_bytes(process)
        except psutil.Error:  # gone since the listing
            continue
    return total


@dataclass
class MemoryWatch:
    """Peak memory of this process tree and of the machine while something runs, sampled on a thread.

    Start it with `start()` (or `with`), read the figures with `stop()`. With `limit_bytes` (the tree's memory) or
    `min_available_bytes` (the machine's available memory), `on_limit(reason)` is called once when either is crossed,
    so a benchmark can stop what it started before the machine runs out of memory.
    """

    interval_s: float = 0.25
    limit_bytes: int | None = None
    min_available_bytes: int | None = None
    on_limit: Callable[[str], None] | None = None
    peak_tree_bytes: int = field(init=False, default=0)
    machine_used_at_start_bytes: int = field(init=False, default=0)
    peak_machine_used_bytes: int = field(init=False, default=0)
    least_available_bytes: int = field(init=False, default=0)
    limit_hit: str | None = field(init=False, default=None)
    _stop: threading.Event = field(init=False, default_factory=threading.Event)
    _thread: threading.Thread | None = field(init=False, default=None)

    def start(self) -> MemoryWatch:
        """Begin sampling."""
        memory = psutil.virtual_memory()
        self.machine_used_at_start_bytes = int(memory.total - memory.available)
        self.least_available_bytes = int(memory.available)
        self._sample()
        self._thread = threading.Thread(target=self._run, name="memory-watch", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def _sample(self) -> None:
        tree = tree_memory_bytes()
        memory = psutil.virtual_memory()
        self.peak_tree_bytes = max(self.peak_tree_bytes, tree)
        self.peak_machine_used_bytes = max(self.peak_machine_used_bytes, int(memory.total - memory.available))
        self.least_available_bytes = min(self.least_available_bytes, int(memory.available))
        if self.limit_hit is None:
            if self.limit_bytes is not None and tree > self.limit_bytes:
                self.limit_hit = (
                    f"this benchmark's processes used {fmt_bytes(tree)} (limit {fmt_bytes(self.limit_bytes)})"
                )
            elif self.min_available_bytes is not None and memory.available < self.min_available_bytes:
                self.limit_hit = (
                    f"the machine had {fmt_bytes(memory.available)} available "
                    f"(at least {fmt_bytes(self.min_available_bytes)} must stay free)"
                )
            if self.limit_hit is not None and self.on_limit is not None:
                self.on_limit(self.limit_hit)

    def stop(self) -> Json:
        """Stop sampling; the peaks: this process tree (summed PSS), the machine's used memory, the least available."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        return {
            "peak_tree_bytes": self.peak_tree_bytes,
            "machine_used_at_start_bytes": self.machine_used_at_start_bytes,
            "peak_machine_used_bytes": self.peak_machine_used_bytes,
            "least_available_bytes": self.least_available_bytes,
            "limit_hit": self.limit_hit,
        }

    def __enter__(self) -> MemoryWatch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
