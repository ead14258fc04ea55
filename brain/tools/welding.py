"""Welding tools: the welding model over joints (risk, hours) and the NDT plan it implies.

They take a block, assembly, sub-assembly or work package (its joints), a part (the joints that join it) or one
joint; the NDT plan takes one budget: a share of the joints, NDT hours, or a number of joints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Final, Self

import numpy as np
import numpy.typing as npt
from pydantic import AfterValidator, Field, JsonValue, model_validator

from brain.core import JointPredictions, NdtMethod, predict_joints, select_for_ndt
from brain.core.ndt import METHODS, NdtRules, ndt_rules, rule_sources
from brain.tools._common import CODE, CodeArgs, code_from, count, require_role
from brain.tools._scope import Covered, covered
from brain.tools.base import Plot, ToolArgs, ToolResult, ToolRow, tool
from knowledge.errors import InputError

if TYPE_CHECKING:
    from brain.core import YardContext
    from brain.plan import Entities

__all__ = ["AssemblyRisk", "JointRisk", "NdtArgs", "NdtPoint", "ndt_plan", "weld_risk"]

_FULL_EXTENT_COLUMNS: Final = ("joint_type", "level", "one_sided", "grade", "thickness_mm", "access", "fit_up_gap_mm")
"""The columns of a joint's row that `full_extent_rule` reads."""


Thickness = Annotated[float, AfterValidator(lambda mm: round(mm, 2))]
"""A thickness in mm, shown to 0.01 mm."""


class JointRisk(ToolRow):
    """One weld joint and what the welding model predicts for it."""

    code: str
    """The joint."""
    process: str
    """Welding process (SAW, FCAW, GMAW, SMAW)."""
    position: str
    """Welding position (1G-4G, 1F-4F)."""
    thickness_mm: Thickness = Field(title="thickness", json_schema_extra={"unit": "mm"})
    """The thinner plate (to 0.01 mm: a yard's inches read in millimetres carry noise past that)."""
    access: str
    """How well the welder reaches the joint."""
    hours: float = Field(json_schema_extra={"unit": "h"})
    """Predicted welding hours."""
    defect_probability: float
    """Predicted probability that NDT finds a defect (0-1)."""
    method: NdtMethod = Field(title="NDT method")
    """The NDT method the NDT rules give the joint (UT, RT, MT): the yard's `[ndt]`, else the built-in defaults."""


class NdtPoint(ToolRow):
    """One joint chosen for NDT: its rank in the plan, its method, and what the welding model predicts for it."""

    rank: int
    """1 for the riskiest joint."""
    code: str
    """The joint."""
    method: NdtMethod = Field(title="NDT method")
    """The NDT method (by default UT for butts of 8 mm and over, RT under 8 mm, MT for fillets)."""
    ndt_hours: float = Field(title="NDT hours", json_schema_extra={"unit": "h"})
    """The inspection hours planned for the joint (its method's hours per joint)."""
    defect_probability: float
    """Predicted probability that NDT finds a defect (0-1)."""
    full_extent_rule: str | None = Field(default=None, title="full extent")
    """The rule that inspects this joint over its whole length, if any (the yard's `[ndt]`, else the built-in
    NDT-RULE-02, -04, -05)."""
    process: str
    """Welding process (SAW, FCAW, GMAW, SMAW)."""
    position: str
    """Welding position (1G-4G, 1F-4F)."""
    thickness_mm: Thickness = Field(title="thickness", json_schema_extra={"unit": "mm"})
    """The thinner plate (to 0.01 mm: a yard's inches read in millimetres carry noise past that)."""
    access: str
    """How well the welder reaches the joint."""
    hours: float = Field(title="welding hours", json_schema_extra={"unit": "h"})
    """Predicted welding hours."""


class AssemblyRisk(ToolRow):
    """The joints of one assembly, added up (joints between assemblies are "block joints")."""

    assembly: str
    """The assembly, or "block joints"."""
    joints: int
    """Its weld joints."""
    hours: float = Field(json_schema_extra={"unit": "h"})
    """Predicted welding hours."""
    expected_defects: float
    """The sum of its joints' defect probabilities."""
    defect_risk_pct: float = Field(title="defect risk", json_schema_extra={"unit": "%"})
    """Mean defect probability of its joints."""


