"""The outfitting model: per outfitting item, the installation stage and the risk of rework.

One ONNX graph: input `features` FP32 [n, 8]; outputs `stage_probabilities` FP32 [n, 3]
(on-unit, on-block, on-board) and `rework_probability` FP32 [n].

The words the model knows (item kinds, ship systems, block types, stages) are its contract, declared here: a
categorical column is encoded as the word's index in its tuple, the order the shipped model was trained on.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Final, Literal, get_args

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from adapters._yardrows import neighbour_blocks, role_nodes, role_rows_with_defaults
from adapters.registry import adapter, config_factory
from adapters.schema import category_codes
from adapters.spec import AdapterSpec, ModelAdapter
from adapters.transports.base import Transport
from knowledge.store import YardStore

__all__ = [
    "BLOCK_TYPES",
    "DEFAULT_BLOCK_TYPE",
    "ITEM_DEFAULTS",
    "ITEM_KINDS",
    "OUTFITTING_FEATURES",
    "STAGES",
    "SYSTEMS",
    "SYSTEMS_BY_KIND",
    "BlockType",
    "ItemKind",
    "OutfittingAdapter",
    "OutfittingItemRow",
    "OutfittingPredictionRow",
    "REQUIRED_ITEM_FIELDS",
    "Stage",
    "block_types",
    "encode_items",
    "from_config",
    "outfitting_spec",
    "spans_blocks",
]

ItemKind = Literal["pipe_spool", "cable_tray", "hvac_duct", "equipment"]
BlockType = Literal["bottom", "side", "deck", "superstructure"]
Stage = Literal["on-unit", "on-block", "on-board"]
"""Where an item is installed: on a unit before the block, on the block, or on board after erection."""

ITEM_KINDS: Final = get_args(ItemKind)
BLOCK_TYPES: Final = get_args(BlockType)
STAGES: Final = get_args(Stage)
SYSTEMS_BY_KIND: Final[dict[ItemKind, tuple[str, ...]]] = {
    "pipe_spool": (
        "ballast water",
        "bilge",
        "fire main",
        "sprinkler",
        "water mist",
        "fresh water",
        "hot water",
        "grey water",
        "black water",
        "fuel oil",
        "lube oil",
        "sea water cooling",
        "fresh water cooling",
        "chilled water",
        "steam",
        "condensate",
        "compressed air",
        "hydraulic oil",
        "scrubber wash water",
        "sludge",
        "deck drain",
        "sounding and vent",
        "foam fire fighting",
        "pool water",
        "galley drain",
    ),
    "cable_tray": (
        "main power distribution",
        "emergency power",
        "lighting",
        "navigation",
        "fire detection",
        "public address",
        "CCTV",
        "access control",
        "IT network",
        "entertainment",
        "cabin automation",
        "alarm and monitoring",
        "propulsion control",
        "shore connection",
        "low-location lighting",
    ),
    "hvac_duct": (
        "cabin supply air",
        "cabin exhaust air",
        "public space supply air",
        "public space exhaust air",
        "galley exhaust",
        "engine room ventilation",
        "smoke extraction",
        "laundry exhaust",
        "provision store cooling",
        "theatre air handling",
    ),
    "equipment": (
        "main engines",
        "generator sets",
        "propulsion motors",
        "pumps",
        "separators",
        "boilers",
        "air conditioning plants",
        "fresh water generators",
        "galley equipment",
        "laundry equipment",
        "stabilisers",
        "thrusters",
        "elevators",
        "lifeboats and davits",
        "switchboards",
    ),
}
"""The ship systems the model was trained on, by the kind of item that carries them."""
SYSTEMS: Final = tuple(name for kind in ITEM_KINDS for name in SYSTEMS_BY_KIND[kind])
"""Every known system, in the order of its code (65 in all)."""

OUTFITTING_FEATURES: Final = (
    "kind",
    "system",
    "block_type",
    "length_m",
    "diameter_mm",
    "weight_t",
    "spans_blocks",
    "items_in_block",
)
"""Columns of the `features` tensor, in order (a word as its index in its tuple above)."""


class OutfittingItemRow(BaseModel):
    """One outfitting item: a pipe spool, cable tray, HVAC duct or piece of equipment."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    kind: ItemKind
    system: str
    """The ship system it belongs to, e.g. "fire main" (an unknown system is scored as unseen)."""
    block_type: BlockType
    """The type of block it is installed in."""
    length_m: float = Field(ge=0, le=100)
    diameter_mm: float = Field(ge=0, le=5000)
    """Nominal diameter (pipes, ducts) or tray width, mm; 0 for equipment."""
    weight_t: float = Field(ge=0, le=1000)
    spans_blocks: bool
    """Whether the item crosses a block boundary."""
    items_in_block: int = Field(ge=0)
    """Outfitting items in the same block (congestion)."""


