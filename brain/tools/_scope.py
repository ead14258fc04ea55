"""What one code covers for the model tools: a set of joints and items, or a single thing.

A block, assembly, sub-assembly or work package covers its joints and items; a part the joints that join it;
a weld joint or an outfitting item itself.

Read from the yard's store by role: the work packages' scopes (`YardContext.index`), and the precedence graph: a
joint's parts are its predecessors of role part (an edge part -> joint for each part it joins), so a part's joints
are its direct successors of role joint. Nothing here knows a yard's naming scheme or its kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from brain.lexicon import ROLE_NOUNS, node_of
from knowledge.errors import InputError

if TYPE_CHECKING:
    from brain.core import YardContext
    from knowledge.store import YardStore

__all__ = ["Covered", "covered", "joints_of_part"]

IdArray = npt.NDArray[np.int64]
_ARTICLE: Final = {"assembly": "an", "outfitting_item": "an"}
_SCOPES: Final = frozenset({"block", "assembly", "sub_assembly", "work_package"})
"""Roles whose code stands for the joints and items of a work package's scope (`WorkPackageIndex.scope_of`)."""


@dataclass(frozen=True)
class Covered:
    """The joints and items a code stands for, and what it is."""

    code: str
    """The code as the yard spells it (`J012-001426` for "J12-1426")."""
    kind: str
    """Its role: block, assembly, sub_assembly, work_package, part, joint or outfitting_item."""
    joint_ids: IdArray
    """Its weld joints (a joint: itself; a part: the joints that join it), ascending nodes."""
    item_ids: IdArray
    """Its outfitting items (an item: itself), ascending nodes."""
    node: int | None
    """Its node in the yard's store."""
    block: int
    """The node of the block it belongs to (-1: none; a work package's: the block it works on)."""

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
    """What `code` covers.

    Raises:
        UnknownCodeError: a code the yard does not have (saying what it has).
        InputError: a code of something that holds no joints or items (a resource, a kind with no role).
    """
    yard = ctx.yard
    node = node_of(yard, code)
    name = yard.code_of(node)
    role = yard.role_of(node)
    none = np.zeros(0, dtype=np.int64)
    single = np.asarray([node], dtype=np.int64)
    if role == "joint":
        return Covered(name, role, single, none, node, _block(yard, node))
    if role == "outfitting_item":
        return Covered(name, role, none, single, node, _block(yard, node))
    if role == "part":
        return Covered(name, role, joints_of_part(yard, node), none, node, _block(yard, node))
    if role not in _SCOPES:
        what = ROLE_NOUNS[role] if role is not None else yard.kind_of(node)
        raise InputError(
            f"{name} is a {what}, which holds no weld joints or outfitting items; ask about a block, assembly, work "
            "package, part, joint or outfitting item"
        )
    index = ctx.index
    scope = index.scope_of(name)
    if role == "work_package":
        assert scope.work_package is not None
        block = int(index.block[scope.work_package])
    else:
        block = _block(yard, node)
    joints, items = scope.joint_ids.astype(np.int64), scope.item_ids.astype(np.int64)
    return Covered(name, role, joints, items, node, block)


def _block(yard: YardStore, node: int) -> int:
    return int(yard.block_of([node])[0])


def joints_of_part(yard: YardStore, node: int) -> IdArray:
    """The joints that join a part: its direct successors of role joint (each joint waits on the parts it joins)."""
    if not yard.count("joint"):
        return np.zeros(0, dtype=np.int64)
    return np.asarray(yard.downstream([node], depth=1, kinds=["joint"]), dtype=np.int64)
