"""The yard's work packages: which work package makes each node, what a work package covers, and scopes of codes.

Read from the yard's store (`knowledge.store.YardStore`) by role, never by a yard's kinds or naming scheme:

- the work packages are the nodes of the `work_package` role, one row each in node order (their `trade`, `block`,
  `crew`, `estimated_hours`, `resource`, `crane` fields);
- a node's work package is its role's `work_package` field (blocks name the package that erects them, assemblies,
  sub-assemblies and parts the one that makes them, joints and outfitting items the one they are done in);
- the trades' order is that of the edges between work package nodes inside a block (a topological order of the
  trade-level graph, ties by the trade's first planned start); a schedule's precedences are exactly those edges.

A field the yard does not give has a plain default (no norm hours: 0, no crew: 1, no resource: none); a field a
question cannot do without (the packages' trades) is a `MissingFieldError` naming it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from brain.core.codes import node_of
from knowledge.errors import InputError
from knowledge.words import with_article
from knowledge.yardformat.fields import ROLES

if TYPE_CHECKING:
    from brain.core.cache import YardCache
    from knowledge.store import YardStore

__all__ = ["MADE_ROLES", "Scope", "WorkPackageIndex", "node_of_code"]

IdArray = npt.NDArray[np.int32]
WORK_PACKAGE: Final = "work_package"
MADE_ROLES: Final[tuple[str, ...]] = ("block", "assembly", "sub_assembly", "part", "joint", "outfitting_item")
"""Roles whose `work_package` field names the package that makes (or erects, or does) each node."""
_NORM_ROLES: Final[tuple[str, ...]] = ("joint", "outfitting_item")
"""Roles with planning-norm hours (`norm_hours`)."""
_SCOPE_ROLES: Final[frozenset[str]] = frozenset({"block", "assembly", "sub_assembly"})


def node_of_code(yard: YardStore, code: str) -> int:
    """The node of a code as a person types it (`brain.core.codes.node_of`).

    Exact, else the one id of its loose form; an `UnknownCodeError` that says what the yard has instead.
    """
    return node_of(yard, code)


def _blocks_from_neighbours(block: npt.NDArray[np.int64], precedences: list[tuple[int, int]]) -> npt.NDArray[np.int64]:
    """`block` with each package of none (-1) given its successors' one block, else its predecessors' (repeated)."""
    if not precedences or (block >= 0).all():
        return block
    pairs = np.asarray(precedences, dtype=np.int64)
    directions = ((pairs[:, 0], pairs[:, 1]), (pairs[:, 1], pairs[:, 0]))  # successors first
    while True:
        for package, neighbour in directions:
            want = (block[package] < 0) & (block[neighbour] >= 0)
            if not want.any():
                continue
            rows, blocks = np.unique(np.stack([package[want], block[neighbour[want]]]), axis=1)
            once, seen = np.unique(rows, return_counts=True)
            alone = np.isin(rows, once[seen == 1])  # a package whose neighbours work on one block
            if alone.any():
                block = block.copy()
                block[rows[alone]] = blocks[alone]
                break
        else:
            return block


@dataclass(frozen=True)
class Scope:
    """What a block, assembly, sub-assembly or work package code covers."""

    code: str
    joint_ids: IdArray
    """The weld joints (nodes), ascending."""
    item_ids: IdArray
    """The outfitting items (nodes), ascending."""
    work_package: int | None = None
    """The work package's row in the index, when the code is a work package."""


