"""The batch executor: score millions of rows in this process, or on a Ray cluster.

Small jobs run in-process (onnxruntime already uses every core). Large jobs, or any job when
`RAY_ADDRESS` names a cluster, are cut into chunks and sent to Ray actors that each hold one loaded
model: `ray.init()` starts a local cluster (once per process) unless `RAY_ADDRESS` joins an
existing one, which is how Shipbrain outgrows one machine.

Chunks are numbered and the result is assembled by number, so a worker that dies in the middle of
a chunk (Ray restarts the actor and retries the chunk, scoring is a pure function of its rows)
loses no rows and duplicates none.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

from adapters.registry import ModelConfig, Registry
from adapters.spec import Adapter, ModelAdapter
from knowledge.settings import Settings, get_settings

__all__ = ["BatchExecutor", "ExecutionReport", "ray_status"]

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]
"""Called with (rows done, rows in all) as chunks finish."""


@dataclass(frozen=True)
class ExecutionReport:
    """Where and how a job ran."""

    backend: Literal["in-process", "ray"]
    rows: int
    chunks: int
    workers: int


def ray_status() -> dict[str, bool | int | float | str | None]:
    """Whether Ray is up in this process, and the cluster's nodes and CPUs if so."""
    import ray

    if not ray.is_initialized():
        return {"initialized": False, "address": os.environ.get("RAY_ADDRESS")}
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    return {"initialized": True, "nodes": len(nodes), "cpus": ray.cluster_resources().get("CPU", 0)}


def _ensure_ray(settings: Settings) -> None:
    import ray

    if ray.is_initialized():
        return
    options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
    if settings.ray_node_ip:
        options["_node_ip_address"] = settings.ray_node_ip
    address = os.environ.get("RAY_ADDRESS")
    if address:
        log.info("joining the Ray cluster at %s", address)
        ray.init(address=address, **options)
    else:  # a local cluster for this process; started once, kept for the process's life
        ray.init(include_dashboard=False, **options)


class _ModelActor:
    """Holds one loaded model in a Ray worker process."""

    def __init__(self, name: str, config: Mapping[str, object], threads: int) -> None:
        settings = {**config, "threads": threads}
        self.adapter = Registry({name: ModelConfig.model_validate(settings)}).get(name)

    def pid(self) -> int:
        """The worker's process id (tests kill it)."""
        return os.getpid()

    def node(self) -> str:
        """The id of the Ray node the worker runs on."""
        import ray

        return str(ray.get_runtime_context().get_node_id())

    def predict(self, index: int, rows: pa.Table) -> tuple[int, pa.Table]:
        """Score one numbered chunk (its rows were validated by the driver before any chunk left)."""
        if isinstance(self.adapter, ModelAdapter):
            return index, self.adapter.predict(rows, validated=True)
        return index, self.adapter.predict(rows)


class BatchExecutor:
    """Runs a registered model over any number of rows, in-process or on Ray.

    Args:
        registry: where the model's config comes from.
        backend: "auto" (Ray at `ray_min_rows` rows or more, or whenever `RAY_ADDRESS` is set),
            "in-process" or "ray" (default: the settings' `executor`).
        workers: Ray actors, each holding the model (default: the cluster's CPUs).
        chunk_rows: rows per Ray task.
    """

    def __init__(
        self,
        registry: Registry,
        *,
        backend: Literal["auto", "in-process", "ray"] | None = None,
        ray_min_rows: int | None = None,
        workers: int | None = None,
        chunk_rows: int = 262_144,
        settings: Settings | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.registry = registry
        self.backend = backend or self.settings.executor
        self.ray_min_rows = self.settings.ray_min_rows if ray_min_rows is None else ray_min_rows
        self.workers = workers
        self.chunk_rows = chunk_rows
        self._actors: dict[str, list[Any]] = {}  # Ray actor handles (ray types them loosely)
        self.last_report: ExecutionReport | None = None

    def choose(self, rows: int) -> Literal["in-process", "ray"]:
        """The backend a job of `rows` rows goes to."""
        if self.backend != "auto":
            return self.backend
        return "ray" if rows >= self.ray_min_rows or os.environ.get("RAY_ADDRESS") else "in-process"

    def run(self, name: str, rows: pa.Table, progress: Progress | None = None) -> pa.Table:
        """Score `rows` with model `name`; the result has one row per input row, in input order."""
        adapter = self.registry.get(name)
        if self.choose(rows.num_rows) == "in-process" or name not in self.registry.configs:
            return self._in_process(adapter, rows, progress)
        if isinstance(adapter, ModelAdapter):  # refuse bad rows before Ray starts, and ship only what it reads
            adapter.validate(rows)
            rows = rows.select(list(adapter.spec.input_schema.model_fields))
        return self._on_ray(name, rows, progress)

    def _in_process(self, adapter: Adapter, rows: pa.Table, progress: Progress | None) -> pa.Table:
        step = self.chunk_rows
        pieces = []
        for start in range(0, rows.num_rows, step):
            pieces.append(adapter.predict(rows.slice(start, step)))
            if progress:
                progress(min(start + step, rows.num_rows), rows.num_rows)
        self.last_report = ExecutionReport("in-process", rows.num_rows, len(pieces), 1)
        return pa.concat_tables(pieces) if pieces else adapter.predict(rows)

    def actors(self, name: str) -> list[Any]:
        """The Ray actors holding model `name`, started on first use."""
        if name not in self._actors:
            import ray

            _ensure_ray(self.settings)
            cpus = int(ray.cluster_resources().get("CPU", 1))
            count = self.workers or max(cpus, 1)
            config = self.registry.configs[name].model_dump(mode="json")
            remote = ray.remote(num_cpus=1, max_restarts=4, max_task_retries=4)(_ModelActor)
            self._actors[name] = [remote.remote(name, config, 1) for _ in range(count)]
        return self._actors[name]

    def _on_ray(self, name: str, rows: pa.Table, progress: Progress | None) -> pa.Table:
        import ray

        actors = self.actors(name)
        # at least 4 chunks per actor, so a small job still spreads evenly and nobody waits on a straggler
        step = max(1, min(self.chunk_rows, -(-rows.num_rows // (4 * len(actors)))))
        chunks = list(enumerate(range(0, rows.num_rows, step)))
        results: dict[int, pa.Table] = {}
        pending: dict[Any, tuple[int, int]] = {}  # ref -> (chunk, actor)
        busy = [0] * len(actors)
        queue = list(reversed(chunks))
        done_rows = 0
        while queue or pending:
            # two chunks per actor in flight: one running, one already shipped; the next goes to the least busy
            while queue and min(busy) < 2:
                index, start = queue.pop()
                who = busy.index(min(busy))
                pending[actors[who].predict.remote(index, rows.slice(start, step))] = (index, who)
                busy[who] += 1
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                index, table = ray.get(ref)
                busy[pending.pop(ref)[1]] -= 1
                if index in results:  # a retried chunk answered twice: keep the first
                    continue
                results[index] = table
                done_rows += table.num_rows
                if progress:
                    progress(done_rows, rows.num_rows)
        self.last_report = ExecutionReport("ray", rows.num_rows, len(chunks), len(actors))
        return pa.concat_tables([results[i] for i, _ in chunks])

    def close(self) -> None:
        """Stop this executor's actors (the Ray cluster stays up for the process)."""
        import ray

        for actors in self._actors.values():
            for actor in actors:
                ray.kill(actor)
        self._actors.clear()
