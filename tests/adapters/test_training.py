"""`shipbrain models train`: real LightGBM training on a small yard, exported to ONNX, read back by the adapters."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest

from adapters.cards import ModelCard, load_card
from adapters.errors import AdapterInputError
from adapters.outfitting import OutfittingAdapter
from adapters.training import UntrainableError, held_out_blocks, train_outfitting, train_welding
from adapters.transports.inprocess import OnnxTransport
from adapters.welding import WeldingAdapter
from knowledge.importer import export_yard
from knowledge.store import YardStore
from tests.adapters._yards import imported_without

SHIPBRAIN = str(Path(sys.executable).parent / "shipbrain")


@pytest.fixture(scope="module")
def graph(yard_factory: Callable[[int, int], Path]) -> YardStore:
    return YardStore.open(yard_factory(60_000, 8))


@pytest.fixture(scope="module")
def welding_seed3(graph: YardStore, tmp_path_factory: pytest.TempPathFactory) -> tuple[ModelCard, Path]:
    """The welding model trained on `graph` with split seed 3, and the folder it was written to (trained once: two
    tests read it, none writes there)."""
    out = tmp_path_factory.mktemp("welding-seed3")
    return train_welding(graph, out, seed=3), out


def test_welding_training_learns_and_exports(graph: YardStore, welding_seed3: tuple[ModelCard, Path]) -> None:
    card, out = welding_seed3
    onnx_file = out / "welding.onnx"
    assert card.onnx_sha256 == hashlib.sha256(onnx_file.read_bytes()).hexdigest()
    assert load_card(onnx_file) == card
    assert card.training_yard["name"] == graph.name == "synthetic cruise ship, 60,000 parts, seed 8"
    assert card.rows["held_out"] > 0 and card.rows["unlabelled"] == 0  # a simulated yard records every joint
    m = card.metrics
    assert m["hours_mae"] < 0.7 * m["hours_mae_baseline"]  # learns far more than the per-group mean
    assert m["hours_mae"] < 1.3 * m["hours_mae_ground_truth"]  # near the noise floor even on a small yard
    assert m["defect_auc"] > 0.7
    adapter = WeldingAdapter(OnnxTransport("welding", onnx_file), card.version)
    rows = WeldingAdapter.yard_rows(graph).slice(0, 1000)
    predicted = adapter.predict(rows).column("hours").to_numpy()
    assert predicted.shape == (1000,) and (predicted > 0).all()


def test_the_noise_floor_comes_from_the_yards_own_ground_truth(
    graph: YardStore, welding_seed3: tuple[ModelCard, Path], tmp_path: Path
) -> None:
    with_truth, _ = welding_seed3
    assert {"hours_mae_ground_truth", "defect_auc_ground_truth"} <= set(with_truth.metrics)
    # a yard that does not know its ground truth (a real one) trains the same model and claims no floor
    exported = export_yard(graph.path, tmp_path / "exported")
    real = imported_without(exported, tmp_path / "real", {"actuals": ["expected_hours", "defect_logit"]})
    assert not {"expected_hours", "defect_logit"} & set(real.fields("actuals"))
    without = train_welding(real, tmp_path / "b", seed=3)
    assert without.onnx_sha256 == with_truth.onnx_sha256
    assert {k: v for k, v in with_truth.metrics.items() if not k.endswith("_ground_truth")} == without.metrics


def test_training_is_reproducible(graph: YardStore, tmp_path: Path) -> None:
    first = train_outfitting(graph, tmp_path / "a", seed=1)
    again = train_outfitting(graph, tmp_path / "b", seed=1)
    assert first.onnx_sha256 == again.onnx_sha256
    assert first.metrics["stage_accuracy"] > first.metrics["stage_accuracy_baseline"]
    adapter = OutfittingAdapter(OnnxTransport("outfitting", tmp_path / "a" / "outfitting.onnx"), first.version)
    items = OutfittingAdapter.yard_rows(graph)
    first_block = items.column("block")[0].as_py()
    rows = items.filter(pc.equal(items.column("block"), first_block))
    result = adapter.predict(rows)
    assert result.num_rows == rows.num_rows > 0
    assert set(result.column("stage").to_pylist()) <= {"on-unit", "on-block", "on-board"}


def test_held_out_split_is_by_block_and_stable() -> None:
    blocks = np.arange(214)
    held = held_out_blocks(blocks, seed=0)
    assert 0.1 < held.mean() < 0.3
    np.testing.assert_array_equal(held, held_out_blocks(blocks, seed=0))
    assert not np.array_equal(held, held_out_blocks(blocks, seed=1))


def test_a_second_version_is_deterministic_and_sits_beside_the_first(graph: YardStore, tmp_path: Path) -> None:
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
    blocks = graph.nodes_of_role("block")
    seed = next(s for s in range(10_000) if not held_out_blocks(blocks, s).any())  # a small yard has few blocks
    with pytest.raises(AdapterInputError, match=f"split seed {seed} holds out no block of this yard"):
        train_welding(graph, tmp_path / "c", seed=seed)  # this small yard's blocks all miss the seed's hash


def test_train_cli_names_a_versioned_model(graph: YardStore, tmp_path: Path) -> None:
    args = [SHIPBRAIN, "models", "train", "--yard", str(graph.path), "--only", "welding", "--out", str(tmp_path)]
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


def _booked(yard: YardStore) -> int:
    """Joints whose actuals book hours."""
    actuals = yard.actuals(["node", "hours"])
    assert actuals is not None
    joints = yard.role_rows("joint", actuals.column("node").to_numpy()) >= 0
    return int((joints & actuals.column("hours").is_valid().to_numpy(zero_copy_only=False)).sum())


def test_a_real_yard_trains_on_the_joints_it_recorded(bulk_carrier: Path, tmp_path: Path) -> None:
    """The bulk carrier's actuals cover part of its ship: some of its seams, NDT results for a sample of them."""
    yard = YardStore.open(bulk_carrier)
    booked = _booked(yard)
    assert 0 < booked < yard.count("joint")
    fewer = {"hours": {"n_estimators": 40}, "defect": {"n_estimators": 30}}
    card = train_welding(yard, tmp_path, seed=0, params=fewer)
    rows = card.rows
    assert rows["train"] + rows["held_out"] == booked  # every joint with booked hours, and only those
    assert rows["unlabelled"] == yard.count("joint") - booked > 0
    assert 0 < rows["defect_train"] + rows["defect_held_out"] < booked  # NDT inspects a sample
    assert card.training_yard["name"] == yard.name
    assert card.metrics["hours_mae"] < card.metrics["hours_mae_baseline"]
    assert not {"hours_mae_ground_truth", "defect_auc_ground_truth"} & set(card.metrics)  # a real yard knows none
    adapter = WeldingAdapter(OnnxTransport("welding", tmp_path / "welding.onnx"), card.version)
    assert (adapter.predict(WeldingAdapter.yard_rows(yard)).column("hours").to_numpy() > 0).all()
    # no item's rework is recorded: the outfitting model cannot learn here, and says what is missing
    with pytest.raises(UntrainableError, match=r"outfitting cannot be trained on this yard: .*rework of 0 of its"):
        train_outfitting(yard, tmp_path)