class WorkPackageIndex:
    """The yard's work packages (the rows of its `work_package` role, in node order) and every node's work package."""

    def __init__(self, yard: YardStore, cache: YardCache | None = None) -> None:
        self.yard = yard
        self._cache = cache
        self._lock = threading.RLock()
        self._rows: dict[str, npt.NDArray[np.int32]] = {}
        self._norms: dict[str, npt.NDArray[np.float64]] = {}
        self._making: dict[str, int | None] = {}
        self.nodes: IdArray = np.asarray(yard.nodes_of_role(WORK_PACKAGE), dtype=np.int32)
        """The node of each row."""
        self.codes: list[str] = yard.codes_of(self.nodes) if len(self.nodes) else []
        """The code of each row."""
        self.row_of: dict[str, int] = {c: i for i, c in enumerate(self.codes)}
        given = set(yard.fields(WORK_PACKAGE)) if len(self.nodes) else set()
        optional: tuple[str, ...] = ("crew", "estimated_hours", "resource", "crane", "planned_start")
        wanted = [c for c in optional if c in given]
        table = yard.role_table(WORK_PACKAGE, wanted) if wanted else None
        if table is not None and table.num_rows != len(self.nodes):
            raise InputError(f"the work package table has {table.num_rows:,} rows for {len(self.nodes):,} packages")
        n = len(self.nodes)

        def numbers(name: str, missing: float, dtype: type) -> npt.NDArray[np.generic]:
            if table is None or name not in wanted:
                return np.full(n, missing, dtype=dtype)
            return np.asarray(table.column(name).fill_null(missing).to_numpy(), dtype=dtype)

        self.crew: npt.NDArray[np.int64] = np.maximum(numbers("crew", 1, np.int64), 1).astype(np.int64)
        """Crew of each package (at least 1; 1 where the yard gives none)."""
        self.estimated_hours: npt.NDArray[np.float64] = numbers("estimated_hours", 0.0, np.float64).astype(np.float64)
        """The planned hours of each package (0 where the yard gives none)."""
        self.resource: npt.NDArray[np.int64] = numbers("resource", -1, np.int64).astype(np.int64)
        """The resource node each package runs on (-1: none)."""
        self.crane: npt.NDArray[np.int64] = numbers("crane", -1, np.int64).astype(np.int64)
        """The crane (a resource node) each package needs (-1: none)."""
        starts = table.column("planned_start").to_pylist() if table is not None and "planned_start" in wanted else []
        self._planned_start: list[date | None] = starts or [None] * n

    # ---- the packages --------------------------------------------------------------------------------------

    @cached_property
    def block(self) -> npt.NDArray[np.int64]:
        """The block node each package works on (-1: none): its `block` field, else where most of its nodes are.

        Without the field, a package no node names (a yard's cutting package, say) takes the block of the packages
        it leads to by the edges between packages, else of those it follows, when they all work on one block.
        """
        if not len(self.nodes):
            return np.zeros(0, dtype=np.int64)
        if "block" in self.yard.fields(WORK_PACKAGE):
            return np.asarray(self.yard.field_of(WORK_PACKAGE, "block", self.nodes), dtype=np.int64)
        return _blocks_from_neighbours(self._blocks_of_members(), self.precedences)

    def _blocks_of_members(self) -> npt.NDArray[np.int64]:
        """Per package, the block most of the nodes naming it are in (-1: no node names it)."""
        rows, blocks = [], []
        for role in self._made_roles():
            of_row = self._rows_of(role)
            mine = np.flatnonzero(of_row >= 0)
            if len(mine):
                rows.append(of_row[mine].astype(np.int64))
                blocks.append(self.yard.block_of(self.yard.nodes_of_role(role)[mine]).astype(np.int64))
        out = np.full(len(self.nodes), -1, dtype=np.int64)
        if not rows:
            return out
        row, block = np.concatenate(rows), np.concatenate(blocks)
        keep = block >= 0
        pairs, counts = np.unique(np.stack([row[keep], block[keep]]), axis=1, return_counts=True)
        order = np.lexsort((-counts, pairs[0]))  # by row, the most frequent block first
        first = np.concatenate(([True], pairs[0][order][1:] != pairs[0][order][:-1]))
        chosen = order[first]
        out[pairs[0][chosen]] = pairs[1][chosen]
        return out

    @cached_property
    def trade(self) -> list[str]:
        """The trade of each package.

        Raises:
            MissingFieldError: the yard gives no `trade` of its work packages.
        """
        if not len(self.nodes):
            return []
        self.yard.require(WORK_PACKAGE, ["trade"], "the work packages' trades")
        column = self.yard.role_table(WORK_PACKAGE, ["trade"]).column("trade")
        return ["" if t is None else str(t) for t in column.to_pylist()]

    @cached_property
    def precedences(self) -> list[tuple[int, int]]:
        """The packages' own order: (row before, row after) of every edge between two work package nodes, sorted."""
        if not len(self.nodes):
            return []
        before, after = self.yard.edges_from(self.nodes)
        rb = self.yard.role_rows(WORK_PACKAGE, before)
        ra = self.yard.role_rows(WORK_PACKAGE, after)
        keep = (ra >= 0) & (rb >= 0) & (ra != rb)
        return sorted(set(zip(rb[keep].tolist(), ra[keep].tolist(), strict=True)))

    @cached_property
    def trades(self) -> list[str]:
        """The yard's trades in the order a block goes through them.

        A topological order of the trades by the edges between packages of one block (a trade before another when
        some block's package of the one comes before its package of the other), ties (and what the edges leave
        unordered) by each trade's first planned start, then by its first package. A cycle between trades is broken
        at the trade with the fewest edges into it.
        """
        names = list(dict.fromkeys(self.trade))
        place = {t: i for i, t in enumerate(names)}
        of_row = np.asarray([place[t] for t in self.trade], dtype=np.int64)
        far = date.max.toordinal()
        key: list[tuple[int, int]] = [(far, len(self.trade))] * len(names)
        for row, (t, start) in enumerate(zip(of_row.tolist(), self._planned_start, strict=True)):
            key[t] = min(key[t], (start.toordinal() if isinstance(start, date) else far, row))
        block = self.block
        edges: set[tuple[int, int]] = set()
        for b, a in self.precedences:
            if block[b] >= 0 and block[b] == block[a] and of_row[b] != of_row[a]:
                edges.add((int(of_row[b]), int(of_row[a])))
        into: list[set[int]] = [set() for _ in names]
        for b, a in edges:
            into[a].add(b)
        done: list[int] = []
        left = set(range(len(names)))
        while left:
            ready = [(key[t], t) for t in left if not into[t] & left]
            if ready:
                t = min(ready)[1]
            else:  # a cycle: the trade the fewest others still go before goes first
                t = min(left, key=lambda u: (len(into[u] & left), key[u]))
            done.append(t)
            left.discard(t)
        return [names[t] for t in done]

    @cached_property
    def _trade_index(self) -> npt.NDArray[np.int64]:
        """The index in `trades` of each package's trade."""
        place = {t: i for i, t in enumerate(self.trades)}
        return np.asarray([place[t] for t in self.trade], dtype=np.int64)

    def trade_making(self, role: str) -> int | None:
        """The index in `trades` of the trade whose packages the `work_package` fields of `role` mostly name.

        "block" gives the erection trade (a block names the package that erects it); None when the role's nodes
        name no package (or the yard gives that role no `work_package` field).
        """
        with self._lock:
            if role not in self._making:
                rows = self._rows_of(role) if role in MADE_ROLES else np.zeros(0, dtype=np.int32)
                rows = rows[rows >= 0]
                if not len(rows):
                    self._making[role] = None
                else:
                    counts = np.bincount(self._trade_index[rows], minlength=len(self.trades))
                    self._making[role] = int(np.argmax(counts))
            return self._making[role]

    @cached_property
    def _block_trade(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Sorted keys block * trades + trade, and the first package (row) of each."""
        width = max(len(self.trades), 1)
        keys = self.block * width + self._trade_index
        keys = np.where(self.block >= 0, keys, -1)
        unique, first = np.unique(keys, return_index=True)
        keep = unique >= 0
        return unique[keep], first[keep].astype(np.int64)

    def packages_of_blocks(self, block_nodes: npt.ArrayLike, trade_index: int) -> npt.NDArray[np.int64]:
        """`package_of_block` of many blocks at once: each block's package of the trade (row; -1 where none)."""
        blocks = np.asarray(block_nodes, dtype=np.int64).ravel()
        keys, rows = self._block_trade
        wanted = blocks * max(len(self.trades), 1) + int(trade_index)
        at = np.searchsorted(keys, wanted)
        inside = at < len(keys)
        hit = np.zeros(len(blocks), dtype=bool)
        hit[inside] = keys[at[inside]] == wanted[inside]
        hit &= blocks >= 0
        return np.where(hit, rows[np.minimum(at, max(len(rows) - 1, 0))] if len(rows) else -1, -1).astype(np.int64)

    def package_of_block(self, block_node: int, trade_index: int) -> int:
        """The package (row) of a block (node) of the trade `trades[trade_index]`; -1: none (the first of several)."""
        return int(self.packages_of_blocks([block_node], trade_index)[0])

    # ---- each node's package -------------------------------------------------------------------------------

    def _made_roles(self) -> list[str]:
        return [r for r in MADE_ROLES if self.yard.count(r) and WORK_PACKAGE in self.yard.fields(r)]

    def _rows_of(self, role: str) -> npt.NDArray[np.int32]:
        """Per row of `role`, the row of the package its `work_package` field names (-1: none); kept on disk."""
        with self._lock:
            found = self._rows.get(role)
            if found is not None:
                return found
            count = self.yard.count(role)
            if not count or WORK_PACKAGE not in self.yard.fields(role) or not len(self.nodes):
                found = np.full(count, -1, dtype=np.int32)
            else:
                kept = self._cache.array(f"wp-rows-{role}") if self._cache is not None else None
                if kept is not None and len(kept) == count:
                    found = np.asarray(kept)
                else:
                    column = self.yard.role_table(role, [WORK_PACKAGE]).column(WORK_PACKAGE)
                    named = np.asarray(column.fill_null(-1).to_numpy(), dtype=np.int64)
                    found = np.full(count, -1, dtype=np.int32)
                    some = np.flatnonzero(named >= 0)
                    found[some] = self.yard.role_rows(WORK_PACKAGE, named[some])
                    if self._cache is not None:  # 22.5M joints at 25M parts: the next process maps them
                        self._cache.put_array(f"wp-rows-{role}", found)
            self._rows[role] = found
            return found

    def _norm_of(self, role: str) -> npt.NDArray[np.float64]:
        """Per row of `role`, its planning-norm hours (0 where the yard gives none); kept on disk."""
        with self._lock:
            found = self._norms.get(role)
            if found is not None:
                return found
            count = self.yard.count(role)
            if not count or "norm_hours" not in self.yard.fields(role):
                found = np.zeros(count, dtype=np.float64)
            else:
                kept = self._cache.array(f"norm-{role}") if self._cache is not None else None
                if kept is not None and len(kept) == count:
                    found = np.asarray(kept)
                else:
                    column = self.yard.role_table(role, ["norm_hours"]).column("norm_hours")
                    found = np.asarray(column.fill_null(0.0).to_numpy(), dtype=np.float64)
                    if self._cache is not None:
                        self._cache.put_array(f"norm-{role}", found)
            self._norms[role] = found
            return found

    def work_package_of(self, nodes: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """The package (row) of each node: its role's `work_package` field; a package node is its own; -1: none."""
        array = np.asarray(nodes, dtype=np.int64).ravel()
        out = np.full(len(array), -1, dtype=np.int64)
        if not len(array):
            return out
        codes = self.yard.role_codes(array)
        for c in np.unique(codes).tolist():
            if c < 0:
                continue
            role = ROLES[c]
            mask = codes == c
            if role == WORK_PACKAGE:
                out[mask] = self.yard.role_rows(WORK_PACKAGE, array[mask])
            elif role in MADE_ROLES:
                out[mask] = self._rows_of(role)[self.yard.role_rows(role, array[mask])]
        return out

    def _role_rows(self, role: str, nodes: npt.ArrayLike) -> npt.NDArray[np.int64]:
        rows = self.yard.role_rows(role, nodes)
        if np.any(rows < 0):
            bad = int(np.asarray(nodes).ravel()[np.flatnonzero(rows < 0)[0]])
            raise InputError(
                f"{self.yard.code_of(bad)!r} is {with_article(self.yard.kind_of(bad))}, "
                f"not {with_article(role.replace('_', ' '))}"
            )
        return rows

    def joint_norm_hours(self, nodes: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The planning-norm hours of some weld joints (nodes); 0 where the yard gives none."""
        return self._norm_of("joint")[self._role_rows("joint", nodes)]

    def item_norm_hours(self, nodes: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The planning-norm hours of some outfitting items (nodes); 0 where the yard gives none."""
        return self._norm_of("outfitting_item")[self._role_rows("outfitting_item", nodes)]

    @cached_property
    def _fixed_hours_per_node(self) -> npt.NDArray[np.float64]:
        n = len(self.codes)
        norms = np.zeros(n, dtype=np.float64)
        made = np.zeros(n, dtype=np.int64)
        for role in self._made_roles():
            rows = self._rows_of(role)
            mine = rows >= 0
            made += np.bincount(rows[mine], minlength=n)
            if role in _NORM_ROLES:
                norms += np.bincount(rows[mine], weights=self._norm_of(role)[mine], minlength=n)
        return np.maximum(self.estimated_hours - norms, 0.0) / np.maximum(made, 1)

    def fixed_hours_per_node(self) -> npt.NDArray[np.float64]:
        """Per work package, its hours that no model predicts, spread evenly over the nodes it makes.

        That is its estimate less the norm hours of its joints and items: part handling, fitting, erection set-up.
        """
        return self._fixed_hours_per_node

    def members_of(self, row: int, role: str) -> IdArray:
        """The nodes of `role` whose `work_package` names package `row`, ascending."""
        if role not in MADE_ROLES or not self.yard.count(role):
            return np.zeros(0, dtype=np.int32)
        mine = np.flatnonzero(self._rows_of(role) == row)
        return np.asarray(self.yard.nodes_of_role(role)[mine], dtype=np.int32)

    def scope(self, row: int) -> IdArray:
        """Every node a work package makes (every node whose `work_package` names it), ascending."""
        pieces = [self.members_of(row, role) for role in self._made_roles()]
        out = np.concatenate(pieces).astype(np.int32) if pieces else np.zeros(0, dtype=np.int32)
        out.sort()
        return out

    # ---- codes ---------------------------------------------------------------------------------------------

    def _loose_rows(self, code: str) -> list[int]:
        """The packages whose codes have the loose form of `code`."""
        stripped = code.strip()
        if not stripped or not len(self.nodes):
            return []
        found = self.yard.ids.loose(stripped)
        if not found:
            return []
        rows = self.yard.role_rows(WORK_PACKAGE, found)
        return sorted({int(r) for r in rows.tolist() if r >= 0})

    def is_work_package(self, code: str) -> bool:
        """Whether `code` names one of the yard's work packages (exactly, or in loose form)."""
        stripped = code.strip()
        return stripped in self.row_of or stripped.upper() in self.row_of or bool(self._loose_rows(stripped))

    def work_package(self, code: str) -> int:
        """The row of a work package code (exact, or the one package its loose form names).

        Raises:
            InputError: the yard has no work package of that code (or several of that loose form).
        """
        stripped = code.strip()
        row = self.row_of.get(stripped, self.row_of.get(stripped.upper()))
        if row is not None:
            return row
        loose = self._loose_rows(stripped)
        if len(loose) == 1:
            return loose[0]
        if loose:
            named = " or ".join(repr(self.codes[r]) for r in loose[:3])
            raise InputError(f"{code!r} could be work package {named}; give its exact code")
        if not self.codes:
            raise InputError(f"no work package {code!r}: this yard has no work packages")
        raise InputError(f"no work package {code!r} in this yard; codes look like {self.codes[0]!r}")

    def block_code(self, row: int) -> str:
        """The code of the block a work package belongs to ("" when none)."""
        block = int(self.block[row])
        return self.yard.code_of(block) if block >= 0 else ""

    def package_of(self, code: str) -> str:
        """The work package a late code holds up: the package itself, or the one that makes (or does) the node.

        Every node names its package in its role's `work_package` field (a block the package that erects it).
        """
        if self.is_work_package(code):
            return self.codes[self.work_package(code)]
        node = node_of_code(self.yard, code)
        row = int(self.work_package_of([node])[0])
        if row < 0:
            what = (self.yard.role_of(node) or self.yard.kind_of(node)).replace("_", " ")
            raise InputError(f"{code} is {with_article(what)} that no work package of this yard makes")
        return self.codes[row]

    def _members(self, node: int, role: str) -> IdArray:
        if not self.yard.count(role):
            return np.zeros(0, dtype=np.int32)
        return np.asarray(self.yard.members(node, kinds=[role]), dtype=np.int32)

    def scope_of(self, code: str) -> Scope:
        """The joints and items of a block, assembly, sub-assembly or work package code.

        A block's are those whose block is it (`YardStore.blocks_of_role`, the one rule everywhere: the block it sits
        in by the production hierarchy, else the block its `block` field names, for an item fitted on board); an
        assembly's or sub-assembly's those inside it; a work package's those that name it.
        """
        stripped = code.strip()
        if self.is_work_package(stripped):
            row = self.work_package(stripped)
            return Scope(self.codes[row], self.members_of(row, "joint"), self.members_of(row, "outfitting_item"), row)
        node = node_of_code(self.yard, stripped)
        role = self.yard.role_of(node)
        if role not in _SCOPE_ROLES:
            what = (role or self.yard.kind_of(node)).replace("_", " ")
            raise InputError(f"{code} is {with_article(what)}; ask about a block, assembly or work package")
        joints = self._members(node, "joint")
        if role == "block":
            items = self.yard.nodes_of_role("outfitting_item")[self.yard.blocks_of_role("outfitting_item") == node]
            items = np.asarray(items, dtype=np.int32)
        else:
            items = self._members(node, "outfitting_item")
        return Scope(self.yard.code_of(node), joints, items)
