"""The outfitting model: per outfitting item, the installation stage and the risk of rework.

One ONNX graph: input `features` FP32 [n, 8]; outputs `stage_probabilities` FP32 [n, 3]
(on-unit, on-block, on-board) and `rework_probability` FP32 [n].

The words the model knows (item kinds, ship systems, block types, stages) are its contract, declared here: a
categorical column is encoded as the word's index in its tuple, the order the shipped model was trained on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal, get_args

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from adapters.registry import adapter, config_factory
from adapters.schema import category_codes
from adapters.spec import AdapterSpec, ModelAdapter
from adapters.transports.base import Transport
from knowledge.partgraph import PartGraph

__all__ = [
    "BLOCK_TYPES",
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
    "Stage",
    "encode_items",
    "from_config",
    "outfitting_spec",
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
        yard_table="outfitting_items",
        key_column="item_id",
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
    def yard_rows(graph: PartGraph, block_ids: npt.ArrayLike | None = None) -> pa.Table:
        """The outfitting items of some blocks (all if None) as input rows, with `item_id` to name them."""
        columns = ["item_id", "block_id", "kind", "system", "length_m", "diameter_mm", "weight_t", "spans_blocks"]
        where = None if block_ids is None else ("block_id", np.asarray(block_ids).tolist())
        items = graph.table("outfitting_items", columns, where=where)
        blocks = graph.table("blocks", ["block_type"]).column(0).cast(pa.string()).to_numpy(zero_copy_only=False)
        block = items.column("block_id").to_numpy()
        per_block = np.bincount(
            graph.table("outfitting_items", ["block_id"]).column(0).to_numpy(), minlength=len(blocks)
        )
        return items.append_column("block_type", pa.array(blocks[block].tolist(), type=pa.string())).append_column(
            "items_in_block", pa.array(per_block[block].astype(np.int64))
        )


from_config = config_factory(OutfittingAdapter)
"""Builds the adapter from a config entry (as `factory = "adapters.outfitting:from_config"`; `@adapter` registers
it)."""
