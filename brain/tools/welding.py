"""Welding tools: the welding model over a block's or assembly's joints (risk, hours) and the NDT plan it implies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt
from pydantic import Field, JsonValue

from brain.core import JointPredictions, predict_joints, select_for_ndt
from brain.tools._common import CODE, CodeArgs, code_from
from brain.tools.base import Plot, ToolArgs, ToolResult, ToolRow, tool
from knowledge.errors import InputError
from knowledge.layout import NODE_KINDS

if TYPE_CHECKING:
    from brain.core import YardContext
    from brain.plan import Entities

__all__ = ["AssemblyRisk", "JointRisk", "NdtArgs", "ndt_plan", "weld_risk"]


class JointRisk(ToolRow):
    """One weld joint and what the welding model predicts for it."""

    code: str
    """The joint."""
    process: str
    """Welding process (SAW, FCAW, GMAW, SMAW)."""
    position: str
    """Welding position (1G-4G, 1F-4F)."""
    thickness_mm: float = Field(title="thickness", json_schema_extra={"unit": "mm"})
    """The thinner plate."""
    access: str
    """How well the welder reaches the joint."""
    hours: float = Field(json_schema_extra={"unit": "h"})
    """Predicted welding hours."""
    defect_probability: float
    """Predicted probability that NDT finds a defect (0-1)."""


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
    """A block or assembly and the share of its joints to inspect."""

    code: str = CODE
    budget: float = Field(default=0.1, gt=0, le=1, description="share of the joints to inspect, 0-1 (0.1 = 10 %)")


def _joint_lines(result: ToolResult) -> list[str]:
    return [
        f"- {r.code}: {r.process} {r.position}, {r.thickness_mm:g} mm, {r.access} access, "
        f"{r.hours:.1f} h, defect risk {100 * r.defect_probability:.1f} %"
        for r in result.rows_as(JointRisk)[:10]
    ]


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


def _welding(ctx: YardContext, code: str) -> JointPredictions:
    """The welding model over a code's joints (a code without joints is the caller's mistake, said plainly)."""
    g = ctx.graph
    node = g.id_of(code)
    joint_ids = g.members(node, kinds=["joint"])
    if not len(joint_ids):
        raise InputError(
            f"{code} is a {g.kind_of(node).replace('_', ' ')} with no weld joints; ask about a block or an assembly"
        )
    return predict_joints(ctx, joint_ids)


def _joint_rows(ctx: YardContext, welding: JointPredictions, picked: npt.NDArray[np.int64]) -> list[JointRisk]:
    # codes only for the rows shown: naming every joint of a big block costs seconds
    rows, ids = welding.rows, welding.joint_ids
    hours, risk = welding.hours, welding.defect_probability
    return [
        JointRisk(
            code=ctx.graph.code_of(int(ids[i])),
            process=rows.column("process")[i].as_py(),
            position=rows.column("position")[i].as_py(),
            thickness_mm=rows.column("thickness_mm")[i].as_py(),
            access=rows.column("access")[i].as_py(),
            hours=round(float(hours[i]), 2),
            defect_probability=round(float(risk[i]), 4),
        )
        for i in picked.tolist()
    ]


def _by_assembly(ctx: YardContext, welding: JointPredictions) -> list[AssemblyRisk]:
    """Joints, hours and expected defects per assembly (joints that join assemblies: "block joints")."""
    g = ctx.graph
    hours, risk = welding.hours, welding.defect_probability
    first_joint = int(g.layout.kind_start[NODE_KINDS.index("joint")])
    # the joints table holds one row per joint in id order: owners read by position, no join
    owners = g.table("joints", ["owner_id"]).column(0).to_numpy(zero_copy_only=False)
    owner_ids = owners[welding.joint_ids - first_joint].astype(np.int64)
    assembly = g.layout.assembly_index_of_hull(owner_ids)  # -1: a block or erection joint
    labels, group = np.unique(assembly, return_inverse=True)
    start = int(g.layout.kind_start[NODE_KINDS.index("assembly")])
    out = []
    for k, label in enumerate(labels.tolist()):
        mine = group == k
        out.append(
            AssemblyRisk(
                assembly=g.code_of(start + label) if label >= 0 else "block joints",
                joints=int(mine.sum()),
                hours=round(float(hours[mine].sum()), 1),
                expected_defects=round(float(risk[mine].sum()), 2),
                defect_risk_pct=round(100 * float(risk[mine].mean()), 2),
            )
        )
    return sorted(out, key=lambda r: -r.expected_defects)


_WELD_RISK = "predicted welding hours and defect risk for a block or assembly"


@tool(
    name="weld_risk",
    args=CodeArgs,
    row=JointRisk,
    breakdown_row=AssemblyRisk,
    description="Welding model over a block's or assembly's joints: hours, expected defects, the riskiest joints.",
    intent_description=_WELD_RISK,
    args_from=code_from(_WELD_RISK),
    lines=_joint_lines,
    plots=(_BY_ASSEMBLY, _RISKIEST, _AGAINST),
)
def weld_risk(ctx: YardContext, args: CodeArgs) -> ToolResult:
    """Predicted welding hours and defect risk of a block's or assembly's joints."""
    code = args.code
    welding = _welding(ctx, code)
    risk, hours = welding.defect_probability, welding.hours
    top = np.argsort(-risk, kind="stable")[:10]
    return weld_risk.result(
        args,
        f"{code}: {len(risk):,} joints, {hours.sum():,.0f} predicted welding hours, "
        f"{risk.sum():.1f} expected defects ({100 * risk.mean():.2f} % of joints)",
        rows=_joint_rows(ctx, welding, top),
        breakdown=_by_assembly(ctx, welding),
        numbers={"joints": float(len(risk)), "hours": float(hours.sum()), "expected_defects": float(risk.sum())},
        sources=[f"welding model {welding.model_version} over {len(risk):,} joints of {code}"],
    )


_NDT_PLAN = "which joints of a block or assembly to inspect by NDT, under a budget"


def _ndt_args(entities: Entities, question: str) -> dict[str, JsonValue] | str:
    if not entities.codes:
        return f"{_NDT_PLAN} needs a code such as B012 or B012-A03"
    return {"code": entities.codes[0], "budget": entities.budget or 0.1}


@tool(
    name="ndt_plan",
    args=NdtArgs,
    row=JointRisk,
    description="Which joints of a block or assembly to inspect by NDT within a budget (a share of the joints), "
    "riskiest first, and the expected defects caught.",
    intent_description=_NDT_PLAN,
    args_from=_ndt_args,
    lines=_joint_lines,
    plots=(_RISKIEST, _AGAINST),
)
def ndt_plan(ctx: YardContext, args: NdtArgs) -> ToolResult:
    """The joints to inspect: the highest predicted defect risk first, within a share of the joints."""
    code, budget = args.code, args.budget
    welding = _welding(ctx, code)
    risk = welding.defect_probability
    chosen = select_for_ndt(risk, share=budget)
    caught = float(risk[chosen].sum())
    return ndt_plan.result(
        args,
        f"inspect {len(chosen):,} of {len(risk):,} joints of {code} ({100 * budget:g} % budget): "
        f"they hold {caught:.1f} of {risk.sum():.1f} expected defects "
        f"({100 * caught / max(risk.sum(), 1e-9):.0f} %)",
        rows=_joint_rows(ctx, welding, chosen[:50]),
        numbers={
            "inspected": float(len(chosen)),
            "joints": float(len(risk)),
            "expected_defects_caught": caught,
            "expected_defects": float(risk.sum()),
        },
        sources=[f"welding model {welding.model_version}: defect probability per joint, highest first"],
    )