class OutfittingPredictionRow(BaseModel):
    """The model's answer for one item."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    stage: Stage
    """The installation stage the model recommends."""
    stage_confidence: float = Field(ge=0, le=1)
    rework_probability: float = Field(ge=0, le=1)


def encode_items(batch: pa.RecordBatch | pa.Table) -> npt.NDArray[np.float32]:
    """The `features` tensor [n, 8] of validated item rows (see `OUTFITTING_FEATURES`)."""
    numbers = [
        np.asarray(batch.column(name).to_numpy(zero_copy_only=False), dtype=np.float32)
        for name in ("length_m", "diameter_mm", "weight_t", "spans_blocks", "items_in_block")
    ]
    columns = [
        category_codes(batch.column("kind"), ITEM_KINDS),
        category_codes(batch.column("system"), SYSTEMS),
        category_codes(batch.column("block_type"), BLOCK_TYPES),
        *numbers,
    ]
    return np.ascontiguousarray(np.column_stack(columns), dtype=np.float32)


def outfitting_spec(version: str, transport: str, batch_size: int = 262_144) -> AdapterSpec:
    """The outfitting model's spec."""
    return AdapterSpec(
        name="outfitting",
        system="outfitting",
        version=version,
        owner="outfitting engineering",
        description=(
            "Per outfitting item (pipe spool, cable tray, HVAC duct, equipment): the installation stage "
            "(on-unit, on-block, on-board) and the probability of rework. Use it to plan a zone's or block's "
            "outfitting and to find items at risk."
        ),
        input_schema=OutfittingItemRow,
        output_schema=OutfittingPredictionRow,
        batch_size=batch_size,
        transport=transport,
        role="outfitting_item",
        key_column="node",
    )


@adapter("outfitting")
class OutfittingAdapter(ModelAdapter):
    """Stage and rework risk per outfitting item."""

    def __init__(self, transport: Transport, version: str, batch_size: int = 262_144) -> None:
        super().__init__(outfitting_spec(version, transport.kind, batch_size), transport)

    def encode(self, batch: pa.RecordBatch | pa.Table) -> dict[str, npt.NDArray[np.generic]]:
        """Rows to the `features` tensor."""
        return {"features": encode_items(batch)}

    def decode(self, outputs: Mapping[str, npt.NDArray[np.generic]], batch: pa.RecordBatch | pa.Table) -> pa.Table:
        """Stage probabilities and rework risk to rows."""
        probs = np.asarray(outputs.get("stage_probabilities", np.empty((0, 3))), dtype=np.float64).reshape(-1, 3)
        best = probs.argmax(axis=1)
        rework = np.asarray(outputs.get("rework_probability", np.empty(0)), dtype=np.float64).reshape(-1)
        return pa.table(
            {
                "stage": pa.array(np.asarray(STAGES, dtype=object)[best].tolist(), type=pa.string()),
                "stage_confidence": probs[np.arange(len(best)), best],
                "rework_probability": rework,
            }
        )

    @staticmethod
    def yard_rows(yard: YardStore, nodes: npt.ArrayLike | None = None) -> pa.Table:
        """The yard's outfitting items (all, or those among `nodes`) as input rows, in node order.

        Columns `node` (int32), `block` (int32 block node, `yard.block_of`, -1 none), then `OutfittingItemRow`'s
        fields (the yard's `item_kind` is the row's `kind`). Fields the yard does not give (or a row leaves empty)
        take the model's defaults: `diameter_mm` 0; `spans_blocks` from the graph (`spans_blocks`). Per-block
        features: `block_type` is the item's block's (its block by the graph when it has none: an on-board item
        fitted after erection; "bottom", the first type, when no block or type is known); `items_in_block`
        counts all the yard's items of the same block.

        Raises:
            MissingFieldError: the yard gives no outfitting items, or not one of the fields the model cannot do
                without (`REQUIRED_ITEM_FIELDS`); it names the field and how to map it.
        """
        chosen = role_nodes(yard, "outfitting_item", nodes)
        fields = ["item_kind", "system", "length_m", "diameter_mm", "weight_t", "spans_blocks"]
        columns = role_rows_with_defaults(
            yard, "outfitting_item", chosen, fields, REQUIRED_ITEM_FIELDS, ITEM_DEFAULTS, "the outfitting model"
        )
        block = yard.block_of(chosen)
        spans = columns.get("spans_blocks")
        if spans is None or spans.null_count:
            derived = spans_blocks(yard, chosen, block)
            if spans is not None:
                derived = np.where(spans.is_null().to_numpy(), derived, spans.fill_null(False).to_numpy())
            columns["spans_blocks"] = pa.array(derived, pa.bool_())
        typed = np.where(block >= 0, block, _block_by_graph(yard, chosen, block))
        return pa.table(
            {
                "node": pa.array(chosen, pa.int32()),
                "block": pa.array(block, pa.int32()),
                "kind": columns["item_kind"],
                "system": columns["system"],
                "block_type": pa.array(block_types(yard, typed), pa.string()),
                "length_m": columns["length_m"],
                "diameter_mm": columns["diameter_mm"],
                "weight_t": columns["weight_t"],
                "spans_blocks": columns["spans_blocks"],
                "items_in_block": pa.array(_items_in_block(yard, block), pa.int64()),
            }
        )


