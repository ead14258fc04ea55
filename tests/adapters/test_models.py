"""The shipped welding and outfitting models through their adapters, the registry and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import EntryPoint
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from adapters import ModelResponseError, Registry, SchemaError, UnknownModelError
from adapters.errors import AdapterConfigError
from adapters.outfitting import OutfittingAdapter
from adapters.registry import ADAPTERS, ENTRY_POINT_GROUP, AdapterType
from adapters.transports.inprocess import CallableTransport
from adapters.welding import WeldingAdapter
from knowledge import Settings
from knowledge.plugins import PluginRegistry, PluginWarning
from knowledge.store import YardStore

SHIPBRAIN = str(Path(sys.executable).parent / "shipbrain")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    return Registry.load(Settings(data_dir=tmp_path_factory.mktemp("data")))


def test_registry_lists_the_shipped_models(registry: Registry) -> None:
    assert {"welding", "outfitting"} <= set(registry.names())
    spec = registry.spec("welding")
    assert spec.version == "1" and spec.transport == "onnx" and (spec.role, spec.key_column) == ("joint", "node")
    assert "defect" in spec.description
    with pytest.raises(
        UnknownModelError, match="unknown model 'painting'; known models: outfitting, scheduling, welding"
    ):
        registry.get("painting")


def test_the_models_know_the_synthetic_yards_words_in_their_training_order() -> None:
    """The models' vocabularies are their own contract; the synthetic yard is one producer of those words."""
    from adapters import outfitting, welding
    from knowledge.synthetic import vocabulary

    assert welding.JOINT_LEVELS == vocabulary.JOINT_LEVELS and welding.JOINT_TYPES == vocabulary.JOINT_TYPES
    assert welding.PROCESSES == vocabulary.PROCESSES and welding.POSITIONS == vocabulary.POSITIONS
    assert welding.ACCESS == vocabulary.ACCESS and welding.GRADES == vocabulary.GRADES
    assert outfitting.ITEM_KINDS == vocabulary.ITEM_KINDS and outfitting.BLOCK_TYPES == vocabulary.BLOCK_TYPES
    assert outfitting.STAGES == vocabulary.STAGES and outfitting.SYSTEMS_BY_KIND == vocabulary.SYSTEMS
    assert len(outfitting.SYSTEMS) == 65


def _actuals(yard: YardStore, nodes: np.ndarray, field: str) -> np.ndarray:
    """One actuals field for each node (the store's actuals are by node, ascending)."""
    actuals = yard.actuals(["node", field])
    assert actuals is not None
    recorded = actuals.column("node").to_numpy()
    at = np.searchsorted(recorded, nodes)
    assert np.array_equal(recorded[at], nodes)
    return np.asarray(actuals.column(field).to_numpy(zero_copy_only=False))[at]


def test_welding_predictions_beat_the_yard_norm(registry: Registry, small_yard: Path) -> None:
    g = YardStore.open(small_yard)
    welding = registry.get("welding")
    rows = WeldingAdapter.yard_rows(g)
    result = welding.predict(rows)
    assert result.num_rows == rows.num_rows == g.count("joint")
    hours = result.column("hours").to_numpy()
    risk = result.column("defect_probability").to_numpy()
    assert (hours > 0).all() and ((risk >= 0) & (risk <= 1)).all()
    nodes = rows.column("node").to_numpy()
    actual = _actuals(g, nodes, "hours").astype(float)
    model_mae = np.abs(hours - actual).mean()
    norm_mae = np.abs(g.field_of("joint", "norm_hours", nodes) - actual).mean()
    assert model_mae < 0.7 * norm_mae  # this yard's seed was never seen in training
    position = np.array(rows.column("position").to_pylist())
    assert risk[np.isin(position, ["4G", "4F"])].mean() > 2 * risk[np.isin(position, ["1G", "1F"])].mean()


