"""Benchmark of an imported store's graph queries (`knowledge.store.YardStore`), against networkx in the same run.

Run it from the repository root (with the package installed, or with `PYTHONPATH=.`):

```
python benchmarks/graph.py --size 1M
python benchmarks/graph.py --size 1M --size 5M     # or --size all (1M, 5M and 25M); any size: --size 200k
python benchmarks/graph.py --size 25M --regenerate --data-dir /big/disk/bench
python benchmarks/graph.py --yard PATH             # any imported store (its size is its parts and items)
```

Each size prints a table and writes `benchmarks/results/graph-<size>.json` (`graph-<size>-<store name>.json` for
`--yard`) with every measurement and the machine it ran on (CPU count, RAM, Python, numpy, networkx and pyarrow
versions, date).

What it measures, for the synthetic yard's store of 1M, 5M or 25M parts (seed 1 unless `--seed`), or `--yard`:

- **Making the store**: `shipbrain yard generate` in a child process, as a user runs it (generate -> open yard
  format -> import, `knowledge.generate_store`): the time to generate the yard and write it in the open format,
  the time to import it (from its progress lines, the process's start-up apart), and the peak resident memory of
  that process. Stores live under `--data-dir` (default `.shipbrain/bench/`) and are reused when the record kept
  beside them names the parts, seed and installed pipeline (`benchmarks/_common.py: store_usable`);
  `--regenerate` makes them afresh.
- **Store**: open time, resident memory (RSS) after open and after the queries, and the queries (by role, never
  by the yard's kinds or codes): upstream closure of the key block (the first erected: its closure is its own
  structure), upstream closure of the last block erected (its closure crosses most of the ship), downstream
  closure of the first part of the key block (`upstream` and `downstream`, the nodes as an array), and the
  topological order (on a freshly opened store, so its levels are not cached). Each query is timed once ("first":
  fresh memory maps; the first upstream closure also loads, or builds and keeps, the store's entering-edge index)
  and then `--repeats` times ("warm": the median is reported). Closures as node ranges, and kuzu, are
  `benchmarks/store.py`'s.
- **Cold page cache**: the store's files (and the index cached beside it) are evicted from the page cache
  (`posix_fadvise(DONTNEED)` on every file, and `/proc/sys/vm/drop_caches` when writable, i.e. as root: that
  drops the whole machine's clean page cache), checked with `mincore`, then a fresh process opens the store and
  times its first closure of each block (`--no-drop-caches`: the store's files alone, on a shared machine).
- **networkx** (up to 5M parts): a `DiGraph` built from the same edges (`YardStore.edge_arrays`: the yard's
  own and each child -> parent) in a separate process, its build time and the memory it adds, and the same
  queries (`nx.ancestors`, `nx.descendants`, `nx.topological_sort`). Both sides must find closures of the same
  nodes (sizes and SHA-256 of the sorted nodes are compared); ratios networkx / store are printed.

Every side runs in a fresh process (multiprocessing "spawn"), so that one side's memory does not
pollute the other's. Memory is read from psutil (RSS) and `/proc/self/status` (VmHWM, the peak RSS,
reset through `/proc/self/clear_refs` before the phase it measures).

Targets from the product issue are checked where they apply: at 25M parts, making the store < 90 s with a
peak under 8 GiB (the issue's figure for generating the yard, now the whole pipeline), open < 0.2 s (the first
open of a process), RSS after open < 1 GiB (the whole process), key-block upstream closure < 10 ms warm (median)
and < 50 ms cold (first call), topological order < 5 s (median); at 5M parts against networkx, at least 20x
less memory (RSS added after all the queries, the store's mapped file pages included), 5x faster key-block
closure and 3x faster topological order (medians). The exit status is 1 if the two sides disagree on a closure
or the topological order is invalid (targets that fail are reported, not fatal).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import hashlib
import mmap
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

import networkx as nx
import numpy as np
import numpy.typing as npt
from _common import (
    REPO,
    GiB,
    Json,
    MiB,
    ensure_yard,
    file_backed_rss_bytes,
    machine_info,
    parse_size,
    peak_rss_bytes,
    ratio,
    reset_peak_rss,
    rss_bytes,
    size_label,
    store_summary,
    write_json,
)
from rich.console import Console
from rich.table import Table

from knowledge.store import YardStore

SIZES: dict[str, int] = {"1M": 1_000_000, "5M": 5_000_000, "25M": 25_000_000}
"""The sizes `--size all` runs."""
COMPARED_MAX_PARTS = 5_000_000
"""Yards up to this many parts are run against networkx side by side (a 25M-part DiGraph would need about 30 GB)."""
DEFAULT_DATA_DIR = REPO / ".shipbrain" / "bench"
DEFAULT_RESULTS_DIR = REPO / "benchmarks" / "results"
EDGE_CHUNK = 1 << 20
"""Edges handed to networkx per `add_edges_from` call (bounds the temporary Python lists)."""

T = TypeVar("T")
S = TypeVar("S")


# ---- measuring (inside the worker processes) -----------------------------------------------------


def timed(run: Callable[[S], T], setup: Callable[[], S], repeats: int) -> tuple[T, Json]:
    """Time `run(setup())` once ("first"), then `repeats` more times ("warm"); `setup` is not timed.

    Returns:
        The last result and `{"first_s", "median_s", "runs_s"}`, the median over the warm runs.
    """
    runs: list[float] = []
    result: T | None = None
    for _ in range(repeats + 1):
        arg = setup()
        result = None  # let the previous result go before the next call allocates its own
        t0 = time.perf_counter()
        result = run(arg)
        runs.append(time.perf_counter() - t0)
    assert result is not None
    warm = runs[1:] or runs
    return result, {"first_s": runs[0], "median_s": statistics.median(warm), "runs_s": runs}


def no_setup() -> None:
    """Nothing to prepare before a timed call."""
    return None


def digest(ids: npt.ArrayLike) -> str:
    """SHA-256 (first 16 hex digits) of a set of nodes, sorted as int32."""
    arr = np.sort(np.asarray(ids, dtype=np.int32))
    return hashlib.sha256(arr.tobytes()).hexdigest()[:16]


def set_digest(nodes: set[int]) -> str:
    """`digest` of a Python set of nodes."""
    return digest(np.fromiter(nodes, dtype=np.int32, count=len(nodes)))


# ---- isolation -----------------------------------------------------------------------------------


def run_isolated(fn: Callable[..., T], *args: Any) -> T:
    """Run `fn(*args)` in a fresh Python process (spawned, not forked) and return its result."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


