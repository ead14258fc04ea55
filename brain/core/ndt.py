"""NDT selection: which joints to inspect within a budget, riskiest first. One rule for the brain and the workflows."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from knowledge.errors import InputError

__all__ = ["select_for_ndt"]


def select_for_ndt(
    risk: npt.ArrayLike,
    *,
    share: float | None = None,
    count: int | None = None,
    hours: float | None = None,
    inspection_hours: npt.ArrayLike | None = None,
) -> npt.NDArray[np.int64]:
    """The joints to inspect: indices into `risk`, the highest predicted defect probability first.

    Exactly one budget is given:
        share: a share of the joints, 0-1: `ceil(share * n)` joints, at least one.
        count: a number of joints (at most all of them).
        hours: inspection hours: the riskiest joints while their running sum of `inspection_hours` stays within it.

    Ties keep the joints' order (a stable sort), so the same predictions always give the same selection.
    """
    given = [name for name, value in (("share", share), ("count", count), ("hours", hours)) if value is not None]
    if len(given) != 1:
        raise InputError(f"an NDT budget is exactly one of share, count or hours; got {', '.join(given) or 'none'}")
    p = np.asarray(risk, dtype=np.float64)
    n = len(p)
    order = np.argsort(-p, kind="stable").astype(np.int64)
    if share is not None:
        if not 0 < share <= 1:
            raise InputError(f"an NDT share is more than 0 and at most 1 (0.1 = 10 %); got {share!r}")
        take = min(n, max(1, math.ceil(share * n - 1e-9)))
    elif count is not None:
        if count < 1:
            raise InputError(f"an NDT joint count is at least 1; got {count!r}")
        take = min(n, count)
    else:
        assert hours is not None
        if inspection_hours is None:
            raise InputError("an hours budget needs the inspection hours of each joint")
        cost = np.asarray(inspection_hours, dtype=np.float64)
        if cost.shape != p.shape:
            raise InputError(f"inspection hours for {len(cost)} joints, risk for {n}")
        spent = np.cumsum(cost[order])
        take = int(np.searchsorted(spent, hours + 1e-9, side="right"))
    return order[:take]
