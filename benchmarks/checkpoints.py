"""Benchmark of the brain's conversation checkpoints: bytes written per question, and what pruning leaves.

Run it from the repository root (with the package installed, or with `PYTHONPATH=.`):

```
python benchmarks/checkpoints.py                       # 1,000 questions over 100 threads on the demo yard
python benchmarks/checkpoints.py --questions 200 --threads 20
python benchmarks/checkpoints.py --no-baseline         # only the shipped settings
```

It prints a table and writes `benchmarks/results/checkpoints.json`.

What it does, with two configurations side by side, each a `Brain` in a fresh data dir (its `cache/` linked to the
demo's data dir, so the yard's kept predictions and schedule are not computed again; the demo documents indexed in
it), each conversation asked of one and then of the other (so other work on the machine slows both alike; each
question's `Brain.ask` time is kept, p50 and p95 shown, after one untimed first question that loads the tools):

- **baseline**: LangGraph's defaults as Shipbrain used them before issue 13 (a checkpoint after every super-step,
  `durability="async"`, stored uncompressed);
- **shipped**: what `Brain` does now (one checkpoint a question, `durability="exit"`; a decision `"sync"`;
  zlib-compressed blobs).

Both ask the same questions with the offline planner against the demo yard (`.shipbrain/yards/demo`, made by
`shipbrain demo` if missing or stale): `--threads` conversations of `--questions / --threads` questions each, a
first question (a lookup, upstream, downstream, weld risk, an NDT plan, an erection date, a what-if, in turn, about
seeded-random codes of the yard) and follow-ups ("what waits on it?", ...); every tenth conversation ends with a
plan change left waiting for a decision. Then the shipped retention prunes twice (`CheckpointRetention`, the job
`shipbrain serve` runs): once now (the defaults: nothing is idle yet, so each thread keeps its latest checkpoint),
once as if 31 days had passed (idle threads deleted, the ones waiting for a decision kept). After each step it
records the checkpoint rows, the bytes in them, and the file (`brain.sqlite`) and its WAL; bytes per question are
(file + WAL) / questions asked. The target: at most 4 KB a question, amortised, with the shipped settings (after
the periodic prune; the figure before any prune is shown too).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from _common import REPO, Json, machine_info, quantiles, report_targets, write_json
from rich.console import Console
from rich.table import Table

KB = 1024
TARGET_BYTES = 4 * KB
FIRSTS = (
    "What is {block}?",
    "What must be done before {assembly}?",
    "What waits on {block}?",
    "What is the weld risk of block {block}?",
    "Which joints of block {block} need NDT?",
    "When will {block} be erected?",
    "What if {block} is late by 3 days?",
)
FOLLOW_UPS = ("and what waits on it?", "what must be done before it?", "what is it?", "what is its weld risk?")
ADOPT = "Adopt into the plan: {block} is late by 2 days"


def questions_for(yard: Path, threads: int, per_thread: int, seed: int) -> list[list[str]]:
    """Each conversation's questions: a first one about seeded-random codes, then follow-ups."""
    from knowledge.store import YardStore

    store = YardStore.open(yard)
    rng = np.random.default_rng(seed)
    blocks = store.codes_of(store.nodes_of_role("block"))
    assemblies = store.codes_of(store.nodes_of_role("assembly"))
    plan = []
    for t in range(threads):
        codes = {"block": blocks[rng.integers(len(blocks))], "assembly": assemblies[rng.integers(len(assemblies))]}
        asked = [FIRSTS[t % len(FIRSTS)].format(**codes)]
        asked += [FOLLOW_UPS[i % len(FOLLOW_UPS)] for i in range(per_thread - 1)]
        if t % 10 == 9:  # a plan change left for a person to decide
            asked[-1] = ADOPT.format(**codes)
        plan.append(asked)
    return plan


