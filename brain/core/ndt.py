"""NDT selection: which joints to inspect within a budget, riskiest first. One rule for the brain and the workflows."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from knowledge.errors import InputError

__all__ = [
    "DEFAULT_NDT_SHARE",
    "FULL_EXTENT_GAP_MM",
    "FULL_EXTENT_RULES",
    "FULL_EXTENT_GRADES",
    "FULL_EXTENT_THICKNESS_MM",
    "METHODS",
    "NDT_HOURS_PER_JOINT",
    "NDT_RULES",
    "UT_MIN_THICKNESS_MM",
    "NdtMethod",
    "full_extent_codes",
    "full_extent_rule",
    "inspection_hours",
    "method_codes",
    "ndt_method",
    "ndt_methods",
    "select_for_ndt",
]

NdtMethod = Literal["UT", "RT", "MT"]
UT_MIN_THICKNESS_MM: Final = 8.0
"""Butts of this thickness and over are tested by UT, thinner ones by RT (NDT-RULE-01, "Method selection")."""
FULL_EXTENT_THICKNESS_MM: Final = 20.0
"""High-strength butts thicker than this are tested in full (NDT-RULE-04)."""
FULL_EXTENT_GRADES: Final = frozenset({"AH36", "DH36", "EH36"})
"""The high-strength grades NDT-RULE-04 names."""
FULL_EXTENT_GAP_MM: Final = 2.0
"""Butts with a fit-up gap over this are tested in full (NDT-RULE-05)."""
NDT_RULES: Final = "NDT-RULE-01 (method selection), NDT-RULE-02, NDT-RULE-04, NDT-RULE-05 (full-extent joints)"
"""The yard rules (documents of the demo corpus) behind the method and full-extent choices."""
NDT_HOURS_PER_JOINT: Final[Mapping[NdtMethod, float]] = MappingProxyType({"UT": 1.0, "RT": 1.5, "MT": 0.5})
"""NDT hours of one joint by method (set-up, testing and report), unless a plan gives its own."""
DEFAULT_NDT_SHARE: Final = 0.1
"""The share of the joints an NDT plan inspects when no budget is given."""
METHODS: Final[tuple[NdtMethod, ...]] = ("UT", "RT", "MT")
"""The NDT methods, in the order of `method_codes`."""
FULL_EXTENT_RULES: Final[tuple[str | None, ...]] = (None, "NDT-RULE-02", "NDT-RULE-04", "NDT-RULE-05")
"""What `full_extent_codes` stands for: no rule, then the rules in the order `full_extent_rule` tries them."""


def ndt_method(joint_type: str, thickness_mm: float) -> NdtMethod:
    """NDT-RULE-01 "Method selection": UT for butts of 8 mm and over, RT under 8 mm, MT for fillets."""
    if joint_type == "fillet":
        return "MT"
    return "UT" if thickness_mm >= UT_MIN_THICKNESS_MM else "RT"


def ndt_methods(joint_types: Sequence[str], thickness_mm: Sequence[float]) -> list[NdtMethod]:
    """`ndt_method` of each joint, from its joint type and thickness."""
    return [ndt_method(str(t), float(mm)) for t, mm in zip(joint_types, thickness_mm, strict=True)]


def method_codes(joint_type: npt.ArrayLike, thickness_mm: npt.ArrayLike) -> npt.NDArray[np.int8]:
    """`ndt_method` of many joints at once, as indices into `METHODS` (the same rule, without a call per joint)."""
    fillet = np.asarray(joint_type, dtype=object) == "fillet"
    thick = np.asarray(thickness_mm, dtype=np.float64) >= UT_MIN_THICKNESS_MM
    return np.where(fillet, METHODS.index("MT"), np.where(thick, METHODS.index("UT"), METHODS.index("RT"))).astype(
        np.int8
    )


def inspection_hours(
    methods: Sequence[NdtMethod], per_joint: Mapping[NdtMethod, float] = NDT_HOURS_PER_JOINT
) -> npt.NDArray[np.float64]:
    """The NDT hours of each joint: its method's hours per joint (`NDT_HOURS_PER_JOINT` unless given)."""
    return np.asarray([per_joint[m] for m in methods], dtype=np.float64)


def full_extent_rule(row: Mapping[str, str | float | bool]) -> str | None:
    """The rule that inspects a butt joint over its whole length, or None (fillets are never at 100 %).

    `row` holds the joint's `joint_type`, `level`, `one_sided`, `grade`, `thickness_mm`, `access` and `fit_up_gap_mm`.
    """
    if row["joint_type"] != "butt":
        return None
    if row["level"] == "erection" or row["one_sided"]:
        return "NDT-RULE-02"
    if row["grade"] in FULL_EXTENT_GRADES and float(row["thickness_mm"]) > FULL_EXTENT_THICKNESS_MM:
        return "NDT-RULE-04"
    if row["access"] == "poor" or float(row["fit_up_gap_mm"]) > FULL_EXTENT_GAP_MM:
        return "NDT-RULE-05"
    return None


def full_extent_codes(columns: Mapping[str, npt.ArrayLike]) -> npt.NDArray[np.int8]:
    """`full_extent_rule` of many joints at once, as indices into `FULL_EXTENT_RULES` (0: none).

    `columns` holds one array per column `full_extent_rule` reads (`joint_type`, `level`, `one_sided`, `grade`,
    `thickness_mm`, `access`, `fit_up_gap_mm`), one value per joint; the rules are tried in the same order.
    """

    def text(name: str) -> npt.NDArray[np.object_]:
        return np.asarray(columns[name], dtype=object)

    def number(name: str) -> npt.NDArray[np.float64]:
        return np.asarray(columns[name], dtype=np.float64)

    butt = text("joint_type") == "butt"
    rule02 = (text("level") == "erection") | np.asarray(columns["one_sided"], dtype=bool)
    rule04 = np.isin(text("grade"), list(FULL_EXTENT_GRADES)) & (number("thickness_mm") > FULL_EXTENT_THICKNESS_MM)
    rule05 = (text("access") == "poor") | (number("fit_up_gap_mm") > FULL_EXTENT_GAP_MM)
    code = np.select([rule02, rule04, rule05], [1, 2, 3], default=0)
    return np.where(butt, code, 0).astype(np.int8)


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