class NdtArgs(ToolArgs):
    """A block, assembly, work package, part or joint, and at most one inspection budget (none: the default 10 %)."""

    code: str = CODE
    budget: float | None = Field(
        default=None, gt=0, le=1, description="share of the joints to inspect, 0-1 (0.1 = 10 %)"
    )
    hours: float | None = Field(
        default=None,
        gt=0,
        le=1_000_000,
        allow_inf_nan=False,
        description="NDT hours to spend; each joint costs its method's hours per joint (by default UT 1.0, RT 1.5, "
        "MT 0.5; a yard's [ndt] may set its own)",
    )
    joints: int | None = Field(default=None, ge=1, le=100_000_000, description="number of joints to inspect")

    @model_validator(mode="after")
    def _one_budget(self) -> Self:
        given = [name for name in ("budget", "hours", "joints") if getattr(self, name) is not None]
        if len(given) > 1:
            raise ValueError(
                f"give one NDT budget: a share of the joints (budget), NDT hours (hours) or a number of joints "
                f"(joints), not {' and '.join(given)}"
            )
        return self


def _risk_text(p: float) -> str:
    return f"defect risk {100 * p:.1f} %"


def _joint_lines(result: ToolResult) -> list[str]:
    return [
        f"- {r.code}: {r.process} {r.position}, {r.thickness_mm:g} mm, {r.access} access, "
        f"{r.hours:.2f} h, {_risk_text(r.defect_probability)}, NDT by {r.method}"
        for r in result.rows_as(JointRisk)[:10]
    ]


def _ndt_lines(result: ToolResult) -> list[str]:
    points = [NdtPoint.model_validate(r) for r in result.rows[:10]]  # the lines show 10 of up to 10,000s
    lines = [
        f"- {r.rank}. {r.code}: {r.method} ({r.ndt_hours:g} h), {r.process} {r.position}, {r.thickness_mm:g} mm, "
        f"{r.access} access, {_risk_text(r.defect_probability)}"
        + (f", in full by {r.full_extent_rule}" if r.full_extent_rule else "")
        for r in points[:10]
    ]
    if len(result.rows) > 10:
        lines.append(f"- and {count(len(result.rows) - 10, 'more joint')} in the table")
    return lines


_RISKIEST: Final = Plot(
    kind="bar",
    title="Riskiest joints of {code}",
    x="code",
    y="defect_probability",
    y_scale=100.0,
    y_title="defect risk %",
    color="process",
    sort="-y",
    x_label_angle=-45,
    limit=25,
)
_AGAINST: Final = Plot(
    kind="scatter",
    title="Hours against defect risk, joints of {code}",
    x="hours",
    y="defect_probability",
    y_scale=100.0,
    y_title="defect risk %",
    color="position",
    limit=25,
)
_BY_ASSEMBLY: Final = Plot(
    kind="bar",
    title="Expected weld defects by assembly of {code}",
    table="breakdown",
    x="assembly",
    y="expected_defects",
    sort="-y",
    x_label_angle=-45,
    limit=30,
    min_rows=2,
)


def _welding(ctx: YardContext, code: str | Covered) -> tuple[Covered, JointPredictions]:
    """What a code covers and the welding model over its joints (none: said plainly, with what to ask instead)."""
    require_role(ctx.yard, "joint", "the welding model")
    what = covered(ctx, code) if isinstance(code, str) else code
    if not len(what.joint_ids):
        if what.kind == "outfitting_item":
            instead = f"ask for its outfitting stage and rework risk ('outfitting of {what.code}') or its hours"
        elif what.kind == "part":
            instead = "ask what it is, or about its sub-assembly or block"
        else:
            instead = "ask about its outfitting items or its hours"
        raise InputError(f"{what.code} is {what.what} with no weld joints; {instead}")
    return what, predict_joints(ctx, what.joint_ids)