@dataclass(frozen=True)
class QueryNodes:
    """The nodes the queries start from, picked deterministically from the yard."""

    key_block: int
    high_block: int
    part: int
    codes: dict[str, str]


def pick_query_nodes(path: Path) -> QueryNodes:
    """Key block (first erected), last block erected, and the first part of the key block, by role.

    Blocks are ordered by their `erection_sequence` where the yard gives it, else by node; a yard with no parts
    starts the downstream closure from the key block's first member (the block itself if it has none).
    """
    yard = YardStore.open(path)
    blocks = yard.nodes_of_role("block")
    if not len(blocks):
        raise SystemExit(f"{path}: the yard maps no kind onto the role block; the graph queries start from blocks")
    if "erection_sequence" in yard.fields("block"):
        sequence = yard.field_of("block", "erection_sequence", blocks)
        key, high = int(blocks[int(np.argmin(sequence))]), int(blocks[int(np.argmax(sequence))])
    else:
        key, high = int(blocks[0]), int(blocks[-1])
    inside = yard.members(key, kinds=["part"]) if yard.count("part") else yard.members(key)
    part = int(inside[0]) if len(inside) else key
    codes = {"key_block": yard.code_of(key), "high_block": yard.code_of(high), "part": yard.code_of(part)}
    return QueryNodes(key, high, part, codes)


def yard_summary(path: Path, nodes: QueryNodes) -> Json:
    """Sizes of the store and the codes of the query nodes."""
    return {**store_summary(YardStore.open(path)), "query_nodes": nodes.codes}


# ---- the store -----------------------------------------------------------------------------------

QUERIES = ("upstream_key_block", "upstream_high_block", "downstream_part")
QUERY_LABELS = {
    "upstream_key_block": "upstream, key block",
    "upstream_high_block": "upstream, last block",
    "downstream_part": "downstream, part",
    "topological_order": "topological order",
}


