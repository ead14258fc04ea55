"""Benchmark of the HTTP service (`shipbrain serve`): requests per second and latency under concurrent clients.

Run it from the repository root (with the package installed: it starts `.venv/bin/shipbrain serve`):

```
python benchmarks/service.py                  # 1, 8 and 32 clients; 15 s of lookups and 2 runs per client per level
python benchmarks/service.py --quick          # a smoke run: 3 s of lookups, 1 run per client
python benchmarks/service.py --clients 1,4 --ask-seconds 30 --run-workers 2
python benchmarks/service.py --quick --clients 1,8 --streams 200   # /v1/ask with and without 200 open streams
```

It prints two tables and writes `benchmarks/results/service-<yard size>.json` (`service-<size>-quick.json`
with `--quick`) with every level's figures, the server's start-up, and the machine it ran on (CPU count and
model, RAM, load average at the start of every level and at the end, Python and library versions, date).

**The server** is started as a user starts it: `shipbrain serve --port P --no-chat` in a subprocess
(`workflows.service.launch`; the chat page is left out: this measures the API), and an API key with scopes
`ask,run` is made with `shipbrain keys create` in the same data dir. By default the data dir is a fresh
temporary one whose `yards/demo` is a symlink to the demo yard (`--yard`, default `.shipbrain/yards/demo`;
nothing is written into it), so the benchmark's keys, runs, audit entries and brain checkpoints never touch
`.shipbrain`; the server's first start indexes the demo corpus into the temporary dir's own Qdrant store (a few
seconds, part of the reported start-up time, and no lock is taken on `.shipbrain/qdrant`). `--data-dir DIR`
serves an existing data dir instead (its `yards/demo`; a key is added there, and the runs and checkpoints stay).
The server gets `SHIPBRAIN_RATE_LIMIT=1000000/minute` (the default, 600/minute per key, would turn most of this
load into 429s) and no other inherited `SHIPBRAIN_*` variable: it measures the default set-up (offline planner,
SQLite stores, embedded Qdrant, one run worker unless `--run-workers`). Its working directory is the temporary
dir, so no `.env` file is read.

**The load** comes from this process: an `httpx.AsyncClient` with one keep-alive connection per client and N
tasks, each sending its next request as soon as its previous one is answered (a closed loop). Every level
opens its connections with 2 requests per client first (not timed); a warm-up phase before the levels asks
`--warmup` lookups and runs 2 block-readiness runs (the first lookups read what the lookup tool needs, the
first run loads the welding model). Client and server share the machine's cores (2 on the reference machine):
the CPU the client, the server and everything else used during each level is reported (cores busy on average).

- **Lookups**: `POST /v1/ask` with `{"question": "what is CODE"}`, the code cycling over the yard's blocks,
  assemblies and parts (the nodes of those roles; seeded, `--seed`), for `--ask-seconds` per level. Every answer
  is checked (HTTP 200, the plan's intent `lookup`, a tool ran, no tool error); a failed request is counted and
  left out of the timings. Requests per second are the answered ones over the level's wall time.
- **block-readiness runs**: `POST /v1/workflows/block-readiness/runs` with `{"input": {"block": B}}`, the yard's
  blocks in a seeded order that every level starts from the beginning of (so every level runs the same mix), 2 runs per
  client per level (at least 16; `--runs-per-client`, `--min-runs`). Submit latency is the POST's (202).
  Completion latency is from just before the POST to the run's `finished_at` as the server stamped it (same
  machine, same clock: exact, whatever the polling). The client learns of it by polling `GET /v1/runs/{id}`
  every 20 ms at first, the interval growing by 25 % per poll up to `--poll-max` (0.5 s), to keep 32 polling
  clients from loading the server; "observed" is when the poll saw it (up to a quarter later). The queue wait
  (`started_at - created_at`) and the execution (`finished_at - started_at`) are reported too. The service runs
  queued runs on `SHIPBRAIN_RUN_WORKERS` threads (1 by default), so under N clients a run waits for those
  ahead of it: runs per second are bounded by one run's time, and completion latency grows with N.

**Baselines in the same run**, each measured right after the HTTP level it is set against (the server idle
meanwhile), so both fall in the same window of whatever else the machine is doing:

- the same lookups answered in-process by `brain.supervisor.Brain(yard).ask(question)` (no HTTP) from N
  threads for `--baseline-seconds` (half the level's time by default), warmed up the same way; the HTTP/in-process
  ratios of p50, p99 and requests per second are reported at each concurrency;
- `workflows.run_workflow("block-readiness", {"block": B}, WorkflowContext.open(yard))`, one after another over
  the blocks of the first (1-client) level (after one warm-up run): the ratio of completion p50 over it, and of the
  server's execution p50 over it (the service's own overhead per run: progress events and the finishing
  transaction).

**Event streams** (`--streams N`, issue 13 finding 4): after the levels, a reschedule run (a plan change: it waits
for approval) is made and left held, and for each concurrency the lookups run twice back to back for `--ask-seconds`:
without streams, then with N streams open on that held run (`GET /v1/runs/ID/events` with `Last-Event-ID` set to
its `waiting_for_approval` event, so each stream stays open waiting for the decision, as a client that reconnects to
see the decision does). The streams are spread round-robin over `--stream-keys` API keys with the `approve` scope
(default: enough keys for every stream under the service's cap of 16 per key; `--stream-keys 1` shows the cap
refusing most of them with 429). The table gives `/v1/ask` p50 and p99 with and without, the streams open, refused
and ended early, and the server's CPU in both.

The target, from the service issue: `POST /v1/ask` lookup p99 under 500 ms at 8 concurrent clients on the demo
yard (PASS/FAIL is printed; percentiles interpolate linearly between ranks, so with few samples p99 is near the
maximum).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import re
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import psutil
from _common import (
    REPO,
    SHIPBRAIN,
    CpuProbe,
    Json,
    MiB,
    fmt_s,
    fmt_x,
    machine_info,
    peak_rss_bytes,
    quantiles,
    ratio,
    rss_bytes,
    size_label,
    store_summary,
    write_json,
)
from rich.console import Console
from rich.table import Table

from workflows.service.launch import LaunchedServer, redact_tokens, serve

if TYPE_CHECKING:
    from knowledge.store import YardStore

DEFAULT_YARD = REPO / ".shipbrain" / "yards" / "demo"
DEFAULT_RESULTS_DIR = REPO / "benchmarks" / "results"
DEFAULT_CLIENTS = (1, 8, 32)
ASK_SECONDS, QUICK_ASK_SECONDS = 15.0, 3.0
RUNS_PER_CLIENT, QUICK_RUNS_PER_CLIENT = 2, 1
MIN_RUNS, QUICK_MIN_RUNS = 16, 2
WARMUP, QUICK_WARMUP = 30, 9
RATE_LIMIT = "1000000/minute"
TARGET_CLIENTS = 8
TARGET_P99_S = 0.500
LOOKUP_ROLES = ("block", "assembly", "part")
"""The roles of the codes the lookups cycle through, in this order (those the yard maps)."""
WORKFLOW = "block-readiness"
HELD_WORKFLOW = "reschedule"
"""A workflow that changes the plan, so its run waits for approval: the streams' run."""
STREAM_CAP_PER_KEY = 16
"""The service's default `SHIPBRAIN_STREAM_PER_KEY` (the default `--stream-keys` spreads the streams under it)."""
TERMINAL = frozenset({"completed", "failed", "rejected"})
POLL_FIRST_S, POLL_GROWTH = 0.02, 1.25
SERVER_START_TIMEOUT_S = 300.0
PERCENTILES = (50, 99)
"""The latency percentiles reported (the target is about p99)."""
ACCESS_LINE = re.compile(r"INFO: +[0-9.]+:[0-9]+ - \"")
NON_ERROR = re.compile(r"\" (200|202) ")