def _joint_rows(ctx: YardContext, welding: JointPredictions, picked: npt.NDArray[np.int64]) -> list[JointRisk]:
    # codes only for the rows shown: naming every joint of a big block costs seconds
    ids, hours, risk = welding.joint_ids, welding.hours, welding.defect_probability
    facts = welding.rows.select(["process", "position", "thickness_mm", "access", "joint_type"]).take(picked)
    codes = ctx.yard.codes_of(ids[picked])
    rules = ndt_rules(ctx.yard)
    out = []
    for i, code, row in zip(picked.tolist(), codes, facts.to_pylist(), strict=True):
        out.append(
            JointRisk(
                code=code,
                process=row["process"],
                position=row["position"],
                thickness_mm=row["thickness_mm"],
                access=row["access"],
                hours=round(float(hours[i]), 2),
                defect_probability=round(float(risk[i]), 4),
                method=rules.method(str(row["joint_type"]), float(row["thickness_mm"])),
            )
        )
    return out


def _by_assembly(ctx: YardContext, welding: JointPredictions) -> list[AssemblyRisk]:
    """Joints, hours and expected defects per assembly (joints welded outside any assembly: "block joints")."""
    yard = ctx.yard
    hours, risk = welding.hours, welding.defect_probability
    # where each joint is welded: the assembly above it in the production hierarchy, -1 a block or erection joint
    assembly = yard.ancestor_of(welding.joint_ids, "assembly")
    labels, group = np.unique(assembly, return_inverse=True)
    names = (["block joints"] if labels[0] < 0 else []) + yard.codes_of(labels[labels >= 0])  # labels ascend
    out = []
    for k in range(len(labels)):
        mine = group == k
        out.append(
            AssemblyRisk(
                assembly=names[k],
                joints=int(mine.sum()),
                hours=round(float(hours[mine].sum()), 1),
                expected_defects=round(float(risk[mine].sum()), 2),
                defect_risk_pct=round(100 * float(risk[mine].mean()), 2),
            )
        )
    return sorted(out, key=lambda r: -r.expected_defects)


def _one_joint(ctx: YardContext, args: CodeArgs, what: Covered, welding: JointPredictions) -> ToolResult:
    """One joint: what it joins, how it is welded, the model's hours and defect risk, and its NDT method."""
    yard = ctx.yard
    assert what.node is not None
    (row,) = _joint_rows(ctx, welding, np.arange(1, dtype=np.int64))
    facts = welding.rows.select(list(_FULL_EXTENT_COLUMNS)).to_pylist()[0]
    rules = ndt_rules(yard)
    rule = rules.full_extent_rule(facts)
    joins = yard.codes_of(yard.predecessors(what.node))
    into = yard.codes_of(yard.successors(what.node))
    where = (f" joining {' and '.join(joins)}" if joins else "") + (f" into {', '.join(into)}" if into else "")
    summary = (
        f"{what.code} is a weld joint{where}: {row.process} {row.position} {facts['joint_type']}, "
        f"{row.thickness_mm:g} mm, {row.access} access; the welding model predicts {row.hours:.2f} welding hours "
        f"and a defect risk of {100 * row.defect_probability:.1f} %; NDT by {rules.method_words(row.method)}"
        + (f", over its whole length by {rule}" if rule else "")
    )
    return weld_risk.result(
        args,
        summary,
        rows=[row],
        numbers={"joints": 1.0, "hours": row.hours, "expected_defects": row.defect_probability},
        sources=[f"welding model {welding.model_version} over joint {what.code}", *rule_sources(ctx.settings, rules)],
    )


_WELD_RISK = "predicted welding hours and defect risk of a block, assembly, work package, part or one joint"


