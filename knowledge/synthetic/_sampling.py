"""Vectorised sampling helpers shared by the generator's stages."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]


def group_starts(counts: npt.ArrayLike) -> I64:
    """CSR-style offsets (length n + 1) from per-group counts."""
    counts = np.asarray(counts, dtype=np.int64)
    out = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def rank_in_group(counts: npt.ArrayLike) -> I64:
    """0-based position of every child inside its group, for groups laid out one after another."""
    counts = np.asarray(counts, dtype=np.int64)
    starts = group_starts(counts)
    return np.arange(starts[-1], dtype=np.int64) - np.repeat(starts[:-1], counts)


def split_groups(rng: np.random.Generator, totals: npt.ArrayLike, children: npt.ArrayLike, shape: float = 2.0) -> I64:
    """Split each group's total over its children, every child getting at least one.

    Shares follow gamma(`shape`) weights, so sizes vary as real assemblies do. Requires
    `children <= totals` element-wise; the counts of a group add up to its total exactly.
    """
    totals = np.asarray(totals, dtype=np.int64)
    children = np.asarray(children, dtype=np.int64)
    if np.any(children > totals) or np.any(children < 1):
        raise ValueError("every group needs between 1 and `total` children")
    group = np.repeat(np.arange(len(totals)), children)
    weights = rng.gamma(shape, size=len(group))
    weight_sum = np.bincount(group, weights=weights, minlength=len(totals))
    spare = (totals - children)[group]
    counts = 1 + np.floor(spare * weights / weight_sum[group]).astype(np.int64)
    remainder = totals - np.bincount(group, weights=counts, minlength=len(totals)).astype(np.int64)
    counts += rank_in_group(children) < remainder[group]
    return counts


def apportion(total: int, weights: npt.ArrayLike, minimum: int = 0) -> I64:
    """Integers proportional to `weights`, each at least `minimum`, adding up to `total` (largest remainder)."""
    w = np.asarray(weights, dtype=np.float64)
    spare = total - minimum * len(w)
    if spare < 0:
        raise ValueError(f"cannot give {len(w)} groups at least {minimum} from {total}")
    exact = spare * w / w.sum()
    counts = np.floor(exact).astype(np.int64)
    left = spare - int(counts.sum())
    counts[np.argsort(-(exact - counts), kind="stable")[:left]] += 1
    return counts + minimum


def categorical(
    rng: np.random.Generator, probabilities: Sequence[Sequence[float]], group: npt.ArrayLike
) -> npt.NDArray[np.int8]:
    """Draw a category per row from the probability row of its group (rows need not be normalised)."""
    group = np.asarray(group)
    table = np.asarray(probabilities, dtype=np.float64)
    cdf = np.cumsum(table, axis=1)
    cdf /= cdf[:, -1:]
    u = rng.random(len(group))
    out = np.empty(len(group), dtype=np.int8)
    for g in range(len(table)):
        sel = group == g
        out[sel] = np.minimum(np.searchsorted(cdf[g], u[sel], side="right"), table.shape[1] - 1)
    return out


def choice(rng: np.random.Generator, probabilities: Sequence[float], n: int) -> npt.NDArray[np.int8]:
    """Draw `n` categories from one probability vector."""
    return categorical(rng, [probabilities], np.zeros(n, dtype=np.int8))


def clipped_normal(
    rng: np.random.Generator, mean: npt.ArrayLike, sd: float, low: float, high: float
) -> npt.NDArray[np.float32]:
    """Normal draws clipped to [low, high], as float32."""
    mean = np.asarray(mean, dtype=np.float64)
    return np.clip(rng.normal(mean, sd), low, high).astype(np.float32)
