"""Train the reference models on an imported yard's recorded actuals and export them to ONNX.

Labels come from the yard's actuals (`YardStore.actuals`), joined to the model's rows by node: a joint's booked
`hours` and its NDT `defect`; an item's `rework`, and its `stage` (the outfitting_item field: where it was
fitted). A real yard has actuals for part of its ship: rows without a label are left out of training (each learner
learns from the rows that have its label), and a yard with too few labelled rows gets an `UntrainableError` that
says what is missing. Rows are split by block node (a seeded hash), so the held-out score measures how the models
do on blocks they never saw. Each model ships as one ONNX graph plus a model card (JSON) with its features,
training yard, rows, held-out metrics and baselines. When the yard knows its own ground truth (a simulated yard's
actuals give each joint's `expected_hours` and `defect_logit` before the welder's effect and noise), the welding
card also gives the noise floor it allows (`hours_mae_ground_truth`, `defect_auc_ground_truth`); a yard without
it gives none.

The outfitting model's two heads (stage and rework) are one graph: a yard that records no item rework, or gives
no item stage (the bulk carrier sample), cannot train it, and says so (`shipbrain models train` then trains the
welding model alone).
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
from adapters.outfitting import ITEM_KINDS, OUTFITTING_FEATURES, STAGES, OutfittingAdapter, encode_items
from adapters.schema import category_codes
from adapters.welding import POSITIONS, PROCESSES, WELD_FEATURES, WeldingAdapter, encode_joints
from knowledge.store import YardStore
from knowledge.yardformat.fields import ACTUALS

__all__ = [
    "CHANCE_AUC",
    "MIN_LABELLED_ROWS",
    "ParamOverrides",
    "UntrainableError",
    "below_chance",
    "held_out_blocks",
    "train_outfitting",
    "train_welding",
]

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

MIN_LABELLED_ROWS: Final = 200
"""Fewest labelled rows a learner trains on (fewer: `UntrainableError`)."""


CHANCE_AUC: Final = 0.5
"""The AUC of a coin toss: a model below it ranks the held-out rows worse than chance."""


def below_chance(card: ModelCard) -> list[str]:
    """A warning for each of a trained model's held-out AUCs below chance (`CHANCE_AUC`), naming model and metric.

    Such a model ranks the rows backwards: its labels may be inverted (a value map of `defect` or `rework` the wrong
    way round), too few, or not what its features predict. A ground truth's own AUC (`*_ground_truth`) is the yard's,
    not the model's, and is left out.
    """
    return [
        f"model {card.name} {card.version}: held-out {metric} {value:.3f} is below chance ({CHANCE_AUC}): it ranks "
        "rows worse than a coin toss; check the labels' value map in [columns.actuals] and how many rows have them "
        "before serving it"
        for metric, value in card.metrics.items()
        if metric.endswith("_auc") and value < CHANCE_AUC
    ]


class UntrainableError(AdapterInputError):
    """The yard cannot train this model: a field or label it needs is missing, or too few rows have labels."""


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


def held_out_blocks(blocks: npt.NDArray[np.integer], seed: int) -> npt.NDArray[np.bool_]:
    """Whether each block node is held out: a seeded hash, so the split is stable and by block."""
    salt = np.uint64(seed * 0x9E3779B97F4A7C15 % 2**64)
    mixed = (blocks.astype(np.int64).astype(np.uint64) + salt) * np.uint64(0xBF58476D1CE4E5B9)
    return (mixed >> np.uint64(40)) % np.uint64(1000) < np.uint64(HELD_OUT_SHARE * 1000)


def _split(
    blocks: npt.NDArray[np.integer], labelled: npt.NDArray[np.bool_], seed: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Train and held-out row indices among the `labelled` rows, by each row's block node."""
    test = held_out_blocks(blocks, seed)
    if test[labelled].all() or not test[labelled].any():
        # A small yard (or a yard with actuals for a few blocks) has few blocks: a seed can hold out all or none.
        which = "every" if test[labelled].all() else "no"
        raise AdapterInputError(
            f"split seed {seed} holds out {which} block of this yard's labelled rows; choose another seed"
        )
    train = np.flatnonzero(labelled & ~test)
    rng = np.random.default_rng(seed)
    if len(train) > MAX_TRAIN_ROWS:
        train = np.sort(rng.choice(train, MAX_TRAIN_ROWS, replace=False))
    return train, np.flatnonzero(labelled & test)


def _labels(yard: YardStore, nodes: npt.NDArray[np.int32], fields: list[str]) -> dict[str, F64]:
    """Each actuals field for each node (NaN where the yard recorded nothing; booleans as 0/1)."""
    table = yard.actuals(fields)
    out = {f: np.full(len(nodes), np.nan) for f in fields}
    if table is None or not table.num_rows:
        return out
    recorded = np.asarray(table.column("node").to_numpy(), dtype=np.int64)
    order = np.argsort(recorded, kind="stable")
    recorded = recorded[order]
    at = np.minimum(np.searchsorted(recorded, nodes), len(recorded) - 1)
    has = recorded[at] == nodes
    for f in fields:
        column = table.column(f)
        values = np.asarray(column.cast("double").fill_null(np.nan).to_numpy(), dtype=np.float64)[order]
        out[f][has] = values[at[has]]
    return out


