"""Benchmark of an imported store (`knowledge.store.YardStore`) against issue 12's targets, with kuzu beside it.

Run it from the repository root:

```
python benchmarks/store.py --size 1M
python benchmarks/store.py --size 25M --yard /path/to/format-25M-seed1   # an existing open-format yard to import
```

1. The synthetic yard of that size in the open yard format (`yard generate --format-only`, reused from
   `--data-dir`), imported (`import_yard`) into `<data-dir>/store-<size>-seed<seed>` (reused when there), each in
   a fresh process (`benchmarks/importer.py`'s phases).
2. **store**, in a fresh process: RSS after `YardStore.open`; id -> node and node -> id over 1000 random nodes;
   upstream and downstream closures of 20 blocks, the highest one (the largest upstream) included, each repeated:
   as ranges with counts by kind (`upstream_ranges`, `downstream_ranges`) and as ids (`upstream`, `downstream`);
   the first closure (it loads the entering-edge index, or builds and caches it) apart; the edge-by-edge CSR walk
   of the same closures once each, for reference.
3. **kuzu**, in a fresh process: the same nodes and graph edges (the yard's edges and each child -> parent)
   exported to Parquet, loaded into an on-disk `kuzu.Database` with `COPY`; load time, disk, RSS; the same
   closures as `MATCH (a)-[:BEFORE* SHORTEST 1..K]->(b) RETURN count(DISTINCT a)` (kuzu's recursive join: one row
   per reachable node; the plain `*1..K` walk semantics run out of memory on these graphs), each with a timeout.

Prints a table with ratios and writes `benchmarks/results/store-<size>.json`.

Targets (issue 12, at 25M parts, about 48M nodes): RSS after open < 1 GiB, id -> node p50 < 20 us, node -> id
p50 < 5 us, any upstream or downstream closure p99 < 50 ms (highest block included), >= 10x faster than kuzu.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from _common import (
    REPO,
    GiB,
    Json,
    file_backed_rss_bytes,
    fmt_bytes,
    fmt_s,
    fmt_x,
    machine_info,
    parse_size,
    peak_rss_bytes,
    quantiles,
    ratio,
    report_targets,
    rss_bytes,
    size_label,
    write_json,
)
from importer import ensure_format, phase_import, run_guarded
from rich.console import Console
from rich.table import Table

T = TypeVar("T")
PERCENTILES = (50, 99)
RSS_TARGET_BYTES = 1 * GiB
ID_TO_NODE_TARGET_S = 20e-6
NODE_TO_ID_TARGET_S = 5e-6
CLOSURE_TARGET_S = 0.050
KUZU_RATIO_TARGET = 10.0


def _dir_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _timed(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[float, T]:
    """Seconds `fn(*args, **kwargs)` took, and what it returned."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


# ---- the store, in a fresh process ---------------------------------------------------------------


