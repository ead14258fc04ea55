"""NDT selection: which joints to inspect within a budget, riskiest first. One rule for the brain and the workflows.

The rules that choose a joint's method and the joints tested over their whole length are the built-in defaults
(`BUILT_IN_RULES`: the demo corpus's NDT-RULE-01, -02, -04 and -05) unless the yard states its own in `[ndt]` of its
`yard.toml` (`knowledge.yardformat.NdtRulesSpec`); `ndt_rules(yard)` gives the rules a yard's answers use, and
answers say which they are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Literal

import numpy as np
import numpy.typing as npt

from knowledge.errors import InputError

if TYPE_CHECKING:
    from knowledge.settings import Settings
    from knowledge.store import YardStore
    from knowledge.yardformat import NdtRulesSpec

__all__ = [
    "BUILT_IN_RULES",
    "DEFAULT_NDT_SHARE",
    "FULL_EXTENT_GAP_MM",
    "FULL_EXTENT_RULES",
    "FULL_EXTENT_GRADES",
    "FULL_EXTENT_THICKNESS_MM",
    "METHODS",
    "NDT_HOURS_PER_JOINT",
    "NDT_RULES",
    "NDT_RULE_DOCUMENTS",
    "UT_MIN_THICKNESS_MM",
    "NdtMethod",
    "NdtRules",
    "full_extent_codes",
    "full_extent_rule",
    "inspection_hours",
    "method_codes",
    "ndt_method",
    "ndt_methods",
    "ndt_rules",
    "rules_from",
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
"""The built-in rules (documents of the demo corpus) behind the method and full-extent choices."""
NDT_RULE_DOCUMENTS: Final = ("NDT-RULE-01", "NDT-RULE-02", "NDT-RULE-04", "NDT-RULE-05")
"""The demo corpus's documents that state the built-in rules (cited only where the document store holds them)."""
NDT_HOURS_PER_JOINT: Final[Mapping[NdtMethod, float]] = MappingProxyType({"UT": 1.0, "RT": 1.5, "MT": 0.5})
"""NDT hours of one joint by method (set-up, testing and report), unless a plan gives its own."""
DEFAULT_NDT_SHARE: Final = 0.1
"""The share of the joints an NDT plan inspects when no budget is given."""
METHODS: Final[tuple[NdtMethod, ...]] = ("UT", "RT", "MT")
"""The NDT methods, in the order of `method_codes`."""
FULL_EXTENT_RULES: Final[tuple[str | None, ...]] = (None, "NDT-RULE-02", "NDT-RULE-04", "NDT-RULE-05")
"""What `full_extent_codes` stands for: no rule, then the rules in the order `full_extent_rule` tries them."""


