"""The tools the supervisor runs: graph queries, the models over sets of parts, the scheduler, what-ifs, documents.

Every tool is declared once in `TOOLS` with a typed argument model (both planners read the catalogue:
the offline one fills arguments from the question's entities, the LLM one sees the argument schemas)
and returns a `ToolResult`: plain JSON data (it crosses a checkpoint), a one-line summary with its
numbers, the rows behind them, and the sources they came from. Tool results are data: nothing in them
is ever read as an instruction. A tool whose spec says `changes_plan` changes the yard's adopted plan;
the supervisor runs it only after a person approved it.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from brain.planbook import PlanBook, PlanEvent
from knowledge.errors import InputError
from knowledge.layout import NODE_KINDS, NodeKind
from knowledge.partgraph import PartGraph
from knowledge.settings import Settings, get_settings

if TYPE_CHECKING:
    from adapters.scheduling import Schedule, ScheduleRequest

__all__ = ["TOOLS", "ToolResult", "ToolSpec", "YardTools"]

_NODE_TABLES: Final = {"blocks", "assemblies", "sub_assemblies", "parts", "joints", "outfitting_items"}
"""Yard tables whose key column holds part-graph node ids."""
IntArray = npt.NDArray[np.integer[Any]]
_CODE = Field(min_length=2, max_length=40, description="a yard code, e.g. B012, B012-A03, J012-000042")


class ToolResult(BaseModel):
    """What one tool call found."""

    model_config = ConfigDict(frozen=True)

    tool: str
    args: dict[str, Any]
    summary: str
    rows: list[dict[str, Any]] = Field(default_factory=list)
    numbers: dict[str, float] = Field(default_factory=dict)
    breakdown: list[dict[str, Any]] = Field(default_factory=list)
    """The result grouped (e.g. weld risk by assembly): a second table for people who would rather look."""
    sources: list[str] = Field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None


class _Args(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CodeArgs(_Args):
    """One yard code."""

    code: str = _CODE


class NdtArgs(_Args):
    """A block or assembly and the share of its joints to inspect."""

    code: str = _CODE
    budget: float = Field(default=0.1, gt=0, le=1, description="share of the joints to inspect, 0-1 (0.1 = 10 %)")


class HoursArgs(_Args):
    """Blocks, assemblies or work packages to add up."""

    codes: list[str] = Field(min_length=1, max_length=50, description="block, assembly or work package codes")


class OutfittingArgs(_Args):
    """A block or assembly, or an outfitting zone."""

    code: str | None = Field(default=None, max_length=40, description="a block or assembly code")
    zone: str | None = Field(default=None, pattern=r"^MVZ\d{1,2}-L\d{1,2}$", description="a zone, e.g. MVZ3-L1")

    @model_validator(mode="after")
    def _one(self) -> OutfittingArgs:
        if (self.code is None) == (self.zone is None):
            raise ValueError("give either a block or assembly code or a zone (such as MVZ3-L1), not both or neither")
        return self


class ScheduleArgs(_Args):
    """Optionally, the block whose erection to report."""

    code: str | None = Field(default=None, max_length=40, description="a block (or anything in it), optional")


class WhatIfArgs(_Args):
    """One disruption: a resource down, or a part, assembly, block or work package late."""

    resource: str | None = Field(default=None, pattern=r"^(PL|WS|OH|GC|DOCK)-\d{1,2}$", description="e.g. PL-2")
    code: str | None = Field(default=None, max_length=40, description="the late part, assembly, block or package")
    days: int = Field(ge=1, le=365, description="how many days the resource is down or the code is late")
    start_day: int | None = Field(
        default=None, ge=0, le=3650, description="schedule day the outage starts (default: day 0, now)"
    )
    start_date: date | None = Field(default=None, description="calendar date the outage starts, instead of a day")

    @model_validator(mode="after")
    def _one(self) -> WhatIfArgs:
        if (self.resource is None) == (self.code is None):
            raise ValueError("a what-if is either a resource that is down or a code that is late, not both or neither")
        if self.start_day is not None and self.start_date is not None:
            raise ValueError("give the start as a day or as a date, not both")
        return self


class PredictArgs(_Args):
    """A registered model and the block, assembly or sub-assembly whose rows it scores."""

    model: str = Field(min_length=1, max_length=80, description="a registered model's name, e.g. welding")
    code: str = _CODE


class SearchArgs(_Args):
    """What to look up in the yard's documents."""

    query: str = Field(min_length=2, max_length=500, description="the question, in words")


class ToolSpec(BaseModel):
    """A tool as planners see it."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    args: type[_Args]
    changes_plan: bool = False
    """Changes the yard's adopted plan: runs only after a person approves it."""
    untrusted_text: bool = False
    """Returns text written by people (documents): shown to users, never fed to a planner as instructions."""


