"""Train the reference models on a yard's recorded actuals and export them to ONNX.

Rows are split by block (a hash of the block id), so the held-out score measures how the models do
on blocks they never saw. Each model ships as one ONNX graph plus a model card (JSON) with its
features, training yard, held-out metrics and baselines. When the yard knows its own ground truth (a
synthetic yard writes a `ground_truth` table: each joint's expected hours and defect log-odds before
the welder's effect and noise), the welding card also gives the noise floor it allows
(`hours_mae_ground_truth`, `defect_auc_ground_truth`); a yard without one gives none.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from adapters.cards import MODELS_DIR, ModelCard
from adapters.errors import AdapterInputError
from adapters.outfitting import OUTFITTING_FEATURES, OutfittingAdapter, encode_items
from adapters.schema import category_codes
from adapters.welding import POSITIONS, PROCESSES, WELD_FEATURES, WeldingAdapter, encode_joints
from knowledge.partgraph import PartGraph

__all__ = ["ParamOverrides", "held_out_blocks", "train_outfitting", "train_welding"]

HELD_OUT_SHARE: Final = 0.2
MAX_TRAIN_ROWS: Final = 600_000
_OPSET: Final = 13
# Same yard, same seed, same model: LightGBM is deterministic only when asked to be.
_DETERMINISTIC: Final[dict[str, Param]] = {"deterministic": True, "force_row_wise": True}
F64: TypeAlias = npt.NDArray[np.float64]
_WELDING_METRICS: Final[tuple[str, ...]] = (
    "hours_mae",
    "hours_mae_baseline",
    "hours_mae_improvement",
    "hours_mae_ground_truth",
    "defect_auc",
    "defect_auc_ground_truth",
    "defect_rate",
    "defect_predicted_rate",
)
"""The welding card's metrics, in the card's order (the ground truth's only when the yard knows it)."""

GROUND_TRUTH_TABLE: Final = "ground_truth"
"""The yard table that holds each joint's ground truth, when the yard knows it (a synthetic yard does)."""

Param: TypeAlias = int | float | bool | str
ParamOverrides: TypeAlias = Mapping[str, Mapping[str, Param]]
"""Hyper-parameter overrides by learner: `{"hours": {"n_estimators": 40}}` (welding: hours, defect;
outfitting: stage, rework). Only the tuned keys can change; the determinism flags cannot."""


def _with_overrides(model: str, defaults: dict[str, dict[str, Any]], overrides: ParamOverrides | None) -> None:
    """Apply `overrides` to each learner's `defaults` in place, refusing unknown learners and keys."""
    for learner, values in (overrides or {}).items():
        if learner not in defaults:
            raise AdapterInputError(f"{model}: unknown learner {learner!r}; learners: {', '.join(defaults)}")
        tunable = sorted(set(defaults[learner]) - set(_DETERMINISTIC))
        unknown = sorted(set(values) - set(tunable))
        if unknown:
            raise AdapterInputError(f"{model}.{learner}: cannot set {unknown}; tunable: {', '.join(tunable)}")
        defaults[learner].update(values)


def held_out_blocks(block_ids: npt.NDArray[np.integer], seed: int) -> npt.NDArray[np.bool_]:
    """Whether each block id is held out: a seeded hash, so the split is stable and by block."""
    salt = np.uint64(seed * 0x9E3779B97F4A7C15 % 2**64)
    mixed = (block_ids.astype(np.uint64) + salt) * np.uint64(0xBF58476D1CE4E5B9)
    return (mixed >> np.uint64(40)) % np.uint64(1000) < np.uint64(HELD_OUT_SHARE * 1000)


def _split(block_ids: npt.NDArray[np.integer], seed: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    test = held_out_blocks(block_ids, seed)
    if test.all() or not test.any():
        # A small yard has few blocks: a seed can hold out all of them or none.
        which = "every" if test.all() else "no"
        raise AdapterInputError(f"split seed {seed} holds out {which} block of this yard; choose another seed")
    train = np.flatnonzero(~test)
    rng = np.random.default_rng(seed)
    if len(train) > MAX_TRAIN_ROWS:
        train = np.sort(rng.choice(train, MAX_TRAIN_ROWS, replace=False))
    return train, np.flatnonzero(test)


def _convert(model: Any, n_features: int, **options: Any) -> Any:
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    return convert_lightgbm(
        model, initial_types=[("features", FloatTensorType([None, n_features]))], target_opset=_OPSET, **options
    )


def _combine(
    parts: dict[str, Any], post: list[Any], outputs: dict[str, tuple[int, list[int | None]]], name: str
) -> Any:
    """One graph from several converted models that share the `features` input, plus post-processing nodes."""
    import onnx
    from onnx import TensorProto, helper

    nodes, initializers = [], []
    for prefix, model in parts.items():
        graph = model.graph
        rename = {t.name: f"{prefix}/{t.name}" for t in [*graph.initializer]}
        rename.update({o: f"{prefix}/{o}" for node in graph.node for o in node.output})
        for i, node in enumerate(graph.node):
            new = onnx.NodeProto()
            new.CopyFrom(node)
            new.name = f"{prefix}/{node.name or node.op_type}-{i}"
            new.ClearField("input")
            new.input.extend(rename.get(i, i) for i in node.input)
            new.ClearField("output")
            new.output.extend(rename[o] for o in node.output)
            nodes.append(new)
        for init in graph.initializer:
            copy = onnx.TensorProto()
            copy.CopyFrom(init)
            copy.name = rename[init.name]
            initializers.append(copy)
    n_features = parts[next(iter(parts))].graph.input[0].type.tensor_type.shape.dim[1].dim_value
    graph = helper.make_graph(
        nodes + post,
        name,
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info(out, dtype, shape) for out, (dtype, shape) in outputs.items()],
        initializer=initializers,
    )
    opsets: dict[str, int] = {"": _OPSET}
    for part in parts.values():
        for op in part.opset_import:
            opsets[op.domain] = max(opsets.get(op.domain, 0), op.version)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()], producer_name="shipbrain"
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _export(
    name: str,
    parts: dict[str, Any],
    post: list[Any],
    outputs: dict[str, list[int | None]],
    *,
    graph: PartGraph,
    out_dir: Path,
    version: str,
    features: tuple[str, ...],
    rows: tuple[int, int],
    params: dict[str, Any],
    metrics: dict[str, float],
    file_stem: str | None = None,
) -> ModelCard:
    """Merge the trained parts into one float32 graph, write it with its model card."""
    from onnx import TensorProto

    model = _combine(parts, post, {out: (TensorProto.FLOAT, shape) for out, shape in outputs.items()}, name)
    card = {
        "name": name,
        "version": version,
        "features": list(features),
        "inputs": {"features": f"FP32 [-1, {len(features)}]"},
        "outputs": {
            out: "FP32 [" + ", ".join("-1" if d is None else str(d) for d in shape) + "]"
            for out, shape in outputs.items()
        },
        "training_yard": _yard_info(graph),
        "rows": {"train": rows[0], "held_out": rows[1]},
        "params": params,
        "metrics": metrics,
    }
    return _write(model, card, out_dir, file_stem or name)


