"""Benchmark of the on-disk id index (`knowledge.idindex.IdIndex`), against a Python dict at 1M ids.

Run it from the repository root:

```
python benchmarks/idindex.py --size 1M                 # with the dict baseline
python benchmarks/idindex.py --size 48M --no-baseline  # the ids of a 25M-part yard (about 48M nodes); ~3 GiB
```

Each size prints a table and writes `benchmarks/results/idindex-<size>.json` with every figure and the machine.

The ids are synthetic-looking, generated with pyarrow (no Python loop per id), four shapes interleaved so that
neighbouring nodes have unlike ids: `B012-A03-S07-P0042`, `J012-004242`, `SP-012-004242"`, `H1234/B012 PL004242`
(11 to 20 bytes). They are generated in 1M-id chunks into one chunked array, then indexed.

Every phase runs in its own fresh process (multiprocessing "spawn"):
- **build**: `IdIndex.build` from the chunked array: wall and CPU time, and the peak RSS the build added over the
  generated ids (VmHWM reset after generating them), the files' size on disk.
- **open and lookups**: `IdIndex.open` (time, RSS of the whole process after it, and added), then `--queries`
  random single lookups each way (after 1,000 to warm up; the files are in the page cache, as after an import),
  timed one by one: id -> node (`get`) and node -> id (`id_of`), p50 and p99. Then the vectorised calls on 1M
  random nodes (`ids_of`, `nodes_of`), `loose` on lower-cased ids with separators dropped, and `fuzzy` among
  5,000 candidate nodes with one character changed.
- **dict baseline** (1M, unless `--no-baseline`): the same ids as a Python `dict` (id -> node) and `list`
  (node -> id): build time from the Arrow array, memory added, the same single lookups; ratios index / dict.

Targets (issue 12, at 25M parts, about 48M ids): build well under a minute, id -> node p50 < 20 us, node -> id
p50 < 5 us, RSS after open tiny (the whole store < 1 GiB).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from _common import (
    REPO,
    Json,
    fmt_bytes,
    fmt_s,
    fmt_x,
    machine_info,
    parse_size,
    peak_rss_bytes,
    process_cpu_seconds,
    ratio,
    report_targets,
    reset_peak_rss,
    rss_bytes,
    size_label,
    write_json,
)
from rich.console import Console
from rich.table import Table

T = TypeVar("T")
CHUNK = 1_000_000
WARMUP = 1_000


# ---- ids -------------------------------------------------------------------------------------------


def _padded(values: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(pa.array(values), pa.string()), width, "0")


def synthetic_ids(start: int, stop: int) -> pa.Array:
    """Ids of nodes start..stop-1: four shapes by node % 4, each injective in the node, so all are unique."""
    i = np.arange(start, stop, dtype=np.int64)
    block, rest = i // 240_000, i % 240_000
    shape = i % 4
    join = pc.binary_join_element_wise
    parts = []
    for k in range(4):
        b, r = _padded(block[shape == k], 3), rest[shape == k]
        if k == 0:
            parts.append(
                join(
                    "B",
                    b,
                    "-A",
                    _padded(r // 12_000, 2),
                    "-S",
                    _padded(r // 1000 % 12, 2),
                    "-P",
                    _padded(r % 1000, 4),
                    "",
                )
            )
        elif k == 1:
            parts.append(join("J", b, "-", _padded(r, 6), ""))
        elif k == 2:
            parts.append(join("SP-", b, "-", _padded(r, 6), '"', ""))
        else:
            parts.append(join("H1234/B", b, " PL", _padded(r, 6), ""))
    by_shape = pa.concat_arrays(parts)
    order = np.argsort(shape, kind="stable")  # position in by_shape of each node, inverted below
    where = np.empty(len(i), dtype=np.int64)
    where[order] = np.arange(len(i))
    return by_shape.take(pa.array(where))


def generate(count: int) -> pa.ChunkedArray:
    return pa.chunked_array(
        [synthetic_ids(a, min(a + CHUNK, count)) for a in range(0, count, CHUNK)] or [pa.array([], pa.string())]
    )


# ---- phases (each in a fresh process) ---------------------------------------------------------------


def run_isolated(fn: Callable[..., T], *args: Any) -> T:
    """Run `fn(*args)` in a fresh Python process (spawned, not forked) and return its result."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def phase_build(count: int, path: str) -> Json:
    from knowledge.idindex import IdIndex

    t0 = time.perf_counter()
    ids = generate(count)
    generate_s = time.perf_counter() - t0
    gc.collect()
    rss_ids = rss_bytes()
    reset = reset_peak_rss()
    cpu0 = process_cpu_seconds(__import__("psutil").Process())
    t0 = time.perf_counter()
    IdIndex.build(ids, Path(path))
    build_s = time.perf_counter() - t0
    cpu = process_cpu_seconds(__import__("psutil").Process()) - cpu0
    files = {f.name: f.stat().st_size for f in Path(path).iterdir()}
    return {
        "ids": count,
        "id_bytes": int(ids.nbytes),
        "generate_s": generate_s,
        "build_s": build_s,
        "build_cpu_s": cpu,
        "rss_with_ids_bytes": rss_ids,
        "build_peak_rss_bytes": peak_rss_bytes() if reset else None,
        "build_peak_added_bytes": peak_rss_bytes() - rss_ids if reset else None,
        "files_bytes": files,
        "disk_bytes": sum(files.values()),
    }