def test_outfitting_predictions(registry: Registry, small_yard: Path) -> None:
    g = YardStore.open(small_yard)
    outfitting = registry.get("outfitting")
    block = g.node_of("B003")
    every = OutfittingAdapter.yard_rows(g)
    mine = every.column("node").to_numpy()[every.column("block").to_numpy() == block]
    rows = OutfittingAdapter.yard_rows(g, mine)
    assert rows.column("node").to_pylist() == mine.tolist() and set(rows.column("block").to_pylist()) == {block}
    result = outfitting.predict(rows)
    assert result.num_rows == rows.num_rows > 0
    assert set(result.column("stage").to_pylist()) <= {"on-unit", "on-block", "on-board"}
    actual = g.role_table("outfitting_item", ["stage"], mine).column("stage").to_pylist()
    agree = np.mean(np.array(result.column("stage").to_pylist()) == np.array(actual))
    assert agree > 0.6


def test_bad_rows_are_refused_before_any_model_runs(small_yard: Path) -> None:
    calls: list[int] = []

    def model(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        calls.append(len(inputs["features"]))
        return {"hours": np.ones(len(inputs["features"])), "defect_probability": np.zeros(len(inputs["features"]))}

    adapter = WeldingAdapter(CallableTransport("welding", model), "test", batch_size=1000)
    rows = WeldingAdapter.yard_rows(YardStore.open(small_yard)).slice(0, 5000)
    bad = rows.set_column(
        rows.schema.get_field_index("thickness_mm"),
        "thickness_mm",
        pa.array(np.where(np.arange(5000) == 4321, -1.0, rows.column("thickness_mm").to_numpy())),
    )
    with pytest.raises(SchemaError) as info:
        adapter.predict(bad)
    assert (info.value.row, info.value.field) == (4321, "thickness_mm")
    assert calls == []  # no batch reached the model
    assert adapter.predict(rows).num_rows == 5000 and calls == [1000] * 5


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        ({"hours": -np.ones(3), "defect_probability": np.zeros(3)}, "output violates its schema"),
        ({"hours": np.ones(2), "defect_probability": np.zeros(2)}, "2 output rows for 3 inputs"),
        ({"hours": np.ones(3), "defect_probability": np.full(3, 1.5)}, "defect_probability"),
    ],
)
def test_a_model_that_breaks_its_contract_is_caught(small_yard: Path, answer: dict[str, np.ndarray], says: str) -> None:
    adapter = WeldingAdapter(CallableTransport("welding", lambda _inputs: answer), "test")
    rows = WeldingAdapter.yard_rows(YardStore.open(small_yard)).slice(0, 3)
    with pytest.raises(ModelResponseError, match=says):
        adapter.predict(rows)