@tool(
    name="weld_risk",
    args=CodeArgs,
    row=JointRisk,
    breakdown_row=AssemblyRisk,
    description="Welding model over the joints of a block, assembly, sub-assembly or work package, the joints that "
    "join one part, or one joint: hours, expected defects, the riskiest joints (one joint: its process, position, "
    "thickness, access, hours, defect risk and NDT method).",
    intent_description=_WELD_RISK,
    args_from=code_from(_WELD_RISK),
    lines=_joint_lines,
    plots=(_BY_ASSEMBLY, _RISKIEST, _AGAINST),
)
def weld_risk(ctx: YardContext, args: CodeArgs) -> ToolResult:
    """Predicted welding hours and defect risk of a code's joints, or of one joint.

    A code with outfitting items and no weld joints (an outfitting item, a system's items) is handed over: "how risky
    is <item>?" is answered with the outfitting model's rework risk, by the outfitting tool.
    """
    what = covered(ctx, args.code)
    if not len(what.joint_ids) and len(what.item_ids) and ctx.yard.count("outfitting_item"):
        return _rework_risk_instead(ctx, what)
    what, welding = _welding(ctx, what)
    if what.kind == "joint":
        return _one_joint(ctx, args, what, welding)
    code = what.code
    risk, hours = welding.defect_probability, welding.hours
    order = np.argsort(-risk, kind="stable")
    if what.kind == "part":  # a part's few joints, all of them
        rows = _joint_rows(ctx, welding, order)
        summary = (
            f"{code} is a part joined by {count(len(risk), 'weld joint')}: the welding model predicts "
            f"{hours.sum():.2f} welding hours and {risk.sum():.2f} expected defects "
            f"(mean {_risk_text(float(risk.mean()))}); the riskiest is {rows[0].code} "
            f"({_risk_text(rows[0].defect_probability)}, NDT by {rows[0].method})"
        )
        breakdown: list[AssemblyRisk] = []
    else:
        rows = _joint_rows(ctx, welding, order[:10])
        label = code if what.kind != "work_package" else f"{code} (work package)"
        summary = (
            f"{label}: {len(risk):,} joints, {hours.sum():,.0f} predicted welding hours, "
            f"{risk.sum():.1f} expected defects ({100 * risk.mean():.2f} % of joints)"
        )
        breakdown = _by_assembly(ctx, welding)
    return weld_risk.result(
        args,
        summary,
        rows=rows,
        breakdown=breakdown,
        numbers={"joints": float(len(risk)), "hours": float(hours.sum()), "expected_defects": float(risk.sum())},
        sources=[f"welding model {welding.model_version} over {len(risk):,} joints of {code}"],
    )


def _rework_risk_instead(ctx: YardContext, what: Covered) -> ToolResult:
    """The outfitting tool's answer for a code whose risk is its items' rework risk (it has no weld joints)."""
    from brain.tools.outfitting import OutfittingArgs, outfitting

    result = outfitting.run(ctx, OutfittingArgs(code=what.code), None)
    holds = "" if what.single else " outfitting items and"
    said = f"{what.code} is {what.what} with{holds} no weld joints: its risk is the outfitting model's rework risk. "
    return result.model_copy(update={"summary": said + result.summary})


_NDT_PLAN = "which joints of a block, assembly or work package to inspect by NDT, within a budget"


def _ndt_args(entities: Entities, question: str) -> dict[str, JsonValue] | str:
    if not entities.codes:
        return f"{_NDT_PLAN} needs a code, such as <block> or <assembly>"
    budgets: dict[str, JsonValue] = {
        "budget": entities.budget,
        "hours": getattr(entities, "budget_hours", None),
        "joints": getattr(entities, "budget_joints", None),
    }
    given = {name: value for name, value in budgets.items() if value is not None}
    if len(given) > 1:
        return (
            "an NDT plan takes one budget: a share of the joints (10 %), inspection hours (40 h) or a number of "
            "joints (50 joints), not several at once"
        )
    return {"code": entities.codes[0], **given}


def _budget_words(args: NdtArgs, joints: int, rules: NdtRules) -> str:
    if args.hours is not None:
        return f"a budget of {args.hours:,g} NDT hours"
    if args.joints is not None:
        extra = f" ({joints:,} is all it has)" if args.joints > joints else ""
        return f"a budget of {count(args.joints, 'joint')}{extra}"
    if args.budget is not None:
        return f"a budget of {100 * args.budget:g} % of the joints"
    return f"the default {100 * rules.default_share:g} % (no budget given)"


