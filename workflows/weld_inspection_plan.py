"""`weld-inspection-plan` v1: which joints of a block, assembly or work package to inspect by NDT, riskiest first.

The welding model scores every joint of the scope with its probability of a defect found at NDT; the joints
are taken riskiest first until the inspection budget is spent. The budget is one of:

- `share`: a share of the scope's joints (0.1 inspects the riskiest 10 %, rounded up, at least one joint);
- `joints`: a number of joints;
- `hours`: NDT hours, each joint costing the per-joint time of its method (`ndt_hours_per_joint`); joints are
  taken riskiest first while the next one still fits, so the plan is always a prefix of the risk ranking.

Each chosen joint gets a method, and joints the NDT rules inspect in full whatever the model says are counted and
flagged on the chosen points, so a planner sees what the model's ranking leaves out. The rules are the yard's own
(`[ndt]` in its yard.toml: thresholds, grades, hours per method, the default share) where it states them, else the
built-in defaults: NDT-RULE-01 "Method selection" (UT for butts of 8 mm and over, RT under 8 mm, MT for fillets;
thickness is the thinner plate's), NDT-RULE-02 (erection and one-sided butts in full), NDT-RULE-04 (butts over 20 mm
in AH36/DH36/EH36) and NDT-RULE-05 (butts in poor access or with a fit-up gap over 2 mm). Hours per method and the
share not given in the request are the rules' own.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field, model_validator

from brain.core import NdtMethod, predict_joints, select_for_ndt
from brain.core.ndt import METHODS, NDT_HOURS_PER_JOINT, ndt_rules, rule_sources
from workflows._codes import MAX_CODE, categories, looks_like_work_package, resolve
from workflows.base import MODEL_CONFIG, ProgressCallback, Steps, WorkflowContext, request_field, workflow
from workflows.errors import WorkflowInputError

__all__ = [
    "InspectionBudget",
    "InspectionPoint",
    "MethodLoad",
    "NdtHours",
    "PositionCoverage",
    "WeldInspectionPlan",
    "WeldInspectionPlanRequest",
    "check_weld_inspection_plan",
    "plan_inspection",
]


class _Model(BaseModel):
    model_config = MODEL_CONFIG


class InspectionBudget(_Model):
    """How much to inspect: exactly one of a share of the joints, a number of joints, or NDT hours."""

    share: float | None = Field(default=None, gt=0, le=1, description="Share of the scope's joints, 0-1 (0.1 = 10 %).")
    joints: int | None = Field(default=None, ge=1, description="Number of joints to inspect.")
    hours: float | None = Field(
        default=None, gt=0, description="NDT hours to spend; each joint costs its method's `ndt_hours_per_joint`."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> InspectionBudget:
        """Exactly one budget: share, joints or hours."""
        given = [k for k in ("share", "joints", "hours") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of share, joints or hours (got {', '.join(given) or 'none'})")
        return self


class NdtHours(_Model):
    """NDT time per joint by method, hours (set-up, testing and report of one joint)."""

    UT: float = Field(
        default=NDT_HOURS_PER_JOINT["UT"], gt=0, le=100, description="Ultrasonic testing, hours per joint."
    )
    RT: float = Field(
        default=NDT_HOURS_PER_JOINT["RT"], gt=0, le=100, description="Radiographic testing, hours per joint."
    )
    MT: float = Field(
        default=NDT_HOURS_PER_JOINT["MT"], gt=0, le=100, description="Magnetic particle testing, hours per joint."
    )


class WeldInspectionPlanRequest(_Model):
    """Which joints to plan NDT for, and how much inspection there is."""

    code: str = Field(
        min_length=1,
        max_length=MAX_CODE,
        description="The block, assembly, sub-assembly or work package (work order) whose weld joints to plan, as "
        "the yard names it (its id as in the yard's tables, e.g. <block id>, <assembly id> or <work package id>).",
    )
    budget: InspectionBudget = Field(
        default_factory=lambda: InspectionBudget(share=0.1),
        description="The inspection budget (default: the NDT rules' share; 10 % built in).",
    )
    ndt_hours_per_joint: NdtHours = Field(
        default_factory=NdtHours, description="NDT hours per joint by method (for an hours budget and the totals)."
    )


class InspectionPoint(_Model):
    """One joint to inspect."""

    rank: int = Field(description="1 for the riskiest joint.")
    code: str = Field(description="The joint, as the yard names it.")
    joint_type: str = Field(description="Joint type: butt or fillet (the yard's words read as these).")
    process: str = Field(description="Welding process: SAW, FCAW, GMAW or SMAW.")
    position: str = Field(description="Welding position: 1G-4G for butts, 1F-4F for fillets.")
    level: str = Field(description="Where it is welded: sub_assembly, assembly, block or erection.")
    thickness_mm: float = Field(description="Thickness of the thinner plate, mm.")
    length_m: float = Field(description="Weld length, m.")
    access: str = Field(description="Access class: good, restricted or poor.")
    one_sided: bool = Field(description="Welded from one side.")
    defect_probability: float = Field(description="Welding model's probability that NDT finds a defect.")
    method: NdtMethod = Field(description="Suggested NDT method (NDT-RULE-01).")
    ndt_hours: float = Field(description="NDT hours planned for the joint.")
    full_extent_rule: str | None = Field(description="The yard rule that inspects this joint in full, if any.")


class PositionCoverage(_Model):
    """How the plan covers the joints of one welding position."""

    position: str = Field(description="Welding position, 1G-4G or 1F-4F.")
    joints: int = Field(description="Joints of the scope in this position.")
    inspected: int = Field(description="Of them, chosen for NDT.")
    inspected_share: float = Field(description="inspected / joints.")
    expected_defects: float = Field(description="Sum of the defect probabilities of the position's joints.")
    expected_defects_caught: float = Field(description="Sum over the chosen joints.")


class MethodLoad(_Model):
    """The NDT work of one method."""

    method: NdtMethod
    joints: int
    hours: float


class WeldInspectionPlan(_Model):
    """The NDT inspection points of a scope and what they are expected to catch."""

    code: str = Field(description="The scope, as the yard names it.")
    scope: Literal["block", "assembly", "sub_assembly", "work_package"]
    joints_total: int = Field(description="Weld joints in the scope.")
    joints_inspected: int = Field(description="Joints chosen for NDT.")
    budget: InspectionBudget
    ndt_hours: float = Field(description="NDT hours of the chosen joints.")
    expected_defects: float = Field(description="Defects the welding model expects over the scope.")
    expected_defects_caught: float = Field(description="Of them, in the chosen joints.")
    caught_share: float = Field(description="expected_defects_caught / expected_defects (0 when none expected).")
    full_extent_joints: int = Field(description="Scope joints the NDT rules inspect in full.")
    full_extent_inspected: int = Field(description="Of them, among the chosen joints.")
    methods: list[MethodLoad] = Field(description="Joints and hours per NDT method.")
    coverage_by_position: list[PositionCoverage] = Field(description="Coverage per welding position present.")
    inspection_points: list[InspectionPoint] = Field(description="The chosen joints, riskiest first.")
    sources: list[str] = Field(description="The model and the rule documents behind the numbers.")
    summary: str = Field(description="The plan in one sentence.")


Scope = Literal["block", "assembly", "sub_assembly", "work_package"]


def check_weld_inspection_plan(ctx: WorkflowContext, request: WeldInspectionPlanRequest) -> None:
    """Refuse, naming the field, a code that is not a block, assembly, sub-assembly or work package of the yard."""
    _scope_code(ctx, request.code)


def _scope_code(ctx: WorkflowContext, code: str) -> str:
    """The scope's code as the yard writes it; one that is no block, assembly, sub-assembly or work package fails."""
    index = ctx.index
    if looks_like_work_package(index, code):
        with request_field("code"):
            return index.codes[index.work_package(code)]
    return ctx.yard.code_of(resolve(ctx.yard, code, "code", roles=["block", "assembly", "sub_assembly"]))


