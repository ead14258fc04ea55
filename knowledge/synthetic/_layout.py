"""The synthetic yard's id space and its codes, as the generator lays them out.

Nothing outside the generator reads them: the store numbers nodes its own way and keeps the codes as ids.

Every node of the part-dependency graph has a dense `int32` id. Ids are laid out kind by kind, and
within a kind in hierarchical order, so that a block's assemblies, sub-assemblies, parts, joints and
outfitting items each sit in one contiguous id range:

```
| blocks | assemblies | sub-assemblies | parts | joints | outfitting items |
```

Codes are hierarchical and made from ids by arithmetic on a handful of offset arrays (the open format writer
makes them for whole arrays at once, `knowledge.synthetic.yardformat`):

| kind | code | example |
|---|---|---|
| block | `B` + 3 digits | `B214` |
| assembly | block + `-A` + 2 digits | `B214-A07` |
| sub-assembly | assembly + `-S` + 2 digits | `B214-A07-S03` |
| part | sub-assembly + `-P` + 4 digits | `B214-A07-S03-P0042` |
| joint | `J` + block number + `-` + 6 digits | `J214-000042` (joint 42 of block B214) |
| outfitting item | `O` + block number + `-` + 5 digits | `O214-00042` |
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Final, Literal, get_args

import numpy as np
import numpy.typing as npt

from knowledge.errors import UnknownCodeError

NodeKind = Literal["block", "assembly", "sub_assembly", "part", "joint", "outfitting_item"]
"""The generator's kinds of node (each the name of the role it plays in its yard.toml)."""
NODE_KINDS: Final[tuple[NodeKind, ...]] = get_args(NodeKind)

__all__ = ["CODE_LIMITS", "NODE_KINDS", "NodeKind", "YardLayout"]


CODE_LIMITS: Final[dict[str, int]] = {
    "blocks": 999,
    "assemblies_per_block": 99,
    "sub_assemblies_per_assembly": 99,
    "parts_per_sub_assembly": 9999,
    "joints_per_block": 999_999,
    "items_per_block": 99_999,
}
"""Largest counts the code formats can number; the generator stays within them."""


IntArray = npt.NDArray[np.int64]


def _local_index(starts: IntArray, position: int) -> int:
    """Index of the group (given by its start offsets) that holds `position`."""
    return int(np.searchsorted(starts, position, side="right")) - 1


