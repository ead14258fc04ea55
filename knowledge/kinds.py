"""The kinds of node in a part-dependency graph (a module without numpy, for what only names them)."""

from __future__ import annotations

from typing import Final, Literal, get_args

__all__ = ["NODE_KINDS", "NodeKind"]

NodeKind = Literal["block", "assembly", "sub_assembly", "part", "joint", "outfitting_item"]
NODE_KINDS: Final[tuple[NodeKind, ...]] = get_args(NodeKind)
