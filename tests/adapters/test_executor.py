"""The batch executor's in-process path and its choice of backend (Ray itself: tests/e2e/test_ray_executor.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters import Registry, SchemaError
from adapters.executor import BatchExecutor
from adapters.welding import WeldingAdapter
from knowledge import Settings
from knowledge.store import YardStore


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    return Registry.load(Settings(data_dir=tmp_path_factory.mktemp("data")))


def test_in_process_in_chunks_with_progress(registry: Registry, small_yard: Path) -> None:
    rows = WeldingAdapter.yard_rows(YardStore.open(small_yard))
    seen: list[tuple[int, int]] = []
    executor = BatchExecutor(registry, backend="in-process", chunk_rows=5_000)
    result = executor.run("welding", rows, progress=lambda done, total: seen.append((done, total)))
    assert result.equals(registry.get("welding").predict(rows))
    assert seen[-1] == (rows.num_rows, rows.num_rows) and len(seen) == -(-rows.num_rows // 5_000)
    assert executor.last_report is not None and executor.last_report.backend == "in-process"


def test_auto_sends_large_jobs_and_clusters_to_ray(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    executor = BatchExecutor(registry, backend="auto", ray_min_rows=1_000_000)
    assert executor.choose(999_999) == "in-process"
    assert executor.choose(1_000_000) == "ray"
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.2:6379")
    assert executor.choose(10) == "ray"  # a configured cluster takes every job
    assert BatchExecutor(registry, backend="in-process").choose(10**9) == "in-process"


def test_bad_rows_are_refused_before_ray_starts(registry: Registry, small_yard: Path) -> None:
    rows = WeldingAdapter.yard_rows(YardStore.open(small_yard)).slice(0, 10).drop_columns(["process"])
    executor = BatchExecutor(registry, backend="ray")
    with pytest.raises(SchemaError, match="field 'process': Field required"):
        executor.run("welding", rows)
    assert executor._actors == {}  # no actor, and no Ray, was started