REQUIRED_ITEM_FIELDS: Final = ("item_kind", "system", "length_m", "weight_t")
"""The outfitting item fields the model cannot do without (a yard that lacks one gets a `MissingFieldError`)."""
ITEM_DEFAULTS: Final[dict[str, object]] = {"diameter_mm": 0.0}
"""What an item field the yard does not give is taken to be (`spans_blocks` is derived: `spans_blocks`)."""
DEFAULT_BLOCK_TYPE: Final[BlockType] = BLOCK_TYPES[0]
"""The block type of an item whose block, or its type, the yard does not give."""


def spans_blocks(yard: YardStore, items: npt.NDArray[np.int32], blocks: npt.NDArray[np.int32]) -> npt.NDArray[np.bool_]:
    """Whether each item crosses a block boundary, by the graph.

    It does when its own block (`blocks`, -1 none) and the blocks of the nodes it directly waits on or holds up
    are two or more.
    """
    position, other = neighbour_blocks(yard, items)
    own = np.flatnonzero(blocks >= 0)
    pairs = np.unique(
        np.column_stack([np.r_[position, own], np.r_[other, blocks[own].astype(np.int64)]]).astype(np.int64), axis=0
    )
    return np.bincount(pairs[:, 0], minlength=len(items)) >= 2


def _block_by_graph(
    yard: YardStore, items: npt.NDArray[np.int32], blocks: npt.NDArray[np.int32]
) -> npt.NDArray[np.int64]:
    """Per item with no block of its own, the lowest block among its graph neighbours' (-1 none); others -1."""
    out = np.full(len(items), -1, dtype=np.int64)
    lost = np.flatnonzero(blocks < 0)
    if len(lost):
        position, other = neighbour_blocks(yard, items[lost])
        best = np.full(len(lost), np.iinfo(np.int64).max)
        np.minimum.at(best, position, other)
        found = best < np.iinfo(np.int64).max
        out[lost[found]] = best[found]
    return out


def block_types(yard: YardStore, blocks: npt.NDArray[np.int64]) -> list[str]:
    """The type of each block node (-1, or a yard without block types: `DEFAULT_BLOCK_TYPE`)."""
    out = np.full(len(blocks), DEFAULT_BLOCK_TYPE, dtype=object)
    if "block_type" not in yard.fields("block"):
        return out.tolist()
    every = yard.role_table("block", ["block_type"]).column("block_type").fill_null(DEFAULT_BLOCK_TYPE)
    types = np.asarray(every.to_pylist(), dtype=object)
    known = np.flatnonzero(blocks >= 0)
    rows = yard.role_rows("block", blocks[known])
    out[known[rows >= 0]] = types[rows[rows >= 0]]
    return out.tolist()


_PER_BLOCK: weakref.WeakKeyDictionary[YardStore, tuple[npt.NDArray[np.int32], npt.NDArray[np.int64]]] = (
    weakref.WeakKeyDictionary()
)
"""Per open yard, its blocks and how many items each holds (read once: the rows of one block count them all)."""


def _items_in_block(yard: YardStore, blocks: npt.NDArray[np.int32]) -> npt.NDArray[np.int64]:
    """Per block node, how many of the yard's items it holds (`yard.block_of`: on-board items count with theirs)."""
    found = _PER_BLOCK.get(yard)
    if found is None:
        every, counts = np.unique(yard.blocks_of_role("outfitting_item"), return_counts=True)
        found = _PER_BLOCK[yard] = (every, counts.astype(np.int64))
    every, counts = found
    if not len(every):
        return np.zeros(len(blocks), dtype=np.int64)
    at = np.minimum(np.searchsorted(every, blocks), len(every) - 1)
    return np.where((blocks >= 0) & (every[at] == blocks), counts[at], 0).astype(np.int64)


from_config = config_factory(OutfittingAdapter)
"""Builds the adapter from a config entry (as `factory = "adapters.outfitting:from_config"`; `@adapter` registers
it)."""