def test_config_overrides_and_errors(tmp_path: Path) -> None:
    (tmp_path / "adapters.toml").write_text(
        '[models.welding]\nfactory = "adapters.welding:from_config"\ntransport = "v2"\n'
        'url = "http://127.0.0.1:9"\nremote_name = "welding-2"\npolicy = { timeout_s = 2, max_attempts = 2 }\n'
    )
    registry = Registry.load(Settings(data_dir=tmp_path))
    welding = registry.get("welding")
    assert welding.spec.transport == "v2"
    assert welding.transport.model == "welding-2"  # type: ignore[attr-defined]
    (tmp_path / "adapters.toml").write_text('[models.welding]\nfactory = "adapters.welding:from_config"\nspeed = 3\n')
    with pytest.raises(AdapterConfigError, match=r"adapters.toml', \[models.welding\] speed: Extra inputs"):
        Registry.load(Settings(data_dir=tmp_path))
    (tmp_path / "adapters.toml").write_text("[models.welding\n")
    with pytest.raises(AdapterConfigError, match="adapters.toml"):
        Registry.load(Settings(data_dir=tmp_path))
    (tmp_path / "adapters.toml").write_text('[models.x]\nfactory = "nowhere.module:build"\n')
    with pytest.raises(AdapterConfigError, match="factory 'nowhere.module:build' not found"):
        Registry.load(Settings(data_dir=tmp_path)).get("x")


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Installs entry points of the `shipbrain.adapters` group, as if packages declared them, into a fresh registry."""
    import importlib.metadata

    import adapters.registry as registry_module

    def install(*entry_points: EntryPoint) -> None:
        fresh: PluginRegistry[AdapterType] = PluginRegistry(
            "adapter", group=ENTRY_POINT_GROUP, modules=registry_module.PROJECT_ADAPTERS
        )
        for _, member in ADAPTERS.items():  # the project's own, registered when their modules were imported
            fresh.register(member)
        monkeypatch.setattr(registry_module, "ADAPTERS", fresh)
        monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: list(entry_points))
        monkeypatch.delitem(sys.modules, "tests.adapters.painting_plugin", raising=False)  # its decorator runs again

    return install


def test_a_broken_plugin_is_a_warning_not_a_crash(plugins: Callable[..., None], tmp_path: Path) -> None:
    plugins(EntryPoint(name="painting", value="no_such_module:adapter", group="shipbrain.adapters"))
    with pytest.warns(PluginWarning, match="'painting'"):
        registry = Registry.load(Settings(data_dir=tmp_path))
    assert "welding" in registry.names() and "painting" not in registry.names()
    assert any("painting" in p and "did not load" in p for p in registry.problems)
    assert registry.get("welding").spec.name == "welding"  # the rest still loads


def test_a_plugin_registers_its_adapter_by_decorator(plugins: Callable[..., None], tmp_path: Path) -> None:
    plugins(EntryPoint(name="painting", value="tests.adapters.painting_plugin", group="shipbrain.adapters"))
    registry = Registry.load(Settings(data_dir=tmp_path))
    assert registry.problems == []
    assert registry.names() == ("outfitting", "painting", "scheduling", "welding")
    painting = registry.get("painting")  # no config entry: a model of its own, in-process
    assert painting.predict(pa.table({"area_m2": [10.0, 0.0]})).column("hours").to_pylist() == [1.0, 0.0]
    assert registry.versions("painting") == ("0.1",)
    # a config entry can build another model with a registered adapter, and configure it
    (tmp_path / "adapters.toml").write_text('[models.hull-paint]\nadapter = "painting"\nversion = "2"\n')
    registry = Registry.load(Settings(data_dir=tmp_path))
    assert registry.spec("hull-paint").version == "2" and "painting" in registry.names()


def test_config_names_a_registered_adapter(tmp_path: Path) -> None:
    (tmp_path / "adapters.toml").write_text(
        '[models.welding-remote]\nadapter = "welding"\ntransport = "v2"\nurl = "http://127.0.0.1:9"\n'
    )
    registry = Registry.load(Settings(data_dir=tmp_path))
    remote = registry.get("welding-remote")
    assert (remote.spec.name, remote.spec.transport) == ("welding", "v2")
    (tmp_path / "adapters.toml").write_text('[models.x]\nadapter = "nope"\n')
    with pytest.raises(
        AdapterConfigError, match=r"model 'x': no adapter 'nope' is registered; the adapters are .*welding"
    ):
        Registry.load(Settings(data_dir=tmp_path)).get("x")
    (tmp_path / "adapters.toml").write_text(
        '[models.x]\nadapter = "welding"\nfactory = "adapters.welding:from_config"\n'
    )
    with pytest.raises(AdapterConfigError, match="set `adapter` or `factory`, not both"):
        Registry.load(Settings(data_dir=tmp_path))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SHIPBRAIN, *args], capture_output=True, text=True, timeout=300, check=False)


def test_models_cli(small_yard: Path) -> None:
    listed = json.loads(run("models", "list", "--json").stdout)
    assert {m["name"] for m in listed} >= {"welding", "outfitting"}
    described = json.loads(run("models", "describe", "welding", "--json").stdout)
    assert described["input_schema"]["properties"]["thickness_mm"]["exclusiveMinimum"] == 0
    assert described["card"]["metrics"]["hours_mae_improvement"] > 0.3
    predicted = json.loads(
        run("models", "predict", "welding", "--yard", str(small_yard), "--where", "block=B002", "--json").stdout
    )
    g = YardStore.open(small_yard)
    assert predicted["rows"] == len(g.members(g.node_of("B002"), kinds=["joint"]))
    assert predicted["predictions"][0]["code"].startswith("J002-")
    unknown = run("models", "describe", "painting")
    assert unknown.returncode == 2 and "known models: outfitting, scheduling, welding" in unknown.stderr
    where = run("models", "predict", "welding", "--yard", str(small_yard), "--where", "zone=3")
    assert where.returncode == 2 and "use block=CODE" in where.stderr
