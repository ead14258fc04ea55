"""The yard's work packages: which work package makes each node, what a work package covers, and scopes of codes.

Read from the yard's own tables: `work_packages` (code, block, trade, crew, estimate), `trades` (each trade's
place in a block's life and the node kinds its work packages make), and the member tables whose rows name
their work package (`joints`, `outfitting_items`). Nothing here knows a yard's naming scheme: a work package
is found by its code in the table, a node's work package by the tables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from knowledge.errors import InputError
from knowledge.layout import NODE_KINDS, NodeKind
from knowledge.partgraph import PartGraph

if TYPE_CHECKING:
    from brain.core.cache import YardCache

__all__ = ["Scope", "WorkPackageIndex"]

IdArray = npt.NDArray[np.int32]
_MEMBER_TABLES: Final[tuple[tuple[NodeKind, str, str], ...]] = (
    ("joint", "joints", "joint_id"),
    ("outfitting_item", "outfitting_items", "item_id"),
)
"""Node kinds whose rows name their own work package: (kind, table, key column)."""
_SCOPE_KINDS: Final[frozenset[NodeKind]] = frozenset({"block", "assembly", "sub_assembly"})


@dataclass(frozen=True)
class Scope:
    """What a block, assembly, sub-assembly or work package code covers."""

    code: str
    joint_ids: IdArray
    """The weld joints, ascending node ids."""
    item_ids: IdArray
    """The outfitting items, ascending node ids."""
    work_package: int | None = None
    """The work package's row in the index, when the code is a work package."""


