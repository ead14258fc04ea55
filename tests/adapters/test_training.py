"""`shipbrain models train`: real LightGBM training on a small yard, exported to ONNX, read back by the adapters."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from adapters.cards import load_card
from adapters.errors import AdapterInputError
from adapters.outfitting import OutfittingAdapter
from adapters.training import held_out_blocks, train_outfitting, train_welding
from adapters.transports.inprocess import OnnxTransport
from adapters.welding import WeldingAdapter
from knowledge import PartGraph
from tests.helpers.yards import copy_yard


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


def test_the_noise_floor_comes_from_the_yards_own_ground_truth(graph: PartGraph, tmp_path: Path) -> None:
    with_truth = train_welding(graph, tmp_path / "a", seed=3)
    assert {"hours_mae_ground_truth", "defect_auc_ground_truth"} <= set(with_truth.metrics)
    # a yard that does not know its ground truth (a real one) trains the same model and claims no floor
    yard = copy_yard(graph.path, tmp_path / "real")
    (yard / "ground_truth.parquet").unlink()
    manifest = json.loads((yard / "manifest.json").read_text())
    del manifest["files"]["ground_truth.parquet"], manifest["tables"]["ground_truth"]
    (yard / "manifest.json").write_text(json.dumps(manifest))
    without = train_welding(PartGraph.open(yard), tmp_path / "b", seed=3)
    assert without.onnx_sha256 == with_truth.onnx_sha256
    assert {k: v for k, v in with_truth.metrics.items() if not k.endswith("_ground_truth")} == without.metrics


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


def test_a_second_version_is_deterministic_and_sits_beside_the_first(graph: PartGraph, tmp_path: Path) -> None:
    fewer = {"hours": {"n_estimators": 30, "num_leaves": 15}, "defect": {"n_estimators": 40}}
    first = train_welding(graph, tmp_path / "a", version="2", seed=3, params=fewer, file_stem="welding-2")
    again = train_welding(graph, tmp_path / "b", version="2", seed=3, params=fewer, file_stem="welding-2")
    onnx_file = tmp_path / "a" / "welding-2.onnx"
    assert onnx_file.read_bytes() == (tmp_path / "b" / "welding-2.onnx").read_bytes()
    assert first == again and load_card(onnx_file) == first
    assert (first.name, first.version, first.onnx_file) == ("welding", "2", "welding-2.onnx")
    assert first.params["hours"]["n_estimators"] == 30 and first.params["hours"]["deterministic"] is True
    assert first.params["defect"]["num_leaves"] == 15  # untouched defaults stay
    assert first.metrics["hours_mae"] < 0.7 * first.metrics["hours_mae_baseline"]
    with pytest.raises(AdapterInputError, match=r"welding.hours: cannot set \['deterministic'\]"):
        train_welding(graph, tmp_path / "c", params={"hours": {"deterministic": False}})
    with pytest.raises(AdapterInputError, match="unknown learner 'stage'; learners: hours, defect"):
        train_welding(graph, tmp_path / "c", params={"stage": {"n_estimators": 3}})
    with pytest.raises(AdapterInputError, match="split seed 5 holds out no block of this yard"):
        train_welding(graph, tmp_path / "c", seed=5)  # this small yard's blocks all miss seed 5's hash


def test_train_cli_names_a_versioned_model(graph: PartGraph, tmp_path: Path) -> None:
    shipbrain = str(Path(sys.executable).parent / "shipbrain")
    args = [shipbrain, "models", "train", "--yard", str(graph.path), "--only", "welding", "--out", str(tmp_path)]
    trained = subprocess.run(
        [
            *args,
            "--version",
            "2",
            "--versioned",
            "--param",
            "welding.hours.n_estimators=20",
            "--param",
            "welding.defect.n_estimators=10",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert trained.returncode == 0, trained.stderr
    card = load_card(tmp_path / "welding-2.onnx")
    assert card is not None and card.version == "2" and card.params["hours"]["n_estimators"] == 20
    bad = subprocess.run(
        [*args, "--param", "welding.hours=20"], capture_output=True, text=True, timeout=60, check=False
    )
    assert bad.returncode == 2 and "MODEL.LEARNER.KEY=VALUE" in bad.stderr
