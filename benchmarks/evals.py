"""Evals at scale: a 2,000-case suite over a recorded package of about 100,000 joints, recorded then replayed.

    .venv/bin/python benchmarks/evals.py [--parts 112000] [--cases 2000] [--concurrency 2]

Writes the suite it builds (welding per block and per work package, NDT questions at many budgets, graph
questions, inspection-plan workflows scored against recorded NDT findings, a schedule) to a temporary data
dir, runs it once recording the model calls and once replaying them, checks the two runs' scores are identical
(all but latency), prints a table and writes benchmarks/results/evals.json (`--results-dir`).
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import REPO, GiB, machine_info, peak_rss_bytes, write_json


def build_suite(path: Path, parts: int, seed: int, blocks: list[str], wps: list[str], cases: int) -> None:
    fixed = [
        {
            "id": "welding-{block}",
            "package": "p",
            "for_each": "block",
            "model": "welding",
            "where": {"block": "{block}"},
            "scorers": ["mae", "calibration", "latency"],
        },
        {
            "id": "welding-{work_package}",
            "package": "p",
            "for_each": "work_package",
            "model": "welding",
            "where": {"work_package": "{work_package}"},
            "scorers": ["mae", "calibration"],
        },
        {
            "id": "recorded",
            "package": "p",
            "answers": "all",
            "scorers": [
                {"name": "exact", "field": "intent"},
                "tool_routing",
                {"name": "numeric", "field": "numbers.joint"},
                {"name": "numeric", "field": "numbers.nodes"},
                {"name": "numeric", "field": "numbers.inspected"},
                {"name": "numeric", "field": "joints_total"},
                {"name": "set_f1", "field": "inspection_points[*].code"},
                "latency",
            ],
        },
        {
            "id": "schedule",
            "package": "p",
            "schedule": {},
            "where": {"block": blocks[:5]},
            "scorers": ["schedule_validity", "latency"],
        },
    ]
    fixed_count = len(blocks) * 6 + len(wps) + 1  # welding per block + 5 recorded answers per block, per WP, schedule
    extra: list[dict[str, Any]] = []
    templates = itertools.cycle(["ndt", "upstream", "wip", "hours"])
    shares = itertools.cycle(range(1, 40))
    for n, (block, kind) in enumerate(zip(itertools.cycle(blocks), templates, strict=False)):
        if len(extra) >= max(0, cases - fixed_count):
            break
        pct = next(shares)
        intent = {"ndt": "ndt_plan", "upstream": "upstream", "hours": "hours"}.get(kind)
        text = {
            "ndt": f"Which joints of {block} need NDT at {pct} %?",
            "upstream": f"what has to happen before {block}?",
            "hours": f"how many weld hours is {block}?",
        }.get(kind)
        if intent is not None:
            extra.append(
                {
                    "id": f"q{n}",
                    "package": "p",
                    "question": text,
                    "expected": {"intent": intent},
                    "scorers": [{"name": "exact", "field": "intent"}, "latency"],
                }
            )
        else:
            extra.append(
                {
                    "id": f"w{n}",
                    "package": "p",
                    "workflow": "weld-inspection-plan",
                    "input": {"code": block, "budget": {"share": pct / 100}},
                    "scorers": [{"name": "numeric", "field": "budget.share", "expected": pct / 100}, "latency"],
                }
            )
    suite = {"suite": "bench", "packages": {"p": {"record": {"parts": parts, "seed": seed}}}, "cases": fixed + extra}
    path.write_text(json.dumps(suite))  # JSON is YAML


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", type=int, default=112_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--results-dir", type=Path, default=REPO / "benchmarks" / "results", help="where the JSON goes")
    args = parser.parse_args()

    from evals.package import package_summary
    from evals.runner import load_run, open_package, run_suite
    from evals.suite import PackageSpec, RecordSpec, load_suite
    from knowledge.settings import Settings

    data = Path(tempfile.mkdtemp(prefix="shipbrain-evals-bench-"))
    settings = Settings(data_dir=data, executor="in-process")
    t0 = time.perf_counter()
    package = open_package("p", PackageSpec(record=RecordSpec(parts=args.parts, seed=args.seed)), settings)
    record_s = time.perf_counter() - t0
    info = package_summary(package)
    blocks = package.manifest.blocks
    wps = list(package.manifest.work_packages)
    suite_path = data / "bench.yaml"
    build_suite(suite_path, args.parts, args.seed, blocks, wps, args.cases)
    t0 = time.perf_counter()
    suite = load_suite(suite_path)
    load_s = time.perf_counter() - t0
    results = {}
    for mode in ("record", "replay"):
        t0 = time.perf_counter()
        summary = run_suite(
            suite, data / mode, settings=settings, concurrency=args.concurrency, replay=mode == "replay"
        )
        results[mode] = {
            "seconds": round(time.perf_counter() - t0, 2),
            "cases": summary.cases,
            "passed": summary.passed,
            "errors": summary.errors,
        }
    (sa, ra), (_, rb) = load_run(data / "record"), load_run(data / "replay")

    def scores(records: Sequence[Any]) -> dict[str, dict[str, object]]:
        return {r.id: {k: s.value for k, s in r.scores.items() if s.deterministic} for r in records}

    identical = scores(ra) == scores(rb)
    out = {
        "package": info,
        "record_package_s": round(record_s, 2),
        "load_suite_s": round(load_s, 3),
        "runs": results,
        "replay_identical": identical,
        "concurrency": args.concurrency,
        "means": {k: v for k, v in sa.means.items() if k != "latency"},
        "peak_rss_gib": round(peak_rss_bytes() / GiB, 2),
        "machine": machine_info(),
    }
    print(f"package: {info['joints']:,} joints, {info['blocks']} blocks, recorded in {record_s:.1f} s")
    print(f"{'run':<8} {'cases':>6} {'passed':>7} {'errors':>7} {'seconds':>8}")
    for mode, r in results.items():
        print(f"{mode:<8} {r['cases']:>6} {r['passed']:>7} {r['errors']:>7} {r['seconds']:>8}")
    print(f"replay identical: {identical}; peak RSS {out['peak_rss_gib']} GiB")
    write_json(args.results_dir / "evals.json", out)


if __name__ == "__main__":
    main()