def _write(model: Any, card_fields: dict[str, Any], out_dir: Path, stem: str) -> ModelCard:
    out_dir.mkdir(parents=True, exist_ok=True)
    data = model.SerializeToString()
    (out_dir / f"{stem}.onnx").write_bytes(data)
    card = ModelCard(onnx_file=f"{stem}.onnx", onnx_sha256=hashlib.sha256(data).hexdigest(), **card_fields)
    (out_dir / f"{stem}.card.json").write_text(card.model_dump_json(indent=2) + "\n")
    return card


def _yard_info(graph: PartGraph) -> dict[str, Any]:
    m = graph.manifest
    return {"seed": m.seed, "parts": m.parts, "generator_version": m.generator_version}


def _auc(labels: npt.NDArray[np.bool_], scores: npt.NDArray[np.floating]) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


def train_welding(
    graph: PartGraph,
    out_dir: Path = MODELS_DIR,
    *,
    version: str = "1",
    seed: int = 0,
    params: ParamOverrides | None = None,
    file_stem: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> ModelCard:
    """Train the welding model (hours: LightGBM on log hours; defects: LightGBM classifier) and export it.

    Args:
        graph: The yard whose recorded actuals to learn from.
        out_dir: Folder for the ONNX file and its card.
        version: Version stamped on the card.
        seed: Seed of the train/held-out split and of the learners.
        params: Overrides of the `hours` and `defect` learners' hyper-parameters (kept in the card).
        file_stem: File name without extension (default `welding`; `welding-2` for a second version).
        progress: Called with the name of each step.
    """
    import lightgbm as lgb
    from onnx import TensorProto, helper

    step = progress or (lambda _name: None)
    step("welding: features")
    joints = WeldingAdapter.yard_rows(graph).combine_chunks()
    x = encode_joints(joints)
    hours = graph.table("joints", ["actual_hours"]).column(0).to_numpy().astype(np.float64)
    defect = graph.table("joints", ["defect"]).column(0).to_numpy(zero_copy_only=False).astype(np.int64)
    train, test = _split(joints.column("block_id").to_numpy(), seed)
    params_h: dict[str, Any] = {
        "n_estimators": 110,
        "num_leaves": 31,
        "learning_rate": 0.1,
        "min_child_samples": 50,
        **_DETERMINISTIC,
    }
    params_d: dict[str, Any] = {
        "n_estimators": 110,
        "num_leaves": 15,
        "learning_rate": 0.06,
        "min_child_samples": 200,
        **_DETERMINISTIC,
    }
    _with_overrides("welding", {"hours": params_h, "defect": params_d}, params)
    step("welding: training hours")
    reg = lgb.LGBMRegressor(**params_h, random_state=seed, n_jobs=2, verbose=-1).fit(x[train], np.log(hours[train]))
    step("welding: training defects")
    clf = lgb.LGBMClassifier(**params_d, random_state=seed, n_jobs=2, verbose=-1).fit(x[train], defect[train])

    step("welding: held-out metrics")
    pred_h = np.exp(np.asarray(reg.predict(x[test])))
    pred_d = np.asarray(clf.predict_proba(x[test]))[:, 1]
    found = _welding_metrics(joints, hours, defect, train, test, pred_h, pred_d)
    found |= _welding_noise_floor(graph, joints, hours, defect, test)
    metrics = {name: found[name] for name in _WELDING_METRICS if name in found}

    step("welding: export")
    post = [
        helper.make_node("Exp", ["hours/variable"], ["hours_2d"]),
        helper.make_node("Constant", [], ["flat"], value=helper.make_tensor("flat", TensorProto.INT64, [1], [-1])),
        helper.make_node("Reshape", ["hours_2d", "flat"], ["hours"]),
        helper.make_node("Constant", [], ["one"], value=helper.make_tensor("one", TensorProto.INT64, [], [1])),
        helper.make_node("Gather", ["defect/probabilities", "one"], ["defect_probability"], axis=1),
    ]
    return _export(
        "welding",
        {"hours": _convert(reg, x.shape[1]), "defect": _convert(clf, x.shape[1], zipmap=False)},
        post,
        {"hours": [None], "defect_probability": [None]},
        graph=graph,
        out_dir=out_dir,
        version=version,
        features=WELD_FEATURES,
        rows=(len(train), len(test)),
        params={"hours": params_h, "defect": params_d, "split_seed": seed},
        metrics=metrics,
        file_stem=file_stem,
    )


def _welding_metrics(
    joints: pa.Table,
    hours: F64,
    defect: npt.NDArray[np.int64],
    train: npt.NDArray[np.int64],
    test: npt.NDArray[np.int64],
    pred_h: F64,
    pred_d: F64,
) -> dict[str, float]:
    """Held-out MAE and AUC beside the baseline: mean hours per process, position and thickness band."""
    process = category_codes(joints.column("process"), PROCESSES).astype(np.int64)
    position = category_codes(joints.column("position"), POSITIONS).astype(np.int64)
    thickness = np.asarray(joints.column("thickness_mm").to_numpy(), dtype=np.float32)
    band = np.digitize(thickness, [8, 12, 16, 20])
    key = (process * 8 + position) * 5 + band
    sums = np.bincount(key[train], weights=hours[train], minlength=key.max() + 1)
    counts = np.bincount(key[train], minlength=key.max() + 1)
    baseline = np.where(counts > 0, sums / np.maximum(counts, 1), hours[train].mean())[key[test]]
    mae = float(np.mean(np.abs(pred_h - hours[test])))
    mae_base = float(np.mean(np.abs(baseline - hours[test])))
    return {
        "hours_mae": mae,
        "hours_mae_baseline": mae_base,
        "hours_mae_improvement": 1.0 - mae / mae_base,
        "defect_auc": _auc(defect[test].astype(bool), pred_d),
        "defect_rate": float(defect[test].mean()),
        "defect_predicted_rate": float(pred_d.mean()),
    }


def _welding_noise_floor(
    graph: PartGraph, joints: pa.Table, hours: F64, defect: npt.NDArray[np.int64], test: npt.NDArray[np.int64]
) -> dict[str, float]:
    """The held-out error of the yard's own ground truth, if the yard knows it: the floor no model can beat."""
    if GROUND_TRUTH_TABLE not in graph.manifest.tables:
        return {}
    truth = graph.table(GROUND_TRUTH_TABLE, ["joint_id", "expected_hours", "defect_logit"])
    ids = np.asarray(truth.column("joint_id").to_numpy(), dtype=np.int64)
    wanted = np.asarray(joints.column("joint_id").to_numpy(), dtype=np.int64)
    at = np.searchsorted(ids, wanted)
    if not np.array_equal(ids[np.minimum(at, len(ids) - 1)], wanted):
        raise AdapterInputError(f"the yard's {GROUND_TRUTH_TABLE!r} table does not cover every joint")
    expected = np.asarray(truth.column("expected_hours").to_numpy(), dtype=np.float64)[at]
    logit = np.asarray(truth.column("defect_logit").to_numpy(), dtype=np.float64)[at]
    return {
        "hours_mae_ground_truth": float(np.mean(np.abs(expected[test] - hours[test]))),
        "defect_auc_ground_truth": _auc(defect[test].astype(bool), logit[test]),
    }


def train_outfitting(
    graph: PartGraph,
    out_dir: Path = MODELS_DIR,
    *,
    version: str = "1",
    seed: int = 0,
    params: ParamOverrides | None = None,
    file_stem: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> ModelCard:
    """Train the outfitting model (stage: 3-class LightGBM; rework: LightGBM classifier) and export it.

    Arguments as `train_welding`; `params` overrides the `stage` and `rework` learners.
    """
    import lightgbm as lgb
    from onnx import TensorProto, helper

    step = progress or (lambda _name: None)
    step("outfitting: features")
    items = OutfittingAdapter.yard_rows(graph).combine_chunks()
    x = encode_items(items)
    table = graph.table("outfitting_items", ["stage", "rework"])
    stage_names = table.column("stage").cast("string").to_numpy(zero_copy_only=False)
    stage = np.select([stage_names == "on-unit", stage_names == "on-block"], [0, 1], 2).astype(np.int64)
    rework = table.column("rework").to_numpy(zero_copy_only=False).astype(np.int64)
    train, test = _split(items.column("block_id").to_numpy(), seed)
    params_s: dict[str, Any] = {
        "n_estimators": 80,
        "num_leaves": 31,
        "learning_rate": 0.1,
        "min_child_samples": 50,
        **_DETERMINISTIC,
    }
    params_r: dict[str, Any] = {
        "n_estimators": 80,
        "num_leaves": 15,
        "learning_rate": 0.06,
        "min_child_samples": 100,
        **_DETERMINISTIC,
    }
    _with_overrides("outfitting", {"stage": params_s, "rework": params_r}, params)
    step("outfitting: training stage")
    clf_s = lgb.LGBMClassifier(**params_s, random_state=seed, n_jobs=2, verbose=-1).fit(x[train], stage[train])
    step("outfitting: training rework")
    clf_r = lgb.LGBMClassifier(**params_r, random_state=seed, n_jobs=2, verbose=-1).fit(x[train], rework[train])

    kinds = x[:, 0].astype(np.int64)
    majority = np.array([np.bincount(stage[train][kinds[train] == k], minlength=3).argmax() for k in range(4)])
    pred_s = np.asarray(clf_s.predict_proba(x[test])).argmax(axis=1)
    metrics = {
        "stage_accuracy": float((pred_s == stage[test]).mean()),
        "stage_accuracy_baseline": float((majority[kinds[test]] == stage[test]).mean()),
        "rework_auc": _auc(rework[test].astype(bool), np.asarray(clf_r.predict_proba(x[test]))[:, 1]),
        "rework_rate": float(rework[test].mean()),
    }
    step("outfitting: export")
    post = [
        helper.make_node("Identity", ["stage/probabilities"], ["stage_probabilities"]),
        helper.make_node("Constant", [], ["one"], value=helper.make_tensor("one", TensorProto.INT64, [], [1])),
        helper.make_node("Gather", ["rework/probabilities", "one"], ["rework_probability"], axis=1),
    ]
    return _export(
        "outfitting",
        {"stage": _convert(clf_s, x.shape[1], zipmap=False), "rework": _convert(clf_r, x.shape[1], zipmap=False)},
        post,
        {"stage_probabilities": [None, 3], "rework_probability": [None]},
        graph=graph,
        out_dir=out_dir,
        version=version,
        features=OUTFITTING_FEATURES,
        rows=(len(train), len(test)),
        params={"stage": params_s, "rework": params_r, "split_seed": seed},
        metrics=metrics,
        file_stem=file_stem,
    )