TOOLS: Final[dict[str, ToolSpec]] = {
    spec.name: spec
    for spec in [
        ToolSpec(
            name="lookup",
            args=CodeArgs,
            description="What a block, assembly, sub-assembly, part, joint or outfitting item is and holds.",
        ),
        ToolSpec(
            name="upstream",
            args=CodeArgs,
            description="Everything that must be done before a code (its prerequisites), counted by kind.",
        ),
        ToolSpec(
            name="downstream",
            args=CodeArgs,
            description="Everything that waits on a code (what slips if it is late), counted by kind.",
        ),
        ToolSpec(
            name="weld_risk",
            args=CodeArgs,
            description="Welding model over a block's or assembly's joints: hours, expected defects, the "
            "riskiest joints.",
        ),
        ToolSpec(
            name="ndt_plan",
            args=NdtArgs,
            description="Which joints of a block or assembly to inspect by NDT within a budget (a share of "
            "the joints), riskiest first, and the expected defects caught.",
        ),
        ToolSpec(
            name="predicted_hours",
            args=HoursArgs,
            description="Predicted work hours (welding model for joints, outfitting norms raised by the "
            "rework risk) of blocks, assemblies or work packages.",
        ),
        ToolSpec(
            name="outfitting",
            args=OutfittingArgs,
            description="Outfitting model over the items of a block, assembly or zone: predicted stage "
            "(on-unit, on-block, on-board) against the plan, and rework risk.",
        ),
        ToolSpec(
            name="erection_schedule",
            args=ScheduleArgs,
            description="The yard's adopted schedule (CP-SAT, durations from the models): a block's "
            "erection day, the makespan and the critical path.",
        ),
        ToolSpec(
            name="what_if",
            args=WhatIfArgs,
            description="Simulate a resource down or a code late for some days against the adopted plan: "
            "which erections slip and by how much, and the new makespan. Changes nothing.",
        ),
        ToolSpec(
            name="adopt_plan",
            args=WhatIfArgs,
            changes_plan=True,
            description="Adopt a what-if into the yard's plan, so every later schedule includes it. "
            "Needs a person's approval.",
        ),
        ToolSpec(
            name="predict",
            args=PredictArgs,
            description="Run any registered model (`shipbrain models list`: the reference models and plug-ins) "
            "over the rows it scores (joints, outfitting items, ...) of a block, assembly or sub-assembly, "
            "through the batch executor: totals and means of its outputs and the top rows.",
        ),
        ToolSpec(
            name="search_documents",
            args=SearchArgs,
            untrusted_text=True,
            description="Welding procedures, NDT rules, outfitting rules and lessons learned: the sections "
            "that answer a question, with citations.",
        ),
    ]
}