@tool(
    name="ndt_plan",
    args=NdtArgs,
    row=NdtPoint,
    description="Which joints of a block, assembly, sub-assembly, work package or part to inspect by NDT, riskiest "
    "first, within one budget: a share of the joints (`budget`, 0-1), NDT hours (`hours`; each joint costs its "
    "method's hours: UT 1.0, RT 1.5, MT 0.5) or a number of joints (`joints`); none given: the default 10 %. "
    "Every chosen joint with its NDT method and the rule that inspects it in full (the yard's [ndt], else the "
    "built-in defaults), and the expected defects "
    "caught.",
    intent_description=_NDT_PLAN,
    args_from=_ndt_args,
    lines=_ndt_lines,
    plots=(_RISKIEST, _AGAINST),
)
def ndt_plan(ctx: YardContext, args: NdtArgs) -> ToolResult:
    """The joints to inspect: the highest predicted defect risk first, within the budget."""
    what, welding = _welding(ctx, args.code)
    code, rows = what.code, welding.rows
    risk, hours = welding.defect_probability, welding.hours
    # the rules over every joint at once, as arrays (a Python row per joint costs seconds at a 150k-joint block)
    columns = {name: rows.column(name).to_numpy(zero_copy_only=False) for name in _FULL_EXTENT_COLUMNS}
    rules = ndt_rules(ctx.yard)
    methods = rules.method_codes(columns["joint_type"], columns["thickness_mm"])
    cost = np.asarray([rules.hours_per_joint[m] for m in METHODS], dtype=np.float64)[methods]
    no_budget = args.budget is None and args.hours is None and args.joints is None
    share = rules.default_share if no_budget else args.budget
    chosen = select_for_ndt(risk, share=share, count=args.joints, hours=args.hours, inspection_hours=cost)
    full = rules.full_extent_codes(columns)
    full_mask = full > 0
    facts = rows.select(["process", "position", "thickness_mm", "access"]).take(chosen).to_pydict()
    joint_ids = welding.joint_ids  # a property that converts the column: read once, not per joint
    codes = ctx.yard.codes_of(joint_ids[chosen]) if len(chosen) else []
    # the chosen joints' numbers as Python lists once (indexing numpy arrays joint by joint costs as much again)
    picked = zip(
        codes,
        [METHODS[m] for m in methods[chosen].tolist()],
        cost[chosen].tolist(),
        risk[chosen].tolist(),
        [rules.rule_names[f] for f in full[chosen].tolist()],
        *facts.values(),
        hours[chosen].tolist(),
        strict=True,
    )
    points = [
        NdtPoint(
            rank=rank,
            code=joint_code,
            method=method,
            ndt_hours=ndt_hours,
            defect_probability=round(p, 4),
            **({"full_extent_rule": rule} if rule is not None else {}),
            process=process,
            position=position,
            thickness_mm=thickness,
            access=access,
            hours=round(h, 2),
        )
        for rank, (joint_code, method, ndt_hours, p, rule, process, position, thickness, access, h) in enumerate(
            picked, start=1
        )
    ]
    total, caught, spent = float(risk.sum()), float(risk[chosen].sum()), float(cost[chosen].sum())
    full_total, full_inspected = int(full_mask.sum()), int(full_mask[chosen].sum())
    words = _budget_words(args, len(risk), rules)
    if len(chosen):
        summary = (
            f"inspect {len(chosen):,} of {count(len(risk), 'joint')} of {code} ({spent:,.1f} NDT hours) with {words}: "
            f"they hold {caught:.2f} of {total:.2f} expected defects ({100 * caught / max(total, 1e-9):.0f} %)"
        )
    else:  # an hours budget below the riskiest joint's own hours
        top = int(np.argmax(risk))
        summary = (
            f"no joint of {code} fits within {words}: the riskiest, {ctx.yard.code_of(int(joint_ids[top]))}"
            f", alone takes {cost[top]:g} h by {METHODS[int(methods[top])]}"
        )
    if full_total:
        summary += (
            f"; {rules.title} ({rules.full_extent_names}) inspect {count(full_total, 'joint')} of {code} in full "
            f"whatever the model says, {full_inspected:,} of them in this plan"
        )
    numbers = {
        "inspected": float(len(chosen)),
        "joints": float(len(risk)),
        "ndt_hours": spent,
        "expected_defects_caught": caught,
        "expected_defects": total,
        "full_extent_joints": float(full_total),
        "full_extent_inspected": float(full_inspected),
    }
    if args.hours is not None:
        numbers["budget_hours"] = args.hours
    elif args.joints is not None:
        numbers["budget_joints"] = float(args.joints)
    else:
        numbers["budget_share"] = share if share is not None else rules.default_share
    per_joint = ", ".join(f"{m} {h:g} h" for m, h in rules.hours_per_joint.items())
    return ndt_plan.result(
        args,
        summary,
        rows=points,
        numbers=numbers,
        sources=[
            f"welding model {welding.model_version}: defect probability per joint of {code}, highest first",
            f"NDT hours per joint by method: {per_joint}",
            *rule_sources(ctx.settings, rules),
        ],
    )