@dataclass(frozen=True)
class YardLayout:
    """Offset arrays that map codes to ids and back.

    Each `*_start` array has one entry per parent plus a final total, like a CSR `indptr`.
    """

    block_assembly_start: IntArray
    """Per block, the index of its first assembly (length blocks + 1)."""
    assembly_sub_start: IntArray
    """Per assembly, the index of its first sub-assembly (length assemblies + 1)."""
    sub_part_start: IntArray
    """Per sub-assembly, the index of its first part (length sub-assemblies + 1)."""
    block_joint_start: IntArray
    """Per block, the index of its first joint (length blocks + 1)."""
    block_item_start: IntArray
    """Per block, the index of its first outfitting item (length blocks + 1)."""

    @cached_property
    def counts(self) -> dict[NodeKind, int]:
        """Number of nodes of each kind."""
        return {
            "block": len(self.block_assembly_start) - 1,
            "assembly": int(self.block_assembly_start[-1]),
            "sub_assembly": int(self.assembly_sub_start[-1]),
            "part": int(self.sub_part_start[-1]),
            "joint": int(self.block_joint_start[-1]),
            "outfitting_item": int(self.block_item_start[-1]),
        }

    @cached_property
    def kind_start(self) -> IntArray:
        """First id of each kind, in `NODE_KINDS` order, plus the total node count."""
        counts = self.counts
        return np.concatenate([[0], np.cumsum([counts[k] for k in NODE_KINDS])]).astype(np.int64)

    @cached_property
    def num_nodes(self) -> int:
        """Total number of nodes."""
        return int(self.kind_start[-1])

    # ---- kinds -------------------------------------------------------------------------------

    def kind_codes(self, ids: npt.ArrayLike) -> npt.NDArray[np.int8]:
        """Kind of each id as an index into `NODE_KINDS`."""
        return (np.searchsorted(self.kind_start, np.asarray(ids), side="right") - 1).astype(np.int8)

    def kind_of(self, node_id: int) -> NodeKind:
        """Kind of one id."""
        self._check_id(node_id)
        return NODE_KINDS[int(self.kind_codes([node_id])[0])]

    def ids_of_kind(self, kind: NodeKind) -> npt.NDArray[np.int32]:
        """All ids of one kind, ascending."""
        k = NODE_KINDS.index(kind)
        return np.arange(self.kind_start[k], self.kind_start[k + 1], dtype=np.int32)

    def _check_id(self, node_id: int) -> None:
        if not 0 <= node_id < self.num_nodes:
            raise UnknownCodeError(str(node_id), f"unknown id {node_id!r}; ids run 0-{self.num_nodes - 1}")

    # ---- blocks of ids (vectorised) ----------------------------------------------------------

    def block_index_of(self, ids: npt.ArrayLike) -> IntArray:
        """0-based block index of every id (every node belongs to exactly one block)."""
        ids = np.asarray(ids, dtype=np.int64)
        kinds = self.kind_codes(ids)
        local = ids - self.kind_start[kinds]
        out = np.empty(len(ids), dtype=np.int64)
        for k, kind in enumerate(NODE_KINDS):
            sel = kinds == k
            if not sel.any():
                continue
            loc = local[sel]
            if kind == "block":
                out[sel] = loc
                continue
            if kind == "part":
                loc = np.searchsorted(self.sub_part_start, loc, side="right") - 1
            if kind in ("part", "sub_assembly"):
                loc = np.searchsorted(self.assembly_sub_start, loc, side="right") - 1
            starts = {
                "joint": self.block_joint_start,
                "outfitting_item": self.block_item_start,
            }.get(kind, self.block_assembly_start)
            out[sel] = np.searchsorted(starts, loc, side="right") - 1
        return out

    def assembly_index_of_hull(self, ids: npt.ArrayLike) -> IntArray:
        """0-based assembly index of assemblies, sub-assemblies and parts; -1 for other kinds."""
        ids = np.asarray(ids, dtype=np.int64)
        kinds = self.kind_codes(ids)
        local = ids - self.kind_start[kinds]
        out = np.full(len(ids), -1, dtype=np.int64)
        asm = kinds == NODE_KINDS.index("assembly")
        out[asm] = local[asm]
        sub = kinds == NODE_KINDS.index("sub_assembly")
        out[sub] = np.searchsorted(self.assembly_sub_start, local[sub], side="right") - 1
        part = kinds == NODE_KINDS.index("part")
        part_sub = np.searchsorted(self.sub_part_start, local[part], side="right") - 1
        out[part] = np.searchsorted(self.assembly_sub_start, part_sub, side="right") - 1
        return out

    # ---- codes -------------------------------------------------------------------------------

    def block_code(self, block_index: int) -> str:
        """Code of the block with this 0-based index."""
        return f"B{block_index + 1:03d}"

    def code_of(self, node_id: int) -> str:
        """Human code of one id."""
        self._check_id(node_id)
        kind = self.kind_of(node_id)
        local = node_id - int(self.kind_start[NODE_KINDS.index(kind)])
        if kind == "block":
            return self.block_code(local)
        if kind == "joint":
            b = _local_index(self.block_joint_start, local)
            return f"J{b + 1:03d}-{local - int(self.block_joint_start[b]) + 1:06d}"
        if kind == "outfitting_item":
            b = _local_index(self.block_item_start, local)
            return f"O{b + 1:03d}-{local - int(self.block_item_start[b]) + 1:05d}"
        suffix = ""
        if kind == "part":
            sub = _local_index(self.sub_part_start, local)
            suffix = f"-P{local - int(self.sub_part_start[sub]) + 1:04d}"
            local, kind = sub, "sub_assembly"
        if kind == "sub_assembly":
            asm = _local_index(self.assembly_sub_start, local)
            suffix = f"-S{local - int(self.assembly_sub_start[asm]) + 1:02d}" + suffix
            local = asm
        b = _local_index(self.block_assembly_start, local)
        return f"{self.block_code(b)}-A{local - int(self.block_assembly_start[b]) + 1:02d}" + suffix