def store_queries(g: YardStore, nodes: QueryNodes) -> dict[str, Callable[[None], npt.NDArray[np.int32]]]:
    """The closure queries on the store, by name."""
    return {
        "upstream_key_block": lambda _: g.upstream([nodes.key_block]),
        "upstream_high_block": lambda _: g.upstream([nodes.high_block]),
        "downstream_part": lambda _: g.downstream([nodes.part]),
    }


def check_topological_order(g: YardStore, order: npt.NDArray[np.int32]) -> bool:
    """Whether `order` holds every node once and puts every edge's source before its target."""
    if len(order) != g.num_nodes or np.bincount(order, minlength=g.num_nodes).max(initial=1) != 1:
        return False
    position = np.empty(g.num_nodes, dtype=np.int32)
    position[order] = np.arange(g.num_nodes, dtype=np.int32)
    src, dst = g.edge_arrays()
    return bool(np.all(position[src] < position[dst]))


def store_worker(path: str, nodes: QueryNodes, repeats: int) -> Json:
    """Open the store and run the queries, measuring time and memory (runs in its own process)."""
    gc.collect()
    out: Json = {"baseline_rss_bytes": rss_bytes(), "baseline_rss_file_bytes": file_backed_rss_bytes()}
    reset_peak_rss()
    g, out["open"] = timed(lambda _: YardStore.open(path), no_setup, repeats)
    out["rss_after_open_bytes"] = rss_bytes()
    for name, query in store_queries(g, nodes).items():
        found, timing = timed(query, no_setup, repeats)
        out[name] = {**timing, "size": len(found), "digest": digest(found)}
        del found
    order, timing = timed(lambda fresh: fresh.topological_order(), lambda: YardStore.open(path), repeats)
    out["topological_order"] = {**timing, "size": len(order)}
    out["peak_rss_bytes"] = peak_rss_bytes()  # before the check below allocates its own arrays
    out["topological_order"]["valid"] = check_topological_order(g, order)
    del order
    gc.collect()
    out["rss_after_queries_bytes"] = rss_bytes()
    out["rss_file_after_queries_bytes"] = file_backed_rss_bytes()
    return out


def cold_worker(path: str, block: int) -> Json:
    """Open the store and time the first upstream closure of `block` (after the page cache was dropped)."""
    t0 = time.perf_counter()
    g = YardStore.open(path)
    t1 = time.perf_counter()
    found = g.upstream([block])
    t2 = time.perf_counter()
    g.upstream([block])
    t3 = time.perf_counter()
    return {"open_s": t1 - t0, "first_s": t2 - t1, "second_s": t3 - t2, "size": len(found)}


# ---- cold page cache -----------------------------------------------------------------------------


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_ubyte)]
    return libc


def _resident_pages(libc: ctypes.CDLL, path: Path, page: int) -> tuple[int, int]:
    size = path.stat().st_size
    pages = (size + page - 1) // page
    if size == 0:
        return 0, 0
    with path.open("rb") as fh:
        addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fh.fileno(), 0)
        if addr is None or addr == ctypes.c_void_p(-1).value:
            raise OSError(ctypes.get_errno(), f"mmap of {path} failed")
        try:
            vec = (ctypes.c_ubyte * pages)()
            if libc.mincore(addr, size, vec) != 0:
                raise OSError(ctypes.get_errno(), f"mincore of {path} failed")
            return int((np.frombuffer(memoryview(vec), dtype=np.uint8) & 1).sum()), pages
        finally:
            libc.munmap(addr, size)


def resident_fraction(files: Sequence[Path]) -> float | None:
    """Share of the files' pages that are in the page cache (`mincore`), or None if it cannot be read."""
    try:
        libc, page = _libc(), os.sysconf("SC_PAGE_SIZE")
        counts = [_resident_pages(libc, p, page) for p in files]
    except (OSError, AttributeError, ValueError):
        return None
    total = sum(c[1] for c in counts)
    return sum(c[0] for c in counts) / total if total else 0.0


def _drop_caches() -> bool:
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("1\n")
    except OSError:
        return False
    return True