def measure(data_dir: Path, asked: int) -> Json:
    """The checkpoint rows, their bytes, the file and its WAL, and bytes a question (file + WAL)."""
    path = data_dir / "brain.sqlite"
    with sqlite3.connect(path) as conn:
        rows, blobs = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(checkpoint) + LENGTH(metadata)), 0) FROM checkpoints"
        ).fetchone()
        writes, write_bytes = conn.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(value)), 0) FROM writes").fetchone()
    wal = path.with_name(path.name + "-wal")
    file_bytes, wal_bytes = path.stat().st_size, wal.stat().st_size if wal.exists() else 0
    return {
        "checkpoints": rows,
        "writes": writes,
        "stored_bytes": blobs + write_bytes,
        "file_bytes": file_bytes,
        "wal_bytes": wal_bytes,
        "bytes_per_question": (file_bytes + wal_bytes) / asked,
        "stored_bytes_per_question": (blobs + write_bytes) / asked,
    }


def _as_before(brain: Any) -> None:
    """The brain as before issue 13: LangGraph's default durability (a checkpoint a super-step), no compression."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    brain.app.checkpointer.serde = JsonPlusSerializer()
    for name in ("invoke", "stream"):
        call: Callable[..., Any] = getattr(brain.app, name)

        def default(*args: Any, _call: Callable[..., Any] = call, **kwargs: Any) -> Any:
            return _call(*args, **{**kwargs, "durability": "async"})

        setattr(brain.app, name, default)


@dataclass
class Config:
    """One configuration's brain in its own data dir, and what it was asked."""

    name: str
    data_dir: Path
    brain: Any
    seconds: list[float] = field(default_factory=list)
    """Each question's `Brain.ask` time."""
    intents: dict[str, int] = field(default_factory=dict)
    waiting: int = 0

    def converse(self, questions: list[str]) -> None:
        """One conversation: its questions in one thread."""
        thread = None
        for question in questions:
            started = time.perf_counter()
            answer = self.brain.ask(question, thread_id=thread)
            self.seconds.append(time.perf_counter() - started)
            thread = answer.thread_id
            self.intents[answer.plan.intent] = self.intents.get(answer.plan.intent, 0) + 1
            self.waiting += answer.status == "waiting_for_approval"

    def finish(self, threads: int) -> Json:
        """Measure, prune now and 31 days later, measure after each; check what is left waits for a decision."""
        asked = len(self.seconds)
        after_asking = measure(self.data_dir, asked)
        now = self.brain.retention.prune()
        after_prune = {**measure(self.data_dir, asked), "report": now.model_dump(mode="json")}
        idle = self.brain.retention.prune(now=time.time() + 31 * 86_400)
        after_idle = {**measure(self.data_dir, asked), "report": idle.model_dump(mode="json")}
        kept = self.brain.retention._threads()
        assert all(self.brain.pending(t.thread_id) is not None for t in kept), "an idle thread that waits was deleted"
        assert len(kept) == self.waiting, f"{len(kept)} threads left, {self.waiting} waiting for a decision"
        return {
            "config": self.name,
            "questions": asked,
            "threads": threads,
            "waiting_for_decision": self.waiting,
            "intents": self.intents,
            "ask": quantiles(self.seconds),
            "after_asking": after_asking,
            "after_prune": after_prune,
            "after_idle_prune": after_idle,
        }


def open_config(name: str, root: Path, yard: Path, demo_dir: Path) -> Config:
    """A brain in a fresh data dir under `root` (the demo's kept predictions linked, the demo documents indexed)."""
    from brain.supervisor import Brain
    from knowledge.documents import DEMO_CORPUS, DocumentStore
    from knowledge.settings import Settings

    data_dir = root / name
    data_dir.mkdir()
    (data_dir / "cache").symlink_to((demo_dir / "cache").resolve(), target_is_directory=True)
    settings = Settings(data_dir=data_dir)
    with DocumentStore(settings) as store:
        store.ingest([DEMO_CORPUS])
    brain = Brain(yard, settings)
    if name == "baseline":
        _as_before(brain)
    return Config(name, data_dir, brain)


