"""Predictions of a served model are kept on disk under the version its server names, never under "unknown".

The yard's predictions are cached per model identity (its version among it: `brain.core.cache.model_identity`), so
the first question after a restart reads them instead of predicting again. A v2 model's version is learnt from its
server on the first call; KServe serves models without versions, so its predictions cannot be told from another
model's served under the same name tomorrow: they stay in the process and are not written (review of issue 14).
Triton names its version ("1"): its predictions are cached under it. Both over the real servers.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc

from adapters.registry import Registry
from adapters.serving.launch import RunningServer
from brain.core.context import YardContext, model_role
from knowledge.settings import Settings
from knowledge.store import YardStore

pytest_plugins = ["tests.e2e.servers"]


def _context(server: RunningServer, yard: Path, data_dir: Path) -> YardContext:
    data_dir.mkdir()
    (data_dir / "adapters.toml").write_text(
        f'[models.welding]\ntransport = "v2"\nurl = "{server.url}"\nremote_name = "{server.model}"\n'
    )
    settings = Settings(data_dir=data_dir)
    return YardContext(YardStore.open(yard), settings, Registry.load(settings))


def _cached(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "cache").glob("*/predictions-welding-*.arrow"))


def test_a_server_without_versions_predicts_but_nothing_is_cached_on_disk(
    kserve: RunningServer, small_yard: Path, tmp_path: Path
) -> None:
    context = _context(kserve, small_yard, tmp_path / "data")
    try:
        table = context.yard_predictions("welding")
        assert table.num_rows == context.yard.count(model_role(context.registry, "welding")) > 0
        assert pc.all(pc.is_valid(table.column(0))).as_py()
        assert context.registry.spec("welding").version == "unknown"
        assert _cached(tmp_path / "data") == []
        assert context.yard_predictions("welding") is table  # kept for this process's later questions
    finally:
        context.close()
        context.registry.close()  # passed in, so not the context's to close


def test_a_server_that_names_its_version_gets_its_predictions_cached(
    triton: RunningServer, small_yard: Path, tmp_path: Path
) -> None:
    context = _context(triton, small_yard, tmp_path / "data")
    fresh = YardContext(YardStore.open(small_yard), context.settings, Registry.load(context.settings))
    try:
        table = context.yard_predictions("welding")
        assert context.registry.spec("welding").version == triton.version == "1"
        assert len(_cached(tmp_path / "data")) == 1
        again = fresh.cached_predictions("welding")  # a restart reads it (asking the server its version only)
        assert again is not None and again.equals(table)
    finally:
        for opened in (context, fresh):
            opened.close()
            opened.registry.close()  # passed in, so not the context's to close