def _scope(ctx: WorkflowContext, code: str) -> tuple[Scope, npt.NDArray[np.int32]]:
    with request_field("code"):
        found = ctx.index.scope_of(code)
    if found.work_package is not None:
        return "work_package", np.asarray(found.joint_ids, dtype=np.int32)
    scopes: dict[str | None, Scope] = {"block": "block", "assembly": "assembly", "sub_assembly": "sub_assembly"}
    return scopes[ctx.yard.role_of(ctx.yard.node_of(found.code))], np.asarray(found.joint_ids, dtype=np.int32)


@workflow(
    name="weld-inspection-plan",
    version="1",
    title="NDT inspection points of a block, assembly or work package, riskiest joints first",
    description=__doc__ or "",
    request=WeldInspectionPlanRequest,
    result=WeldInspectionPlan,
    table="inspection_points",
    check=check_weld_inspection_plan,
)
def plan_inspection(
    ctx: WorkflowContext, request: WeldInspectionPlanRequest, progress: ProgressCallback
) -> WeldInspectionPlan:
    """Run `weld-inspection-plan`: score the scope's joints and choose the riskiest within the budget."""
    steps = Steps(progress, ["scope", "welding model", "choose joints"])
    steps.start("scope")
    code = _scope_code(ctx, request.code)
    scope, joint_ids = _scope(ctx, code)
    if not len(joint_ids):
        raise WorkflowInputError(
            f"{code} has no weld joints; give a block, assembly or work package with welds", field="code"
        )
    steps.start("welding model")
    welding = predict_joints(ctx, joint_ids)
    model = f"welding model {welding.model_version}"
    steps.start("choose joints")
    risk = welding.defect_probability
    rows = welding.rows
    positions = categories(rows.column("position"))
    codes = ctx.yard.codes_of(welding.joint_ids)
    table = rows.select(
        [
            "joint_type",
            "process",
            "position",
            "level",
            "thickness_mm",
            "length_m",
            "access",
            "one_sided",
            "grade",
            "fit_up_gap_mm",
        ]
    ).to_pylist()
    for row, joint_code in zip(table, codes, strict=True):
        row["code"] = joint_code
    rules = ndt_rules(ctx.yard)
    methods = [rules.method(str(r["joint_type"]), float(r["thickness_mm"])) for r in table]
    given = request.ndt_hours_per_joint
    per_method = {m: getattr(given, m) if m in given.model_fields_set else rules.hours_per_joint[m] for m in METHODS}
    cost = np.asarray([per_method[m] for m in methods], dtype=np.float64)
    if "budget" not in request.model_fields_set:  # the rules' share: the yard's `[ndt] default_share`, else 10 %
        request = request.model_copy(update={"budget": InspectionBudget(share=rules.default_share)})
    budget = request.budget
    chosen = select_for_ndt(risk, share=budget.share, count=budget.joints, hours=budget.hours, inspection_hours=cost)
    full = [rules.full_extent_rule(r) for r in table]
    points = [
        _point(rank + 1, table[i], float(risk[i]), methods[i], float(cost[i]), full[i])
        for rank, i in enumerate(chosen.tolist())
    ]
    sources = [f"{model}: defect probability per joint, riskiest first", *rule_sources(ctx.settings, rules)]
    result = _result(code, scope, request, table, risk, chosen, points, full, methods, cost, sources, positions)
    steps.done()
    return result