class WorkPackageIndex:
    """The yard's work packages (rows of its `work_packages` table) and the work package of every node."""

    def __init__(self, graph: PartGraph, cache: YardCache | None = None) -> None:
        self.graph = graph
        wp = graph.table(
            "work_packages", ["work_package_id", "code", "block_id", "trade", "crew", "estimated_hours"]
        ).to_pydict()
        self.codes: list[str] = [str(c) for c in wp["code"]]
        self.row_of: dict[str, int] = {c: i for i, c in enumerate(self.codes)}
        self.block: npt.NDArray[np.int64] = np.asarray(wp["block_id"], dtype=np.int64)
        self.trade: list[str] = [str(t) for t in wp["trade"]]
        self.crew: npt.NDArray[np.int64] = np.maximum(np.asarray(wp["crew"], dtype=np.int64), 1)
        self.estimated_hours: npt.NDArray[np.float64] = np.asarray(wp["estimated_hours"], dtype=np.float64)
        trades = graph.table("trades", ["trade", "sequence", "makes"]).sort_by("sequence").to_pydict()
        self.trades: list[str] = [str(t) for t in trades["trade"]]
        """The yard's trades in the order a block goes through them."""
        self.makes: dict[str, tuple[NodeKind, ...]] = {}
        """The node kinds each trade's work packages make (joints and items name their work package instead)."""
        for trade, makes in zip(self.trades, trades["makes"], strict=True):
            kinds = tuple(k.strip() for k in str(makes or "").split(",") if k.strip())
            unknown = [k for k in kinds if k not in NODE_KINDS]
            if unknown:
                raise InputError(f"trade {trade!r} makes unknown node kinds {unknown}; kinds are {list(NODE_KINDS)}")
            self.makes[trade] = kinds  # type: ignore[assignment]  # checked against NODE_KINDS just above
        unknown_trades = sorted(set(self.trade) - set(self.trades))
        if unknown_trades:
            raise InputError(f"work packages of trades {unknown_trades} that the yard's trades table lacks")
        id_to_row = np.full(max(wp["work_package_id"], default=0) + 1, -1, dtype=np.int64)
        id_to_row[np.asarray(wp["work_package_id"], dtype=np.int64)] = np.arange(len(self.codes))
        blocks = graph.counts["block"]
        self.by_block_trade = np.full((blocks, len(self.trades)), -1, dtype=np.int64)
        """The work package row of each (block index, trade index in `trades`), -1 where the block has none."""
        self.by_block_trade[self.block, [self.trades.index(t) for t in self.trade]] = np.arange(len(self.codes))
        self._trade_of_kind: dict[NodeKind, int] = {
            kind: self.trades.index(trade) for trade, kinds in self.makes.items() for kind in kinds
        }
        self._member_wp: dict[NodeKind, npt.NDArray[np.int64]] = {}
        self._norm_hours: dict[NodeKind, npt.NDArray[np.float64]] = {}
        for kind, table, key in _MEMBER_TABLES:
            kept = (cache.array(f"index-{kind}-wp"), cache.array(f"index-{kind}-norm")) if cache else (None, None)
            if kept[0] is not None and kept[1] is not None:
                self._member_wp[kind], self._norm_hours[kind] = kept[0], kept[1]
                continue
            t = graph.table(table, [key, "work_package_id", "norm_hours"])
            local = t.column(key).to_numpy() - self._start(kind)
            rows = np.full(graph.counts[kind], -1, dtype=np.int64)
            rows[local] = id_to_row[t.column("work_package_id").to_numpy()]
            self._member_wp[kind] = rows
            norm = np.zeros(graph.counts[kind], dtype=np.float64)
            norm[local] = t.column("norm_hours").to_numpy()
            self._norm_hours[kind] = norm
            if cache is not None:  # 25M joints take seconds to read: the next process maps them
                cache.put_array(f"index-{kind}-wp", rows)
                cache.put_array(f"index-{kind}-norm", norm)

    def trade_making(self, kind: NodeKind) -> int | None:
        """The index in `trades` of the trade whose work packages make nodes of `kind` (None: no trade does)."""
        return self._trade_of_kind.get(kind)

    def _start(self, kind: NodeKind) -> int:
        return int(self.graph.layout.kind_start[NODE_KINDS.index(kind)])

    def is_work_package(self, code: str) -> bool:
        """Whether `code` names one of the yard's work packages, or looks like one (it starts as all of theirs do)."""
        stripped = code.strip()
        if stripped in self.row_of or stripped.upper() in self.row_of:
            return True
        return bool(self._prefix) and stripped.upper().startswith(self._prefix.upper())

    @cached_property
    def _prefix(self) -> str:
        """What every work package code of the yard starts with (may be empty)."""
        return os.path.commonprefix(self.codes) if self.codes else ""

    def work_package(self, code: str) -> int:
        """The table row of a work package code; an `InputError` when the yard has none of that code."""
        stripped = code.strip()
        row = self.row_of.get(stripped, self.row_of.get(stripped.upper()))
        if row is None:
            raise InputError(f"no work package {code!r} in this yard; codes look like {self.codes[0]!r}")
        return row

    def block_code(self, row: int) -> str:
        """The code of the block a work package belongs to."""
        return self.graph.layout.block_code(int(self.block[row]))

    def work_package_of(self, ids: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """The work package row of each node (-1 where none makes it)."""
        ids = np.asarray(ids, dtype=np.int64)
        out = np.full(len(ids), -1, dtype=np.int64)
        kinds = self.graph.layout.kind_codes(ids)
        blocks = self.graph.layout.block_index_of(ids)
        for k, kind in enumerate(NODE_KINDS):
            mask = kinds == k
            if not mask.any():
                continue
            if kind in self._member_wp:
                out[mask] = self._member_wp[kind][ids[mask] - self._start(kind)]
            elif kind in self._trade_of_kind:
                out[mask] = self.by_block_trade[blocks[mask], self._trade_of_kind[kind]]
        return out

    def package_of(self, code: str) -> str:
        """The work package a late code holds up: the package itself, or the one that makes the node.

        Joints and outfitting items name their own work package in the yard's tables; other nodes belong to the
        work package of their block whose trade makes their kind (the yard's `trades` table says which).
        """
        if self.is_work_package(code):
            return self.codes[self.work_package(code)]
        node = self.graph.id_of(code)
        row = int(self.work_package_of([node])[0])
        if row < 0:
            kind = self.graph.kind_of(node).replace("_", " ")
            raise InputError(f"{code} is a {kind} that no work package of this yard makes")
        return self.codes[row]

    def item_norm_hours(self, item_ids: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The planning-norm hours of some outfitting items."""
        local = np.asarray(item_ids, dtype=np.int64) - self._start("outfitting_item")
        return self._norm_hours["outfitting_item"][local]

    def joint_norm_hours(self, joint_ids: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The planning-norm hours of some weld joints."""
        return self._norm_hours["joint"][np.asarray(joint_ids, dtype=np.int64) - self._start("joint")]

    @cached_property
    def _fixed_hours_per_node(self) -> npt.NDArray[np.float64]:
        n = len(self.codes)
        norms = sum(
            (np.bincount(self._member_wp[k], weights=self._norm_hours[k], minlength=n) for k in self._member_wp),
            start=np.zeros(n),
        )
        hull = self.work_package_of(np.arange(self._start("joint")))
        nodes = np.bincount(hull[hull >= 0], minlength=n)
        nodes += sum((np.bincount(rows[rows >= 0], minlength=n) for rows in self._member_wp.values()), start=0)
        return np.maximum(self.estimated_hours - norms, 0.0) / np.maximum(nodes, 1)

    def fixed_hours_per_node(self) -> npt.NDArray[np.float64]:
        """Per work package, its hours that no model predicts, spread evenly over the nodes it makes.

        That is its estimate less the norm hours of its joints and items: part handling, fitting, erection set-up.
        """
        return self._fixed_hours_per_node

    def members_of(self, row: int, kind: NodeKind) -> IdArray:
        """The joints or outfitting items that name work package `row`, ascending."""
        return (np.flatnonzero(self._member_wp[kind] == row) + self._start(kind)).astype(np.int32)

    def scope(self, row: int) -> IdArray:
        """Every node a work package makes, ascending."""
        g = self.graph
        block_id = self._start("block") + int(self.block[row])
        makes = self.makes[self.trade[row]]
        pieces: list[npt.NDArray[np.integer]] = []
        if "block" in makes:
            pieces.append(np.asarray([block_id]))
        inner = [k for k in makes if k != "block"]
        if inner:
            pieces.append(g.members(block_id, kinds=inner))
        pieces += [self.members_of(row, kind) for kind in self._member_wp]
        out = np.concatenate(pieces).astype(np.int32)
        out.sort()
        return out

    def scope_of(self, code: str) -> Scope:
        """The joints and items of a block, assembly, sub-assembly or work package code."""
        stripped = code.strip()
        if self.is_work_package(stripped):
            row = self.work_package(stripped)
            return Scope(self.codes[row], self.members_of(row, "joint"), self.members_of(row, "outfitting_item"), row)
        g = self.graph
        node = g.id_of(code)
        kind = g.kind_of(node)
        if kind not in _SCOPE_KINDS:
            raise InputError(f"{code} is a {kind.replace('_', ' ')}; ask about a block, assembly or work package")
        joints = g.members(node, kinds=["joint"]).astype(np.int32)
        return Scope(code, joints, g.members(node, kinds=["outfitting_item"]).astype(np.int32))