def store_files(path: Path) -> list[Path]:
    """Every file of the store and of what the store keeps beside it (`.<name>.*`: its entering-edge index)."""
    kept = [d for d in path.parent.glob(f".{path.name}.*") if d.is_dir()]
    return sorted(p for root in (path, *kept) for p in root.rglob("*") if p.is_file())


def evict_page_cache(path: Path, *, drop_caches: bool = True) -> Json:
    """Drop the store's files from the page cache, as far as this process is allowed to.

    With `drop_caches`, the whole machine's clean page cache too, when this process may write `drop_caches`.
    """
    files = store_files(path)
    graph_files = sorted((path / "graph").glob("*.npy"))
    before = resident_fraction(graph_files)
    advised = 0
    for p in files:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            advised += 1
        except OSError:
            pass
        finally:
            os.close(fd)
    dropped = _drop_caches() if drop_caches else False
    return {
        "posix_fadvise_files": advised,
        "drop_caches": dropped,
        "graph_resident_before": before,
        "graph_resident_after": resident_fraction(graph_files),
    }


def cold_runs(path: Path, nodes: QueryNodes, console: Console, *, drop_caches: bool = True) -> Json:
    """The first block closures of a fresh process after the store left the page cache."""
    out: Json = {}
    for name, block in (("upstream_key_block", nodes.key_block), ("upstream_high_block", nodes.high_block)):
        eviction = evict_page_cache(path, drop_caches=drop_caches)
        out[name] = {**run_isolated(cold_worker, str(path), block), "eviction": eviction}
        after = eviction["graph_resident_after"]
        console.log(f"cold {name}: graph files {'?' if after is None else f'{after:.0%}'} resident after eviction")
    return out


# ---- networkx ------------------------------------------------------------------------------------


def build_digraph(num_nodes: int, src: npt.NDArray[np.int32], dst: npt.NDArray[np.int32]) -> nx.DiGraph:
    """A networkx DiGraph with nodes 0..num_nodes-1 and the given edges."""
    graph = nx.DiGraph()
    graph.add_nodes_from(range(num_nodes))
    for lo in range(0, len(src), EDGE_CHUNK):
        hi = lo + EDGE_CHUNK
        graph.add_edges_from(zip(src[lo:hi].tolist(), dst[lo:hi].tolist(), strict=True))
    return graph


def networkx_queries(graph: nx.DiGraph, nodes: QueryNodes) -> dict[str, Callable[[None], set[int]]]:
    """The closure queries on networkx, by name."""
    return {
        "upstream_key_block": lambda _: nx.ancestors(graph, nodes.key_block),
        "upstream_high_block": lambda _: nx.ancestors(graph, nodes.high_block),
        "downstream_part": lambda _: nx.descendants(graph, nodes.part),
    }


def networkx_worker(path: str, nodes: QueryNodes, repeats: int) -> Json:
    """Build a DiGraph from the store's edges and run the queries on it (runs in its own process)."""
    g = YardStore.open(path)
    num_nodes = g.num_nodes
    src, dst = (np.array(a, dtype=np.int32) for a in g.edge_arrays())  # in-memory copies: the maps can go
    del g
    gc.collect()
    out: Json = {"baseline_rss_bytes": rss_bytes(), "baseline_rss_file_bytes": file_backed_rss_bytes()}
    reset_peak_rss()
    t0 = time.perf_counter()
    graph = build_digraph(num_nodes, src, dst)
    out["build_s"] = time.perf_counter() - t0
    gc.collect()
    out["rss_after_build_bytes"] = rss_bytes()
    out["peak_build_rss_bytes"] = peak_rss_bytes()
    out["nodes"], out["edges"] = graph.number_of_nodes(), graph.number_of_edges()
    for name, query in networkx_queries(graph, nodes).items():
        found, timing = timed(query, no_setup, repeats)
        out[name] = {**timing, "size": len(found), "digest": set_digest(found)}
        del found
    order, timing = timed(lambda _: list(nx.topological_sort(graph)), no_setup, repeats)
    out["topological_order"] = {**timing, "size": len(order)}
    del order
    gc.collect()
    out["rss_after_queries_bytes"] = rss_bytes()
    out["rss_file_after_queries_bytes"] = file_backed_rss_bytes()
    out["peak_rss_bytes"] = peak_rss_bytes()
    return out


