"""Hull structure: blocks on an erection grid, assemblies, sub-assemblies and parts."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from knowledge.synthetic._layout import CODE_LIMITS
from knowledge.synthetic._sampling import apportion, categorical, clipped_normal, group_starts, split_groups

I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]
F32 = npt.NDArray[np.float32]

# by block type: bottom, side, deck, superstructure
_BLOCK_WEIGHT_T = np.array([220.0, 150.0, 120.0, 70.0])
_PLATE_T_MM = np.array([16.0, 13.0, 9.0, 6.5])
_GRADE_P = [  # A, AH32, AH36, DH36, EH36
    [0.25, 0.15, 0.30, 0.20, 0.10],
    [0.30, 0.15, 0.30, 0.17, 0.08],
    [0.50, 0.30, 0.20, 0.00, 0.00],
    [0.85, 0.15, 0.00, 0.00, 0.00],
]


@dataclass
class Blocks:
    """Blocks on a grid of stations (fore-aft) and levels (bottom up)."""

    station: I64
    level: I64
    block_type: I8
    mvz: I64
    weight_t: F32
    length_m: F32
    rests_on: tuple[I64, I64]
    """(lower, upper) block index pairs: the upper block is erected after the lower one."""
    key_station: int
    """Station of the key block, where erection starts."""

    @property
    def count(self) -> int:
        """Number of blocks."""
        return len(self.station)


def block_count(parts: int) -> int:
    """About 214 blocks at 25M parts, fewer and coarser for smaller yards."""
    return int(np.clip(round(214 * (parts / 25e6) ** 0.4), 4, CODE_LIMITS["blocks"]))


def make_blocks(rng: np.random.Generator, parts: int, blocks: int | None = None) -> Blocks:
    """Lay out blocks on stations and levels and say which rests on which.

    Erection starts at a key block in the bottom row slightly aft of midship and grows fore and
    aft; a block rests on the block below it and on its neighbour towards the key station.
    """
    nb = block_count(parts) if blocks is None else blocks
    nz = int(np.clip(round(math.sqrt(nb) / 2.1), 2, 7))
    b = np.arange(nb, dtype=np.int64)
    station, level = b // nz, b % nz
    nx = int(station.max()) + 1
    key = nx * 2 // 5
    n_super = max(1, round(nz * 0.3)) if nz > 2 else 0
    block_type = np.where(level == 0, 0, np.where(level == 1, 1, np.where(level >= nz - n_super, 3, 2))).astype(np.int8)
    mvz = 1 + station * 8 // nx
    weight = np.clip(_BLOCK_WEIGHT_T[block_type] * rng.lognormal(0.0, 0.25, nb), 30, 300).astype(np.float32)
    length = rng.uniform(15.0, 30.0, nb).astype(np.float32)

    below = np.where(level > 0, b - 1, -1)
    toward = np.where(station < key, b + nz, np.where(station > key, b - nz, -1))
    toward = np.where((toward >= 0) & (toward < nb), toward, -1)
    lower = np.concatenate([below[below >= 0], toward[toward >= 0]])
    upper = np.concatenate([b[below >= 0], b[toward >= 0]])
    order = np.lexsort((lower, upper))
    return Blocks(station, level, block_type, mvz, weight, length, (lower[order], upper[order]), key)


@dataclass
class Hull:
    """Assemblies, sub-assemblies and parts, each kind in hierarchical order."""

    block_assembly_start: I64
    assembly_sub_start: I64
    sub_part_start: I64
    part_block: npt.NDArray[np.int32]
    part_sub: npt.NDArray[np.int32]
    kind: I8
    grade: I8
    thickness_mm: F32
    length_m: F32
    width_m: F32
    weight_kg: F32


def make_hull(rng: np.random.Generator, blocks: Blocks, hull_parts: int) -> Hull:
    """Split the hull parts over blocks, assemblies and sub-assemblies and give each part its dimensions."""
    nb = blocks.count
    per_block = apportion(hull_parts, blocks.weight_t * rng.lognormal(0, 0.15, nb), minimum=2)
    asm_target = np.clip(
        np.round(per_block ** (1 / 3) / 2.2 * rng.uniform(0.8, 1.2, nb)), 1, CODE_LIMITS["assemblies_per_block"]
    )
    n_asm = np.minimum(asm_target.astype(np.int64), per_block).astype(np.int64)
    per_asm = split_groups(rng, per_block, n_asm)
    na = len(per_asm)
    sub_target = np.clip(
        np.round(np.sqrt(per_asm) / 5.3 * rng.uniform(0.8, 1.2, na)), 1, CODE_LIMITS["sub_assemblies_per_assembly"]
    )
    n_sub = np.minimum(sub_target.astype(np.int64), per_asm).astype(np.int64)
    per_sub = split_groups(rng, per_asm, n_sub)
    if per_sub.max() > CODE_LIMITS["parts_per_sub_assembly"]:
        raise AssertionError("a sub-assembly outgrew the part code's four digits")

    sub_block = np.repeat(np.repeat(np.arange(nb, dtype=np.int32), n_asm), n_sub)
    sub_part_start = group_starts(per_sub)
    part_sub = np.repeat(np.arange(len(per_sub), dtype=np.int32), per_sub)
    part_block = sub_block[part_sub]
    btype = blocks.block_type[part_block]
    n = hull_parts

    first = np.zeros(n, dtype=bool)
    first[sub_part_start[:-1]] = True
    kind = np.where(first, 0, categorical(rng, [[0.35, 0.45, 0.20]], np.zeros(n, dtype=np.int8))).astype(np.int8)
    plate_t = _PLATE_T_MM[btype]
    t_mean = np.where(kind == 0, plate_t, np.where(kind == 1, plate_t * 0.8, 10.0))
    thickness = np.round(clipped_normal(rng, t_mean, 2.0, 5.0, 32.0) * 2) / 2
    grade = categorical(rng, _GRADE_P, btype)
    length = np.where(kind == 2, rng.uniform(0.3, 1.0, n), rng.uniform(2.0, 12.0, n)).astype(np.float32)
    width = np.where(kind == 0, rng.uniform(1.5, 3.5, n), np.where(kind == 1, rng.uniform(0.1, 0.4, n), length)).astype(
        np.float32
    )
    shape_factor = np.where(kind == 0, 1.0, np.where(kind == 1, 1.3, 0.5))
    weight = (length * width * thickness * 7.85 * shape_factor).astype(np.float32)
    return Hull(
        block_assembly_start=group_starts(n_asm),
        assembly_sub_start=group_starts(n_sub),
        sub_part_start=sub_part_start,
        part_block=part_block,
        part_sub=part_sub,
        kind=kind,
        grade=grade,
        thickness_mm=thickness.astype(np.float32),
        length_m=length,
        width_m=width,
        weight_kg=weight,
    )