# ---- what is asked -------------------------------------------------------------------------------


def lookup_codes(yard: YardStore, count: int, seed: int) -> list[tuple[str, str]]:
    """`count` (role, code) pairs per role of `LOOKUP_ROLES` the yard has, drawn seeded-randomly, interleaved."""
    rng = np.random.default_rng(seed)
    drawn = {}
    for role in LOOKUP_ROLES:
        nodes = yard.nodes_of_role(role)
        if len(nodes):
            drawn[role] = yard.codes_of(rng.choice(nodes, size=min(count, len(nodes)), replace=False))
    if not drawn:
        raise SystemExit(f"{yard.path}: the yard has none of the roles {', '.join(LOOKUP_ROLES)} to look up")
    return [(role, codes[i % len(codes)]) for i in range(count) for role, codes in drawn.items()]


def block_order(yard: YardStore, seed: int) -> list[str]:
    """Every block of the yard in a seeded order (the runs of each level cycle through it from the start)."""
    blocks = yard.nodes_of_role("block")
    if not len(blocks):
        raise SystemExit(f"{yard.path}: the yard maps no kind onto the role block; {WORKFLOW} runs take a block")
    return yard.codes_of(np.random.default_rng(seed).permutation(blocks))


def question(code: str) -> str:
    """The lookup question about one code."""
    return f"what is {code}"


def answer_problem(answer: Json) -> str | None:
    """Why an answer (as JSON) is not a good lookup answer, or None."""
    plan = answer.get("plan") or {}
    if plan.get("intent") != "lookup":
        return f"planned as {plan.get('intent')!r} ({plan.get('reason')}), expected 'lookup'"
    results = answer.get("results") or []
    if not results:
        return "no tool ran"
    errors = [r["error"] for r in results if r.get("error")]
    return "; ".join(errors) if errors else None


# ---- the server ----------------------------------------------------------------------------------


def notable_lines(server: LaunchedServer, limit: int = 60) -> Json:
    """The server's output but for its access log lines (tokens blanked out), and how many of those there were."""
    lines = server.output().splitlines()
    access = [line for line in lines if ACCESS_LINE.match(line)]
    other = [redact_tokens(line) for line in lines if not ACCESS_LINE.match(line)]
    return {
        "access_lines": len(access),
        "non_2xx_access_lines": sum(not NON_ERROR.search(a) for a in access),
        "other_lines": other[:limit],
    }


