"""A batch-inference job run as its own process by tests/e2e/test_ray_executor.py.

It scores every joint of a yard with the welding model in-process and on Ray (joining the cluster
named by RAY_ADDRESS, or a local one), optionally killing a Ray worker in the middle, and prints one
JSON line: what ran where and whether the two answers are equal row for row.

Usage: python tests/e2e/ray_job.py YARD_DIR [--kill-after-rows N] [--chunk-rows N]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

import ray

from adapters.executor import BatchExecutor, ray_status
from adapters.registry import Registry
from adapters.welding import WeldingAdapter
from knowledge import Settings, YardStore


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("yard", type=Path)
    parser.add_argument("--kill-after-rows", type=int, default=0)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    args = parser.parse_args()

    settings = Settings(data_dir=Path(os.environ.get("SHIPBRAIN_DATA_DIR", "/nonexistent")))
    registry = Registry.load(settings)
    rows = WeldingAdapter.yard_rows(YardStore.open(args.yard))
    expected = BatchExecutor(registry, backend="in-process", settings=settings).run("welding", rows)

    executor = BatchExecutor(registry, backend="ray", chunk_rows=args.chunk_rows, settings=settings)
    actors = executor.actors("welding")
    pids = ray.get([a.pid.remote() for a in actors])
    killed: list[int] = []

    def progress(done: int, total: int) -> None:
        if args.kill_after_rows and not killed and done >= args.kill_after_rows:
            os.kill(pids[0], signal.SIGKILL)  # a worker dies with chunks in flight
            killed.append(pids[0])

    got = executor.run("welding", rows, progress=progress)
    status = ray_status()
    pids_after = ray.get([a.pid.remote() for a in actors])
    report = executor.last_report
    print(
        json.dumps(
            {
                "rows": rows.num_rows,
                "result_rows": got.num_rows,
                "equal": got.equals(expected),
                "backend": report.backend if report else None,
                "chunks": report.chunks if report else 0,
                "workers": len(actors),
                "nodes": status.get("nodes"),
                "worker_nodes": len(set(ray.get([a.node.remote() for a in actors]))),
                "killed": killed,
                "restarted": pids_after != pids,
            }
        )
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