def _enough(model: str, what: str, labelled: int, total: int, how: str) -> None:
    if labelled < MIN_LABELLED_ROWS:
        raise UntrainableError(
            f"{model}: too few labelled rows to train on: {labelled:,} of the yard's {total:,} {what} "
            f"(at least {MIN_LABELLED_ROWS} needed); {how}"
        )


def _both_classes(model: str, label: str, y: npt.NDArray[np.int64], *parts: npt.NDArray[np.int64]) -> None:
    for name, rows in zip(("training", "held-out"), parts, strict=True):
        if len(np.unique(y[rows])) < 2:
            raise UntrainableError(
                f"{model}: the {name} rows' recorded {label} are all {int(y[rows][0]) if len(rows) else 'absent'}: "
                "a classifier needs both outcomes (more actuals, or another split seed)"
            )


def _untrainable(model: str, exc: Exception) -> UntrainableError:
    return UntrainableError(f"{model} cannot be trained on this yard: {exc}")


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
    yard: YardStore,
    out_dir: Path,
    version: str,
    features: tuple[str, ...],
    rows: dict[str, int],
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
        "training_yard": _yard_info(yard),
        "rows": rows,
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


def _yard_info(yard: YardStore) -> dict[str, Any]:
    """The training yard: its name, its size and the digest of what its store holds (the same for its re-imports)."""
    from knowledge.importer import store_digest

    return {"name": yard.name, "nodes": yard.num_nodes, "digest": store_digest(yard.path)}


def _auc(labels: npt.NDArray[np.bool_], scores: npt.NDArray[np.floating]) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


def train_welding(
    yard: YardStore,
    out_dir: Path = MODELS_DIR,
    *,
    version: str = "1",
    seed: int = 0,
    params: ParamOverrides | None = None,
    file_stem: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> ModelCard:
    """Train the welding model (hours: LightGBM on log hours; defects: LightGBM classifier) and export it.

    The hours learner learns from the joints whose actuals book hours, the defect learner from those whose NDT
    result is recorded (a yard inspects a sample); other joints are left out.

    Args:
        yard: The imported yard whose recorded actuals to learn from.
        out_dir: Folder for the ONNX file and its card.
        version: Version stamped on the card.
        seed: Seed of the train/held-out split and of the learners.
        params: Overrides of the `hours` and `defect` learners' hyper-parameters (kept in the card).
        file_stem: File name without extension (default `welding`; `welding-2` for a second version).
        progress: Called with the name of each step.

    Raises:
        UntrainableError: the yard gives no joints, not the fields the model reads, no actuals `hours` or
            `defect`, or too few joints with them (`MIN_LABELLED_ROWS`; both outcomes of NDT needed).
        AdapterInputError: the split seed holds out every block or none.
    """
    import lightgbm as lgb
    from onnx import TensorProto, helper

    from knowledge.errors import MissingFieldError

    step = progress or (lambda _name: None)
    step("welding: features")
    try:
        joints = WeldingAdapter.yard_rows(yard).combine_chunks()
        yard.require(ACTUALS, ["hours", "defect"], "training the welding model (its labels)")
    except MissingFieldError as exc:
        raise _untrainable("welding", exc) from exc
    nodes = joints.column("node").to_numpy()
    truth = [f for f in ("expected_hours", "defect_logit") if f in yard.fields(ACTUALS)]
    labels = _labels(yard, nodes, ["hours", "defect", *truth])
    hours = labels["hours"]
    timed = np.isfinite(hours) & (hours > 0)
    inspected = np.isfinite(labels["defect"])
    how = "record more of the yard's actuals (hours booked, NDT results)"
    _enough("welding", "joints with booked hours", int(timed.sum()), len(nodes), how)
    _enough("welding", "joints with an NDT result", int(inspected.sum()), len(nodes), how)
    defect = np.nan_to_num(labels["defect"]).astype(np.int64)
    blocks = joints.column("block").to_numpy()
    train, test = _split(blocks, timed, seed)
    train_d, test_d = _split(blocks, inspected, seed)
    _both_classes("welding", "NDT results", defect, train_d, test_d)
    x = encode_joints(joints)
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
    clf = lgb.LGBMClassifier(**params_d, random_state=seed, n_jobs=2, verbose=-1).fit(x[train_d], defect[train_d])

    step("welding: held-out metrics")
    pred_h = np.exp(np.asarray(reg.predict(x[test])))
    pred_d = np.asarray(clf.predict_proba(x[test_d]))[:, 1]
    found = _welding_metrics(joints, hours, defect, (train, test), test_d, pred_h, pred_d)
    found |= _welding_noise_floor(labels, defect, test, test_d)
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
        yard=yard,
        out_dir=out_dir,
        version=version,
        features=WELD_FEATURES,
        rows={
            "train": len(train),
            "held_out": len(test),
            "defect_train": len(train_d),
            "defect_held_out": len(test_d),
            "unlabelled": int((~(timed | inspected)).sum()),
        },
        params={"hours": params_h, "defect": params_d, "split_seed": seed},
        metrics=metrics,
        file_stem=file_stem,
    )


