"""`shipbrain models train`: real LightGBM training on a small yard, exported to ONNX, read back by the adapters."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from adapters.cards import load_card
from adapters.outfitting import OutfittingAdapter
from adapters.training import held_out_blocks, train_outfitting, train_welding
from adapters.transports.inprocess import OnnxTransport
from adapters.welding import WeldingAdapter
from knowledge import PartGraph


@pytest.fixture(scope="module")
def graph(yard_factory: Callable[[int, int], Path]) -> PartGraph:
    return PartGraph.open(yard_factory(60_000, 8))


def test_welding_training_learns_and_exports(graph: PartGraph, tmp_path: Path) -> None:
    card = train_welding(graph, tmp_path, version="test", seed=3)
    onnx_file = tmp_path / "welding.onnx"
    assert card.onnx_sha256 == hashlib.sha256(onnx_file.read_bytes()).hexdigest()
    assert load_card(onnx_file) == card
    assert card.training_yard["seed"] == 8 and card.rows["held_out"] > 0
    m = card.metrics
    assert m["hours_mae"] < 0.7 * m["hours_mae_baseline"]  # learns far more than the per-group mean
    assert m["hours_mae"] < 1.3 * m["hours_mae_ground_truth"]  # near the noise floor even on a small yard
    assert m["defect_auc"] > 0.7
    adapter = WeldingAdapter(OnnxTransport("welding", onnx_file), card.version)
    rows = WeldingAdapter.yard_rows(graph).slice(0, 1000)
    predicted = adapter.predict(rows).column("hours").to_numpy()
    assert predicted.shape == (1000,) and (predicted > 0).all()


def test_training_is_reproducible(graph: PartGraph, tmp_path: Path) -> None:
    first = train_outfitting(graph, tmp_path / "a", seed=1)
    again = train_outfitting(graph, tmp_path / "b", seed=1)
    assert first.onnx_sha256 == again.onnx_sha256
    assert first.metrics["stage_accuracy"] > first.metrics["stage_accuracy_baseline"]
    adapter = OutfittingAdapter(OnnxTransport("outfitting", tmp_path / "a" / "outfitting.onnx"), first.version)
    result = adapter.predict(OutfittingAdapter.yard_rows(graph, [0]))
    assert set(result.column("stage").to_pylist()) <= {"on-unit", "on-block", "on-board"}


def test_held_out_split_is_by_block_and_stable() -> None:
    blocks = np.arange(214)
    held = held_out_blocks(blocks, seed=0)
    assert 0.1 < held.mean() < 0.3
    np.testing.assert_array_equal(held, held_out_blocks(blocks, seed=0))
    assert not np.array_equal(held, held_out_blocks(blocks, seed=1))