def server_env(data_dir: Path, args: argparse.Namespace) -> tuple[dict[str, str], list[str]]:
    """The server's environment (this one without SHIPBRAIN_* variables, plus the benchmark's); the names dropped."""
    dropped = sorted(k for k in os.environ if k.startswith("SHIPBRAIN_"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPBRAIN_")}
    env["SHIPBRAIN_DATA_DIR"] = str(data_dir)
    env["SHIPBRAIN_RATE_LIMIT"] = args.rate_limit
    if args.run_workers:
        env["SHIPBRAIN_RUN_WORKERS"] = str(args.run_workers)
    return env, dropped


def make_data_dir(root: Path, yard: Path) -> Path:
    """A fresh data dir whose `yards/demo` links to `yard` (and `adapters.toml` to the yard's data dir's, if any)."""
    data = root / "data"
    (data / "yards").mkdir(parents=True)
    (data / "yards" / "demo").symlink_to(yard.resolve())
    adapters = yard.resolve().parents[1] / "adapters.toml"
    if adapters.is_file():
        (data / "adapters.toml").symlink_to(adapters)
    return data


# ---- load over HTTP ------------------------------------------------------------------------------


def _client(url: str, token: str, clients: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    return httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120.0, limits=limits)


async def _ask(client: httpx.AsyncClient, kind: str, code: str) -> Json:
    t0 = time.perf_counter()
    try:
        r = await client.post("/v1/ask", json={"question": question(code)})
        seconds = time.perf_counter() - t0
        problem = answer_problem(r.json()) if r.status_code == 200 else f"HTTP {r.status_code}: {r.text[:200]}"
    except (httpx.HTTPError, ValueError) as exc:
        seconds, problem = time.perf_counter() - t0, f"{type(exc).__name__}: {exc}"
    return {"kind": kind, "code": code, "seconds": seconds, "error": problem}


async def ask_level(url: str, token: str, clients: int, seconds: float, codes: Iterator[tuple[str, str]]) -> Json:
    """`clients` tasks asking lookups for `seconds` (after 2 untimed requests each to open the connections)."""
    async with _client(url, token, clients) as client:
        await asyncio.gather(*(_ask(client, *next(codes)) for _ in range(2 * clients)))
        samples: list[Json] = []
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                samples.append(await _ask(client, *next(codes)))

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - t0
    return summarise_asks(samples, wall)


def summarise_asks(samples: list[Json], wall: float) -> Json:
    """Quantiles of the answered requests, requests per second, per-kind p50s and the failures."""
    ok = [s["seconds"] for s in samples if s["error"] is None]
    failed = [s for s in samples if s["error"] is not None]
    kinds = {
        k: quantiles([s["seconds"] for s in samples if s["kind"] == k and s["error"] is None], PERCENTILES)
        for k in LOOKUP_ROLES
    }
    return {
        "requests": len(samples),
        "failures": len(failed),
        "failed_examples": failed[:5],
        "wall_s": wall,
        "rps": len(ok) / wall,
        **quantiles(ok, PERCENTILES),
        "by_kind": kinds,
    }


async def _run_once(client: httpx.AsyncClient, block: str, poll_max: float) -> Json:
    sent_wall, t0 = time.time(), time.perf_counter()
    out: Json = {
        "block": block,
        "submit_s": None,
        "completion_s": None,
        "observed_s": None,
        "queue_s": None,
        "exec_s": None,
        "polls": 0,
        "error": None,
    }
    try:
        r = await client.post(f"/v1/workflows/{WORKFLOW}/runs", json={"input": {"block": block}})
        out["submit_s"] = time.perf_counter() - t0
        if r.status_code != 202:
            out["error"] = f"submit: HTTP {r.status_code}: {r.text[:200]}"
            return out
        run_id, delay = r.json()["run_id"], POLL_FIRST_S
        while True:
            await asyncio.sleep(delay)
            delay = min(delay * POLL_GROWTH, poll_max)
            out["polls"] += 1
            g = await client.get(f"/v1/runs/{run_id}")
            view = g.json() if g.status_code == 200 else {"status": f"HTTP {g.status_code}"}
            if view["status"] in TERMINAL or g.status_code != 200:
                break
        out["observed_s"] = time.perf_counter() - t0
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
        return out
    return {**out, **run_times(view, block, sent_wall)}


def run_times(view: Json, block: str, sent_wall: float) -> Json:
    """Completion (server-stamped), queue wait and execution of a finished run; its error if it did not complete."""
    if view.get("status") != "completed":
        return {"error": f"run {view.get('run_id')} ended {view.get('status')}: {view.get('error')}"}
    if (view.get("result") or {}).get("block") != block:
        return {"error": f"run {view.get('run_id')} answered for {(view.get('result') or {}).get('block')!r}"}
    created, started, finished = (
        datetime.fromisoformat(view[k]).timestamp() for k in ("created_at", "started_at", "finished_at")
    )
    return {
        "completion_s": finished - sent_wall,
        "queue_s": started - created,
        "exec_s": finished - started,
        "scope_total": view["result"]["scope_total"],
    }


async def run_level(url: str, token: str, clients: int, blocks: list[str], poll_max: float) -> Json:
    """`clients` tasks each submitting a run and waiting for it, until `blocks` are all done."""
    queue = deque(blocks)
    samples: list[Json] = []
    async with _client(url, token, clients) as client:

        async def worker() -> None:
            while queue:
                samples.append(await _run_once(client, queue.popleft(), poll_max))

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - t0
    return summarise_runs(samples, wall)


def summarise_runs(samples: list[Json], wall: float) -> Json:
    """Quantiles of submit, completion, observed, queue and execution times; completed runs per second."""
    ok = [s for s in samples if s["error"] is None]
    return {
        "runs": len(samples),
        "failures": len(samples) - len(ok),
        "failed_examples": [s for s in samples if s["error"] is not None][:5],
        "wall_s": wall,
        "rps": len(ok) / wall,
        "submit": quantiles([s["submit_s"] for s in samples if s["submit_s"] is not None], PERCENTILES),
        **{k: quantiles([s[f"{k}_s"] for s in ok], PERCENTILES) for k in ("completion", "observed", "queue", "exec")},
        "polls_per_run": float(np.mean([s["polls"] for s in ok])) if ok else None,
    }


def runs_for(clients: int, blocks: list[str], args: argparse.Namespace) -> list[str]:
    """The blocks one level runs: `runs_per_client` per client (at least `min_runs`), cycling through the order."""
    count = max(args.min_runs, args.runs_per_client * clients)
    return list(itertools.islice(itertools.cycle(blocks), count))


def measure_http(
    server: LaunchedServer,
    token: str,
    codes: list[tuple[str, str]],
    blocks: list[str],
    baseline: InProcess,
    args: argparse.Namespace,
    console: Console,
) -> Json:
    """Warm-up, then every level of lookups, then every level of runs, each followed by its in-process baseline."""
    watched = {"server": psutil.Process(server.pid)}
    cycle = itertools.cycle(codes)
    console.log(f"warm-up: {args.warmup} lookups and 2 {WORKFLOW} runs ...")
    warm = asyncio.run(ask_level_count(server.url, token, args.warmup, cycle))
    warm_runs = asyncio.run(run_level(server.url, token, 1, blocks[:2], args.poll_max))
    out: Json = {"warmup": {"ask": warm, "runs": warm_runs}, "ask": {}, "runs": {}}
    for n in args.clients:
        console.log(f"lookups over HTTP, {n} clients, {args.ask_seconds:g} s ...")
        probe = CpuProbe(watched)
        level = asyncio.run(ask_level(server.url, token, n, args.ask_seconds, cycle))
        out["ask"][n] = {**level, "cpu": probe.stop()}
        baseline.ask_level(n)
    for n in args.clients:
        todo = runs_for(n, blocks, args)
        console.log(f"{WORKFLOW} runs over HTTP, {n} clients, {len(todo)} runs ...")
        probe = CpuProbe(watched)
        level = asyncio.run(run_level(server.url, token, n, todo, args.poll_max))
        out["runs"][n] = {**level, "cpu": probe.stop()}
        if n == args.clients[0]:
            baseline.runs(todo)
    if args.streams:
        out["streams"] = measure_streams(server, token, blocks[0], cycle, watched, args, console)
    return out


# ---- event streams on a held run -----------------------------------------------------------------


def measure_streams(
    server: LaunchedServer,
    token: str,
    block: str,
    cycle: Iterator[tuple[str, str]],
    watched: dict[str, psutil.Process],
    args: argparse.Namespace,
    console: Console,
) -> Json:
    """A held run; per concurrency, the lookups without streams, then with `--streams` open on the held run."""
    console.log(f"a {HELD_WORKFLOW} run to hold, and {args.stream_keys} API keys (approve) for the streams ...")
    run_id, held_seq = asyncio.run(held_run(server.url, token, block))
    tokens = []
    for k in range(args.stream_keys):
        made = server.command("keys", "create", "--name", f"benchmark-streams-{k}", "--scopes", "approve", "--json")
        tokens.append(json.loads(made)["token"])
    out: Json = {
        "run_id": run_id,
        "held_seq": held_seq,
        "streams": args.streams,
        "keys": args.stream_keys,
        "levels": {},
    }
    for n in args.clients:
        console.log(f"lookups over HTTP, {n} clients, {args.ask_seconds:g} s, without streams ...")
        probe = CpuProbe(watched)
        without = asyncio.run(ask_level(server.url, token, n, args.ask_seconds, cycle))
        without["cpu"] = probe.stop()
        console.log(f"lookups over HTTP, {n} clients, {args.ask_seconds:g} s, with {args.streams} streams open ...")
        with_streams = asyncio.run(
            ask_with_streams(server.url, token, tokens, run_id, held_seq, n, cycle, watched, args)
        )
        out["levels"][n] = {"without": without, "with": with_streams}
    return out


async def held_run(url: str, token: str, block: str) -> tuple[str, int]:
    """A plan change left waiting for approval: its id and the number of its `waiting_for_approval` event."""
    body = {"input": {"events": [{"type": "material_late", "code": block, "days": 4}], "compare_optimised": False}}
    async with _client(url, token, 1) as client:
        r = await client.post(f"/v1/workflows/{HELD_WORKFLOW}/runs", json=body)
        if r.status_code != 202:
            raise SystemExit(f"{HELD_WORKFLOW} run refused: HTTP {r.status_code}: {r.text[:300]}")
        run_id = r.json()["run_id"]
        deadline = time.perf_counter() + 300
        while (status := (await client.get(f"/v1/runs/{run_id}")).json()["status"]) != "waiting_for_approval":
            if status in TERMINAL or time.perf_counter() > deadline:
                raise SystemExit(f"{HELD_WORKFLOW} run {run_id} is {status}, not waiting for approval")
            await asyncio.sleep(0.2)
        seq, held = 0, False
        async with client.stream("GET", f"/v1/runs/{run_id}/events") as events:
            async for line in (
                events.aiter_lines()
            ):  # read up to the waiting event (a service before issue 13's bounded streams never ends it)
                if line.startswith("id:"):
                    seq = int(line[3:])
                held = held or line == "event: waiting_for_approval"
                if held and not line:
                    break
    return run_id, seq


async def ask_with_streams(
    url: str,
    token: str,
    tokens: list[str],
    run_id: str,
    after: int,
    clients: int,
    codes: Iterator[tuple[str, str]],
    watched: dict[str, psutil.Process],
    args: argparse.Namespace,
) -> Json:
    """Open `--streams` streams on the held run (keys round-robin), run the lookups while they are open, close them."""
    counts = {"open": 0, "refused": 0, "failed": 0, "ended_early": 0, "events": 0}
    answered = asyncio.Event()
    timeout = httpx.Timeout(30.0, read=None)
    limits = httpx.Limits(max_connections=args.streams, max_keepalive_connections=0)

    def settled() -> None:
        if counts["open"] + counts["refused"] + counts["failed"] == args.streams:
            answered.set()

    async def hold(client: httpx.AsyncClient, key: str) -> None:
        headers = {"Authorization": f"Bearer {key}", "Last-Event-ID": str(after)}
        try:
            async with client.stream("GET", f"/v1/runs/{run_id}/events", headers=headers) as r:
                counts["open" if r.status_code == 200 else "refused" if r.status_code == 429 else "failed"] += 1
                settled()
                if r.status_code != 200:
                    return
                async for line in r.aiter_lines():
                    counts["events"] += line.startswith("event:")
                counts["ended_early"] += 1
        except httpx.HTTPError:
            counts["failed"] += 1
            settled()

    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        tasks = [asyncio.create_task(hold(client, tokens[i % len(tokens)])) for i in range(args.streams)]
        t0 = time.perf_counter()
        await asyncio.wait_for(answered.wait(), timeout=120)
        opened_s = time.perf_counter() - t0
        await asyncio.sleep(1.0)  # the streams settle into waiting
        probe = CpuProbe(watched)
        level = await ask_level(url, token, clients, args.ask_seconds, codes)
        level["cpu"] = probe.stop()
        still_open = counts["open"] - counts["ended_early"]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {**level, "streams": {**counts, "open_during_level": still_open, "opened_s": opened_s}}


async def ask_level_count(url: str, token: str, count: int, codes: Iterator[tuple[str, str]]) -> Json:
    """`count` lookups one after another (the warm-up), with their times."""
    async with _client(url, token, 1) as client:
        t0 = time.perf_counter()
        samples = [await _ask(client, *next(codes)) for _ in range(count)]
        return summarise_asks(samples, time.perf_counter() - t0)


# ---- the in-process baselines --------------------------------------------------------------------


def inprocess_ask_level(brain: Any, clients: int, seconds: float, codes: Iterator[tuple[str, str]]) -> Json:
    """`clients` threads calling `brain.ask` for `seconds`, as the lookups over HTTP do."""
    lock = threading.Lock()
    samples: list[Json] = []
    deadline = time.perf_counter() + seconds

    def ask_one() -> Json:
        with lock:
            kind, code = next(codes)
        t0 = time.perf_counter()
        try:
            problem = answer_problem(brain.ask(question(code)).model_dump(mode="json"))
        except Exception as exc:  # a failure is counted, not fatal
            problem = f"{type(exc).__name__}: {exc}"
        return {"kind": kind, "code": code, "seconds": time.perf_counter() - t0, "error": problem}

    def worker() -> None:
        while time.perf_counter() < deadline:
            sample = ask_one()
            with lock:
                samples.append(sample)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for f in [pool.submit(worker) for _ in range(clients)]:
            f.result()
    return summarise_asks(samples, time.perf_counter() - t0)


class InProcess:
    """The baselines: the same lookups through one `Brain` in this process, the runs through `run_workflow`."""

    def __init__(
        self, yard: Path, data_dir: Path, codes: list[tuple[str, str]], args: argparse.Namespace, console: Console
    ) -> None:
        from brain.supervisor import Brain
        from knowledge.settings import Settings
        from workflows import WorkflowContext

        data_dir.mkdir(parents=True, exist_ok=True)
        settings = Settings(data_dir=data_dir, llm_base_url=None, llm_model=None, postgres_dsn=None, qdrant_url=None)
        console.log(f"in-process baseline: Brain({yard}), warm-up: {args.warmup} lookups, 1 {WORKFLOW} run ...")
        self.args, self.console, self.cycle = args, console, itertools.cycle(codes)
        t0 = time.perf_counter()
        self.brain = Brain(yard, settings)
        self.out: Json = {"brain_open_s": time.perf_counter() - t0, "ask": {}}
        self.ctx = WorkflowContext.open(yard, settings)
        for _ in range(args.warmup):
            self.brain.ask(question(next(self.cycle)[1]))

    def ask_level(self, clients: int) -> None:
        """The lookups from `clients` threads for `--baseline-seconds`."""
        self.console.log(f"lookups in-process (Brain.ask), {clients} threads, {self.args.baseline_seconds:g} s ...")
        probe = CpuProbe()
        level = inprocess_ask_level(self.brain, clients, self.args.baseline_seconds, self.cycle)
        self.out["ask"][clients] = {**level, "cpu": probe.stop()}

    def runs(self, blocks: list[str]) -> None:
        """`blocks` through `run_workflow`, one after another (after one warm-up run)."""
        from workflows import run_workflow

        self.console.log(f"{WORKFLOW} in-process (run_workflow), {len(blocks)} runs one after another ...")
        run_workflow(WORKFLOW, {"block": blocks[0]}, self.ctx)  # warm-up: loads the welding model
        probe, times = CpuProbe(), []
        for block in blocks:
            t1 = time.perf_counter()
            run_workflow(WORKFLOW, {"block": block}, self.ctx)
            times.append(time.perf_counter() - t1)
        self.out["runs"] = {
            "runs": len(times),
            "rps": len(times) / sum(times),
            **quantiles(times, PERCENTILES),
            "cpu": probe.stop(),
        }

    def close(self) -> None:
        """Release the brain and the yard."""
        self.brain.close()
        self.ctx.close()


# ---- reporting -----------------------------------------------------------------------------------


def cores(cpu: Json) -> str:
    """Client / server / other cores busy during a level."""
    server = "-" if cpu.get("server_cores") is None else f"{cpu['server_cores']:.2f}"
    return f"{cpu['cores_used']:.2f} / {server} / {cpu['other_cores_used']:.2f}"


def ask_rows(result: Json) -> list[Json]:
    """One row per concurrency of the lookups: HTTP, in-process, their ratios and the target."""
    rows = []
    for n in result["clients"]:
        h, b = result["http"]["ask"][n], result["inprocess"]["ask"][n]
        target = n == TARGET_CLIENTS
        rows.append(
            {
                "clients": n,
                "requests": h["requests"],
                "failures": h["failures"] + b["failures"],
                "rps": h["rps"],
                "p50_s": h["p50_s"],
                "p99_s": h["p99_s"],
                "max_s": h["max_s"],
                "base_requests": b["requests"],
                "base_rps": b["rps"],
                "base_p50_s": b["p50_s"],
                "base_p99_s": b["p99_s"],
                "ratio_p50": ratio(h["p50_s"], b["p50_s"]),
                "ratio_p99": ratio(h["p99_s"], b["p99_s"]),
                "ratio_rps": ratio(h["rps"], b["rps"]),
                "cpu": h["cpu"],
                "target": f"p99 < {fmt_s(TARGET_P99_S)}" if target else None,
                "passed": (h["p99_s"] is not None and h["p99_s"] < TARGET_P99_S and not h["failures"])
                if target
                else None,
            }
        )
    return rows


def run_rows(result: Json) -> list[Json]:
    """One row per concurrency of the block-readiness runs, with the in-process run as the baseline."""
    base = result["inprocess"]["runs"]
    rows = []
    for n in result["clients"]:
        h = result["http"]["runs"][n]
        rows.append(
            {
                "clients": n,
                "runs": h["runs"],
                "failures": h["failures"],
                "rps": h["rps"],
                "submit_p50_s": h["submit"]["p50_s"],
                "submit_p99_s": h["submit"]["p99_s"],
                "completion_p50_s": h["completion"]["p50_s"],
                "completion_p99_s": h["completion"]["p99_s"],
                "observed_p50_s": h["observed"]["p50_s"],
                "queue_p50_s": h["queue"]["p50_s"],
                "exec_p50_s": h["exec"]["p50_s"],
                "base_p50_s": base["p50_s"],
                "base_rps": base["rps"],
                "ratio_completion_p50": ratio(h["completion"]["p50_s"], base["p50_s"]),
                "ratio_exec_p50": ratio(h["exec"]["p50_s"], base["p50_s"]),
                "ratio_rps": ratio(h["rps"], base["rps"]),
                "cpu": h["cpu"],
            }
        )
    return rows


def caption(result: Json) -> str:
    """Method and machine, under the tables."""
    m, s = result["machine"], result["server"]
    loads = ", ".join(f"{c['cpu']['load_average_at_start']:.2f}" for c in (*result["ask_rows"], *result["run_rows"]))
    return (
        f"Client and server share this machine's {m['cpu_count']} CPUs ({m['cpu_model']}); CPU = cores busy on "
        f"average during the level: client (this process) / server / everything else. Server: `shipbrain serve "
        f"--no-chat`, ready in {s['ready_s']:.1f} s, SHIPBRAIN_RATE_LIMIT={s['rate_limit']}, run workers "
        f"{s['run_workers']}, RSS {s['rss_end_bytes'] / MiB:.0f} MiB at the end. Load average at the start of each "
        f"level {loads}; {m['load_average'][0]:.2f} at the end. Python {m['python']}, httpx {m['httpx']}, uvicorn "
        f"{m['uvicorn']}, fastapi {m['fastapi']}; {m['date']}"
    )


def print_report(console: Console, result: Json) -> None:
    """The lookup table, the runs table and the method."""
    yard = result["yard"]
    title = (
        f"POST /v1/ask lookups ('what is CODE': blocks, assemblies, parts) on the {size_label(yard['parts'])}-part "
        f"yard {yard['name']!r}: HTTP vs in-process Brain.ask, {result['ask_seconds']:g} s / "
        f"{result['baseline_seconds']:g} s per level"
    )
    table = Table(title=title)
    for name in (
        "clients",
        "requests",
        "req/s",
        "p50",
        "p99",
        "max",
        "in-proc req/s",
        "in-proc p50",
        "in-proc p99",
        "HTTP/in-proc p50",
        "p99",
        "req/s",
        "CPU cli/srv/oth",
        "target",
    ):
        table.add_column(name, justify="right")
    table.add_column("pass", justify="center")
    for r in result["ask_rows"]:
        passed = "" if r["passed"] is None else ("[green]PASS[/]" if r["passed"] else "[red]FAIL[/]")
        n = f"{r['requests']}" + (f" ({r['failures']} failed)" if r["failures"] else "")
        table.add_row(
            str(r["clients"]),
            n,
            f"{r['rps']:.1f}",
            fmt_s(r["p50_s"]),
            fmt_s(r["p99_s"]),
            fmt_s(r["max_s"]),
            f"{r['base_rps']:.1f}",
            fmt_s(r["base_p50_s"]),
            fmt_s(r["base_p99_s"]),
            fmt_x(r["ratio_p50"]),
            fmt_x(r["ratio_p99"]),
            fmt_x(r["ratio_rps"]),
            cores(r["cpu"]),
            r["target"] or "",
            passed,
        )
    console.print(table)
    base = result["inprocess"]["runs"]
    title = (
        f"{WORKFLOW} runs over HTTP (submit, then poll GET /v1/runs/ID) vs in-process run_workflow "
        f"({base['runs']} runs one after another: p50 {fmt_s(base['p50_s'])}, {base['rps']:.2f} runs/s)"
    )
    table = Table(title=title, caption=caption(result))
    for name in (
        "clients",
        "runs",
        "runs/s",
        "submit p50",
        "submit p99",
        "completion p50",
        "completion p99",
        "observed p50",
        "queue p50",
        "exec p50",
        "completion/in-proc p50",
        "exec/in-proc p50",
        "runs/s vs in-proc",
        "CPU cli/srv/oth",
    ):
        table.add_column(name, justify="right")
    for r in result["run_rows"]:
        n = f"{r['runs']}" + (f" ({r['failures']} failed)" if r["failures"] else "")
        table.add_row(
            str(r["clients"]),
            n,
            f"{r['rps']:.2f}",
            fmt_s(r["submit_p50_s"]),
            fmt_s(r["submit_p99_s"]),
            fmt_s(r["completion_p50_s"]),
            fmt_s(r["completion_p99_s"]),
            fmt_s(r["observed_p50_s"]),
            fmt_s(r["queue_p50_s"]),
            fmt_s(r["exec_p50_s"]),
            fmt_x(r["ratio_completion_p50"]),
            fmt_x(r["ratio_exec_p50"]),
            fmt_x(r["ratio_rps"]),
            cores(r["cpu"]),
        )
    console.print(table)
    if result["stream_rows"]:
        print_streams(console, result)
    for n in result["clients"]:
        kinds = result["http"]["ask"][n]["by_kind"]
        listed = ", ".join(f"{k} {fmt_s(q['p50_s'])} / {fmt_s(q['p99_s'])} ({q['n']})" for k, q in kinds.items())
        console.print(f"lookups over HTTP at {n} clients by kind, p50 / p99 (n): {listed}")


def stream_rows(result: Json) -> list[Json]:
    """One row per concurrency of the lookups run without, then with, the streams open on the held run."""
    streams = result["http"].get("streams")
    if not streams:
        return []
    rows = []
    for n, level in streams["levels"].items():
        without, with_ = level["without"], level["with"]
        rows.append(
            {
                "clients": n,
                "requests_without": without["requests"],
                "requests_with": with_["requests"],
                "failures": without["failures"] + with_["failures"],
                "p50_without_s": without["p50_s"],
                "p50_with_s": with_["p50_s"],
                "p99_without_s": without["p99_s"],
                "p99_with_s": with_["p99_s"],
                "rps_without": without["rps"],
                "rps_with": with_["rps"],
                "ratio_p50": ratio(with_["p50_s"], without["p50_s"]),
                **{f"streams_{k}": v for k, v in with_["streams"].items()},
                "cpu_without": without["cpu"],
                "cpu_with": with_["cpu"],
            }
        )
    return rows


def print_streams(console: Console, result: Json) -> None:
    """The lookups with and without the streams open on the held run."""
    streams = result["http"]["streams"]
    title = (
        f"POST /v1/ask lookups without, then with, {streams['streams']} event streams open on a held "
        f"{HELD_WORKFLOW} run (Last-Event-ID = its waiting event; {streams['keys']} API keys), "
        f"{result['ask_seconds']:g} s each"
    )
    table = Table(title=title)
    for name in (
        "clients",
        "requests w/o / with",
        "p50 w/o",
        "p50 with",
        "with/w/o p50",
        "p99 w/o",
        "p99 with",
        "req/s w/o / with",
        "streams open / refused / failed / ended",
        "CPU cli/srv/oth w/o",
        "CPU with",
    ):
        table.add_column(name, justify="right")
    for r in result["stream_rows"]:
        n = f"{r['requests_without']} / {r['requests_with']}" + (f" ({r['failures']} failed)" if r["failures"] else "")
        table.add_row(
            str(r["clients"]),
            n,
            fmt_s(r["p50_without_s"]),
            fmt_s(r["p50_with_s"]),
            fmt_x(r["ratio_p50"]),
            fmt_s(r["p99_without_s"]),
            fmt_s(r["p99_with_s"]),
            f"{r['rps_without']:.1f} / {r['rps_with']:.1f}",
            f"{r['streams_open_during_level']} / {r['streams_refused']} / {r['streams_failed']} / "
            f"{r['streams_ended_early']}",
            cores(r["cpu_without"]),
            cores(r["cpu_with"]),
        )
    console.print(table)


def warn_contention(console: Console, result: Json) -> None:
    """Say so when other processes kept the machine's cores busy while a level ran."""
    levels = [(f"lookups, {r['clients']} clients", r["cpu"]) for r in result["ask_rows"]]
    levels += [(f"runs, {r['clients']} clients", r["cpu"]) for r in result["run_rows"]]
    levels += [(f"in-process lookups, {n} threads", c["cpu"]) for n, c in result["inprocess"]["ask"].items()]
    levels.append(("in-process runs", result["inprocess"]["runs"]["cpu"]))
    for r in result["stream_rows"]:
        levels += [(f"lookups, {r['clients']} clients, w/o streams", r["cpu_without"])]
        levels += [(f"lookups, {r['clients']} clients, with streams", r["cpu_with"])]
    shared = [
        (name, cpu["other_cores_used"]) for name, cpu in levels if cpu["other_cores_used"] > 0.25 and cpu["wall_s"] >= 1
    ]
    if shared:
        listed = ", ".join(f"{name} {cores:.2f}" for name, cores in shared)
        console.print(f"[yellow]other processes were busy while these ran (cores, average): {listed}[/]")


def report_failures(console: Console, result: Json) -> int:
    """Print a few failed requests of every level; how many failed in all."""
    total = 0
    streams = result["http"].get("streams") or {"levels": {}}
    for where, levels in (
        ("HTTP", result["http"]["ask"]),
        ("in-process", result["inprocess"]["ask"]),
        ("HTTP runs", result["http"]["runs"]),
        ("HTTP without streams", {n: level["without"] for n, level in streams["levels"].items()}),
        ("HTTP with streams", {n: level["with"] for n, level in streams["levels"].items()}),
    ):
        for n, level in levels.items():
            total += level["failures"]
            for f in level["failed_examples"]:
                console.print(f"[red]{where}, {n} clients: {f.get('code') or f.get('block')} failed:[/] {f['error']}")
    return total


# ---- orchestration -------------------------------------------------------------------------------


def serve_and_measure(
    data_dir: Path,
    cwd: Path,
    codes: list[tuple[str, str]],
    blocks: list[str],
    baseline: InProcess,
    args: argparse.Namespace,
    console: Console,
) -> tuple[Json, Json]:
    """Start the server, make a key, load it, stop it; the measurements and what the server was."""
    env, dropped = server_env(data_dir, args)
    console.log(f"starting shipbrain serve --no-chat with SHIPBRAIN_DATA_DIR={data_dir} ...")
    with serve(data_dir, "--no-chat", env=env, cwd=cwd, log_dir=cwd, timeout_s=SERVER_START_TIMEOUT_S) as server:
        console.log(f"server ready in {server.ready_s:.1f} s at {server.url}; making an API key (ask,run) ...")
        key = json.loads(server.command("keys", "create", "--name", "benchmark", "--scopes", "ask,run", "--json"))
        http = measure_http(server, key["token"], codes, blocks, baseline, args, console)
        rss = psutil.Process(server.pid).memory_info().rss
    info = {
        "url": server.url,
        "ready_s": server.ready_s,
        "rate_limit": args.rate_limit,
        "run_workers": args.run_workers or 1,
        "exit_code": server.process.returncode,
        "rss_end_bytes": rss,
        "key_id": key["key_id"],
        "dropped_env": dropped,
        "log": notable_lines(server),
    }
    return http, info


def run(args: argparse.Namespace, console: Console) -> int:
    """Serve, load, stop, baseline, report; 1 if any request failed."""
    from knowledge.store import YardStore

    store = YardStore.open(args.yard)
    yard = {**store_summary(store), "path": str(args.yard.resolve())}
    codes = lookup_codes(store, 200, args.seed)
    blocks = block_order(store, args.seed)
    del store
    with tempfile.TemporaryDirectory(prefix="service-bench-") as tmp:
        root = Path(tmp)
        data_dir = args.data_dir.resolve() if args.data_dir else make_data_dir(root, args.yard)
        baseline = InProcess(args.yard, root / "inprocess", codes, args, console)
        try:
            http, server = serve_and_measure(data_dir, root, codes, blocks, baseline, args, console)
        finally:
            baseline.close()
        inprocess = baseline.out
    result: Json = {
        "benchmark": "service",
        "quick": args.quick,
        "yard": yard,
        "clients": list(args.clients),
        "ask_seconds": args.ask_seconds,
        "baseline_seconds": args.baseline_seconds,
        "warmup": args.warmup,
        "runs_per_client": args.runs_per_client,
        "min_runs": args.min_runs,
        "poll_max_s": args.poll_max,
        "seed": args.seed,
        "streams": args.streams,
        "stream_keys": args.stream_keys if args.streams else None,
        "data_dir": str(args.data_dir) if args.data_dir else "temporary (yards/demo -> yard)",
        "server": server,
        "http": http,
        "inprocess": inprocess,
        "client_peak_rss_bytes": peak_rss_bytes(),
        "client_rss_end_bytes": rss_bytes(),
        "target": {"metric": "POST /v1/ask lookup p99", "clients": TARGET_CLIENTS, "p99_s": TARGET_P99_S},
    }
    result["ask_rows"], result["run_rows"] = ask_rows(result), run_rows(result)
    result["stream_rows"] = stream_rows(result)
    result["machine"] = machine_info(**versions())
    streams = f"-streams{args.streams}x{args.stream_keys}" if args.streams else ""
    out = args.results_dir / f"service-{size_label(yard['parts'])}{'-quick' if args.quick else ''}{streams}.json"
    write_json(out, result)
    print_report(console, result)
    warn_contention(console, result)
    failures = report_failures(console, result)
    target = [r for r in result["ask_rows"] if r["passed"] is not None]
    if target:
        verdict = "[green]PASS[/]" if target[0]["passed"] else "[red]FAIL[/]"
        console.print(
            f"target: POST /v1/ask lookup p99 at {TARGET_CLIENTS} clients {fmt_s(target[0]['p99_s'])} "
            f"(< {fmt_s(TARGET_P99_S)}): {verdict}"
        )
    else:
        console.print(f"[yellow]target not checked: {TARGET_CLIENTS} clients is not among --clients[/]")
    console.print(f"results: {out}")
    if failures:
        console.print(f"[red]{failures} requests failed (left out of the timings); see the JSON[/]")
    return 1 if failures else 0


def versions() -> dict[str, str]:
    """Versions of what the benchmark goes through (those installed)."""
    names = (
        "httpx",
        "fastapi",
        "starlette",
        "uvicorn",
        "uvloop",
        "httptools",
        "sqlalchemy",
        "pydantic",
        "langgraph",
        "sse-starlette",
        "limits",
        "onnxruntime",
    )
    found = {}
    for name in names:
        try:
            found[name.replace("-", "_")] = version(name)
        except PackageNotFoundError:
            found[name.replace("-", "_")] = "not installed"
    return found


def _clients(text: str) -> tuple[int, ...]:
    values = tuple(int(v) for v in text.split(",") if v.strip())
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("give client counts of 1 or more, e.g. 1,8,32")
    return values


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add: Callable[..., Any] = parser.add_argument
    add("--yard", type=Path, default=DEFAULT_YARD, help="the yard served (default: .shipbrain/yards/demo)")
    add("--data-dir", type=Path, help="serve this data dir (its yards/demo) instead of a temporary one")
    add("--clients", type=_clients, default=DEFAULT_CLIENTS, help="concurrency levels (default: 1,8,32)")
    add("--quick", action="store_true", help="a smoke run: 3 s of lookups and 1 run per client per level")
    add("--ask-seconds", type=float, help=f"lookups per level over HTTP, seconds (default: {ASK_SECONDS:g})")
    add("--baseline-seconds", type=float, help="in-process lookups per level, seconds (default: half --ask-seconds)")
    add("--runs-per-client", type=int, help=f"{WORKFLOW} runs per client per level (default: {RUNS_PER_CLIENT})")
    add("--min-runs", type=int, help=f"{WORKFLOW} runs per level at least (default: {MIN_RUNS})")
    add("--warmup", type=int, help=f"lookups before the levels (default: {WARMUP})")
    add("--poll-max", type=float, default=0.5, help="longest wait between two polls of a run, seconds (default: 0.5)")
    add("--run-workers", type=int, help="SHIPBRAIN_RUN_WORKERS of the server (default: the service's, 1)")
    add("--rate-limit", default=RATE_LIMIT, help=f"SHIPBRAIN_RATE_LIMIT of the server (default: {RATE_LIMIT})")
    add("--streams", type=int, default=0, help="event streams held open on a held run during extra lookup levels")
    add("--stream-keys", type=int, help=f"API keys the streams spread over (default: streams / {STREAM_CAP_PER_KEY})")
    add("--seed", type=int, default=1, help="seed of the codes and the block order (default: 1)")
    add("--results-dir", type=Path, default=DEFAULT_RESULTS_DIR, help="where the JSON results go")
    args = parser.parse_args(argv)
    q = args.quick
    args.ask_seconds = args.ask_seconds or (QUICK_ASK_SECONDS if q else ASK_SECONDS)
    args.baseline_seconds = args.baseline_seconds or args.ask_seconds / 2
    args.runs_per_client = args.runs_per_client or (QUICK_RUNS_PER_CLIENT if q else RUNS_PER_CLIENT)
    args.min_runs = args.min_runs if args.min_runs is not None else (QUICK_MIN_RUNS if q else MIN_RUNS)
    args.warmup = args.warmup if args.warmup is not None else (QUICK_WARMUP if q else WARMUP)
    if args.streams < 0 or (args.stream_keys is not None and args.stream_keys < 1):
        parser.error("--streams takes 0 or more, --stream-keys 1 or more")
    args.stream_keys = args.stream_keys or max(1, -(-args.streams // STREAM_CAP_PER_KEY))
    if args.data_dir:
        args.yard = args.data_dir / "yards" / "demo"
    from knowledge.errors import KnowledgeError
    from knowledge.store import YardStore

    try:
        YardStore.open(args.yard)
    except KnowledgeError as exc:  # none there, or a yard of an older format: `shipbrain demo` makes it again
        parser.error(f"no store at {args.yard} ({exc}): run `shipbrain demo` (or `shipbrain serve` once) first")
    if not SHIPBRAIN.is_file():
        parser.error(f"no {SHIPBRAIN}: install the package (pip install -e .) in this environment")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 1 if any request failed."""
    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 220)
    # wordllama (the planner's embedder) calls logging.basicConfig(level=INFO) on import: httpx would log every request
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return run(args, console)


if __name__ == "__main__":
    sys.exit(main())
