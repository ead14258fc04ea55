"""Benchmark of the open yard format's checks and numbering (`knowledge.yardformat`) on a made-up export.

```
python benchmarks/yardformat.py                 # 1M nodes, Parquet
python benchmarks/yardformat.py --nodes 200k --csv
```

The yard is written by this script with pyarrow (not by the synthetic generator): blocks -> assemblies ->
sub-assemblies -> plates, and a weld joint after each pair of neighbouring plates, ids in another design
system's style (`H1042/B012-A03-S02 PL00042`), node rows shuffled (exports come in any order), edges plate ->
joint. It times `validate_yard` (every check, streamed) and `order_nodes` (the store's numbering) and reads the
peak resident memory of each phase; prints a table and writes `benchmarks/results/yardformat-<size>.json`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from _common import (
    REPO,
    fmt_bytes,
    fmt_s,
    machine_info,
    parse_size,
    peak_rss_bytes,
    reset_peak_rss,
    size_label,
    write_json,
)
from rich.console import Console
from rich.table import Table

from knowledge.yardformat import order_nodes, validate_yard

SPEC = """\
format = "shipbrain-yard/1"
name = "benchmark yard"
day0 = 2026-03-02

[roles]
block = "BLK"
assembly = "ASSY"
sub_assembly = "SUB"
part = "PLATE"
joint = "WELD"

[columns.joint]
process = { column = "WELD_PROC", values = { "FCAW-G" = "FCAW" } }
thickness_mm = { column = "THK_IN", unit = "in" }
length_m = "WELD_LEN"
joint_type = "JT"
position = "POS"
grade = "GRADE"
"""


def _padded(numbers: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width, "0")


def _join(*pieces: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*pieces, "")


def make_yard(root: Path, nodes: int, *, csv: bool, seed: int = 7) -> dict[str, int]:
    """Write a yard of about `nodes` nodes; its counts."""
    rng = np.random.default_rng(seed)
    blocks, assemblies, subs = 200, 5, 4
    n_sub = blocks * assemblies * subs
    per_sub = max(2, (nodes - n_sub - blocks * (1 + assemblies)) // (2 * n_sub))
    b = np.arange(blocks)
    a = np.arange(blocks * assemblies)
    s = np.arange(n_sub)
    p = np.arange(n_sub * per_sub)
    block_ids = _join("H1042/B", _padded(b, 3))
    asm_ids = _join(pc.take(block_ids, pa.array(a // assemblies)), "-A", _padded(a % assemblies, 2))
    sub_ids = _join(pc.take(asm_ids, pa.array(s // subs)), "-S", _padded(s % subs, 2))
    part_ids = _join(pc.take(sub_ids, pa.array(p // per_sub)), " PL", _padded(p % per_sub, 5))
    joint_ids = _join(pc.take(sub_ids, pa.array(p // per_sub)), " W", _padded(p % per_sub, 5))
    ids = pa.concat_arrays([block_ids, asm_ids, sub_ids, part_ids, joint_ids])
    empty = pa.array([""] * blocks)
    parents = pa.concat_arrays(
        [
            empty,
            pc.take(block_ids, pa.array(a // assemblies)),
            pc.take(asm_ids, pa.array(s // subs)),
            pc.take(sub_ids, pa.array(p // per_sub)),
            pc.take(sub_ids, pa.array(p // per_sub)),
        ]
    )
    kinds = np.repeat(["BLK", "ASSY", "SUB", "PLATE", "WELD"], [blocks, len(a), n_sub, len(p), len(p)])
    n = len(ids)
    weld = np.zeros(n, dtype=bool)
    weld[-len(p) :] = True

    def weld_column(values: np.ndarray) -> pa.Array:
        return pa.array(values, mask=~weld)

    table = pa.table(
        {
            "id": ids,
            "kind": pa.array(kinds),
            "parent": parents,
            "WELD_PROC": weld_column(rng.choice(["FCAW-G", "SAW", "GMAW"], n)),
            "THK_IN": weld_column(np.round(rng.uniform(0.2, 1.2, n), 3)),
            "WELD_LEN": weld_column(np.round(rng.uniform(0.3, 8, n), 2)),
            "JT": weld_column(rng.choice(["butt", "fillet"], n)),
            "POS": weld_column(rng.choice(["1G", "2F", "3G"], n)),
            "GRADE": weld_column(rng.choice(["A", "AH36"], n)),
        }
    ).take(pa.array(rng.permutation(n)))
    # each joint comes after its plate and the next plate of the same sub-assembly
    nxt = np.where((p + 1) % per_sub == 0, p - 1, p + 1)
    edges = pa.table(
        {
            "before": pa.concat_arrays([part_ids, pc.take(part_ids, pa.array(nxt))]),
            "after": pa.concat_arrays([joint_ids, joint_ids]),
        }
    )
    root.mkdir(parents=True, exist_ok=True)
    (root / "yard.toml").write_text(SPEC, encoding="utf-8")
    if csv:
        pacsv.write_csv(table, root / "nodes.csv")
        pacsv.write_csv(edges, root / "edges.csv")
    else:
        pq.write_table(table, root / "nodes.parquet", row_group_size=256_000)
        pq.write_table(edges, root / "edges.parquet", row_group_size=512_000)
    return {"nodes": n, "edges": edges.num_rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=parse_size, default=1_000_000)
    parser.add_argument("--csv", action="store_true", help="write the tables as CSV instead of Parquet")
    parser.add_argument("--results-dir", type=Path, default=REPO / "benchmarks" / "results", help="where the JSON goes")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory(prefix="yardformat-") as tmp:
        root = Path(tmp) / "yard"
        started = time.perf_counter()
        counts = make_yard(root, args.nodes, csv=args.csv)
        made = time.perf_counter() - started
        reset_peak_rss()
        started = time.perf_counter()
        yard = validate_yard(root)
        validated = time.perf_counter() - started
        validate_peak = peak_rss_bytes()
        reset_peak_rss()
        started = time.perf_counter()
        order = order_nodes(yard.parent, yard.kind, yard.before, yard.after)
        ordered = time.perf_counter() - started
        order_peak = peak_rss_bytes()
    assert len(order.end) == counts["nodes"]
    label = f"{size_label(args.nodes)}{'-csv' if args.csv else ''}"
    table = Table(title=f"open yard format, {counts['nodes']:,} nodes, {counts['edges']:,} edges ({label})")
    for column in ("step", "time", "peak RSS"):
        table.add_column(column)
    table.add_row("write the export (pyarrow)", fmt_s(made), "-")
    table.add_row("validate_yard (every check)", fmt_s(validated), fmt_bytes(validate_peak))
    table.add_row("order_nodes (subtree ranges)", fmt_s(ordered), fmt_bytes(order_peak))
    console.print(table)
    out = args.results_dir / f"yardformat-{label}.json"
    write_json(
        out,
        {
            "counts": counts,
            "format": "csv" if args.csv else "parquet",
            "seconds": {"write": made, "validate": validated, "order": ordered},
            "peak_rss_bytes": {"validate": validate_peak, "order": order_peak},
            "machine": machine_info(pyarrow=pa.__version__, numpy=np.__version__),
        },
    )
    console.print(f"written {out}")


if __name__ == "__main__":
    main()
