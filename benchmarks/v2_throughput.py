"""Remote inference as a user gets it: the welding adapter's `predict` through v2 servers, beside in-process.

The adapter's own `predict` through MLServer, Triton and KServe (JSON and binary, one batch in flight and the
default), beside the in-process adapter, in one run.

Run it from the repository root (the servers' environments made by `bash tests/e2e/install_*.sh`):

```
python benchmarks/v2_throughput.py                 # 1M joints, every server, ~3 minutes
python benchmarks/v2_throughput.py --rows 200000 --repeats 2 --servers triton kserve
```

It prints a table and writes `benchmarks/results/v2_throughput.json` with every measurement and the machine.

What it measures: `--rows` weld joint rows (1,000,000 by default; every field drawn uniformly over the model's words
and ranges, seed 0) as an Arrow table, scored by `predict` of the welding adapter that the registry builds from a
config entry, so validation, encoding, batching, the wire and decoding all count:

- **in-process**: `transport = "onnx"` (the shipped default: onnxruntime on every core);
- **through each server** started on loopback by `adapters.serving.launch` with its defaults (the model on every
  core: row slices of a single-threaded session, as in-process), one server at a time, stopped before the next
  starts (they would share the cores); `transport = "v2"` with the adapter's defaults (batches of 262,144 rows,
  the default policy), `binary = false` (JSON) and `true` (the binary tensor extension; MLServer 1.7 does not
  read it over REST: "n/a"), each with `in_flight = 1` and the default (`adapters.registry.V2_IN_FLIGHT`).

Each variant scores every row `--repeats` times after a warm-up call; rows/s is rows over the median wall clock.
The machine may be shared (the 1-minute load average is recorded with each variant), so the in-process adapter is
measured again with each server running idle, just before its variants, and they are compared with that ("ratio").
Every variant's predictions are compared with in-process's, to the bit. Target from issue 14: binary on loopback,
with the default settings, at least half of in-process throughput.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pyarrow as pa
from _common import REPO, Json, machine_info, report_targets, write_json
from _weld_joints import weld_joints
from rich.console import Console
from rich.table import Table

from adapters.registry import ADAPTERS, V2_IN_FLIGHT, ModelConfig
from adapters.serving.launch import SERVER_KINDS, LaunchError, ServerKind, launch
from adapters.spec import Adapter
from adapters.transports.v2 import V2Transport

ONNX = REPO / "adapters" / "models" / "welding.onnx"
RESULT = REPO / "benchmarks" / "results" / "v2_throughput.json"


def welding(config: ModelConfig) -> Adapter:
    """The welding adapter as the registry builds it from a `[models.welding]` entry."""
    return ADAPTERS.get("welding").build("welding", config)


def measure(model: Adapter, rows: pa.Table, repeats: int) -> tuple[Json, pa.Table]:
    model.predict(rows.slice(0, 1024))  # warm-up: connection, session, first allocation
    load = os.getloadavg()[0]  # the machine is shared: other work skews the timings
    seconds, outputs = [], rows.slice(0, 0)
    for _ in range(repeats):
        started = time.perf_counter()
        outputs = model.predict(rows)
        seconds.append(time.perf_counter() - started)
    median = statistics.median(seconds)
    figures = {"seconds": seconds, "median_s": median, "rows_per_s": len(rows) / median, "load_average_1m": load}
    return figures, outputs


def same(outputs: pa.Table, reference: pa.Table) -> bool:
    return all(
        np.array_equal(outputs.column(name).to_numpy(), reference.column(name).to_numpy())
        for name in reference.column_names
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--servers", nargs="+", choices=SERVER_KINDS, default=list(SERVER_KINDS))
    parser.add_argument("--in-flight", type=int, nargs="+", default=sorted({1, V2_IN_FLIGHT}), help="settings to try")
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args(argv)
    console = Console(width=120)
    rows = weld_joints(args.rows)
    results: dict[str, Json] = {}
    started = time.monotonic()

    local = welding(ModelConfig(transport="onnx", path=ONNX))
    results["in-process"], reference = measure(local, rows, args.repeats)
    results["in-process"]["equal"] = True
    console.print(f"in-process: {results['in-process']['rows_per_s']:,.0f} rows/s")

    kind: ServerKind
    for kind in args.servers:
        with tempfile.TemporaryDirectory(prefix=f"v2-{kind}-") as workdir:
            try:
                server = launch(kind, ONNX.resolve(), Path(workdir), echo=False, limited_batch=None)
            except LaunchError as exc:
                console.print(f"[red]{kind}: {exc}[/]")
                results[f"{kind}"] = {"error": str(exc)}
                continue
            try:
                # The machine is shared: in-process is measured again with this server up (idle), under the same
                # load, and this server's variants are compared with that.
                beside, _ = measure(local, rows, args.repeats)
                console.print(f"{kind} up ({server.threads} threads); in-process beside: {beside['rows_per_s']:,.0f}")
                has_binary = V2Transport(server.url, server.model).uses_binary()
                for wire in ("json", "binary"):
                    for in_flight in args.in_flight:
                        key = f"{kind}/{wire} x{in_flight}"
                        if wire == "binary" and not has_binary:
                            results[key] = {"error": "no binary extension over REST"}
                            continue
                        config = ModelConfig(
                            transport="v2", url=server.url, binary=wire == "binary", in_flight=in_flight
                        )
                        model = welding(config)
                        try:
                            results[key], outputs = measure(model, rows, args.repeats)
                        finally:
                            model.close()
                        results[key] |= {
                            "equal": same(outputs, reference),
                            "in_process_beside_rows_per_s": beside["rows_per_s"],
                            "server_threads": server.threads,
                            "in_flight": in_flight,
                            "batch_size": model.spec.batch_size,
                        }
                        console.print(f"{key}: {results[key]['rows_per_s']:,.0f} rows/s")
            finally:
                server.stop()
    local.close()

    table = Table(
        title=f"welding adapter's predict, {args.rows:,} joints, median of {args.repeats}", title_justify="left"
    )
    for column in ("variant", "rows/s", "median", "in-process beside", "ratio", "load", "equal"):
        table.add_column(column, justify="left" if column == "variant" else "right")
    for key, row in results.items():
        if "error" in row:
            table.add_row(key, "n/a", "", "", "", "", row["error"][:60])
            continue
        rate = row["rows_per_s"]
        beside_rate = row.get("in_process_beside_rows_per_s", rate)
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
        if key.endswith(f"/binary x{V2_IN_FLIGHT}") and "rows_per_s" in row
    ]
    failed = report_targets(console, checks)
    elapsed = time.monotonic() - started
    console.print(f"took {elapsed:.0f} s")
    versions = {name: version(name) for name in ("onnxruntime", "httpx")}
    write_json(
        args.out,
        {
            "rows": args.rows,
            "repeats": args.repeats,
            "default_in_flight": V2_IN_FLIGHT,
            "results": results,
            "targets": {name: ok for name, ok in checks},
            "failed_targets": failed,
            "elapsed_s": elapsed,
            "machine": machine_info(**versions),
        },
    )
    console.print(f"wrote {args.out}")
    return 0 if all(row.get("equal", True) for row in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
