"""Benchmark of the v2 transport: rows/s of the welding model through MLServer, Triton and KServe, JSON and binary.

Run it from the repository root (the servers' environments made by `bash tests/e2e/install_*.sh`):

```
python benchmarks/v2_throughput.py                 # 1M joints' features, 3 repeats
python benchmarks/v2_throughput.py --rows 200000 --repeats 2 --servers triton kserve
```

It prints a table and writes `benchmarks/results/v2_throughput.json` with every measurement and the machine.

What it measures, in one run: the `features` tensor of `--rows` weld joints (1,000,000 by default: every field drawn
uniformly over the model's words and ranges, seed 0) scored by the shipped welding ONNX file

- **in-process**: `OnnxTransport` with 1 onnxruntime thread (what each server runs) and with every core (what
  Shipbrain runs by default);
- **through each server** started on loopback by `adapters.serving.launch` (one at a time, stopped before the
  next starts, so they do not share the two cores), with `V2Transport` as the registry builds it: batches of
  262,144 rows (the adapters' default, Triton's `max_batch_size`), sent as JSON (`binary=False`) and with the binary
  tensor extension (`binary=True`; MLServer 1.7 does not read it over REST, so its row is "n/a"), and binary
  pipelined: batches of 65,536 rows, two requests in flight on one transport (while the server computes one
  batch the next one travels; the servers run onnxruntime single-threaded, one model instance each).

Each variant scores every row `--repeats` times after one warm-up batch; rows/s is rows over the median wall clock.
The machine may be shared (the 1-minute load average is recorded with each variant), so in-process with every core
is measured again just before each remote variant, and the remote one is compared with that ("ratio").
Every variant's predictions are compared with in-process's (1 thread): the servers run the same graph
single-threaded, so they are meant to be equal to the bit. Target from issue 14: binary on loopback at least half
of in-process throughput (every core, measured beside it), checked for each server that has the extension.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path

import numpy as np
import numpy.typing as npt
from _common import REPO, Json, machine_info, report_targets, write_json
from rich.console import Console
from rich.table import Table

from adapters.serving.launch import SERVER_KINDS, LaunchError, ServerKind, launch
from adapters.transports.base import CallPolicy
from adapters.transports.inprocess import OnnxTransport
from adapters.transports.v2 import V2Transport
from adapters.welding import ACCESS, GRADES, JOINT_LEVELS, JOINT_TYPES, POSITIONS, PROCESSES

ONNX = REPO / "adapters" / "models" / "welding.onnx"
RESULT = REPO / "benchmarks" / "results" / "v2_throughput.json"
BATCH = 262_144
PIPELINED = 65_536
"""Rows per request of the pipelined variant, which keeps two requests in flight."""
POLICY = CallPolicy(timeout_s=300.0, max_attempts=1)
Outputs = dict[str, npt.NDArray[np.generic]]


def joint_features(rows: int, seed: int = 0) -> npt.NDArray[np.float32]:
    """`rows` joints' `features` [rows, 10], every field uniform over the model's words and ranges."""
    rng = np.random.default_rng(seed)
    words = [JOINT_LEVELS, JOINT_TYPES, PROCESSES, range(4), ACCESS, range(2), GRADES]
    codes = [rng.integers(0, len(w), rows) for w in words]
    _ = POSITIONS  # the position travels as its digit 0-3 (flat, horizontal, vertical, overhead)
    numbers = [rng.uniform(4, 40, rows), rng.uniform(0.2, 12, rows), rng.uniform(0, 4, rows)]
    return np.ascontiguousarray(np.column_stack([*codes, *numbers]), dtype=np.float32)


def score(
    infer: Callable[[dict[str, npt.NDArray[np.generic]]], Outputs],
    features: npt.NDArray[np.float32],
    batch: int = BATCH,
    in_flight: int = 1,
) -> Outputs:
    chunks = [{"features": features[start : start + batch]} for start in range(0, len(features), batch)]
    if in_flight == 1:
        pieces = [infer(chunk) for chunk in chunks]
    else:  # the transport is thread-safe: while the server computes one batch, the next one travels
        with ThreadPoolExecutor(in_flight) as pool:
            pieces = list(pool.map(infer, chunks))
    return {name: np.concatenate([p[name].reshape(-1) for p in pieces]) for name in ("hours", "defect_probability")}


def measure(
    infer: Callable[[dict[str, npt.NDArray[np.generic]]], Outputs],
    features: npt.NDArray[np.float32],
    repeats: int,
    batch: int = BATCH,
    in_flight: int = 1,
) -> tuple[Json, Outputs]:
    infer({"features": features[:1024]})  # warm-up: connection, session, first allocation
    load = os.getloadavg()[0]  # the machine is shared: other work skews the timings
    seconds, outputs = [], {}
    for _ in range(repeats):
        started = time.perf_counter()
        outputs = score(infer, features, batch, in_flight)
        seconds.append(time.perf_counter() - started)
    median = statistics.median(seconds)
    figures = {"seconds": seconds, "median_s": median, "rows_per_s": len(features) / median, "load_average_1m": load}
    return figures, outputs


def same(outputs: Outputs, reference: Outputs) -> bool:
    return all(np.array_equal(outputs[name], reference[name]) for name in reference)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--servers", nargs="+", choices=SERVER_KINDS, default=list(SERVER_KINDS))
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args(argv)
    console = Console(width=120)
    features = joint_features(args.rows)
    results: dict[str, Json] = {}

    for threads in (1, 2):
        transport = OnnxTransport("welding", ONNX, threads=threads)
        results[f"in-process/{threads}"], outputs = measure(transport.infer, features, args.repeats)
        results[f"in-process/{threads}"]["equal"] = True
        if threads == 1:
            reference = outputs
        else:
            results["in-process/2"]["equal"] = same(outputs, reference)
        transport.close()
        console.print(f"in-process, {threads} thread(s): {results[f'in-process/{threads}']['rows_per_s']:,.0f} rows/s")

    kind: ServerKind
    for kind in args.servers:
        with tempfile.TemporaryDirectory(prefix=f"v2-{kind}-") as workdir:
            try:
                server = launch(kind, ONNX.resolve(), Path(workdir), echo=False, limited_batch=None)
            except LaunchError as exc:
                console.print(f"[red]{kind}: {exc}[/]")
                results[f"{kind}/json"] = results[f"{kind}/binary"] = {"error": str(exc)}
                continue
            try:
                for wire, batch, in_flight in [("json", BATCH, 1), ("binary", BATCH, 1), ("binary", PIPELINED, 2)]:
                    key = f"{kind}/{wire}" + (f" {batch // 1024}k x{in_flight}" if in_flight > 1 else "")
                    if wire == "binary" and not V2Transport(server.url, server.model, policy=POLICY).uses_binary():
                        results[key] = {"error": "no binary extension over REST"}
                        continue
                    # The machine is shared: in-process (every core) is measured again just before, under the same
                    # load, and the remote variant is compared with that.
                    local = OnnxTransport("welding", ONNX, threads=2)
                    beside, _ = measure(local.infer, features, args.repeats)
                    local.close()
                    transport = V2Transport(server.url, server.model, policy=POLICY, binary=wire == "binary")
                    results[key], outputs = measure(transport.infer, features, args.repeats, batch, in_flight)
                    results[key]["equal"] = same(outputs, reference)
                    results[key]["in_process_beside_rows_per_s"] = beside["rows_per_s"]
                    transport.close()
                    console.print(
                        f"{key}: {results[key]['rows_per_s']:,.0f} rows/s "
                        f"(in-process just before: {beside['rows_per_s']:,.0f})"
                    )
            finally:
                server.stop()

    table = Table(title=f"welding model, {args.rows:,} joints, batches of {BATCH:,} rows", title_justify="left")
    for column in ("variant", "rows/s", "median", "in-process beside", "ratio", "load", "equal"):
        table.add_column(column, justify="left" if column == "variant" else "right")
    for key, row in results.items():
        if "error" in row:
            table.add_row(key, "n/a", "", "", "", "", row["error"])
            continue
        rate = row["rows_per_s"]
        beside_rate = row.get("in_process_beside_rows_per_s", results["in-process/2"]["rows_per_s"])
        table.add_row(
            key,
            f"{rate:,.0f}",
            f"{row['median_s']:.2f} s",
            f"{beside_rate:,.0f}",
            f"{rate / beside_rate:.2f}",
            f"{row['load_average_1m']:.1f}",
            "yes" if row["equal"] else "NO",
        )
    console.print(table)
    checks = [
        (f"{key} >= 0.5x in-process", row["rows_per_s"] >= 0.5 * row["in_process_beside_rows_per_s"])
        for key, row in results.items()
        if "/binary" in key and "rows_per_s" in row
    ]
    failed = report_targets(console, checks)
    versions = {name: version(name) for name in ("onnxruntime", "httpx")}
    write_json(
        args.out,
        {
            "rows": args.rows,
            "batch": BATCH,
            "repeats": args.repeats,
            "results": results,
            "targets": {name: ok for name, ok in checks},
            "failed_targets": failed,
            "machine": machine_info(**versions),
        },
    )
    console.print(f"wrote {args.out}")
    return 0 if all(row.get("equal", True) for row in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
