"""Outfitting items (pipe spools, cable trays, HVAC ducts, equipment) by block, system and zone."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from knowledge.synthetic._hull import Blocks
from knowledge.synthetic._layout import CODE_LIMITS
from knowledge.synthetic._sampling import apportion, categorical, group_starts
from knowledge.synthetic.vocabulary import ITEM_KINDS, SYSTEMS

I64 = npt.NDArray[np.int64]

_DENSITY = np.array([1.3, 0.8, 1.0, 1.4])  # items per block by block type
_KIND_P = [[0.55, 0.10, 0.15, 0.20], [0.45, 0.25, 0.20, 0.10], [0.30, 0.30, 0.30, 0.10], [0.25, 0.30, 0.35, 0.10]]
_BASE_HOURS = np.array([6.0, 3.0, 5.0, 20.0])
_STAGE_FACTOR = np.array([0.6, 1.0, 2.5])
SYSTEM_OFFSET = np.cumsum([0] + [len(SYSTEMS[k]) for k in ITEM_KINDS])


@dataclass
class Items:
    """Outfitting items in id order (block by block)."""

    block_item_start: I64
    columns: dict[str, npt.NDArray[np.generic]]
    edges: tuple[I64, I64]


def make_items(
    rng: np.random.Generator, blocks: Blocks, block_assembly_start: I64, n_items: int, kind_start: dict[str, int]
) -> Items:
    """Generate items, their ground-truth stage and actuals, and the edges to the structure they sit on."""
    nb = blocks.count
    per_block = apportion(n_items, _DENSITY[blocks.block_type] * rng.uniform(0.8, 1.2, nb))
    if per_block.max(initial=0) > CODE_LIMITS["items_per_block"]:
        raise AssertionError("a block outgrew the outfitting item code's five digits")
    block = np.repeat(np.arange(nb, dtype=np.int64), per_block)
    btype = blocks.block_type[block]
    n = len(block)
    kind = categorical(rng, _KIND_P, btype)
    n_systems = np.diff(SYSTEM_OFFSET)
    system = (SYSTEM_OFFSET[kind] + np.floor(rng.random(n) * n_systems[kind])).astype(np.int16)
    length = np.select(
        [kind == 0, kind == 1, kind == 2],
        [rng.uniform(1, 6, n), rng.uniform(2, 6, n), rng.uniform(1, 4, n)],
        rng.uniform(1, 5, n),
    ).astype(np.float32)
    diameter = np.select(
        [kind == 0, kind == 1, kind == 2],
        [
            np.clip(rng.lognormal(np.log(150), 0.5, n), 25, 600),
            rng.uniform(300, 900, n),
            np.clip(rng.lognormal(np.log(400), 0.4, n), 150, 1200),
        ],
        0.0,
    ).astype(np.float32)
    weight = np.where(
        kind == 3, np.clip(rng.lognormal(np.log(3.0), 1.0, n), 0.2, 80.0), length * (diameter / 1000.0) * 0.08 + 0.01
    ).astype(np.float32)
    spans = np.where(kind == 3, (weight > 20) & (rng.random(n) < 0.3), rng.random(n) < 0.04 * length)

    # ground-truth stage: highest score plus Gumbel noise
    is_equip, heavy = kind == 3, weight > 12
    on_unit = np.where(is_equip & ~heavy, 1.2, -1.0) + 0.8 * (btype == 0)
    on_block = 1.0 + 0.5 * np.isin(kind, [0, 2]) - 1.5 * spans - 0.8 * heavy
    on_board = 0.2 + 1.2 * spans + 0.8 * (kind == 1) + 0.6 * (btype == 3)
    scores = np.stack([on_unit, on_block, on_board], axis=1) + 0.5 * rng.gumbel(size=(n, 3))
    stage = np.argmax(scores, axis=1).astype(np.int8)

    size = np.select(
        [kind == 0, kind == 1, kind == 2],
        [length / 3 * np.sqrt(diameter / 150), length / 3, length / 2 * np.sqrt(diameter / 400)],
        weight**0.6,
    )
    norm = _BASE_HOURS[kind] * size * np.where(stage == 2, 1.5, 1.0)
    actual = _BASE_HOURS[kind] * size * _STAGE_FACTOR[stage] * rng.lognormal(0.0, 0.2, n)
    congestion = (per_block - per_block.mean()) / max(float(per_block.std()), 1e-9)
    logit = (
        -3.4
        + 0.9 * (stage == 2)
        + 0.2 * (stage == 1)
        + 0.7 * spans
        + 0.5 * congestion[block]
        + 0.3 * (kind == 2)
        + 0.2 * (kind == 0)
    )
    rework = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))

    n_asm = np.diff(block_assembly_start)
    parent = np.where(stage == 1, block_assembly_start[block] + np.floor(rng.random(n) * n_asm[block]), -1)
    parent = parent.astype(np.int64)
    trade = np.where(stage == 2, 4, 2)  # OBD, OFB
    item_id = kind_start["outfitting_item"] + np.arange(n, dtype=np.int64)
    block_id = kind_start["block"] + block
    on_block_sel = stage == 1
    before_block = stage <= 1
    src = [kind_start["assembly"] + parent[on_block_sel], item_id[before_block], block_id[stage == 2]]
    dst = [item_id[on_block_sel], block_id[before_block], item_id[stage == 2]]
    columns: dict[str, npt.NDArray[np.generic]] = {
        "block_id": block_id.astype(np.int32),
        "assembly_id": np.where(parent >= 0, kind_start["assembly"] + parent, -1).astype(np.int32),
        "kind": kind,
        "system": system,
        "length_m": length,
        "diameter_mm": diameter,
        "weight_t": weight,
        "spans_blocks": spans,
        "stage": stage,
        "work_package_id": (block * 5 + trade).astype(np.int32),
        "norm_hours": norm.astype(np.float32),
        "actual_hours": actual.astype(np.float32),
        "rework": rework,
    }
    return Items(group_starts(per_block), columns, (np.concatenate(src), np.concatenate(dst)))