@dataclass(frozen=True)
class NdtRules:
    """The rules that give a joint its NDT method and test some butts over their whole length, with their values.

    The defaults are the built-in rules (`BUILT_IN_RULES`); a yard's `[ndt]` overrides any of them (`ndt_rules`).
    """

    ut_min_thickness_mm: float = UT_MIN_THICKNESS_MM
    """Butts of this thickness and over are tested by UT, thinner ones by RT; fillets by MT (mm)."""
    full_extent_erection: bool = True
    """Erection butts are tested in full."""
    full_extent_one_sided: bool = True
    """One-sided butts are tested in full."""
    full_extent_grades: frozenset[str] = FULL_EXTENT_GRADES
    """The grades whose butts thicker than `full_extent_thickness_mm` are tested in full."""
    full_extent_thickness_mm: float = FULL_EXTENT_THICKNESS_MM
    """See `full_extent_grades` (mm)."""
    full_extent_poor_access: bool = True
    """Butts with poor access are tested in full."""
    full_extent_gap_mm: float = FULL_EXTENT_GAP_MM
    """Butts with a fit-up gap over this are tested in full (mm)."""
    hours_per_joint: Mapping[NdtMethod, float] = field(default_factory=lambda: NDT_HOURS_PER_JOINT)
    """NDT hours of one joint by method (h)."""
    default_share: float = DEFAULT_NDT_SHARE
    """The share of the joints a plan inspects when no budget is given."""
    configured: bool = False
    """The yard stated these rules (`[ndt]` in its yard.toml); False: the built-in defaults."""
    source: str | None = None
    """The yard's document that states them, as its `[ndt] source` names it."""

    @property
    def title(self) -> str:
        """What the rules are, in an answer: "the built-in default rules" or "the yard's NDT rules (QA 7.2)"."""
        if not self.configured:
            return "the built-in default rules"
        return "the yard's NDT rules" + (f" ({self.source})" if self.source else " ([ndt] in its yard.toml)")

    def method_words(self, method: NdtMethod) -> str:
        """A joint's method and the rules behind it, in words: "UT (NDT-RULE-01) by the built-in default rules"."""
        return f"{method}{' (NDT-RULE-01)' if not self.configured else ''} by {self.title}"

    @property
    def rule_names(self) -> tuple[str | None, ...]:
        """What `full_extent_codes` stands for: no rule, then each full-extent rule as answers name it."""
        if not self.configured:
            return FULL_EXTENT_RULES
        return (
            None,
            "the yard's rule for erection and one-sided butts",
            f"the yard's rule for high-strength butts over {self.full_extent_thickness_mm:g} mm",
            f"the yard's rule for poor access or a gap over {self.full_extent_gap_mm:g} mm",
        )

    @property
    def full_extent_names(self) -> str:
        """The full-extent rules in a few words: "NDT-RULE-02, -04, -05" or "erection, one-sided, ... butts"."""
        if not self.configured:
            return "NDT-RULE-02, -04, -05"
        said = [
            *(["erection"] if self.full_extent_erection else []),
            *(["one-sided"] if self.full_extent_one_sided else []),
            *(
                [f"{'/'.join(sorted(self.full_extent_grades))} over {self.full_extent_thickness_mm:g} mm"]
                if self.full_extent_grades
                else []
            ),
            *(["poor-access"] if self.full_extent_poor_access else []),
            f"gap over {self.full_extent_gap_mm:g} mm",
        ]
        return ", ".join(said) + " butts"

    def method(self, joint_type: str, thickness_mm: float) -> NdtMethod:
        """A joint's method: UT for butts of `ut_min_thickness_mm` and over, RT under it, MT for fillets."""
        if joint_type == "fillet":
            return "MT"
        return "UT" if thickness_mm >= self.ut_min_thickness_mm else "RT"

    def method_codes(self, joint_type: npt.ArrayLike, thickness_mm: npt.ArrayLike) -> npt.NDArray[np.int8]:
        """`method` of many joints at once, as indices into `METHODS`."""
        fillet = np.asarray(joint_type, dtype=object) == "fillet"
        thick = np.asarray(thickness_mm, dtype=np.float64) >= self.ut_min_thickness_mm
        return np.where(fillet, METHODS.index("MT"), np.where(thick, METHODS.index("UT"), METHODS.index("RT"))).astype(
            np.int8
        )

    def full_extent_rule(self, row: Mapping[str, str | float | bool]) -> str | None:
        """The rule (as `rule_names` names it) that inspects a butt joint over its whole length, or None.

        `row` holds the joint's `joint_type`, `level`, `one_sided`, `grade`, `thickness_mm`, `access` and
        `fit_up_gap_mm`. Fillets are never tested in full.
        """
        code = int(self.full_extent_codes({k: [v] for k, v in row.items()})[0])
        return self.rule_names[code]

    def full_extent_codes(self, columns: Mapping[str, npt.ArrayLike]) -> npt.NDArray[np.int8]:
        """`full_extent_rule` of many joints at once, as indices into `rule_names` (0: none).

        `columns` holds one array per column `full_extent_rule` reads, one value per joint; the rules are tried in
        order (erection and one-sided, high-strength and thick, poor access and wide gap).
        """

        def text(name: str) -> npt.NDArray[np.object_]:
            return np.asarray(columns[name], dtype=object)

        def number(name: str) -> npt.NDArray[np.float64]:
            return np.asarray(columns[name], dtype=np.float64)

        butt = text("joint_type") == "butt"
        erection = text("level") == "erection"
        one_sided = np.asarray(columns["one_sided"], dtype=bool)
        rule02 = (erection & self.full_extent_erection) | (one_sided & self.full_extent_one_sided)
        rule04 = np.isin(text("grade"), sorted(self.full_extent_grades)) & (
            number("thickness_mm") > self.full_extent_thickness_mm
        )
        poor = (text("access") == "poor") & self.full_extent_poor_access
        rule05 = poor | (number("fit_up_gap_mm") > self.full_extent_gap_mm)
        code = np.select([rule02, rule04, rule05], [1, 2, 3], default=0)
        return np.where(butt, code, 0).astype(np.int8)