class YardTools:
    """The brain's tools over one yard."""

    def __init__(self, graph: PartGraph, settings: Settings | None = None, registry: Any = None) -> None:
        self.graph = graph
        self.settings = settings or get_settings()
        self.planbook = PlanBook(self.settings, yard=str(graph.path.resolve()))
        self._registry: Any = registry
        self._documents: Any = None
        self._executor: Any = None
        self._lock = threading.RLock()
        """Guards what is made on first use: calls may come from several threads (the service, eval runs)."""
        self._hours: dict[str, float] | None = None
        self._schedules: dict[tuple[PlanEvent, ...], tuple[ScheduleRequest, Schedule]] = {}

    @property
    def registry(self) -> Any:
        """The yard's models, loaded on first use (graph and document questions never need them)."""
        from adapters.registry import Registry

        with self._lock:
            if self._registry is None:
                self._registry = Registry.load(self.settings)
            return self._registry

    @property
    def executor(self) -> Any:
        """The batch executor every model call goes through (in-process for small sets, Ray for large ones)."""
        from adapters.executor import BatchExecutor

        with self._lock:
            if self._executor is None:
                self._executor = BatchExecutor(self.registry, settings=self.settings)
            return self._executor

    def close(self) -> None:
        """Release the document store (its embedded Qdrant holds a lock on the data dir)."""
        if self._documents is not None:
            self._documents.close()
            self._documents = None

    def run(
        self, tool: str, args: dict[str, Any], *, approved_by: str | None = None, thread_id: str | None = None
    ) -> ToolResult:
        """Run one tool by name with checked arguments, timing it.

        Args:
            tool: the tool's name in `TOOLS`.
            args: its arguments, checked against its spec.
            approved_by: who approved the call; a tool that changes the plan refuses to run without one.
            thread_id: the conversation the call belongs to (recorded with plan changes).

        Raises:
            InputError: an unknown tool, arguments its spec refuses (the message says which and why), or a
                plan-changing tool without an approval.
        """
        spec = TOOLS.get(tool)
        if spec is None:
            raise InputError(f"no tool {tool!r}; the tools are {', '.join(TOOLS)}")
        if spec.changes_plan and not approved_by:
            raise InputError(f"{tool} changes the yard's plan and runs only after a person approves it")
        try:
            checked = spec.args.model_validate(args)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "arguments"
            raise InputError(f"{tool}: {where}: {err['msg'].removeprefix('Value error, ')}") from None
        began = time.perf_counter()
        extra = {"approved_by": approved_by, "thread_id": thread_id} if spec.changes_plan else {}
        result: ToolResult = getattr(self, f"tool_{tool}")(**checked.model_dump(), **extra)
        return result.model_copy(update={"seconds": time.perf_counter() - began})

    # ---- graph ---------------------------------------------------------------------------------

    def tool_lookup(self, code: str) -> ToolResult:
        """What a code is and what it holds."""
        g = self.graph
        node = g.id_of(code)
        kind = g.kind_of(node)
        numbers: dict[str, float] = {}
        if kind in ("block", "assembly", "sub_assembly"):
            counts = np.bincount(g.layout.kind_codes(g.members(node)), minlength=len(NODE_KINDS))
            numbers = {k: float(n) for k, n in zip(NODE_KINDS, counts.tolist(), strict=True) if n}
        before, after = len(g.predecessors(node)), len(g.successors(node))
        parts = ", ".join(_count(int(v), k) for k, v in sorted(numbers.items()))
        article = "an" if kind[0] in "aeiou" else "a"
        summary = f"{code} is {article} {kind.replace('_', ' ')}" + (f" holding {parts}" if parts else "")
        summary += f"; {_count(before, 'direct predecessor')}, {_count(after, 'direct successor')}"
        return ToolResult(
            tool="lookup",
            args={"code": code},
            summary=summary,
            numbers=numbers,
            rows=[{"kind": k.replace("_", " "), "count": int(n)} for k, n in sorted(numbers.items())],
            sources=[f"part graph {g.path.name}"],
        )

    def _closure(self, code: str, direction: str) -> ToolResult:
        g = self.graph
        node = g.id_of(code)
        ids = g.upstream([node]) if direction == "upstream" else g.downstream([node])
        counts = np.bincount(g.layout.kind_codes(ids), minlength=len(NODE_KINDS))
        by_kind = {kind: int(n) for kind, n in zip(NODE_KINDS, counts.tolist(), strict=True) if n}
        n_blocks = int(np.searchsorted(ids, g.layout.kind_start[1]))  # ids ascend and block ids come first
        blocks = g.codes_of(ids[: min(n_blocks, 25)])
        verb = "must be done before" if direction == "upstream" else "wait on"
        summary = f"{_count(len(ids), 'node')} {verb} {code}" + (
            f", among them {_count(n_blocks, 'block')}" if n_blocks else ""
        )
        return ToolResult(
            tool=direction,
            args={"code": code},
            summary=summary,
            rows=[{"kind": k.replace("_", " "), "count": n} for k, n in sorted(by_kind.items())],
            numbers={"nodes": float(len(ids)), **{k: float(n) for k, n in by_kind.items()}},
            sources=[f"part graph {g.path.name}"] + ([f"blocks: {', '.join(blocks)}"] if blocks else []),
        )

    def tool_upstream(self, code: str) -> ToolResult:
        """Everything that must be done before a code."""
        return self._closure(code, "upstream")

    def tool_downstream(self, code: str) -> ToolResult:
        """Everything that waits on a code."""
        return self._closure(code, "downstream")

    # ---- models --------------------------------------------------------------------------------

    def _block_of(self, code: str) -> int:
        return int(self.graph.layout.block_index_of([self.graph.id_of(code)])[0])

    def _weld_predictions(self, code: str) -> tuple[pa.Table, Any]:
        from adapters.welding import WeldingAdapter

        g = self.graph
        node = g.id_of(code)
        joint_ids = g.members(node, kinds=["joint"])
        if not len(joint_ids):
            raise InputError(
                f"{code} is a {g.kind_of(node).replace('_', ' ')} with no weld joints; ask about a block or an assembly"
            )
        welding = self.registry.get("welding")
        rows = WeldingAdapter.yard_rows(g, [self._block_of(code)])
        return rows.filter(pc.is_in(rows.column("joint_id"), value_set=pa.array(joint_ids))), welding

    def tool_weld_risk(self, code: str) -> ToolResult:
        """Predicted welding hours and defect risk of a block's or assembly's joints."""
        rows, welding = self._weld_predictions(code)
        predicted = self.executor.run("welding", rows)
        risk = predicted.column("defect_probability").to_numpy()
        hours = predicted.column("hours").to_numpy()
        top = np.argsort(-risk, kind="stable")[:10]
        return ToolResult(
            tool="weld_risk",
            args={"code": code},
            summary=(
                f"{code}: {len(risk):,} joints, {hours.sum():,.0f} predicted welding hours, "
                f"{risk.sum():.1f} expected defects ({100 * risk.mean():.2f} % of joints)"
            ),
            rows=[_joint_row(self.graph, rows, predicted, int(i)) for i in top],
            numbers={"joints": float(len(risk)), "hours": float(hours.sum()), "expected_defects": float(risk.sum())},
            breakdown=self._by_assembly(rows.column("joint_id").to_numpy(), hours, risk),
            sources=[f"welding model {welding.spec.version} over {len(risk):,} joints of {code}"],
        )

    def _by_assembly(
        self, joint_ids: npt.NDArray[Any], hours: npt.NDArray[Any], risk: npt.NDArray[Any]
    ) -> list[dict[str, Any]]:
        """Joints, hours and expected defects per assembly (joints that join assemblies: "block joints")."""
        g = self.graph
        owner_ids = _by_id(g, "joint", "owner_id", joint_ids).astype(np.int64)
        assembly = g.layout.assembly_index_of_hull(owner_ids)  # -1: a block or erection joint
        labels, group = np.unique(assembly, return_inverse=True)
        start = int(g.layout.kind_start[NODE_KINDS.index("assembly")])
        out = []
        for k, label in enumerate(labels.tolist()):
            mine = group == k
            out.append({
                "assembly": g.code_of(start + label) if label >= 0 else "block joints",
                "joints": int(mine.sum()), "hours": round(float(hours[mine].sum()), 1),
                "expected_defects": round(float(risk[mine].sum()), 2),
                "defect_risk_pct": round(100 * float(risk[mine].mean()), 2),
            })  # fmt: skip
        return sorted(out, key=lambda r: -r["expected_defects"])

    def tool_ndt_plan(self, code: str, budget: float = 0.1) -> ToolResult:
        """The joints to inspect: the highest predicted defect risk first, within a share of the joints."""
        rows, welding = self._weld_predictions(code)
        predicted = self.executor.run("welding", rows)
        risk = predicted.column("defect_probability").to_numpy()
        chosen = np.argsort(-risk, kind="stable")[: max(1, math.ceil(budget * len(risk) - 1e-9))]
        caught = float(risk[chosen].sum())
        return ToolResult(
            tool="ndt_plan",
            args={"code": code, "budget": budget},
            summary=(
                f"inspect {len(chosen):,} of {len(risk):,} joints of {code} ({100 * budget:g} % budget): "
                f"they hold {caught:.1f} of {risk.sum():.1f} expected defects "
                f"({100 * caught / max(risk.sum(), 1e-9):.0f} %)"
            ),
            rows=[_joint_row(self.graph, rows, predicted, int(i)) for i in chosen[:50]],
            numbers={
                "inspected": float(len(chosen)),
                "joints": float(len(risk)),
                "expected_defects_caught": caught,
                "expected_defects": float(risk.sum()),
            },
            sources=[f"welding model {welding.spec.version}: defect probability per joint, highest first"],
        )

    def _scope(self, code: str) -> tuple[str, IntArray, IntArray, int | None]:
        """(label, joint ids, item ids, work package id or None) of a block, assembly or work package code."""
        g = self.graph
        if code.startswith("WP-"):
            wp = g.table("work_packages", ["work_package_id", "code"]).to_pydict()
            if code not in wp["code"]:
                raise InputError(f"no work package {code!r}; codes look like {wp['code'][0]!r}")
            wp_id = int(wp["work_package_id"][wp["code"].index(code)])
            joints = g.table("joints", ["joint_id", "block_id", "work_package_id"])
            items = g.table("outfitting_items", ["item_id", "block_id", "work_package_id"])
            j = joints.filter(pc.equal(joints.column("work_package_id"), wp_id)).column("joint_id").to_numpy()
            i = items.filter(pc.equal(items.column("work_package_id"), wp_id)).column("item_id").to_numpy()
            return code, j, i, wp_id
        node = g.id_of(code)
        kind = g.kind_of(node)
        if kind not in ("block", "assembly", "sub_assembly"):
            raise InputError(f"{code} is a {kind.replace('_', ' ')}; ask about a block, assembly or work package")
        return code, g.members(node, kinds=["joint"]), g.members(node, kinds=["outfitting_item"]), None

    def tool_predicted_hours(self, codes: list[str]) -> ToolResult:
        """Predicted welding and outfitting hours of blocks, assemblies or work packages."""
        from adapters.outfitting import OutfittingAdapter
        from adapters.welding import WeldingAdapter

        g = self.graph
        rows: list[dict[str, Any]] = []
        for code in dict.fromkeys(c.upper() for c in codes):
            _, joint_ids, item_ids, _ = self._scope(code)
            blocks = np.unique(g.layout.block_index_of(np.concatenate([joint_ids, item_ids])))
            welding_h = outfitting_h = norm_h = 0.0
            if len(joint_ids):
                jr = WeldingAdapter.yard_rows(g, blocks)
                jr = jr.filter(pc.is_in(jr.column("joint_id"), value_set=pa.array(joint_ids)))
                welding_h = float(self.executor.run("welding", jr).column("hours").to_numpy().sum())
                norm_h += float(_by_id(g, "joint", "norm_hours", joint_ids).astype(np.float64).sum())
            if len(item_ids):
                ir = OutfittingAdapter.yard_rows(g, blocks)
                ir = ir.filter(pc.is_in(ir.column("item_id"), value_set=pa.array(item_ids)))
                risk = self.executor.run("outfitting", ir).column("rework_probability").to_numpy()
                item_norm = _by_id(g, "outfitting_item", "norm_hours", ir.column("item_id").to_numpy())
                item_norm = item_norm.astype(np.float64)
                outfitting_h = float((item_norm * (1 + risk)).sum())  # a reworked item is done twice
                norm_h += float(item_norm.sum())
            rows.append(
                {
                    "code": code,
                    "joints": len(joint_ids),
                    "items": len(item_ids),
                    "welding_hours": round(welding_h, 1),
                    "outfitting_hours": round(outfitting_h, 1),
                    "total_hours": round(welding_h + outfitting_h, 1),
                    "norm_hours": round(norm_h, 1),
                }
            )
        total = sum(r["total_hours"] for r in rows)
        norm_total = sum(r["norm_hours"] for r in rows)
        return ToolResult(
            tool="predicted_hours",
            args={"codes": codes},
            summary=(
                f"{', '.join(r['code'] for r in rows)}: {total:,.0f} predicted hours of welding and outfitting "
                f"(planning norms: {norm_total:,.0f} h)"
            ),
            rows=rows,
            numbers={"total_hours": total, "norm_hours": norm_total},
            sources=[
                "welding model (hours per joint)",
                "outfitting model (rework risk per item) over the items' norms",
            ],
        )

    def tool_outfitting(self, code: str | None = None, zone: str | None = None) -> ToolResult:
        """Predicted outfitting stage and rework risk of a block's, assembly's or zone's items."""
        from adapters.outfitting import OutfittingAdapter

        g = self.graph
        if zone is not None:
            blocks_t = g.table("blocks", ["block_id", "zone"])
            blocks = blocks_t.filter(pc.equal(blocks_t.column("zone"), zone)).column("block_id").to_numpy()
            if not len(blocks):
                known = sorted(set(blocks_t.column("zone").to_pylist()))
                raise InputError(f"no zone {zone!r} in this yard; zones run {known[0]} to {known[-1]}")
            rows = OutfittingAdapter.yard_rows(g, blocks)
            label = f"zone {zone}"
        else:
            assert code is not None
            _, _, item_ids, _ = self._scope(code)
            if not len(item_ids):
                raise InputError(f"{code} holds no outfitting items")
            rows = OutfittingAdapter.yard_rows(g, [self._block_of(code)])
            rows = rows.filter(pc.is_in(rows.column("item_id"), value_set=pa.array(item_ids)))
            label = code
        model = self.registry.get("outfitting")
        predicted = self.executor.run("outfitting", rows)
        planned = g.table("outfitting_items", ["item_id", "stage", "system"])
        planned = planned.filter(pc.is_in(planned.column("item_id"), value_set=rows.column("item_id")))
        plan_stage = dict(zip(planned.column("item_id").to_pylist(), planned.column("stage").to_pylist(), strict=True))
        stages = predicted.column("stage").to_pylist()
        risk = predicted.column("rework_probability").to_numpy()
        ids = rows.column("item_id").to_numpy()
        differ = sum(1 for i, s in zip(ids.tolist(), stages, strict=True) if plan_stage[i] != s)
        top = np.argsort(-risk, kind="stable")[:10]
        table = [
            {
                "code": g.code_of(int(ids[i])),
                "system": rows.column("system")[int(i)].as_py(),
                "kind": rows.column("kind")[int(i)].as_py(),
                "planned_stage": plan_stage[int(ids[i])],
                "predicted_stage": stages[int(i)],
                "rework_probability": round(float(risk[i]), 4),
            }
            for i in top
        ]
        by_stage = Counter(stages)
        mix = ", ".join(f"{by_stage[s]:,} {s}" for s in ("on-unit", "on-block", "on-board") if by_stage[s])
        return ToolResult(
            tool="outfitting",
            args={"code": code, "zone": zone},
            summary=(
                f"{label}: {len(ids):,} outfitting items, predicted {mix}; {differ:,} differ from the plan's "
                f"stage; {risk.sum():.1f} expected reworks ({100 * risk.mean():.1f} % of items)"
            ),
            rows=table,
            numbers={
                "items": float(len(ids)),
                "expected_reworks": float(risk.sum()),
                "stage_differs": float(differ),
                **{f"stage_{s}": float(n) for s, n in by_stage.items()},
            },
            sources=[f"outfitting model {model.spec.version} over {len(ids):,} items of {label}"],
        )

    def tool_predict(self, model: str, code: str) -> ToolResult:
        """Any registered model over the yard rows of a block, assembly or sub-assembly, through the executor."""
        g = self.graph
        adapter = self.registry.get(model)  # an unknown name lists the known ones
        spec = adapter.spec
        if spec.yard_table not in _NODE_TABLES or spec.key_column is None:
            raise InputError(
                f"model {model!r} scores {spec.yard_table or 'no yard table'}, not parts of the graph; "
                "the schedule and what-if tools ask it"
            )
        node = g.id_of(code)
        members = g.members(node) if g.kind_of(node) != "block" else None
        loader = getattr(adapter, "yard_rows", None)
        block = [self._block_of(code)]
        if callable(loader):
            rows = loader(g, block)
        else:
            table = g.table(spec.yard_table)
            rows = table.filter(pc.is_in(table.column("block_id"), value_set=pa.array(block, pa.int32())))
        if members is not None:
            rows = rows.filter(pc.is_in(rows.column(spec.key_column), value_set=pa.array(members)))
        if rows.num_rows == 0:
            raise InputError(f"{code} holds no rows of {spec.yard_table} for model {model!r}")
        predicted = self.executor.run(model, rows)
        numeric = [f.name for f in predicted.schema if pa.types.is_floating(f.type) or pa.types.is_integer(f.type)]
        numbers = {"rows": float(rows.num_rows)}
        for name in numeric:
            values = predicted.column(name).to_numpy().astype(np.float64)
            numbers[f"{name}_sum"], numbers[f"{name}_mean"] = float(values.sum()), float(values.mean())
        rank = next((n for n in numeric if "probab" in n or "risk" in n), numeric[0] if numeric else None)
        order = np.argsort(-predicted.column(rank).to_numpy(), kind="stable")[:10] if rank else np.arange(10)
        keys = rows.column(spec.key_column).to_numpy()
        top = [
            {
                "code": g.code_of(int(keys[i])),
                **{k: predicted.column(k)[int(i)].as_py() for k in predicted.column_names},
            }
            for i in order
            if i < rows.num_rows
        ]
        means = ", ".join(f"{n} {numbers[f'{n}_mean']:.3g} on average" for n in numeric[:3])
        return ToolResult(
            tool="predict", args={"model": model, "code": code},
            summary=f"{model} {spec.version} over {rows.num_rows:,} {spec.yard_table} of {code}: {means}",
            rows=top, numbers=numbers,
            sources=[f"{model} model {spec.version} ({spec.owner}) over {rows.num_rows:,} rows, by the batch executor"],
        )  # fmt: skip

    # ---- schedule and what-ifs -------------------------------------------------------------------

    @cached_property
    def day_zero(self) -> date:
        """The calendar date of schedule day 0: the yard's first planned start (read once; rows ask per date)."""
        starts = self.graph.table("work_packages", ["planned_start"]).column(0)
        first = pc.min(starts).as_py()
        if not isinstance(first, date):
            raise InputError("the yard's work packages have no planned start dates")
        return first

    def _predicted_hours(self) -> dict[str, float]:
        from adapters.executor import BatchExecutor
        from adapters.scheduling import predicted_hours

        with self._lock:
            if self._hours is None:
                executor = BatchExecutor(self.registry, backend="in-process", settings=self.settings)
                self._hours = predicted_hours(self.graph, executor)
            return self._hours

    def _request(self, events: Sequence[PlanEvent], baseline: Schedule | None) -> ScheduleRequest:
        from adapters.scheduling import ResourceDowntime, request_from_yard

        downtimes = [
            ResourceDowntime(resource=e.resource, start_day=e.start_day or 0, days=e.days, reason=e.describe())
            for e in events
            if e.resource
        ]
        releases: dict[str, int] = {}
        starts = {t.code: t.start_day for t in baseline.tasks} if baseline else {}
        for e in events:
            if e.code:
                wp = self._package_of(e.code)
                releases[wp] = max(releases.get(wp, 0), starts.get(wp, 0) + e.days)
        # one worker and a deterministic budget: the same yard and events get the same schedule every time
        return request_from_yard(
            self.graph,
            self._predicted_hours(),
            time_limit_s=20,
            workers=1,
            deterministic_limit=5.0,
            downtimes=downtimes,
            release_days=releases,
        )

    def _package_of(self, code: str) -> str:
        """The work package a late code holds up.

        Joints and outfitting items name their own work package in the yard's tables; parts and
        sub-assemblies hold up the panel line, assemblies the workshop, a block its erection.
        """
        g = self.graph
        if code.upper().startswith("WP-"):
            self._scope(code.upper())
            return code.upper()
        node = g.id_of(code)
        kind = g.kind_of(node)
        if kind in ("joint", "outfitting_item"):
            table, key = ("joints", "joint_id") if kind == "joint" else ("outfitting_items", "item_id")
            rows = g.table(table, [key, "work_package_id"])
            wp_id = rows.filter(pc.equal(rows.column(key), node)).column("work_package_id")[0].as_py()
            wps = g.table("work_packages", ["work_package_id", "code"])
            return str(wps.filter(pc.equal(wps.column("work_package_id"), wp_id)).column("code")[0].as_py())
        block = g.code_of(int(g.layout.block_index_of([node])[0]))
        trade = {"part": "PNL", "sub_assembly": "PNL", "assembly": "ASM", "block": "ERE"}[kind]
        return f"WP-{block}-{trade}"

    def schedule(self, events: Sequence[PlanEvent] = ()) -> tuple[ScheduleRequest, Schedule]:
        """The yard's schedule with some events: the adopted plan's, solved once and kept."""
        from adapters.scheduling import solve

        key = tuple(events)
        with self._lock:  # one solve per plan, however many threads ask at once
            if key not in self._schedules:
                base = None if not key else self.schedule(())[1]
                request = self._request(key, base)
                self._schedules[key] = (request, solve(request))
            return self._schedules[key]

    def tool_erection_schedule(self, code: str | None = None) -> ToolResult:
        """The adopted schedule: a block's erection day, the makespan and the critical path."""
        events = self.planbook.events()
        _, schedule = self.schedule(events)
        numbers = {"makespan_days": float(schedule.makespan_days), "gap": schedule.gap}
        adopted = f", with {_count(len(events), 'adopted event')}" if events else ""
        summary = (
            f"the schedule takes {schedule.makespan_days} days, to {self._date(schedule.makespan_days)} "
            f"({schedule.status}, gap {100 * schedule.gap:.1f} %{adopted})"
        )
        rows: list[dict[str, Any]] = []
        if code is not None:
            block = self.graph.code_of(self._block_of(code))
            erection = next(t for t in schedule.tasks if t.code == f"WP-{block}-ERE")
            numbers["erection_day"] = float(erection.start_day)
            summary = (
                f"{block} is erected on day {erection.start_day} ({self._date(erection.start_day)}), in the "
                f"dock until day {erection.finish_day}; " + summary
            )
            rows = [_task_row(t, self) for t in schedule.tasks if t.code.startswith(f"WP-{block}-")]
        path = list(schedule.critical_path)
        rows += [{"critical_path": i + 1, "code": c} for i, c in enumerate(path)]
        return ToolResult(
            tool="erection_schedule",
            args={"code": code},
            summary=summary,
            rows=rows,
            numbers=numbers,
            sources=[
                "scheduling model (OR-Tools CP-SAT) with hours from the welding and outfitting models",
                "critical path: " + " -> ".join(path[:4] + (["..."] if len(path) > 6 else []) + path[-2:]),
            ]
            + [f"adopted: {e.describe()}" for e in events],
        )

    def _date(self, day: int) -> str:
        return (self.day_zero + timedelta(days=int(day))).isoformat()

    def _event(
        self, resource: str | None, code: str | None, days: int, start_day: int | None, start_date: date | None = None
    ) -> PlanEvent:
        if start_date is not None:
            start_day = (start_date - self.day_zero).days
            if start_day < 0:
                raise InputError(f"{start_date} is before the schedule's day 0 ({self.day_zero})")
        if resource is not None:
            known = set(self.graph.table("resources", ["resource"]).column(0).to_pylist())
            if resource not in known:
                raise InputError(f"no resource {resource!r} in this yard; it has {', '.join(sorted(known))}")
        if code is not None:
            self._package_of(code)  # an unknown code fails here, before any solve
        return PlanEvent(resource=resource, code=code.upper() if code else None, days=days, start_day=start_day)

    def tool_what_if(
        self, resource: str | None, code: str | None, days: int, start_day: int | None, start_date: date | None
    ) -> ToolResult:
        """Which erections slip, and by how much, if a resource is down or a code late (nothing is changed)."""
        from adapters.scheduling import repair

        event = self._event(resource, code, days, start_day, start_date)
        adopted = self.planbook.events()
        request_0, before = self.schedule(adopted)
        request_1 = self._request([*adopted, event], self.schedule(())[1])
        after = repair(request_1, before)  # right-shift: every package keeps its order, the least that changes
        old = {t.code: t for t in before.tasks}
        slips: list[dict[str, Any]] = []
        for t in after.tasks:
            was = old[t.code]
            if t.code.endswith("-ERE") and t.start_day != was.start_day:
                slips.append(
                    {
                        "block": t.code[3:-4],
                        "erection_day_was": was.start_day,
                        "erection_day": t.start_day,
                        "slip_days": t.start_day - was.start_day,
                        "erection_date": self._date(t.start_day),
                    }
                )
        slips.sort(key=lambda r: (-r["slip_days"], r["block"]))
        late = [r for r in slips if r["slip_days"] > 0]
        delta = after.makespan_days - before.makespan_days
        what = event.describe()
        summary = (
            f"if {what}: {_count(len(late), 'erection')} slip"
            + (f" (up to {late[0]['slip_days']} days, {late[0]['block']} first)" if late else "")
            + f"; the ship finishes on day {after.makespan_days} ({'+' if delta >= 0 else ''}{delta} days)"
        )
        graph_note: list[str] = []
        if code is not None:
            waits = self.graph.downstream([self.graph.id_of(code)])
            blocks = self.graph.codes_of(waits[self.graph.layout.kind_codes(waits) == 0])
            graph_note = [f"part graph: {len(blocks)} blocks wait on {code.upper()}"]
        return ToolResult(
            tool="what_if",
            args={
                "resource": resource,
                "code": code,
                "days": days,
                "start_day": start_day,
                "start_date": start_date.isoformat() if start_date else None,
            },
            summary=summary,
            rows=slips,
            numbers={
                "slipped_erections": float(len(late)),
                "makespan_days_before": float(before.makespan_days),
                "makespan_days_after": float(after.makespan_days),
                "makespan_delta_days": float(delta),
            },
            sources=[
                "scheduling model: the adopted schedule repaired for the event (each work package keeps its "
                "order; nothing re-optimised)",
                *graph_note,
            ]
            + [f"adopted: {e.describe()}" for e in adopted],
        )

    def tool_adopt_plan(
        self,
        resource: str | None,
        code: str | None,
        days: int,
        start_day: int | None,
        start_date: date | None,
        approved_by: str,
        thread_id: str | None,
    ) -> ToolResult:
        """Adopt a what-if into the yard's plan (runs only with an approval, see `run`)."""
        event = self._event(resource, code, days, start_day, start_date)
        total = self.planbook.adopt(event, by=approved_by, thread_id=thread_id)
        with self._lock:
            self._schedules.clear()
        return ToolResult(
            tool="adopt_plan",
            args={
                "resource": resource,
                "code": code,
                "days": days,
                "start_day": start_day,
                "start_date": start_date.isoformat() if start_date else None,
            },
            summary=(
                f"adopted into the plan: {event.describe()} ({_count(total, 'adopted event')} in all), "
                f"approved by {approved_by}"
            ),
            numbers={"adopted_events": float(total)},
            sources=[f"plan book {self.planbook.where}"],
        )

    def describe_change(self, tool: str, args: dict[str, Any]) -> str:
        """What running a plan-changing tool would do, in words, without doing it (for an approval request)."""
        checked = TOOLS[tool].args.model_validate(args)
        if isinstance(checked, WhatIfArgs):
            event = self._event(checked.resource, checked.code, checked.days, checked.start_day, checked.start_date)
            return f"adopt into the yard's plan: {event.describe()}"
        return f"run {tool} with {args}"

    # ---- documents -----------------------------------------------------------------------------

    def tool_search_documents(self, query: str) -> ToolResult:
        """The document sections that answer a question, with citations."""
        from knowledge.documents import DocumentStore

        with self._lock:  # opened once (loading the embedder and the store costs ~70 ms), by one thread
            if self._documents is None:
                self._documents = DocumentStore(self.settings)
            store = self._documents
        if store.count() == 0:
            raise InputError("the document store is empty: run `shipbrain docs ingest` (or `shipbrain demo`)")
        hits = store.search(query, limit=3)
        if not hits:
            return ToolResult(tool="search_documents", args={"query": query}, summary="no document answers that")
        return ToolResult(
            tool="search_documents",
            args={"query": query},
            summary=f"{len(hits)} sections; best: {hits[0].citation}",
            rows=[
                {"citation": h.citation, "text": " ".join(h.text.split())[:600], "score": round(h.score, 3)}
                for h in hits
            ],
            sources=[h.citation for h in hits],
        )


