"""Benchmark of the scheduling reference model (`adapters.scheduling`) on the synthetic yard's store.

Run it from the repository root (with the package installed, or with `PYTHONPATH=.`):

```
python benchmarks/scheduling.py                         # 200 blocks, seed 3, 60 s, 2 workers
python benchmarks/scheduling.py --blocks 100 --seed 5 --time-limit 30 --workers 1 --choice named
python benchmarks/scheduling.py --yard PATH             # any imported store
```

It makes the store in a temporary directory (`shipbrain yard generate`: generate -> open yard format -> import),
builds the request from it (`request_from_yard`: one task per work package, durations from their estimated hours,
precedences from the edges between work packages, the resources of the role resource), solves it, checks the
schedule with the independent validator shipped with the product, and prints one JSON line: yard, request size,
makespan, status, bound, gap, solve seconds and the number of violations (0 expected). The target from the
product issue: a 200-block yard solved within 60 s with no violation and its gap reported. The exit status is 1
if the validator objects.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from _common import make_store

from adapters.scheduling import request_from_yard, solve
from adapters.scheduling.validate import violations  # the independent validator, shipped with the product
from knowledge.store import YardStore


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=200)
    parser.add_argument("--parts", type=int, default=None, help="default: 1,000 per block")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--choice", choices=["same_kind", "named"], default="same_kind")
    parser.add_argument("--yard", type=Path, help="schedule this imported store instead of making one")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        if args.yard is None:
            path = Path(tmp) / "yard"
            parts = args.parts or 1_000 * args.blocks
            generation = make_store(path, parts, args.seed, blocks=args.blocks)
            generated: float | None = generation["total_s"]
        else:
            path, generated = args.yard, None
        yard = YardStore.open(path)
        began = time.perf_counter()
        request = request_from_yard(
            yard, time_limit_s=args.time_limit, workers=args.workers, resource_choice=args.choice
        )
        built = time.perf_counter() - began
        schedule = solve(request)
        blocks = yard.count("block")
        del yard
    found = violations(request, schedule)
    print(
        json.dumps(
            {
                "yard": "generated" if args.yard is None else str(args.yard),
                "blocks": blocks,
                "seed": args.seed if args.yard is None else None,
                "tasks": len(request.tasks),
                "precedences": len(request.precedences),
                "resource_choice": args.choice,
                "time_limit_s": args.time_limit,
                "workers": args.workers,
                "cpus": os.cpu_count(),
                "generate_s": None if generated is None else round(generated, 2),
                "request_s": round(built, 2),
                "makespan_days": schedule.makespan_days,
                "status": schedule.status,
                "best_bound": schedule.best_bound,
                "gap": round(schedule.gap, 5),
                "solve_seconds": round(schedule.solve_seconds, 2),
                "critical_path_tasks": len(schedule.critical_path),
                "violations": len(found),
            }
        )
    )
    for line in found[:10]:
        print("violation:", line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
