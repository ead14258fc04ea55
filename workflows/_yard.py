"""What the workflows share about a yard: codes checked against a request field, work packages, model predictions."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from knowledge.errors import InputError
from knowledge.layout import NODE_KINDS, NodeKind
from knowledge.partgraph import PartGraph
from knowledge.synthetic.vocabulary import TRADES
from workflows.errors import WorkflowInputError

if TYPE_CHECKING:
    from workflows.base import WorkflowContext

__all__ = ["TRADE_OF_KIND", "YardIndex", "predict_items", "predict_joints", "resolve"]

IdArray = npt.NDArray[np.int32]

TRADE_OF_KIND: Final[dict[str, str]] = {"part": "PNL", "sub_assembly": "PNL", "assembly": "ASM", "block": "ERE"}
"""The work package trade that makes each hull node; joints and outfitting items name theirs in their tables."""


def resolve(graph: PartGraph, code: str, field: str, kinds: Iterable[NodeKind] | None = None) -> int:
    """The node id of `code`, or a `WorkflowInputError` naming `field` when it is unknown or of the wrong kind."""
    try:
        node = graph.id_of(code.strip().upper())
    except InputError as exc:
        raise WorkflowInputError(str(exc), field=field) from None
    wanted = tuple(kinds or ())
    if wanted and graph.kind_of(node) not in wanted:
        words = [k.replace("_", "-") for k in wanted]
        names = words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"
        kind = graph.kind_of(node).replace("_", " ")
        article = "an" if kind[0] in "aeiou" else "a"
        raise WorkflowInputError(f"{code!r} is {article} {kind}; give a {names} code", field=field)
    return node


class YardIndex:
    """The yard's work packages (rows of its `work_packages` table) and the work package of every node."""

    def __init__(self, graph: PartGraph) -> None:
        self.graph = graph
        wp = graph.table(
            "work_packages", ["work_package_id", "code", "block_id", "trade", "crew", "estimated_hours"]
        ).to_pydict()
        self.codes: list[str] = wp["code"]
        self.row_of: dict[str, int] = {c: i for i, c in enumerate(self.codes)}
        self.block: npt.NDArray[np.int64] = np.asarray(wp["block_id"], dtype=np.int64)
        self.trade: list[str] = [str(t) for t in wp["trade"]]
        self.crew: npt.NDArray[np.int64] = np.maximum(np.asarray(wp["crew"], dtype=np.int64), 1)
        self.estimated_hours: npt.NDArray[np.float64] = np.asarray(wp["estimated_hours"], dtype=np.float64)
        id_to_row = np.full(max(wp["work_package_id"], default=0) + 1, -1, dtype=np.int64)
        id_to_row[np.asarray(wp["work_package_id"], dtype=np.int64)] = np.arange(len(self.codes))
        blocks = graph.counts["block"]
        self.by_block_trade = np.full((blocks, len(TRADES)), -1, dtype=np.int64)
        self.by_block_trade[self.block, [TRADES.index(t) for t in self.trade]] = np.arange(len(self.codes))
        self._member_wp: dict[str, npt.NDArray[np.int64]] = {}
        self._norm_hours: dict[str, npt.NDArray[np.float64]] = {}
        members: tuple[tuple[NodeKind, str, str], ...] = (
            ("joint", "joints", "joint_id"),
            ("outfitting_item", "outfitting_items", "item_id"),
        )
        for kind, table, key in members:
            t = graph.table(table, [key, "work_package_id", "norm_hours"])
            local = t.column(key).to_numpy() - int(graph.layout.kind_start[NODE_KINDS.index(kind)])
            rows = np.full(graph.counts[kind], -1, dtype=np.int64)
            rows[local] = id_to_row[t.column("work_package_id").to_numpy()]
            self._member_wp[kind] = rows
            norm = np.zeros(graph.counts[kind], dtype=np.float64)
            norm[local] = t.column("norm_hours").to_numpy()
            self._norm_hours[kind] = norm

    def work_package(self, code: str, field: str) -> int:
        """The table row of a work package code, or a `WorkflowInputError` naming `field`."""
        row = self.row_of.get(code.strip().upper())
        if row is None:
            raise WorkflowInputError(
                f"no work package {code!r} in this yard; codes look like {self.codes[0]!r}", field=field
            )
        return row

    def block_code(self, row: int) -> str:
        """The code of the block a work package belongs to."""
        return self.graph.layout.block_code(int(self.block[row]))

    def work_package_of(self, ids: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """The work package row of each node (parts and sub-assemblies: PNL, assemblies: ASM, blocks: ERE)."""
        ids = np.asarray(ids, dtype=np.int64)
        out = np.full(len(ids), -1, dtype=np.int64)
        kinds = self.graph.layout.kind_codes(ids)
        blocks = self.graph.layout.block_index_of(ids)
        for k, kind in enumerate(NODE_KINDS):
            mask = kinds == k
            if not mask.any():
                continue
            if kind in self._member_wp:
                out[mask] = self._member_wp[kind][ids[mask] - int(self.graph.layout.kind_start[k])]
            else:
                out[mask] = self.by_block_trade[blocks[mask], TRADES.index(TRADE_OF_KIND[kind])]
        return out

    def item_norm_hours(self, item_ids: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The planning-norm hours of some outfitting items."""
        start = int(self.graph.layout.kind_start[NODE_KINDS.index("outfitting_item")])
        return self._norm_hours["outfitting_item"][np.asarray(item_ids, dtype=np.int64) - start]

    @cached_property
    def _fixed_hours_per_node(self) -> npt.NDArray[np.float64]:
        n = len(self.codes)
        norms = sum(
            (np.bincount(self._member_wp[k], weights=self._norm_hours[k], minlength=n) for k in self._member_wp),
            start=np.zeros(n),
        )
        hull = self.work_package_of(np.arange(int(self.graph.layout.kind_start[NODE_KINDS.index("joint")])))
        nodes = np.bincount(hull[hull >= 0], minlength=n)
        nodes += sum((np.bincount(rows[rows >= 0], minlength=n) for rows in self._member_wp.values()), start=0)
        return np.maximum(self.estimated_hours - norms, 0.0) / np.maximum(nodes, 1)

    def fixed_hours_per_node(self) -> npt.NDArray[np.float64]:
        """Per work package, its hours that no model predicts, spread evenly over the nodes it makes.

        That is its estimate less the norm hours of its joints and items: part handling, fitting, erection set-up.
        """
        return self._fixed_hours_per_node

    def scope(self, row: int) -> IdArray:
        """Every node a work package makes, ascending."""
        g, trade = self.graph, self.trade[row]
        block = int(self.block[row])
        block_id = int(g.layout.kind_start[0]) + block
        pieces: list[npt.NDArray[Any]] = []
        if trade == "ERE":
            pieces.append(np.asarray([block_id]))
        elif trade in ("PNL", "ASM"):
            kinds: list[NodeKind] = ["part", "sub_assembly"] if trade == "PNL" else ["assembly"]
            pieces.append(g.members(block_id, kinds=kinds))
        for kind, rows in self._member_wp.items():
            start = int(g.layout.kind_start[NODE_KINDS.index(kind)])
            pieces.append(np.flatnonzero(rows == row) + start)
        out = np.concatenate(pieces).astype(np.int32)
        out.sort()
        return out


def predict_joints(ctx: WorkflowContext, joint_ids: IdArray) -> tuple[pa.Table, pa.Table, str]:
    """The welding model over some joints: (their rows, ascending by id, with `code`; predictions; model version)."""
    from adapters.welding import WeldingAdapter

    g = ctx.graph
    blocks = np.unique(g.layout.block_index_of(joint_ids))
    rows = WeldingAdapter.yard_rows(g, blocks)
    rows = rows.filter(pc.is_in(rows.column("joint_id"), value_set=pa.array(joint_ids)))
    rows = rows.sort_by("joint_id")
    rows = rows.append_column("code", pa.array(g.codes_of(rows.column("joint_id").to_numpy()), type=pa.string()))
    model = ctx.registry.get("welding")
    return rows, model.predict(rows), f"welding model {model.spec.version}"


def predict_items(ctx: WorkflowContext, item_ids: IdArray) -> tuple[pa.Table, pa.Table, str]:
    """The outfitting model over some items: (their rows, ascending by id; predictions; model version)."""
    from adapters.outfitting import OutfittingAdapter

    g = ctx.graph
    blocks = np.unique(g.layout.block_index_of(item_ids))
    rows = OutfittingAdapter.yard_rows(g, blocks)
    rows = rows.filter(pc.is_in(rows.column("item_id"), value_set=pa.array(item_ids))).sort_by("item_id")
    model = ctx.registry.get("outfitting")
    return rows, model.predict(rows), f"outfitting model {model.spec.version}"