# ---- targets -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A figure from the product issue: a ceiling (`value < limit`) or a floor (`value >= limit`)."""

    limit: float
    unit: str
    floor: bool = False

    def passed(self, value: float | None) -> bool | None:
        """Whether `value` meets the target (None if it was not measured)."""
        if value is None:
            return None
        return value >= self.limit if self.floor else value < self.limit

    def label(self) -> str:
        """The target as text, e.g. `< 10 ms` or `>= 20x`."""
        return f"{'>=' if self.floor else '<'} {fmt_value(self.limit, self.unit)}"


TARGETS: dict[str, dict[str, Target]] = {
    "25M": {
        "generation_total": Target(90, "s"),
        "generation_peak": Target(8 * GiB, "bytes"),
        "open": Target(0.2, "s"),
        "rss_after_open": Target(1 * GiB, "bytes"),
        "upstream_key_block": Target(0.010, "s"),
        "cold_upstream_key_block": Target(0.050, "s"),
        "topological_order": Target(5, "s"),
    },
    "5M": {
        "memory_ratio": Target(20, "x", floor=True),
        "upstream_key_block_ratio": Target(5, "x", floor=True),
        "topological_order_ratio": Target(3, "x", floor=True),
    },
}


# ---- formatting ----------------------------------------------------------------------------------


def fmt_value(value: float | None, unit: str) -> str:
    """A seconds, bytes or ratio figure for humans."""
    if value is None:
        return "-"
    if unit == "s":
        return f"{value * 1e3:.2f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "bytes":
        return f"{value / GiB:.2f} GiB" if abs(value) >= GiB else f"{value / MiB:.1f} MiB"
    if unit == "x":
        return f"{value:.1f}x"
    return f"{value:,.0f}"


def fmt_timing(t: Json | None) -> str:
    """Warm median, with the first call in brackets."""
    if t is None:
        return "-"
    return f"{fmt_value(t['median_s'], 's')} (first {fmt_value(t['first_s'], 's')})"


@dataclass
class Row:
    """One line of the printed table (and of the JSON `rows`)."""

    metric: str
    store: str
    networkx: str = ""
    ratio: float | None = None
    target: Target | None = None
    checked: float | None = None
    """The figure the target is checked against (the ratio, or the store's value)."""

    def to_json(self) -> Json:
        """The row as JSON, with its target and whether it passed."""
        passed = self.target.passed(self.checked) if self.target else None
        target = self.target.label() if self.target else None
        return {
            "metric": self.metric,
            "store": self.store,
            "networkx": self.networkx or None,
            "ratio": self.ratio,
            "target": target,
            "value": self.checked,
            "passed": passed,
        }


# ---- rows ----------------------------------------------------------------------------------------


def generation_rows(gen: Json, targets: dict[str, Target]) -> list[Row]:
    """Making the store: time and peak memory."""
    if gen.get("measured") is False:
        return [Row("generate + import", "not measured (a store given with --yard)")]
    note = " (earlier run, reused)" if gen.get("reused") else ""
    return [
        Row("generate + write the open format", fmt_value(gen["generate_s"], "s") + note),
        Row("import (store)", fmt_value(gen["import_s"], "s") + note),
        Row(
            "generate + import",
            fmt_value(gen["total_s"], "s") + note,
            target=targets.get("generation_total"),
            checked=gen["total_s"],
        ),
        Row(
            "shipbrain yard generate peak RSS",
            fmt_value(gen["peak_rss_bytes"], "bytes") + note,
            target=targets.get("generation_peak"),
            checked=gen["peak_rss_bytes"],
        ),
    ]


def added(side: Json | None, key: str) -> float | None:
    """Memory a side added over its baseline at one reading (None without that side or reading)."""
    if side is None or side.get(key) is None:
        return None
    base = "baseline_rss_file_bytes" if key.startswith("rss_file") else "baseline_rss_bytes"
    return float(side[key] - side[base])