_NODE_TABLE: Final = {"joint": "joints", "outfitting_item": "outfitting_items"}


def _by_id(graph: PartGraph, kind: NodeKind, column: str, ids: npt.ArrayLike) -> npt.NDArray[Any]:
    """A column of a node table for some node ids, read by position (no join).

    The joints and outfitting items tables hold one row per node, in id order, from the kind's first id on.
    """
    first = int(graph.layout.kind_start[NODE_KINDS.index(kind)])
    values = graph.table(_NODE_TABLE[kind], [column]).column(0).to_numpy(zero_copy_only=False)
    return values[np.asarray(ids, dtype=np.int64) - first]


def _task_row(t: Any, tools: YardTools) -> dict[str, Any]:
    return {
        "code": t.code,
        "start_day": t.start_day,
        "finish_day": t.finish_day,
        "start_date": tools._date(t.start_day),
        "resource": t.resource,
        "critical": t.on_critical_path,
    }


def _joint_row(graph: PartGraph, rows: pa.Table, predicted: pa.Table, i: int) -> dict[str, Any]:
    # codes only for the rows shown: naming every joint of a big block costs seconds
    pick: dict[str, Any] = {"code": graph.code_of(int(rows.column("joint_id")[i].as_py()))}
    pick |= {k: rows.column(k)[i].as_py() for k in ("process", "position", "thickness_mm", "access")}
    pick["hours"] = round(float(predicted.column("hours")[i].as_py()), 2)
    pick["defect_probability"] = round(float(predicted.column("defect_probability")[i].as_py()), 4)
    return pick


def _count(n: int, noun: str) -> str:
    noun = noun.replace("_", " ")
    if n == 1:
        return f"1 {noun}"
    return f"{n:,} {noun[:-1] + 'ies' if noun.endswith('y') else noun + 's'}"