def run_configs(names: list[str], yard: Path, plan: list[list[str]], demo_dir: Path, console: Console) -> list[Json]:
    """Every conversation asked of each configuration in turn (so load on the machine falls on both alike)."""
    with tempfile.TemporaryDirectory(prefix="checkpoints-") as tmp:
        configs = [open_config(name, Path(tmp), yard, demo_dir) for name in names]
        try:
            for config in configs:  # the first question of each loads what the yard's tools need: not timed
                config.brain.ask(FIRSTS[0].format(block="B001"))
                config.brain.retention.prune(now=time.time() + 31 * 86_400)
            for questions in plan:
                for config in configs:
                    config.converse(questions)
            runs = [config.finish(len(plan)) for config in configs]
        finally:
            for config in configs:
                config.brain.close()
    for run in runs:
        console.print(
            f"{run['config']}: {run['questions']} questions, p50 {run['ask']['p50_s'] * 1e3:.1f} ms, "
            f"p95 {run['ask']['p95_s'] * 1e3:.1f} ms; intents {run['intents']}",
            highlight=False,
        )
    return runs


def print_table(console: Console, runs: list[Json]) -> None:
    """One row per configuration and stage."""
    table = Table(title="Checkpoint bytes per question (file + WAL over questions asked)", title_justify="left")
    for column in ("config", "stage", "checkpoints", "stored bytes", "file", "WAL", "bytes/question", "prune"):
        table.add_column(column, justify="left" if column in ("config", "stage", "prune") else "right")
    stages = (
        ("after asking", "after_asking"),
        ("pruned (defaults)", "after_prune"),
        ("31 days idle", "after_idle_prune"),
    )
    for run in runs:
        for label, key in stages:
            m = run[key]
            report = m.get("report")
            prune = (
                f"-{report['checkpoints_deleted']} ckpt, {report['reclaim']}, {report['seconds'] * 1e3:.0f} ms"
                if report
                else ""
            )
            table.add_row(
                run["config"],
                label,
                f"{m['checkpoints']:,}",
                f"{m['stored_bytes']:,}",
                f"{m['file_bytes']:,}",
                f"{m['wal_bytes']:,}",
                f"{m['bytes_per_question']:,.0f}",
                prune,
            )
    console.print(table)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--questions", type=int, default=1_000, help="questions in all (default 1,000)")
    parser.add_argument("--threads", type=int, default=100, help="conversations (default 100)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, default=REPO / ".shipbrain", help="where the demo yard lives")
    parser.add_argument("--no-baseline", action="store_true", help="skip the configuration as before issue 13")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "checkpoints.json")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 1 if the target is missed."""
    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 160)
    os.environ["SHIPBRAIN_DATA_DIR"] = str(args.data_dir)
    from knowledge.cli import ensure_demo_yard
    from knowledge.settings import get_settings

    ensure_demo_yard()  # the demo yard, made again if stale, and its documents
    yard = get_settings().demo_yard_dir
    (args.data_dir / "cache").mkdir(parents=True, exist_ok=True)
    per_thread = max(1, args.questions // args.threads)
    plan = questions_for(yard, args.threads, per_thread, args.seed)
    configs = ["shipped"] if args.no_baseline else ["baseline", "shipped"]
    runs = run_configs(configs, yard, plan, args.data_dir, console)
    print_table(console, runs)
    shipped = runs[-1]
    missed = report_targets(
        console,
        [
            (
                f"shipped, pruned with the defaults: {shipped['after_prune']['bytes_per_question']:,.0f} bytes a "
                f"question <= {TARGET_BYTES:,}",
                shipped["after_prune"]["bytes_per_question"] <= TARGET_BYTES,
            ),
        ],
    )
    from importlib.metadata import version

    result = {
        "benchmark": "checkpoints",
        "yard": str(yard),
        "questions_per_thread": per_thread,
        "target_bytes_per_question": TARGET_BYTES,
        "runs": runs,
        "machine": machine_info(
            langgraph=version("langgraph"), langgraph_checkpoint_sqlite=version("langgraph-checkpoint-sqlite")
        ),
    }
    write_json(args.out, result)
    console.print(f"wrote {args.out}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