def _timed_each(fn: Callable[[Any], object], args: Sequence[Any]) -> Json:
    for a in args[:WARMUP]:
        fn(a)
    times = []
    for a in args[WARMUP:]:
        t = time.perf_counter_ns()
        fn(a)
        times.append(time.perf_counter_ns() - t)
    p50, p99 = np.percentile(np.asarray(times, dtype=np.float64) / 1e9, [50, 99])
    return {"n": len(times), "p50_s": float(p50), "p99_s": float(p99), "mean_s": float(statistics.fmean(times)) / 1e9}


def phase_lookups(path: str, queries: int, seed: int) -> Json:
    rss_start = rss_bytes()
    from knowledge.idindex import IdIndex, loose_key

    rss_imported = rss_bytes()
    t0 = time.perf_counter()
    index = IdIndex.open(path)
    open_s = time.perf_counter() - t0
    rss_open = rss_bytes()
    n = len(index)
    rng = np.random.default_rng(seed)
    nodes = rng.integers(0, n, queries + WARMUP)
    ids = index.ids_of(nodes).to_pylist()  # prepared before the clock runs
    assert all(index.get(t) == k for t, k in zip(ids[:1000], nodes[:1000].tolist(), strict=True))
    id_to_node = _timed_each(index.get, ids)
    node_to_id = _timed_each(index.id_of, nodes.tolist())
    loose_queries = [loose_key(t).upper() for t in ids[: WARMUP + 2000]]
    loose = _timed_each(index.loose, loose_queries)
    candidates = np.unique(rng.integers(0, n, 5000))
    typos = []
    pick = random.Random(seed)
    for text in index.ids_of(candidates[: WARMUP // 10 + 200]).to_pylist():
        at = pick.randrange(len(text))
        typos.append(text[:at] + ("Q" if text[at] != "Q" else "R") + text[at + 1 :])
    for t in typos[: WARMUP // 10]:
        index.fuzzy(t, candidates)
    fuzzy_times = []
    for t in typos[WARMUP // 10 :]:
        a = time.perf_counter_ns()
        index.fuzzy(t, candidates, limit=5)
        fuzzy_times.append(time.perf_counter_ns() - a)
    batch = rng.integers(0, n, min(n, 1_000_000))
    t0 = time.perf_counter()
    batch_ids = index.ids_of(batch)
    ids_of_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    back = index.nodes_of(batch_ids)
    nodes_of_s = time.perf_counter() - t0
    assert np.array_equal(back, batch)
    return {
        "ids": n,
        "rss_before_import_bytes": rss_start,
        "rss_after_import_bytes": rss_imported,
        "open_s": open_s,
        "rss_after_open_bytes": rss_open,
        "rss_open_added_bytes": rss_open - rss_imported,
        "rss_after_queries_bytes": rss_bytes(),
        "id_to_node": id_to_node,
        "node_to_id": node_to_id,
        "loose": loose,
        "fuzzy_5000": {"n": len(fuzzy_times), "p50_s": float(np.median(fuzzy_times)) / 1e9},
        "batch": len(batch),
        "ids_of_batch_s": ids_of_s,
        "nodes_of_batch_s": nodes_of_s,
    }


def phase_dict(count: int, queries: int, seed: int) -> Json:
    ids = generate(count)
    gc.collect()
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    as_list = ids.to_pylist()
    by_id = {text: node for node, text in enumerate(as_list)}
    build_s = time.perf_counter() - t0
    gc.collect()
    added = rss_bytes() - rss0
    nodes = np.random.default_rng(seed).integers(0, count, queries + WARMUP).tolist()
    query_ids = [as_list[k] for k in nodes]
    return {
        "ids": count,
        "build_s": build_s,
        "rss_added_bytes": added,
        "id_to_node": _timed_each(by_id.__getitem__, query_ids),
        "node_to_id": _timed_each(as_list.__getitem__, nodes),
    }


# ---- report ------------------------------------------------------------------------------------------


def us(value: float | None) -> str:
    return "-" if value is None else f"{value * 1e6:.2f} us"


def report(result: Json, console: Console) -> list[str]:
    build, look, base = result["build"], result["lookups"], result.get("dict")
    size = size_label(result["ids"])
    table = Table(title=f"id index, {result['ids']:,} ids ({size})")
    for col in ("measure", "index", "dict" if base else "", "index / dict" if base else "", "target"):
        if col:
            table.add_column(col, justify="right" if col != "measure" else "left")

    def row(name: str, mine: str, theirs: str = "-", r: float | None = None, target: str = "") -> None:
        table.add_row(name, mine, *((theirs, fmt_x(r)) if base else ()), target)

    row(
        "build",
        fmt_s(build["build_s"]),
        fmt_s(base["build_s"]) if base else "-",
        ratio(build["build_s"], base["build_s"]) if base else None,
        "< 60 s at 48M",
    )
    row(
        "build peak RSS added",
        fmt_bytes(build["build_peak_added_bytes"]),
        fmt_bytes(base["rss_added_bytes"]) if base else "-",
        None,
        "bounded",
    )
    row("files on disk", fmt_bytes(build["disk_bytes"]))
    row("open", fmt_s(look["open_s"]), target="milliseconds")
    row("RSS after open (process)", fmt_bytes(look["rss_after_open_bytes"]), target="tiny")
    row(
        "RSS added by open",
        fmt_bytes(look["rss_open_added_bytes"]),
        fmt_bytes(base["rss_added_bytes"]) if base else "-",
        ratio(look["rss_open_added_bytes"], base["rss_added_bytes"]) if base else None,
    )
    for key, target in (("id_to_node", "p50 < 20 us"), ("node_to_id", "p50 < 5 us")):
        for p in ("p50_s", "p99_s"):
            mine, theirs = look[key][p], base[key][p] if base else None
            row(
                f"{key.replace('_', ' ')} {p[:3]}",
                us(mine),
                us(theirs),
                ratio(mine, theirs),
                target if p == "p50_s" else "",
            )
    row("loose p50", us(look["loose"]["p50_s"]))
    row("fuzzy among 5,000 p50", fmt_s(look["fuzzy_5000"]["p50_s"]))
    row(f"ids_of {look['batch']:,} nodes", fmt_s(look["ids_of_batch_s"]))
    row(f"nodes_of {look['batch']:,} ids", fmt_s(look["nodes_of_batch_s"]))
    console.print(table)
    if result["ids"] < 40_000_000:
        return []
    checks = [
        ("build < 60 s", build["build_s"] < 60),
        ("id -> node p50 < 20 us", look["id_to_node"]["p50_s"] < 20e-6),
        ("node -> id p50 < 5 us", look["node_to_id"]["p50_s"] < 5e-6),
        ("RSS after open < 1 GiB", look["rss_after_open_bytes"] < 1 << 30),
    ]
    return report_targets(console, checks)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", default="1M", help="ids to index: 1M (default), 48M, 200k ...")
    p.add_argument("--queries", type=int, default=20_000, help="timed single lookups each way")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-baseline", action="store_true", help="skip the Python dict baseline")
    p.add_argument("--data-dir", type=Path, default=REPO / ".shipbrain" / "bench")
    p.add_argument("--keep", action="store_true", help="keep the index directory")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 200)
    count = parse_size(args.size)
    label = size_label(count)
    path = args.data_dir / f"idindex-{label}"
    shutil.rmtree(path, ignore_errors=True)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    console.log(f"building the index of {count:,} ids into {path} ...")
    result: Json = {"ids": count, "machine": machine_info()}
    result["build"] = run_isolated(phase_build, count, str(path))
    console.log(f"built in {fmt_s(result['build']['build_s'])}; lookups in a fresh process ...")
    result["lookups"] = run_isolated(phase_lookups, str(path), args.queries, args.seed)
    if not args.no_baseline:
        console.log("dict baseline ...")
        result["dict"] = run_isolated(phase_dict, count, args.queries, args.seed)
    if not args.keep:
        shutil.rmtree(path, ignore_errors=True)
    result["machine"]["load_average_at_end"] = list(os.getloadavg())
    failed = report(result, console)
    result["targets_missed"] = failed
    out = REPO / "benchmarks" / "results" / f"idindex-{label}.json"
    write_json(out, result)
    console.log(f"wrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