def _welding_metrics(
    joints: pa.Table,
    hours: F64,
    defect: npt.NDArray[np.int64],
    hours_split: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
    test_d: npt.NDArray[np.int64],
    pred_h: F64,
    pred_d: F64,
) -> dict[str, float]:
    """Held-out MAE and AUC beside the baseline: mean hours per process, position and thickness band."""
    train, test = hours_split
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
        "defect_auc": _auc(defect[test_d].astype(bool), pred_d),
        "defect_rate": float(defect[test_d].mean()),
        "defect_predicted_rate": float(pred_d.mean()),
    }


def _welding_noise_floor(
    labels: dict[str, F64], defect: npt.NDArray[np.int64], test: npt.NDArray[np.int64], test_d: npt.NDArray[np.int64]
) -> dict[str, float]:
    """The held-out error of the yard's own ground truth, if its actuals give it: the floor no model can beat.

    Each floor is given only when the ground truth covers every held-out row it is measured on.
    """
    out: dict[str, float] = {}
    expected = labels.get("expected_hours")
    if expected is not None and np.isfinite(expected[test]).all():
        out["hours_mae_ground_truth"] = float(np.mean(np.abs(expected[test] - labels["hours"][test])))
    logit = labels.get("defect_logit")
    if logit is not None and np.isfinite(logit[test_d]).all():
        out["defect_auc_ground_truth"] = _auc(defect[test_d].astype(bool), logit[test_d])
    return out


def train_outfitting(
    yard: YardStore,
    out_dir: Path = MODELS_DIR,
    *,
    version: str = "1",
    seed: int = 0,
    params: ParamOverrides | None = None,
    file_stem: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> ModelCard:
    """Train the outfitting model (stage: 3-class LightGBM; rework: LightGBM classifier) and export it.

    Arguments as `train_welding`; `params` overrides the `stage` and `rework` learners. Labels: each item's
    `stage` field (where it was fitted) and its recorded `rework` (actuals); items without both are left out.

    Raises:
        UntrainableError: the yard gives no outfitting items, not the fields the model reads, no item `stage`
            or actuals `rework`, or too few items with both (`MIN_LABELLED_ROWS`).
        AdapterInputError: the split seed holds out every block or none.
    """
    import lightgbm as lgb
    from onnx import TensorProto, helper

    from knowledge.errors import MissingFieldError

    step = progress or (lambda _name: None)
    step("outfitting: features")
    try:
        items = OutfittingAdapter.yard_rows(yard).combine_chunks()
    except MissingFieldError as exc:
        raise _untrainable("outfitting", exc) from exc
    nodes = items.column("node").to_numpy()
    problems = []
    for section, field, what in (("outfitting_item", "stage", "stage"), (ACTUALS, "rework", "rework")):
        try:
            yard.require(section, [field], f"training the outfitting model (its {what} labels)")
        except MissingFieldError as exc:
            problems.append(str(exc))
    recorded = _labels(yard, nodes, ["rework"])["rework"] if "rework" in yard.fields(ACTUALS) else None
    if recorded is not None and np.isfinite(recorded).sum() < MIN_LABELLED_ROWS:
        problems.append(
            f"its actuals record the rework of {int(np.isfinite(recorded).sum()):,} of its {len(nodes):,} "
            f"outfitting items (at least {MIN_LABELLED_ROWS} needed)"
        )
    if problems:
        raise UntrainableError("outfitting cannot be trained on this yard: " + "; ".join(problems))
    assert recorded is not None
    # every item, in node order: the rows of `items`
    stage_names = np.asarray(yard.role_table("outfitting_item", ["stage"]).column("stage").to_pylist(), dtype=object)
    staged = np.isin(stage_names, STAGES)
    stage = np.select([stage_names == "on-unit", stage_names == "on-block"], [0, 1], 2).astype(np.int64)
    labelled = staged & np.isfinite(recorded)
    _enough(
        "outfitting",
        "outfitting items with a stage and recorded rework",
        int(labelled.sum()),
        len(nodes),
        "the yard's actuals must record each item's rework (and its items their stage)",
    )
    rework = np.nan_to_num(recorded).astype(np.int64)
    train, test = _split(items.column("block").to_numpy(), labelled, seed)
    _both_classes("outfitting", "rework", rework, train, test)
    x = encode_items(items)
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
    majority = np.array(
        [np.bincount(stage[train][kinds[train] == k], minlength=3).argmax() for k in range(len(ITEM_KINDS))]
    )
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
        yard=yard,
        out_dir=out_dir,
        version=version,
        features=OUTFITTING_FEATURES,
        rows={"train": len(train), "held_out": len(test), "unlabelled": int((~labelled).sum())},
        params={"stage": params_s, "rework": params_r, "split_seed": seed},
        metrics=metrics,
        file_stem=file_stem,
    )