def phase_store(log: Path, store_dir: str, blocks_wanted: str, repeats: str, walk: str) -> Json:
    """In a fresh process: open, lookups, and the closures of `blocks_wanted` blocks (the highest one included)."""
    import numpy as np

    from knowledge.store import YardStore

    rss_start = rss_bytes()
    open_s, store = _timed(lambda: YardStore.open(store_dir))
    out: Json = {
        "rss_before_open_bytes": rss_start,
        "open_s": open_s,
        "rss_after_open_bytes": rss_bytes(),
        "file_backed_rss_after_open_bytes": file_backed_rss_bytes(),
        "num_nodes": store.num_nodes,
        "num_edges": store.num_edges,
    }
    rng = np.random.default_rng(12)
    sample = rng.integers(0, store.num_nodes, 1000).tolist()
    node_to_id: list[float] = []
    ids: list[str] = []
    for node in sample:
        t, found = _timed(store.id_of, node)
        node_to_id.append(t)
        ids.append(found)
    id_to_node: list[float] = []
    for yard_id, node in zip(ids, sample, strict=True):
        t, back = _timed(store.node_of, yard_id)
        id_to_node.append(t)
        assert back == node, (yard_id, back, node)
    out["node_to_id"] = quantiles(node_to_id, PERCENTILES)
    out["id_to_node"] = quantiles(id_to_node, PERCENTILES)
    # again, the same lookups: the first pass pays a page fault (or a disk read) for each page of the index it touches
    out["node_to_id_warm"] = quantiles([_timed(store.id_of, node)[0] for node in sample], PERCENTILES)
    out["id_to_node_warm"] = quantiles([_timed(store.node_of, yard_id)[0] for yard_id in ids], PERCENTILES)

    blocks = store.nodes_of_kind("block")
    cache = store.path.parent / f".{store.path.name}.closures"
    out["index_cached_before"] = cache.is_dir()
    out["first_closure_s"], _ = _timed(lambda: store.upstream_ranges([int(blocks[0])]))  # loads or builds the index
    out["rss_after_first_closure_bytes"] = rss_bytes()
    sizes_s, sizes = _timed(lambda: [store.upstream_ranges([b]).count for b in blocks.tolist()])
    out["all_blocks_upstream_counts_s"] = sizes_s
    highest = int(blocks[int(np.argmax(sizes))])
    others = [int(b) for b in blocks.tolist() if b != highest]
    step = max(1, len(others) // max(1, int(blocks_wanted) - 1))
    chosen = [highest, *others[::step][: int(blocks_wanted) - 1]]
    with log.open("a") as fh:
        fh.write(json.dumps({"started": "closures", "blocks": len(chosen)}) + "\n")
    times: dict[str, list[float]] = {k: [] for k in ("up_ranges", "up_ids", "down_ranges", "down_ids")}
    per_block: list[Json] = []
    for block in chosen:
        row: Json = {"node": block, "id": store.id_of(block)}
        for _ in range(int(repeats)):
            t, up = _timed(store.upstream_ranges, [block])
            times["up_ranges"].append(t)
            t, up_ids = _timed(store.upstream, [block])
            times["up_ids"].append(t)
            t, down = _timed(store.downstream_ranges, [block])
            times["down_ranges"].append(t)
            t, down_ids = _timed(store.downstream, [block])
            times["down_ids"].append(t)
        assert up.count == len(up_ids) and down.count == len(down_ids)
        row |= {
            "upstream": up.count,
            "upstream_ranges": len(up.starts),
            "upstream_by_kind": up.counts,
            "downstream": down.count,
            "downstream_ranges": len(down.starts),
            "up_ranges_s": min(times["up_ranges"][-int(repeats) :]),
            "up_ids_s": min(times["up_ids"][-int(repeats) :]),
        }
        if walk == "1":  # the edge-by-edge CSR walk (what upstream() did before the ranges), once, same answer
            t, walked = _timed(store.upstream, [block], depth=store.num_nodes)
            assert np.array_equal(walked, up_ids), block
            row["up_walk_s"] = t
        per_block.append(row)
    out["blocks"] = per_block
    out["highest"] = per_block[0]
    out["closures"] = {name: quantiles(values, PERCENTILES) for name, values in times.items()}
    if walk == "1":
        out["closures"]["up_walk"] = quantiles([r["up_walk_s"] for r in per_block], PERCENTILES)
    out["rss_after_closures_bytes"] = rss_bytes()
    out["peak_rss_bytes"] = peak_rss_bytes()
    out["index_cache_bytes"] = _dir_bytes(cache) if cache.is_dir() else None
    return out


# ---- kuzu, in a fresh process --------------------------------------------------------------------


def phase_kuzu(log: Path, store_dir: str, db_path: str, blocks_json: str, options: str) -> Json:
    """In a fresh process: the store's nodes and graph edges loaded into kuzu, and the same closures there."""
    import kuzu
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from knowledge.store import YardStore

    opts = json.loads(options)
    blocks: list[Json] = json.loads(blocks_json)
    store = YardStore.open(store_dir)
    n = store.num_nodes
    work = Path(db_path).with_name(Path(db_path).name + "-input")
    work.mkdir(parents=True, exist_ok=True)
    out: Json = {"version": kuzu.__version__}
    t0 = time.perf_counter()
    kinds = np.asarray(np.load(Path(store_dir) / "nodes" / "kind.npy", mmap_mode="r"))
    pq.write_table(pa.table({"id": np.arange(n, dtype=np.int32), "kind": kinds}), work / "nodes.parquet")
    indptr = np.load(Path(store_dir) / "graph" / "forward_indptr.npy", mmap_mode="r")
    after = np.load(Path(store_dir) / "graph" / "forward_indices.npy", mmap_mode="r")
    before = np.repeat(np.arange(n, dtype=np.int32), np.diff(indptr))
    pq.write_table(pa.table({"from": before, "to": np.asarray(after)}), work / "edges.parquet")
    del before, kinds
    out["export_s"] = time.perf_counter() - t0
    out["input_bytes"] = _dir_bytes(work)
    path = Path(db_path)
    for stale in (path, path.with_name(path.name + ".wal")):
        if stale.is_dir():
            shutil.rmtree(stale)
        elif stale.exists():
            stale.unlink()
    with log.open("a") as fh:
        fh.write(json.dumps({"started": "kuzu load"}) + "\n")
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    db = kuzu.Database(str(path), buffer_pool_size=int(opts["buffer_gib"] * GiB), max_num_threads=2)
    conn = kuzu.Connection(db, num_threads=2)
    conn.execute("CREATE NODE TABLE N(id INT32 PRIMARY KEY, kind INT16)")
    conn.execute("CREATE REL TABLE BEFORE(FROM N TO N)")
    t1 = time.perf_counter()
    conn.execute(f"COPY N FROM '{work / 'nodes.parquet'}'")
    out["load_nodes_s"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    conn.execute(f"COPY BEFORE FROM '{work / 'edges.parquet'}'")
    out["load_edges_s"] = time.perf_counter() - t1
    conn.execute("CHECKPOINT")
    out["load_s"] = time.perf_counter() - t0
    out["rss_after_load_bytes"] = rss_bytes()
    out["rss_load_delta_bytes"] = rss_bytes() - rss0
    out["peak_rss_load_bytes"] = peak_rss_bytes()
    del conn, db
    out["disk_bytes"] = sum(_dir_bytes(p) for p in (path, path.with_name(path.name + ".wal")) if p.exists())
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    db = kuzu.Database(str(path), buffer_pool_size=int(opts["buffer_gib"] * GiB), max_num_threads=2)
    conn = kuzu.Connection(db, num_threads=2)
    out["open_s"] = time.perf_counter() - t0
    out["rss_open_delta_bytes"] = rss_bytes() - rss0
    conn.execute(f"CALL var_length_extend_max_depth={int(opts['max_depth'])}")
    conn.set_query_timeout(int(opts["timeout_s"] * 1000))
    out |= _kuzu_closures(conn, blocks, opts, log)
    out["rss_after_closures_bytes"] = rss_bytes()
    out["peak_rss_bytes"] = peak_rss_bytes()
    if not opts["keep"]:
        del conn, db
        shutil.rmtree(work, ignore_errors=True)
        for p in (path, path.with_name(path.name + ".wal")):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            elif p.exists():
                p.unlink()
    return out


def _kuzu_closures(conn: Any, blocks: list[Json], opts: Json, log: Path) -> Json:
    """The blocks' closures in kuzu, each with a timeout, within the time budget; each count checked."""
    out: Json = {}
    hops = f"[:BEFORE* SHORTEST 1..{int(opts['max_depth'])}]"
    queries = {
        "up": f"MATCH (a:N)-{hops}->(b:N {{id: $id}}) RETURN count(DISTINCT a)",
        "down": f"MATCH (b:N {{id: $id}})-{hops}->(a:N) RETURN count(DISTINCT a)",
    }
    out["queries"] = queries
    with log.open("a") as fh:
        fh.write(json.dumps({"started": "kuzu closures"}) + "\n")
    budget_end = time.perf_counter() + opts["budget_s"]
    times: dict[str, list[float]] = {"up": [], "down": []}
    rows: list[Json] = []
    for block in blocks:
        row: Json = {"node": block["node"], "id": block["id"]}
        for direction in ("up", "down"):
            for _ in range(int(opts["repeats"])):
                if time.perf_counter() > budget_end:
                    row[f"{direction}_skipped"] = "time budget spent"
                    break
                t0 = time.perf_counter()
                try:
                    result = conn.execute(queries[direction], {"id": block["node"]})
                    count = int(result.get_next()[0])  # one row, one column
                except RuntimeError as error:
                    elapsed = time.perf_counter() - t0
                    row[f"{direction}_timeout"] = f"{elapsed:.1f} s: {str(error)[:120]}"
                    times[direction].append(max(elapsed, opts["timeout_s"]))  # a timeout counts as the timeout
                    break
                times[direction].append(time.perf_counter() - t0)
                expected = block["upstream" if direction == "up" else "downstream"]
                row[f"{direction}_count"] = count
                row[f"{direction}_same_as_store"] = count == expected
        rows.append(row)
    out["blocks"] = rows
    out["closures"] = {name: quantiles(values, PERCENTILES) for name, values in times.items()}
    out["timeouts"] = sum(1 for r in rows for d in ("up", "down") if f"{d}_timeout" in r)
    return out


# ---- the report ----------------------------------------------------------------------------------


def _us(value: float | None) -> str:
    return "-" if value is None else f"{value * 1e6:.1f} us"


def _checks(s: Json, kc: Json) -> list[tuple[str, bool]]:
    """Each target of issue 12 and whether the store phase `s` (and kuzu's closures `kc`) met it."""
    worst = max(s["closures"][c]["p99_s"] for c in ("up_ranges", "down_ranges"))
    worst_ids = max(s["closures"][c]["p99_s"] for c in ("up_ids", "down_ids"))
    checks = [
        ("RSS after open < 1 GiB", s["rss_after_open_bytes"] < RSS_TARGET_BYTES),
        ("id -> node p50 < 20 us (first touch)", s["id_to_node"]["p50_s"] < ID_TO_NODE_TARGET_S),
        ("node -> id p50 < 5 us (first touch)", s["node_to_id"]["p50_s"] < NODE_TO_ID_TARGET_S),
    ]
    if "id_to_node_warm" in s:
        checks += [
            ("id -> node p50 < 20 us (again)", s["id_to_node_warm"]["p50_s"] < ID_TO_NODE_TARGET_S),
            ("node -> id p50 < 5 us (again)", s["node_to_id_warm"]["p50_s"] < NODE_TO_ID_TARGET_S),
        ]
    checks += [
        ("any closure p99 < 50 ms (ranges + counts)", worst < CLOSURE_TARGET_S),
        ("any closure p99 < 50 ms (ids)", worst_ids < CLOSURE_TARGET_S),
    ]
    for direction, mine in (("up", "up_ranges"), ("down", "down_ranges")):
        theirs = kc.get(direction, {}).get("p50_s")
        checks.append(
            (
                f"{direction}stream >= 10x faster than kuzu (p50)",
                (ratio(theirs, s["closures"][mine]["p50_s"]) or 0) >= 10,
            )
        )
    return checks


def _print_lookups(result: Json, console: Console) -> None:
    """The table of RSS after open and the id lookups."""
    s = result["store"]
    lookups = Table(title=f"imported store at {result['size']} parts: open and lookups (fresh process)")
    for column in ("measure", "p50", "p99", "target"):
        lookups.add_column(column, justify="left" if column == "measure" else "right")
    lookups.add_row("RSS after open", fmt_bytes(s["rss_after_open_bytes"]), "", "< 1 GiB")
    for name, key, target in (("id -> node", "id_to_node", "p50 < 20 us"), ("node -> id", "node_to_id", "p50 < 5 us")):
        for label, which in (("first touch", key), ("again", f"{key}_warm")):
            if which in s:
                lookups.add_row(
                    f"{name} (1000 random, {label})", _us(s[which]["p50_s"]), _us(s[which]["p99_s"]), target
                )
    console.print(lookups)


def report(result: Json, console: Console) -> list[str]:
    """Print the table of targets and of the closures beside kuzu; the targets missed."""
    s, k = result["store"], result.get("kuzu") or {}
    if s.get("killed"):
        console.print(f"[red]the store phase was killed in {s.get('killed_in')!r}: {s['killed']}[/]")
        return ["store phase"]
    hi = s["highest"]
    console.print(
        f"{s['num_nodes']:,} nodes, {s['num_edges']:,} graph edges; highest block {hi['id']}: upstream "
        f"{hi['upstream']:,} nodes in {hi['upstream_ranges']:,} ranges, downstream {hi['downstream']:,} nodes; "
        f"first closure {fmt_s(s['first_closure_s'])} (index {'loaded' if s['index_cached_before'] else 'built'})"
    )
    _print_lookups(result, console)
    closures = Table(title=f"closures of {len(s['blocks'])} blocks (highest included) vs kuzu {k.get('version', '')}")
    for column in ("closure", "store p50", "store p99", "kuzu p50", "kuzu p99", "kuzu / store (p50, p99)"):
        closures.add_column(column, justify="left" if column == "closure" else "right")
    kc = k.get("closures", {})
    rows = [
        ("upstream, ranges + counts", "up_ranges", "up"),
        ("upstream, ids", "up_ids", "up"),
        ("downstream, ranges + counts", "down_ranges", "down"),
        ("downstream, ids", "down_ids", "down"),
    ]
    if "up_walk" in s["closures"]:
        rows.append(("upstream, CSR walk (before)", "up_walk", "up"))
    for label, mine, theirs in rows:
        m, t = s["closures"][mine], kc.get(theirs, {})
        closures.add_row(
            label,
            fmt_s(m["p50_s"]),
            fmt_s(m["p99_s"]),
            fmt_s(t.get("p50_s")),
            fmt_s(t.get("p99_s")),
            f"{fmt_x(ratio(t.get('p50_s'), m['p50_s']))}, {fmt_x(ratio(t.get('p99_s'), m['p99_s']))}",
        )
    console.print(closures)
    if k and not k.get("killed"):
        console.print(
            f"kuzu: load {fmt_s(k['load_s'])} (nodes {fmt_s(k['load_nodes_s'])}, edges {fmt_s(k['load_edges_s'])}; "
            f"export to Parquet {fmt_s(k['export_s'])} apart), disk {fmt_bytes(k['disk_bytes'])}, RSS after load "
            f"{fmt_bytes(k['rss_after_load_bytes'])} (peak {fmt_bytes(k['peak_rss_load_bytes'])}), open "
            f"{fmt_s(k['open_s'])} (+{fmt_bytes(k['rss_open_delta_bytes'])}), after the closures "
            f"{fmt_bytes(k['rss_after_closures_bytes'])}; {k['timeouts']} closures timed out"
        )
        imported = result["import"]
        console.print(
            f"store: import {fmt_s(imported.get('wall_s'))} (peak {fmt_bytes(imported.get('peak_rss_bytes'))}), "
            f"disk {fmt_bytes(result['store_bytes'])} + index cache {fmt_bytes(s['index_cache_bytes'])}, "
            f"RSS after the closures {fmt_bytes(s['rss_after_closures_bytes'])}"
        )
    elif k.get("killed"):
        console.print(f"[red]kuzu was killed in {k.get('killed_in')!r}: {k['killed']}[/]")
    return report_targets(console, _checks(s, kc))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", default="1M", help="parts of the synthetic yard: 1M (default), 25M, 200k ...")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--data-dir", type=Path, default=REPO / ".shipbrain" / "bench")
    p.add_argument("--yard", type=Path, help="a yard in the open yard format to import (read only) instead")
    p.add_argument("--blocks", type=int, default=20, help="blocks whose closures are timed (the highest included)")
    p.add_argument("--repeats", type=int, default=5, help="times each store closure is timed")
    p.add_argument("--no-walk", action="store_true", help="skip the edge-by-edge walk of each closure")
    p.add_argument("--no-kuzu", action="store_true")
    p.add_argument("--kuzu-repeats", type=int, default=1)
    p.add_argument("--kuzu-timeout", type=float, default=120.0, help="seconds one kuzu closure may take")
    p.add_argument("--kuzu-budget", type=float, default=1200.0, help="seconds all kuzu closures may take")
    p.add_argument("--kuzu-buffer", type=float, default=6.0, help="kuzu's buffer pool, GiB")
    p.add_argument("--kuzu-max-depth", type=int, default=1000, help="upper bound of kuzu's recursive join")
    p.add_argument("--keep-kuzu", action="store_true", help="keep kuzu's database and its Parquet input")
    p.add_argument("--note", action="append", default=[], help="a line kept in the result file (what ran before)")
    p.add_argument("--max-memory", type=float, default=12.0, help="GiB this benchmark's processes may use (kill)")
    p.add_argument("--min-available", type=float, default=4.0, help="GiB the machine must keep available (kill)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 200)
    parts = parse_size(args.size)
    label = size_label(parts)
    guard = {"limit_bytes": int(args.max_memory * GiB), "min_available_bytes": int(args.min_available * GiB)}
    result: Json = {"size": label, "parts": parts, "seed": args.seed, "guard": guard, "notes": args.note}
    try:
        import kuzu

        result["machine"] = machine_info(kuzu=str(kuzu.__version__))
    except ImportError:
        result["machine"] = machine_info()
        args.no_kuzu = True
        console.log("[yellow]kuzu is not installed (pip install kuzu): no comparison[/]")
    target = args.data_dir / f"store-{label}-seed{args.seed}"
    if (target / "manifest.json").is_file():
        console.log(f"reusing the imported store {target}")
        result["write"], result["import"] = {"reused": True}, {"reused": True}
    else:
        fmt, result["write"] = ensure_format(args.yard, args.data_dir, parts, args.seed, console)
        console.log(f"importing {fmt} into {target} ...")
        result["import"] = run_guarded(phase_import, str(fmt), str(target), **guard)
        if result["import"].get("killed"):
            console.log(
                f"[red]the import was killed in {result['import']['killed_in']!r}: {result['import']['killed']}[/]"
            )
            return 1
        else:
            console.log(f"imported in {fmt_s(result['import']['wall_s'])}")
    result["store_bytes"] = _dir_bytes(target)
    console.log("the store, in a fresh process ...")
    walk = "0" if args.no_walk else "1"
    result["store"] = run_guarded(phase_store, str(target), str(args.blocks), str(args.repeats), walk, **guard)
    if not args.no_kuzu and not result["store"].get("killed"):
        blocks = [{k: b[k] for k in ("node", "id", "upstream", "downstream")} for b in result["store"]["blocks"]]
        options = {
            "buffer_gib": args.kuzu_buffer,
            "timeout_s": args.kuzu_timeout,
            "budget_s": args.kuzu_budget,
            "repeats": args.kuzu_repeats,
            "max_depth": args.kuzu_max_depth,
            "keep": args.keep_kuzu,
        }
        console.log("kuzu, in a fresh process: export, load, closures ...")
        db = args.data_dir / f"kuzu-{label}-seed{args.seed}"
        result["kuzu"] = run_guarded(phase_kuzu, str(target), str(db), json.dumps(blocks), json.dumps(options), **guard)
    result["machine"]["load_average_at_end"] = list(os.getloadavg())
    result["targets_missed"] = report(result, console)
    out = REPO / "benchmarks" / "results" / f"store-{label}.json"
    write_json(out, result)
    console.log(f"wrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
