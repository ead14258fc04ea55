"""What one code covers for the model tools: a set of joints and items, or a single thing.

A block, assembly, sub-assembly or work package covers its joints and items; a part the joints that join it;
a weld joint or an outfitting item itself.

Read from the yard's work packages (`YardContext.index`), its part graph and its joints table: a part's joints are
the joints whose row names it as one of the two parts it joins (`part_a_id`, `part_b_id`: a joint between two
sub-assemblies is welded on one part of each) and its direct successors of kind joint. Nothing here knows a
yard's naming scheme.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from brain.core import YardContext

__all__ = ["Covered", "covered"]

IdArray = npt.NDArray[np.int64]
_ARTICLE = {"assembly": "an", "outfitting_item": "an"}


@dataclass(frozen=True)
class Covered:
    """The joints and items a code stands for, and what it is."""

    code: str
    """The code as the yard spells it (`J012-001426` for "J12-1426")."""
    kind: str
    """block, assembly, sub_assembly, work_package, part, joint or outfitting_item."""
    joint_ids: IdArray
    """Its weld joints (a joint: itself; a part: the joints that join it), ascending node ids."""
    item_ids: IdArray
    """Its outfitting items (an item: itself), ascending node ids."""
    node: int | None
    """Its node in the part graph (None for a work package)."""
    block: int
    """The index of the block it belongs to."""

    @property
    def noun(self) -> str:
        """What it is, in words: "weld joint", "work package", "sub assembly"."""
        return {"joint": "weld joint"}.get(self.kind, self.kind.replace("_", " "))

    @property
    def what(self) -> str:
        """`noun` with its article: "a weld joint", "an outfitting item"."""
        return f"{_ARTICLE.get(self.kind, 'a')} {self.noun}"

    @property
    def single(self) -> bool:
        """One joint or one item rather than a set of them (a part counts as a set: its joints)."""
        return self.kind in ("joint", "outfitting_item")


def covered(ctx: YardContext, code: str) -> Covered:
    """What `code` covers (an `InputError` for a code the yard does not have)."""
    index, g = ctx.index, ctx.graph
    if index.is_work_package(code):
        scope = index.scope_of(code)
        assert scope.work_package is not None
        return Covered(
            scope.code,
            "work_package",
            scope.joint_ids.astype(np.int64),
            scope.item_ids.astype(np.int64),
            None,
            int(index.block[scope.work_package]),
        )
    node = g.id_of(code)
    kind = g.kind_of(node)
    name = g.code_of(node)
    block = int(g.layout.block_index_of([node])[0])
    none = np.zeros(0, dtype=np.int64)
    if kind == "joint":
        return Covered(name, kind, np.asarray([node], dtype=np.int64), none, node, block)
    if kind == "outfitting_item":
        return Covered(name, kind, none, np.asarray([node], dtype=np.int64), node, block)
    if kind == "part":
        return Covered(name, kind, _joints_of_part(ctx, node), none, node, block)
    scope = index.scope_of(name)
    return Covered(name, kind, scope.joint_ids.astype(np.int64), scope.item_ids.astype(np.int64), node, block)


def _joints_of_part(ctx: YardContext, node: int) -> IdArray:
    """The joints that join a part: named by the joints table as one of its two parts, or its successors."""
    g = ctx.graph
    # each side read with the filter pushed down to Parquet (row groups whose statistics exclude the part are skipped)
    sides = ("part_a_id", "part_b_id")
    by_table = np.concatenate([g.table("joints", ["joint_id"], where=(s, [node])).column(0).to_numpy() for s in sides])
    by_graph = g.downstream([node], depth=1, kinds=["joint"])
    return np.union1d(by_table, by_graph).astype(np.int64)