def memory_rows(store: Json, nxr: Json | None, targets: dict[str, Target]) -> list[Row]:
    """Open/build time and resident memory of both sides."""
    nx_build = nxr["build_s"] if nxr else None
    opening = store["open"]
    rows = [
        Row(
            "open / build DiGraph" if nxr else "open",
            fmt_timing(opening),
            fmt_value(nx_build, "s") if nxr else "",
            ratio(nx_build, opening["median_s"]),
            targets.get("open"),
            opening["first_s"],
        ),
    ]
    if "rss_after_open" in targets:
        rss_open = store["rss_after_open_bytes"]
        rows.append(
            Row(
                "RSS after open (process)",
                fmt_value(rss_open, "bytes"),
                target=targets["rss_after_open"],
                checked=rss_open,
            )
        )
    file_backed = added(store, "rss_file_after_queries_bytes")
    after = added(store, "rss_after_queries_bytes"), added(nxr, "rss_after_queries_bytes")
    readings = [
        ("RSS added: open / build", added(store, "rss_after_open_bytes"), added(nxr, "rss_after_build_bytes"), None),
        ("RSS added: after queries", *after, targets.get("memory_ratio")),
        ("RSS added: peak", added(store, "peak_rss_bytes"), added(nxr, "peak_rss_bytes"), None),
    ]
    for metric, s_bytes, n_bytes, target in readings:
        cell = fmt_value(s_bytes, "bytes")
        if metric.endswith("after queries") and file_backed is not None:
            cell += f" ({fmt_value(file_backed, 'bytes')} mapped files)"
        r = ratio(n_bytes, s_bytes)
        rows.append(Row(metric, cell, fmt_value(n_bytes, "bytes") if nxr else "", r, target, r))
    return rows


def query_rows(store: Json, nxr: Json | None, cold: Json, targets: dict[str, Target]) -> list[Row]:
    """Warm (and first) timings of every query, and the cold block closures."""
    rows = []
    for name in (*QUERIES, "topological_order"):
        s, n = store[name], (nxr or {}).get(name)
        r = ratio(n and n["median_s"], s["median_s"])
        target = targets.get(f"{name}_ratio") or targets.get(name)
        checked = r if f"{name}_ratio" in targets else s["median_s"]
        label = f"{QUERY_LABELS[name]} ({s['size']:,} nodes)"
        rows.append(Row(label, fmt_timing(s), fmt_timing(n) if n else "", r, target, checked))
    for name, c in cold.items():
        label = f"{QUERY_LABELS[name]}, cold cache"
        rows.append(
            Row(
                label,
                f"{fmt_value(c['first_s'], 's')} (open {fmt_value(c['open_s'], 's')})",
                target=targets.get(f"cold_{name}"),
                checked=c["first_s"],
            )
        )
    return rows


def closure_agreement(store: Json, nxr: Json | None) -> dict[str, bool]:
    """Per closure query, whether both sides found the same nodes (empty without networkx)."""
    if nxr is None:
        return {}
    names = (*QUERIES, "topological_order")
    return {q: store[q]["size"] == nxr[q]["size"] and store[q].get("digest") == nxr[q].get("digest") for q in names}


# ---- reporting -----------------------------------------------------------------------------------


def print_report(console: Console, result: Json, rows: list[Row]) -> None:
    """The results table of one size."""
    yard, compared = result["yard"], result["networkx"] is not None
    title = (
        f"YardStore graph queries, {result['size']} parts: {yard['num_nodes']:,} nodes, {yard['num_edges']:,} edges, "
        f"graph files {fmt_value(yard['graph_bytes'], 'bytes')}"
    )
    table = Table(title=title, caption=caption(result), show_lines=False)
    table.add_column("metric")
    table.add_column("store", justify="right")
    if compared:
        table.add_column("networkx", justify="right")
        table.add_column("networkx / store", justify="right")
    table.add_column("target", justify="right")
    table.add_column("pass", justify="center")
    for row in rows:
        passed = row.target.passed(row.checked) if row.target else None
        mark = "" if passed is None else ("[green]PASS[/]" if passed else "[red]FAIL[/]")
        cells = [row.metric, row.store]
        if compared:
            cells += [row.networkx, fmt_value(row.ratio, "x") if row.ratio is not None else ""]
        table.add_row(*cells, row.target.label() if row.target else "", mark)
    console.print(table)


