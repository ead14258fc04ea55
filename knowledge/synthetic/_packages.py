"""Work packages by block and trade, yard resources, and planned and actual dates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from knowledge.synthetic._hull import Blocks
from knowledge.synthetic.vocabulary import RESOURCE_KINDS, TRADE_MAKES, TRADE_NAMES, TRADE_RESOURCE_KINDS, TRADES

I64 = npt.NDArray[np.int64]

DOCK_START = dt.date(2025, 3, 3)
DAYS_PER_ERECTION = 1.25
# Planned working days per work package for a block of average size, by trade (PNL, ASM, OFB, ERE,
# OBD): the yard sizes its crews so that a block's work takes about this long, as a planner would.
_TARGET_DAYS = np.array([6.0, 8.0, 10.0, 1.0, 30.0])
_CREW_LIMITS = (2, 400)
_FIXED_HOURS = {"part": 0.4, "assembly": 40.0, "erection": 16.0}
RESOURCES: tuple[tuple[str, str, int, float], ...] = (
    # name, kind, parallel capacity (work packages at once), lift capacity in t (cranes only)
    ("PL-1", "panel_line", 4, 0.0),  # a panel line's stations (seam welding, turnover, ...) hold 4 blocks' panels
    ("PL-2", "panel_line", 4, 0.0),
    ("WS-1", "workshop", 2, 0.0),
    ("WS-2", "workshop", 2, 0.0),
    ("WS-3", "workshop", 2, 0.0),
    ("OH-1", "outfitting_hall", 3, 0.0),
    ("OH-2", "outfitting_hall", 3, 0.0),
    ("GC-1", "crane", 1, 900.0),
    ("GC-2", "crane", 1, 600.0),
    ("DOCK-1", "dock", 1, 0.0),
)


def trades_table() -> pa.Table:
    """The yard's trades, in the order a block goes through them, with the resource kind and node kinds of each."""
    return pa.table(
        {
            "trade": pa.array(list(TRADES), type=pa.string()),
            "name": pa.array([TRADE_NAMES[t] for t in TRADES], type=pa.string()),
            "sequence": pa.array(range(len(TRADES)), type=pa.int32()),
            "resource_kind": pa.array([TRADE_RESOURCE_KINDS[t] for t in TRADES], type=pa.string()),
            "makes": pa.array([",".join(TRADE_MAKES[t]) for t in TRADES], type=pa.string()),
        }
    )


@dataclass
class Packages:
    """Work-package and resource tables, and each block's erection sequence and dates."""

    work_packages: pa.Table
    resources: pa.Table
    erection_sequence: I64
    planned_erection: I64
    actual_erection: I64


def erection_sequence(blocks: Blocks) -> I64:
    """Position of each block in the planned erection order (0 first), respecting what rests on what."""
    nb = blocks.count
    lower, upper = blocks.rests_on
    depth = np.zeros(nb, dtype=np.int64)
    for _ in range(nb):  # longest chain below each block; converges in at most nb rounds
        new = depth.copy()
        np.maximum.at(new, upper, depth[lower] + 1)
        if np.array_equal(new, depth):
            break
        depth = new
    order = np.lexsort((blocks.station, np.abs(blocks.station - blocks.key_station), depth))
    sequence = np.empty(nb, dtype=np.int64)
    sequence[order] = np.arange(nb)
    return sequence


def _slip(rng: np.random.Generator, n: int) -> I64:
    """Start slips in days: 60 % on time, 30 % 1-4 days, 10 % long (median 8 days)."""
    u = rng.random(n)
    short = rng.integers(1, 5, n)
    long = np.clip(np.round(rng.lognormal(np.log(8.0), 0.6, n)), 5, 60).astype(np.int64)
    return np.where(u < 0.6, 0, np.where(u < 0.9, short, long))