def _point(
    rank: int, row: dict[str, Any], risk: float, method: NdtMethod, hours: float, rule: str | None
) -> InspectionPoint:
    return InspectionPoint(
        rank=rank,
        **{k: row[k] for k in ("code", "joint_type", "process", "position", "level", "access", "one_sided")},
        thickness_mm=round(float(row["thickness_mm"]), 2),
        length_m=round(float(row["length_m"]), 3),
        defect_probability=round(risk, 6),
        method=method,
        ndt_hours=hours,
        full_extent_rule=rule,
    )


def _result(
    code: str,
    scope: Scope,
    request: WeldInspectionPlanRequest,
    table: list[dict[str, Any]],
    risk: npt.NDArray[np.float64],
    chosen: npt.NDArray[np.int64],
    points: list[InspectionPoint],
    full: list[str | None],
    methods: list[NdtMethod],
    cost: npt.NDArray[np.float64],
    sources: list[str],
    position_order: list[str],
) -> WeldInspectionPlan:
    picked = np.zeros(len(risk), dtype=bool)
    picked[chosen] = True
    positions = np.asarray([r["position"] for r in table])
    coverage = []
    for pos in position_order:
        mask = positions == pos
        if mask.any():
            n, k = int(mask.sum()), int((mask & picked).sum())
            coverage.append(
                PositionCoverage(
                    position=pos,
                    joints=n,
                    inspected=k,
                    inspected_share=round(k / n, 4),
                    expected_defects=round(float(risk[mask].sum()), 4),
                    expected_defects_caught=round(float(risk[mask & picked].sum()), 4),
                )
            )
    load = Counter(methods[i] for i in chosen.tolist())
    total, caught = float(risk.sum()), float(risk[chosen].sum())
    full_mask = np.asarray([f is not None for f in full], dtype=bool)
    hours = float(cost[chosen].sum())
    share = caught / total if total > 0 else 0.0
    return WeldInspectionPlan(
        code=code,
        scope=scope,
        joints_total=len(risk),
        joints_inspected=len(chosen),
        budget=request.budget,
        ndt_hours=round(hours, 2),
        expected_defects=round(total, 4),
        expected_defects_caught=round(caught, 4),
        caught_share=round(share, 4),
        full_extent_joints=int(full_mask.sum()),
        full_extent_inspected=int((full_mask & picked).sum()),
        methods=[
            MethodLoad(
                method=m,
                joints=load[m],
                hours=round(float(cost[[i for i in chosen.tolist() if methods[i] == m]].sum()), 2),
            )
            for m in ("UT", "RT", "MT")
            if load[m]
        ],
        coverage_by_position=coverage,
        inspection_points=points,
        sources=sources,
        summary=(
            f"inspect {len(chosen):,} of {len(risk):,} joints of {code} ({hours:,.1f} NDT hours): they hold "
            f"{caught:.2f} of {total:.2f} expected defects ({100 * share:.0f} %)"
        ),
    )
