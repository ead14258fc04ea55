"""Several versions of one model: the shipped welding v1 and v2, choosing one, and their model cards."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from adapters import AdapterInputError, Registry, UnknownModelError
from adapters.cards import MODELS_DIR, load_card
from adapters.errors import AdapterConfigError
from adapters.welding import WeldingAdapter
from knowledge import Settings
from knowledge.store import YardStore

SHIPBRAIN = str(Path(sys.executable).parent / "shipbrain")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    return Registry.load(Settings(data_dir=tmp_path_factory.mktemp("data")))


def test_the_default_is_v1_and_v2_is_chosen_by_name(registry: Registry, small_yard: Path) -> None:
    assert registry.versions("welding") == ("1", "2")
    assert registry.versions("outfitting") == ("1",) and registry.versions("scheduling") == ("1",)
    assert registry.spec("welding").version == "1"
    v2 = registry.with_versions({"welding": "2"})
    assert v2.spec("welding").version == "2" and v2.versions("welding") == ("2", "1")
    assert v2.configs["outfitting"] == registry.configs["outfitting"]
    assert registry.spec("welding").version == "1"  # the original registry is untouched

    rows = WeldingAdapter.yard_rows(YardStore.open(small_yard)).slice(0, 5000)
    first, second = registry.get("welding").predict(rows), v2.get("welding").predict(rows)
    hours_1, hours_2 = first.column("hours").to_numpy(), second.column("hours").to_numpy()
    risk_1, risk_2 = first.column("defect_probability").to_numpy(), second.column("defect_probability").to_numpy()
    assert np.mean(np.abs(hours_1 - hours_2)) > 0.01 and np.mean(np.abs(risk_1 - risk_2)) > 1e-4
    # Different models of the same yard still agree on what is slow and what is risky.
    assert np.corrcoef(hours_1, hours_2)[0, 1] > 0.95 and np.corrcoef(risk_1, risk_2)[0, 1] > 0.8

    back = v2.with_versions({"welding": "1"})
    assert back.spec("welding").version == "1"
    np.testing.assert_array_equal(back.get("welding").predict(rows).column("hours").to_numpy(), hours_1)


def test_load_takes_versions(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert Registry.load(settings, versions={"welding": "2"}).spec("welding").version == "2"
    assert Registry.load(settings, versions={"welding": "1"}).spec("welding").version == "1"
    with pytest.raises(
        AdapterInputError, match=r"unknown version '3' of model 'welding'; known versions: 1 \(default\), 2"
    ):
        Registry.load(settings, versions={"welding": "3"})
    with pytest.raises(
        AdapterInputError, match=r"unknown version '2' of model 'outfitting'; known versions: 1 \(default\)$"
    ):
        Registry.load(settings, versions={"outfitting": "2"})
    with pytest.raises(UnknownModelError, match="unknown model 'painting'"):
        Registry.load(settings, versions={"painting": "1"})


def test_data_dir_overrides_keep_working_with_versions(tmp_path: Path) -> None:
    shipped = MODELS_DIR.resolve()
    # An override replaces the model's entry, versions included: here welding 2 is served remotely.
    (tmp_path / "adapters.toml").write_text(
        f'[models.welding]\nfactory = "adapters.welding:from_config"\npath = "{shipped / "welding.onnx"}"\n\n'
        '[models.welding.versions.2]\ntransport = "v2"\nurl = "http://127.0.0.1:9"\nremote_name = "welding-2"\n'
        "policy = { timeout_s = 2 }\n\n"
        f'[models.welding.versions.3]\npath = "{shipped / "welding-2.onnx"}"\nbatch_size = 1000\n'
    )
    registry = Registry.load(Settings(data_dir=tmp_path))
    assert registry.versions("welding") == ("1", "2", "3")
    remote = registry.with_versions({"welding": "2"}).get("welding")
    assert remote.spec.transport == "v2" and remote.spec.version == "2"
    assert remote.transport.model == "welding-2"  # type: ignore[attr-defined]
    local = registry.with_versions({"welding": "3"}).spec("welding")
    assert (local.version, local.transport, local.batch_size) == ("3", "onnx", 1000)

    (tmp_path / "adapters.toml").write_text(
        f'[models.welding]\nfactory = "adapters.welding:from_config"\npath = "{shipped / "welding.onnx"}"\n'
    )
    with pytest.raises(AdapterInputError, match=r"known versions: 1 \(default\)$"):
        Registry.load(Settings(data_dir=tmp_path), versions={"welding": "2"}).get("welding")
    (tmp_path / "adapters.toml").write_text(
        '[models.welding]\nfactory = "adapters.welding:from_config"\n[models.welding.versions.2]\nversion = "7"\n'
    )
    with pytest.raises(AdapterConfigError, match=r"\[models.welding.versions.2\]: the table's name is its version"):
        Registry.load(Settings(data_dir=tmp_path))
    (tmp_path / "adapters.toml").write_text(
        '[models.welding]\nfactory = "adapters.welding:from_config"\n[models.welding.versions.2]\nspeed = 3\n'
    )
    with pytest.raises(AdapterConfigError, match=r"\[models.welding.versions.2\] speed: Extra inputs"):
        Registry.load(Settings(data_dir=tmp_path))


def test_the_v2_card_is_honest_and_plausible() -> None:
    v1, v2 = load_card(MODELS_DIR / "welding.onnx"), load_card(MODELS_DIR / "welding-2.onnx")
    assert v1 is not None and v2 is not None
    assert (v2.name, v2.version, v2.onnx_file) == ("welding", "2", "welding-2.onnx")
    assert v2.onnx_sha256 == hashlib.sha256((MODELS_DIR / "welding-2.onnx").read_bytes()).hexdigest()
    assert v2.features == v1.features and v2.outputs == v1.outputs
    assert v2.training_yard == {"seed": 202, "parts": 1_000_000, "generator_version": "3"}
    assert v2.training_yard["seed"] != v1.training_yard["seed"] and v2.rows["held_out"] > 100_000
    assert v2.params["hours"]["n_estimators"] < v1.params["hours"]["n_estimators"]
    m = v2.metrics  # held out by block, on its own training yard
    assert m["hours_mae"] < 0.3 * m["hours_mae_baseline"]
    assert m["hours_mae_ground_truth"] < m["hours_mae"] < 1.25 * m["hours_mae_ground_truth"]
    assert 0.8 < m["defect_auc"] <= m["defect_auc_ground_truth"] + 0.005
    assert abs(m["defect_predicted_rate"] - m["defect_rate"]) < 0.25 * m["defect_rate"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SHIPBRAIN, *args], capture_output=True, text=True, timeout=300, check=False)


def test_models_cli_shows_and_chooses_versions() -> None:
    listed = {m["name"]: m for m in json.loads(run("models", "list", "--json").stdout)}
    assert listed["welding"]["version"] == "1" and listed["welding"]["versions"] == ["1", "2"]
    described = json.loads(run("models", "describe", "welding", "--version", "2", "--json").stdout)
    assert described["version"] == "2" and described["card"]["onnx_file"] == "welding-2.onnx"
    unknown = run("models", "describe", "welding", "--version", "9")
    assert unknown.returncode == 2 and "known versions: 1 (default), 2" in unknown.stderr