def caption(result: Json) -> str:
    """Machine and query nodes, under the table."""
    m, q = result["machine"], result["yard"]["query_nodes"]
    return (
        f"key block {q['key_block']}, last block erected {q['high_block']}, part {q['part']}; "
        f"warm = median of {result['repeats']} calls after the first; {m['cpu_count']} CPUs, "
        f"{fmt_value(m['total_ram_bytes'], 'bytes')} RAM, load average {m['load_average'][0]:.1f}, "
        f"Python {m['python']}, numpy {m['numpy']}, networkx {m['networkx']}, {m['date']}"
    )


# ---- orchestration -------------------------------------------------------------------------------


def run_size(parts: int | None, args: argparse.Namespace, console: Console) -> bool:
    """Benchmark one size (or `--yard`), print its table and write its JSON; False if the two sides disagree."""
    if parts is None:
        path, generation = args.yard, {"measured": False, "path": str(args.yard)}
    else:
        path, generation = ensure_yard(args.data_dir, parts, args.seed, console, regenerate=args.regenerate)
    nodes = pick_query_nodes(path)
    yard = yard_summary(path, nodes)
    size = size_label(yard["parts"])
    console.log(f"store: opening and querying {path.name} in a fresh process ...")
    store = run_isolated(store_worker, str(path), nodes, args.repeats)
    nxr = None
    if yard["parts"] <= COMPARED_MAX_PARTS:
        console.log("networkx: building a DiGraph from the same edges in a fresh process ...")
        nxr = run_isolated(networkx_worker, str(path), nodes, args.repeats)
    console.log("cold page cache: evicting the store and querying in fresh processes ...")
    cold = cold_runs(path, nodes, console, drop_caches=not args.no_drop_caches)
    targets = TARGETS.get(size, {})
    rows = generation_rows(generation, targets) + memory_rows(store, nxr, targets)
    rows += query_rows(store, nxr, cold, targets)
    agreement = closure_agreement(store, nxr)
    result: Json = {
        "benchmark": "graph",
        "size": size,
        "seed": None if parts is None else args.seed,
        "repeats": args.repeats,
        "machine": machine_info(networkx=nx.__version__),
        "yard": yard,
        "generation": generation,
        "store": store,
        "networkx": nxr,
        "cold": cold,
        "closures_agree": agreement,
        "rows": [r.to_json() for r in rows],
    }
    out = args.results_dir / f"graph-{size}{'' if parts is not None else f'-{path.name}'}.json"
    write_json(out, result)
    print_report(console, result, rows)
    console.print(
        f"closures agree: {agreement or 'n/a (store only)'}; topological order valid: "
        f"{store['topological_order']['valid']}; results: {out}"
    )
    failed = [r.metric for r in rows if r.target and r.target.passed(r.checked) is False]
    if failed:
        console.print(f"[red]targets missed at {size}:[/] {'; '.join(failed)}")
    return all(agreement.values()) and bool(store["topological_order"]["valid"])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--size",
        action="append",
        help="parts of the synthetic yard: 1M, 5M, 25M, 200k ...; repeat for several, or 'all' (1M, 5M and 25M) "
        "(default: 1M)",
    )
    parser.add_argument("--yard", type=Path, help="an imported store to query instead (not with --size)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default: 1)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="where stores are made and reused")
    parser.add_argument("--regenerate", action="store_true", help="make the stores even if they exist")
    parser.add_argument(
        "--no-drop-caches",
        action="store_true",
        help="evict only the store's files (posix_fadvise), not the machine's whole page cache (a shared machine)",
    )
    parser.add_argument("--repeats", type=int, default=5, help="warm calls per query after the first (default: 5)")
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS_DIR, help="where the JSON results go")
    args = parser.parse_args(argv)
    if args.yard is not None and args.size:
        parser.error("give --yard or --size, not both")
    chosen = args.size or ["1M"]
    try:
        sized = sorted({p for c in chosen for p in (SIZES.values() if c == "all" else [parse_size(c)])})
    except ValueError as exc:
        parser.error(str(exc))
    args.sizes = [None] if args.yard is not None else sized
    if args.repeats < 1:
        parser.error("--repeats must be 1 or more")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark for every size asked; 1 if the store and networkx disagreed anywhere."""
    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 150)
    ok = True
    for parts in args.sizes:
        ok = run_size(parts, args, console) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