def test_too_few_labelled_rows_is_a_clear_error(
    bulk_carrier: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import adapters.training

    yard = YardStore.open(bulk_carrier)
    monkeypatch.setattr(adapters.training, "MIN_LABELLED_ROWS", yard.count("joint") + 1)
    says = f"too few labelled rows to train on: {_booked(yard):,} of the yard's {yard.count('joint'):,} joints"
    with pytest.raises(UntrainableError, match=says):
        train_welding(yard, tmp_path)


def test_train_cli_on_a_yard_that_can_train_one_model(bulk_carrier: Path, tmp_path: Path) -> None:
    args = [SHIPBRAIN, "models", "train", "--yard", str(bulk_carrier), "--out", str(tmp_path)]
    fewer = ["--param", "welding.hours.n_estimators=20", "--param", "welding.defect.n_estimators=10"]
    trained = subprocess.run([*args, *fewer], capture_output=True, text=True, timeout=300, check=False)
    assert trained.returncode == 0, trained.stderr
    assert "skipped: outfitting cannot be trained on this yard" in " ".join(trained.stderr.split())
    assert (tmp_path / "welding.onnx").is_file() and not (tmp_path / "outfitting.onnx").exists()
    asked = subprocess.run([*args, "--only", "outfitting"], capture_output=True, text=True, timeout=300, check=False)
    assert asked.returncode == 2 and "outfitting cannot be trained" in " ".join(asked.stderr.split())