BUILT_IN_RULES: Final = NdtRules()
"""The built-in default rules: those of the demo corpus (NDT-RULE-01, -02, -04, -05), for a yard that states none."""


def ndt_rules(yard: YardStore) -> NdtRules:
    """The NDT rules a yard's answers use: its `[ndt]` over the built-in defaults, else `BUILT_IN_RULES`."""
    return rules_from(yard.spec.ndt)


def rule_sources(settings: Settings, rules: NdtRules) -> list[str]:
    """Where the NDT rules come from: the yard's `[ndt]`, else the corpus or the built-in defaults, said as such.

    The corpus is cited only where this data dir's document store holds the rules' documents.
    """
    from knowledge.documents import documents_held  # the document store's module: only when an answer cites

    if rules.configured:
        return [f"NDT rules: {rules.title} ([ndt] in the yard's yard.toml)"]
    if documents_held(settings, NDT_RULE_DOCUMENTS) == set(NDT_RULE_DOCUMENTS):
        return [f"knowledge/corpus: {NDT_RULES}, the built-in default rules"]
    return [
        "NDT rules: the built-in default rules (NDT-RULE-01, -02, -04, -05, not documents of this data dir); a yard "
        "states its own in [ndt] of its yard.toml"
    ]


def rules_from(spec: NdtRulesSpec | None) -> NdtRules:
    """A yard's `[ndt]` over the built-in defaults (None: `BUILT_IN_RULES`)."""
    if spec is None:
        return BUILT_IN_RULES
    given = spec.model_dump(exclude_none=True, exclude={"source", "hours_per_joint", "full_extent_grades"})
    hours = MappingProxyType({**NDT_HOURS_PER_JOINT, **(spec.hours_per_joint or {})})
    grades = frozenset(spec.full_extent_grades) if spec.full_extent_grades is not None else FULL_EXTENT_GRADES
    return NdtRules(**given, full_extent_grades=grades, hours_per_joint=hours, configured=True, source=spec.source)


def ndt_method(joint_type: str, thickness_mm: float) -> NdtMethod:
    """NDT-RULE-01 "Method selection" (built-in): UT for butts of 8 mm and over, RT under 8 mm, MT for fillets."""
    return BUILT_IN_RULES.method(joint_type, thickness_mm)


def ndt_methods(joint_types: Sequence[str], thickness_mm: Sequence[float]) -> list[NdtMethod]:
    """`ndt_method` of each joint, from its joint type and thickness."""
    return [ndt_method(str(t), float(mm)) for t, mm in zip(joint_types, thickness_mm, strict=True)]


def method_codes(joint_type: npt.ArrayLike, thickness_mm: npt.ArrayLike) -> npt.NDArray[np.int8]:
    """`ndt_method` of many joints at once, as indices into `METHODS` (the same rule, without a call per joint)."""
    return BUILT_IN_RULES.method_codes(joint_type, thickness_mm)


def inspection_hours(
    methods: Sequence[NdtMethod], per_joint: Mapping[NdtMethod, float] = NDT_HOURS_PER_JOINT
) -> npt.NDArray[np.float64]:
    """The NDT hours of each joint: its method's hours per joint (`NDT_HOURS_PER_JOINT` unless given)."""
    return np.asarray([per_joint[m] for m in methods], dtype=np.float64)


def full_extent_rule(row: Mapping[str, str | float | bool]) -> str | None:
    """The built-in rule that inspects a butt joint over its whole length, or None (fillets are never at 100 %).

    `row` holds the joint's `joint_type`, `level`, `one_sided`, `grade`, `thickness_mm`, `access` and `fit_up_gap_mm`.
    """
    return BUILT_IN_RULES.full_extent_rule(row)


def full_extent_codes(columns: Mapping[str, npt.ArrayLike]) -> npt.NDArray[np.int8]:
    """The built-in `full_extent_rule` of many joints at once, as indices into `FULL_EXTENT_RULES` (0: none)."""
    return BUILT_IN_RULES.full_extent_codes(columns)


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