def make_packages(
    rng: np.random.Generator,
    blocks: Blocks,
    per_block_parts: I64,
    per_block_assemblies: I64,
    members: list[tuple[npt.NDArray[np.generic], npt.NDArray[np.generic], npt.NDArray[np.generic]]],
) -> Packages:
    """Roll member hours up to work packages and draw planned and actual dates.

    `members` holds (work_package_id, norm_hours, actual_hours) arrays of joints and items.
    """
    nb, nt = blocks.count, len(TRADES)
    nwp = nb * nt
    est_flat = np.zeros(nwp)
    act_flat = np.zeros(nwp)
    for wp, norm, actual in members:
        est_flat += np.bincount(wp, weights=norm, minlength=nwp)
        act_flat += np.bincount(wp, weights=actual, minlength=nwp)
    fixed = np.zeros((nb, nt))
    fixed[:, 0] = per_block_parts * _FIXED_HOURS["part"]
    fixed[:, 1] = per_block_assemblies * _FIXED_HOURS["assembly"]
    fixed[:, 3] = _FIXED_HOURS["erection"]
    est = (est_flat + fixed.ravel()).reshape(nb, nt)
    act = (act_flat + fixed.ravel() * rng.lognormal(0.0, 0.1, nwp)).reshape(nb, nt)

    sequence = erection_sequence(blocks)
    dock0 = (DOCK_START - dt.date(1970, 1, 1)).days
    erect = dock0 + np.round(sequence * DAYS_PER_ERECTION).astype(np.int64)
    size = (per_block_parts / max(float(per_block_parts.mean()), 1.0)) ** 0.3
    target_days = _TARGET_DAYS[None, :] * size[:, None]
    crew = np.clip(np.ceil(est / (8.0 * target_days)), *_CREW_LIMITS).astype(np.int64)
    dur = np.maximum(1, np.ceil(est / (crew * 8.0))).astype(np.int64)
    p_start, p_finish = np.zeros((nb, nt), np.int64), np.zeros((nb, nt), np.int64)
    p_finish[:, 2] = erect - 3
    p_start[:, 2] = p_finish[:, 2] - dur[:, 2]
    p_finish[:, 1] = p_start[:, 2] - 1
    p_start[:, 1] = p_finish[:, 1] - dur[:, 1]
    p_finish[:, 0] = p_start[:, 1] - 1
    p_start[:, 0] = p_finish[:, 0] - dur[:, 0]
    p_start[:, 3], p_finish[:, 3] = erect, erect + dur[:, 3]
    p_start[:, 4] = erect + 14
    p_finish[:, 4] = p_start[:, 4] + dur[:, 4]

    a_dur = np.maximum(1, np.round(dur * (act / est) * rng.lognormal(0.0, 0.1, (nb, nt)))).astype(np.int64)
    slip = _slip(rng, nwp).reshape(nb, nt)
    a_start, a_finish = np.zeros_like(p_start), np.zeros_like(p_start)
    for t in (0, 1, 2):  # fabrication chain in each block: PNL -> ASM -> OFB
        ready = p_start[:, t] + slip[:, t]
        if t > 0:
            ready = np.maximum(ready, a_finish[:, t - 1] + 1)
        a_start[:, t], a_finish[:, t] = ready, ready + a_dur[:, t]
    lower, upper = blocks.rests_on
    for b in np.argsort(sequence):  # erection waits on the block's outfitting and on what it rests on
        below = lower[upper == b]
        day = max(int(p_start[b, 3] + slip[b, 3]), int(a_finish[b, 2]) + 1)
        if len(below):
            day = max(day, int(a_finish[below, 3].max()) + 1)
        a_start[b, 3], a_finish[b, 3] = day, day + a_dur[b, 3]
    a_start[:, 4] = np.maximum(p_start[:, 4] + slip[:, 4], a_finish[:, 3] + 14)
    a_finish[:, 4] = a_start[:, 4] + a_dur[:, 4]

    resource_of = np.empty((nb, nt), dtype=object)
    b = np.arange(nb)
    resource_of[:, 0] = np.where(b % 2 == 0, "PL-1", "PL-2")
    resource_of[:, 1] = np.array(["WS-1", "WS-2", "WS-3"])[b % 3]
    resource_of[:, 2] = np.where(b % 2 == 0, "OH-1", "OH-2")
    resource_of[:, 3] = "DOCK-1"
    resource_of[:, 4] = None
    crane = np.full((nb, nt), None, dtype=object)
    crane[:, 3] = np.where(blocks.weight_t > 250, "GC-1", np.where(b % 2 == 0, "GC-1", "GC-2"))

    def dates(days: npt.NDArray[np.int64]) -> pa.Array:
        return pa.array(days.ravel().astype(np.int32), type=pa.int32()).cast(pa.date32())

    codes = [f"WP-B{bi + 1:03d}-{t}" for bi in range(nb) for t in TRADES]
    wp = pa.table(
        {
            "work_package_id": pa.array(np.arange(nwp, dtype=np.int32)),
            "code": pa.array(codes),
            "block_id": pa.array(np.repeat(np.arange(nb, dtype=np.int32), nt)),
            "trade": pa.DictionaryArray.from_arrays(pa.array(np.tile(np.arange(nt, dtype=np.int8), nb)), list(TRADES)),
            "resource": pa.array(resource_of.ravel().tolist(), type=pa.string()),
            "crane": pa.array(crane.ravel().tolist(), type=pa.string()),
            "crew": pa.array(crew.ravel().astype(np.int16)),
            "estimated_hours": pa.array(est.ravel().astype(np.float32)),
            "actual_hours": pa.array(act.ravel().astype(np.float32)),
            "planned_start": dates(p_start),
            "planned_finish": dates(p_finish),
            "actual_start": dates(a_start),
            "actual_finish": dates(a_finish),
        }
    )
    res = pa.table(
        {
            "resource": [r[0] for r in RESOURCES],
            "kind": pa.DictionaryArray.from_arrays(
                pa.array([RESOURCE_KINDS.index(r[1]) for r in RESOURCES], type=pa.int8()), list(RESOURCE_KINDS)
            ),
            "capacity": pa.array([r[2] for r in RESOURCES], type=pa.int16()),
            "lift_capacity_t": pa.array([r[3] for r in RESOURCES], type=pa.float32()),
        }
    )
    return Packages(wp, res, sequence, erect, a_start[:, 3].copy())
