"""What one code covers for the model tools: a set of joints and items, or a single thing.

A block, assembly, sub-assembly or work package covers its joints and items; a part the joints that join it;
a weld joint or an outfitting item itself; a node that groups others in one of the yard's `[hierarchies]` (a
system, a zone node) the joints and items it groups (`YardStore.group_members`).

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
from knowledge.words import with_article

if TYPE_CHECKING:
    from brain.core import YardContext
    from knowledge.store import YardStore

__all__ = ["Covered", "covered", "joints_of_part"]

IdArray = npt.NDArray[np.int64]
_SCOPES: Final = frozenset({"block", "assembly", "sub_assembly", "work_package"})
"""Roles whose code stands for the joints and items of a work package's scope (`WorkPackageIndex.scope_of`)."""


@dataclass(frozen=True)
class Covered:
    """The joints and items a code stands for, and what it is."""

    code: str
    """The code as the yard spells it (`J012-001426` for "J12-1426")."""
    kind: str
    """Its role: block, assembly, sub_assembly, work_package, part, joint or outfitting_item; "group" for a node that
    groups others in one of the yard's hierarchies (a system)."""
    joint_ids: IdArray
    """Its weld joints (a joint: itself; a part: the joints that join it), ascending nodes."""
    item_ids: IdArray
    """Its outfitting items (an item: itself), ascending nodes."""
    node: int | None
    """Its node in the yard's store."""
    block: int
    """The node of the block it belongs to (-1: none, or a group's members in several; a work package's: the block
    it works on)."""
    kind_word: str = ""
    """A group's kind as the yard writes it ("anlage"); empty for the roles."""

    @property
    def noun(self) -> str:
        """What it is, in words: "weld joint", "work package", "sub assembly", a group's kind as the yard writes it."""
        if self.kind == "group":
            return self.kind_word
        return {"joint": "weld joint"}.get(self.kind, self.kind.replace("_", " "))

    @property
    def what(self) -> str:
        """`noun` with its article: "a weld joint", "an outfitting item", a yard's word said as "of kind anlage"."""
        return with_article(self.noun) if self.kind != "group" else f"of kind {self.noun}"

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
        grouped = _grouped(yard, node)
        if grouped is not None:
            blocks = np.unique(yard.block_of(np.concatenate(grouped)))
            block = int(blocks[0]) if len(blocks) == 1 else -1
            return Covered(name, "group", *grouped, node, block, kind_word=yard.kind_of(node))
        what = with_article(ROLE_NOUNS[role]) if role is not None else f"of kind {yard.kind_of(node)}"
        groups = f" and groups none in its hierarchies ({', '.join(yard.hierarchies)})" if yard.hierarchies else ""
        raise InputError(
            f"{name} is {what}, which holds no weld joints or outfitting items{groups}; ask about a block, assembly, "
            "work package, part, joint or outfitting item"
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


def _grouped(yard: YardStore, node: int) -> tuple[IdArray, IdArray] | None:
    """The joints and items a node groups in the yard's hierarchies (None: it groups neither)."""
    if not yard.hierarchies:
        return None
    members = yard.group_members(node)
    if not len(members):
        return None
    joints = yard.nodes_of_role("joint")
    items = yard.nodes_of_role("outfitting_item")
    found = (
        members[np.isin(members, joints)].astype(np.int64),
        members[np.isin(members, items)].astype(np.int64),
    )
    return found if len(found[0]) or len(found[1]) else None


def _block(yard: YardStore, node: int) -> int:
    return int(yard.block_of([node])[0])


def joints_of_part(yard: YardStore, node: int) -> IdArray:
    """The joints that join a part: its direct successors of role joint (each joint waits on the parts it joins)."""
    if not yard.count("joint"):
        return np.zeros(0, dtype=np.int64)
    return np.asarray(yard.downstream([node], depth=1, kinds=["joint"]), dtype=np.int64)
