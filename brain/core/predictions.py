"""The yard's models over a set of joints or outfitting items, always through the batch executor.

Rows come from the yard's role tables through the model adapters' `yard_rows` (ascending by node, with `node` and
`block` columns), predictions from the registered `welding` and `outfitting` models through `YardContext.executor`
(in-process for small sets, Ray for large ones or when `RAY_ADDRESS` is set), so the brain's tools and the workflows
score the same rows the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from brain.core.cache import take_rows
from knowledge.errors import InputError
from knowledge.words import with_article

if TYPE_CHECKING:
    from brain.core.context import YardContext

__all__ = ["ItemPredictions", "JointPredictions", "predict_items", "predict_joints", "take_rows"]


@dataclass(frozen=True)
class JointPredictions:
    """The welding model over some joints: their input rows (ascending `node`) and one prediction per row."""

    rows: pa.Table
    predicted: pa.Table
    model_version: str

    @property
    def joint_ids(self) -> npt.NDArray[np.int64]:
        """The joints' nodes, ascending."""
        return np.asarray(self.rows.column("node").to_numpy(), dtype=np.int64)

    @property
    def hours(self) -> npt.NDArray[np.float64]:
        """Predicted welding hours per joint."""
        return np.asarray(self.predicted.column("hours").to_numpy(), dtype=np.float64)

    @property
    def defect_probability(self) -> npt.NDArray[np.float64]:
        """Predicted probability that NDT finds a defect, per joint."""
        return np.asarray(self.predicted.column("defect_probability").to_numpy(), dtype=np.float64)


@dataclass(frozen=True)
class ItemPredictions:
    """The outfitting model over some items: their input rows (ascending `node`) and one prediction per row."""

    rows: pa.Table
    predicted: pa.Table
    model_version: str

    @property
    def item_ids(self) -> npt.NDArray[np.int64]:
        """The items' nodes, ascending."""
        return np.asarray(self.rows.column("node").to_numpy(), dtype=np.int64)

    @property
    def rework_probability(self) -> npt.NDArray[np.float64]:
        """Predicted probability that an item is reworked."""
        return np.asarray(self.predicted.column("rework_probability").to_numpy(), dtype=np.float64)

    def expected_hours(self, norm_hours: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Each item's norm hours raised by its rework risk: a reworked item is fitted twice."""
        return np.asarray(norm_hours, dtype=np.float64) * (1 + self.rework_probability)

    @property
    def stage(self) -> list[str]:
        """Predicted installation stage per item."""
        return [str(s) for s in self.predicted.column("stage").to_pylist()]


def _unique(ids: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """`np.unique(ids)` as int64, in one pass when they are ascending already (a scope's joints or items)."""
    arr = np.asarray(ids, dtype=np.int64).ravel()
    if np.all(arr[1:] > arr[:-1]):
        return arr
    return np.unique(arr)


def _checked(ctx: YardContext, role: str, ids: npt.ArrayLike, what: str) -> npt.NDArray[np.int64]:
    """Unique ascending nodes of `role`; an `InputError` when there are none or one is of another role."""
    nodes = _unique(ids)
    if not len(nodes):
        raise InputError(f"no {what} to score")
    rows = ctx.yard.role_rows(role, nodes)
    if np.any(rows < 0):
        bad = int(nodes[np.flatnonzero(rows < 0)[0]])
        raise InputError(
            f"{ctx.yard.code_of(bad)} is {with_article(ctx.yard.kind_of(bad))}, not one of the yard's {what}"
        )
    return nodes


def predict_joints(ctx: YardContext, joint_ids: npt.ArrayLike) -> JointPredictions:
    """The welding model over some joints (nodes; an `InputError` when there are none)."""
    from adapters.welding import WeldingAdapter

    nodes = _checked(ctx, "joint", joint_ids, "weld joints")
    rows = WeldingAdapter.yard_rows(ctx.yard, nodes)
    version = ctx.registry.get("welding").spec.version
    return JointPredictions(rows, _predict(ctx, "welding", "joint", rows), version)


def predict_items(ctx: YardContext, item_ids: npt.ArrayLike) -> ItemPredictions:
    """The outfitting model over some items (nodes; an `InputError` when there are none)."""
    from adapters.outfitting import OutfittingAdapter

    nodes = _checked(ctx, "outfitting_item", item_ids, "outfitting items")
    rows = OutfittingAdapter.yard_rows(ctx.yard, nodes)
    version = ctx.registry.get("outfitting").spec.version
    return ItemPredictions(rows, _predict(ctx, "outfitting", "outfitting_item", rows), version)


def _predict(ctx: YardContext, model: str, role: str, rows: pa.Table) -> pa.Table:
    """The model over `rows`: read from the yard's kept predictions when they were computed, else through the executor.

    Kept predictions hold one row per node of the role, in node order: a node's row is `yard.role_rows(role, nodes)`.
    """
    kept = ctx.cached_predictions(model)
    if kept is not None and kept.num_rows == ctx.yard.count(role):
        nodes = np.asarray(rows.column("node").to_numpy(), dtype=np.int64)
        return take_rows(kept, ctx.yard.role_rows(role, nodes))
    return ctx.executor.run(model, rows)
