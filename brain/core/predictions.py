"""The yard's models over a set of joints or outfitting items, always through the batch executor.

Rows come from the yard's tables (ascending by node id), predictions from the registered `welding` and
`outfitting` models through `YardContext.executor` (in-process for small sets, Ray for large ones or when
`RAY_ADDRESS` is set), so the brain's tools and the workflows score the same rows the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from brain.core.cache import take_rows
from knowledge.errors import InputError
from knowledge.layout import NODE_KINDS, NodeKind

if TYPE_CHECKING:
    from brain.core.context import YardContext

__all__ = ["ItemPredictions", "JointPredictions", "predict_items", "predict_joints", "take_rows"]


@dataclass(frozen=True)
class JointPredictions:
    """The welding model over some joints: their input rows (ascending `joint_id`) and one prediction per row."""

    rows: pa.Table
    predicted: pa.Table
    model_version: str

    @property
    def joint_ids(self) -> npt.NDArray[np.int64]:
        """The joints' node ids, ascending."""
        return np.asarray(self.rows.column("joint_id").to_numpy(), dtype=np.int64)

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
    """The outfitting model over some items: their input rows (ascending `item_id`) and one prediction per row."""

    rows: pa.Table
    predicted: pa.Table
    model_version: str

    @property
    def item_ids(self) -> npt.NDArray[np.int64]:
        """The items' node ids, ascending."""
        return np.asarray(self.rows.column("item_id").to_numpy(), dtype=np.int64)

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


def _rows_of(table: pa.Table, key: str, ids: npt.NDArray[np.int64]) -> pa.Table:
    """The rows of `table` whose `key` is one of `ids` (ascending, unique), ascending by `key`."""
    found = np.asarray(table.column(key).to_numpy(), dtype=np.int64)
    if np.array_equal(found, ids):  # a whole block asked for: its rows, already in order (no filter, no sort)
        return table
    kept = table.filter(pc.is_in(table.column(key), value_set=pa.array(ids, type=table.schema.field(key).type)))
    return kept.sort_by(key)


def _unique(ids: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """`np.unique(ids)` as int64, in one pass when they are ascending already (a scope's joints or items)."""
    arr = np.asarray(ids, dtype=np.int64)
    if arr.ndim == 1 and np.all(arr[1:] > arr[:-1]):
        return arr
    return np.unique(arr)


def _blocks_of(ctx: YardContext, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The blocks (indices) of ascending node ids of one kind, each once, ascending."""
    blocks = ctx.graph.layout.block_index_of(ids)
    return blocks[np.concatenate(([True], blocks[1:] != blocks[:-1]))] if len(blocks) else blocks


def predict_joints(ctx: YardContext, joint_ids: npt.ArrayLike) -> JointPredictions:
    """The welding model over some joints (an `InputError` when there are none)."""
    from adapters.welding import WeldingAdapter

    ids = _unique(joint_ids)
    if not len(ids):
        raise InputError("no weld joints to score")
    rows = _rows_of(WeldingAdapter.yard_rows(ctx.graph, _blocks_of(ctx, ids)), "joint_id", ids)
    version = ctx.registry.get("welding").spec.version
    return JointPredictions(rows, _predict(ctx, "welding", "joint", rows, "joint_id"), version)


def predict_items(ctx: YardContext, item_ids: npt.ArrayLike) -> ItemPredictions:
    """The outfitting model over some items (an `InputError` when there are none)."""
    from adapters.outfitting import OutfittingAdapter

    ids = _unique(item_ids)
    if not len(ids):
        raise InputError("no outfitting items to score")
    rows = _rows_of(OutfittingAdapter.yard_rows(ctx.graph, _blocks_of(ctx, ids)), "item_id", ids)
    version = ctx.registry.get("outfitting").spec.version
    return ItemPredictions(rows, _predict(ctx, "outfitting", "outfitting_item", rows, "item_id"), version)


def _predict(ctx: YardContext, model: str, kind: NodeKind, rows: pa.Table, key: str) -> pa.Table:
    """The model over `rows`: read from the yard's kept predictions when they were computed, else through the executor.

    Kept predictions hold one row per node of the kind, in id order, so a node's row is its id less the kind's first.
    """
    kept = ctx.cached_predictions(model)
    if kept is not None and kept.num_rows == ctx.graph.counts[kind]:
        first = int(ctx.graph.layout.kind_start[NODE_KINDS.index(kind)])
        return take_rows(kept, np.asarray(rows.column(key).to_numpy(), dtype=np.int64) - first)
    return ctx.executor.run(model, rows)
