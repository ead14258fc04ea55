"""The tools the supervisor runs: graph queries, the welding model over a block, and document search.

Every tool returns a `ToolResult`: plain JSON data (it crosses a checkpoint), a one-line summary
with its numbers, the rows behind them, and the sources they came from. Tool results are data:
nothing in them is ever read as an instruction.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field

from knowledge.partgraph import PartGraph
from knowledge.settings import Settings, get_settings

__all__ = ["ToolResult", "YardTools"]


class ToolResult(BaseModel):
    """What one tool call found."""

    model_config = ConfigDict(frozen=True)

    tool: str
    args: dict[str, Any]
    summary: str
    rows: list[dict[str, Any]] = Field(default_factory=list)
    numbers: dict[str, float] = Field(default_factory=dict)
    sources: list[str] = Field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None


class YardTools:
    """The brain's tools over one yard."""

    def __init__(self, graph: PartGraph, settings: Settings | None = None) -> None:
        self.graph = graph
        self.settings = settings or get_settings()
        self._registry: Any = None

    @property
    def registry(self) -> Any:
        """The yard's models, loaded on first use (graph and document questions never need them)."""
        from adapters.registry import Registry

        if self._registry is None:
            self._registry = Registry.load(self.settings)
        return self._registry

    def run(self, tool: str, args: dict[str, Any]) -> ToolResult:
        """Run one tool by name, timing it."""
        began = time.perf_counter()
        result: ToolResult = getattr(self, f"tool_{tool}")(**args)
        return result.model_copy(update={"seconds": time.perf_counter() - began})

    # ---- graph ---------------------------------------------------------------------------------

    def tool_lookup(self, code: str) -> ToolResult:
        """What a code is and what it holds."""
        g = self.graph
        node = g.id_of(code)
        kind = g.kind_of(node)
        numbers: dict[str, float] = {}
        if kind in ("block", "assembly", "sub_assembly"):
            numbers = {k: float(n) for k, n in Counter(g.kinds_of(g.members(node))).items()}
        before, after = len(g.predecessors(node)), len(g.successors(node))
        parts = ", ".join(_count(int(v), k) for k, v in sorted(numbers.items()))
        article = "an" if kind[0] in "aeiou" else "a"
        summary = f"{code} is {article} {kind.replace('_', ' ')}" + (f" holding {parts}" if parts else "")
        summary += f"; {_count(before, 'direct predecessor')}, {_count(after, 'direct successor')}"
        return ToolResult(tool="lookup", args={"code": code}, summary=summary, numbers=numbers,
                          sources=[f"part graph {g.path.name}"])  # fmt: skip

    def _closure(self, code: str, direction: str) -> ToolResult:
        g = self.graph
        node = g.id_of(code)
        ids = g.upstream([node]) if direction == "upstream" else g.downstream([node])
        by_kind = Counter(g.kinds_of(ids)) if len(ids) < 5_000_000 else Counter()
        blocks = [c for c in g.codes_of(ids[np.isin(g.layout.kind_codes(ids), [0])][:25])]
        verb = "must be done before" if direction == "upstream" else "wait on"
        summary = f"{_count(len(ids), 'node')} {verb} {code}" + (
            f", among them {_count(len(blocks), 'block')}" if blocks else ""
        )
        return ToolResult(
            tool=direction, args={"code": code}, summary=summary,
            rows=[{"kind": k.replace("_", " "), "count": n} for k, n in sorted(by_kind.items())],
            numbers={"nodes": float(len(ids)), **{k: float(n) for k, n in by_kind.items()}},
            sources=[f"part graph {g.path.name}"] + ([f"blocks: {', '.join(blocks)}"] if blocks else []),
        )  # fmt: skip

    def tool_upstream(self, code: str) -> ToolResult:
        """Everything that must be done before a code."""
        return self._closure(code, "upstream")

    def tool_downstream(self, code: str) -> ToolResult:
        """Everything that waits on a code."""
        return self._closure(code, "downstream")

    # ---- models --------------------------------------------------------------------------------

    def _weld_predictions(self, code: str) -> tuple[pa.Table, Any]:
        from adapters.welding import WeldingAdapter

        g = self.graph
        node = g.id_of(code)
        joint_ids = g.members(node, kinds=["joint"])
        if not len(joint_ids):
            raise ValueError(f"{code} has no weld joints; ask about a block or an assembly")
        welding = self.registry.get("welding")
        rows = WeldingAdapter.yard_rows(g, [int(g.layout.block_index_of([node])[0])])
        rows = rows.filter(pc.is_in(rows.column("joint_id"), value_set=pa.array(joint_ids)))
        return rows.append_column("code", pa.array(g.codes_of(rows.column("joint_id").to_numpy()))), welding

    def tool_weld_risk(self, code: str) -> ToolResult:
        """Predicted welding hours and defect risk of a block's or assembly's joints."""
        rows, welding = self._weld_predictions(code)
        predicted = welding.predict(rows)
        risk = predicted.column("defect_probability").to_numpy()
        hours = predicted.column("hours").to_numpy()
        top = np.argsort(-risk, kind="stable")[:10]
        return ToolResult(
            tool="weld_risk", args={"code": code},
            summary=(f"{code}: {len(risk):,} joints, {hours.sum():,.0f} predicted welding hours, "
                     f"{risk.sum():.1f} expected defects ({100 * risk.mean():.2f} % of joints)"),
            rows=[_joint_row(rows, predicted, int(i)) for i in top],
            numbers={"joints": float(len(risk)), "hours": float(hours.sum()), "expected_defects": float(risk.sum())},
            sources=[f"welding model {welding.spec.version} over {len(risk):,} joints of {code}"],
        )  # fmt: skip

    def tool_ndt_plan(self, code: str, budget: float = 0.1) -> ToolResult:
        """The joints to inspect: the highest predicted defect risk first, within a share of the joints."""
        if not 0 < budget <= 1:
            raise ValueError(f"the inspection budget must be between 0 and 100 %, got {100 * budget:g} %")
        rows, welding = self._weld_predictions(code)
        predicted = welding.predict(rows)
        risk = predicted.column("defect_probability").to_numpy()
        chosen = np.argsort(-risk, kind="stable")[: max(1, math.ceil(budget * len(risk)))]
        caught = float(risk[chosen].sum())
        return ToolResult(
            tool="ndt_plan", args={"code": code, "budget": budget},
            summary=(f"inspect {len(chosen):,} of {len(risk):,} joints of {code} ({100 * budget:g} % budget): "
                     f"they hold {caught:.1f} of {risk.sum():.1f} expected defects "
                     f"({100 * caught / max(risk.sum(), 1e-9):.0f} %)"),
            rows=[_joint_row(rows, predicted, int(i)) for i in chosen[:50]],
            numbers={"inspected": float(len(chosen)), "joints": float(len(risk)), "expected_defects_caught": caught,
                     "expected_defects": float(risk.sum())},
            sources=[f"welding model {welding.spec.version}: defect probability per joint, highest first"],
        )  # fmt: skip

    def tool_erection_schedule(self, code: str | None = None) -> ToolResult:
        """The yard's schedule (CP-SAT, durations from the models): a block's erection day, makespan, critical path."""
        from adapters.executor import BatchExecutor
        from adapters.scheduling import predicted_hours, request_from_yard, solve

        hours = predicted_hours(self.graph, BatchExecutor(self.registry, backend="in-process", settings=self.settings))
        # one worker and a deterministic budget: the same yard gets the same schedule every time it is asked
        request = request_from_yard(self.graph, hours, time_limit_s=20, workers=1, deterministic_limit=5.0)
        schedule = solve(request)
        numbers = {"makespan_days": float(schedule.makespan_days), "gap": schedule.gap}
        summary = (
            f"the schedule takes {schedule.makespan_days} days ({schedule.status}, gap {100 * schedule.gap:.1f} %)"
        )
        if code is not None:
            block = self.graph.code_of(int(self.graph.layout.block_index_of([self.graph.id_of(code)])[0]))
            erection = next(t for t in schedule.tasks if t.code == f"WP-{block}-ERE")
            numbers["erection_day"] = float(erection.start_day)
            summary = (
                f"{block} is erected on day {erection.start_day} (in the dock until day {erection.finish_day}); "
                + summary
            )
        path = list(schedule.critical_path)
        return ToolResult(
            tool="erection_schedule", args={"code": code}, summary=summary,
            rows=[{"code": c} for c in path], numbers=numbers,
            sources=["scheduling model (OR-Tools CP-SAT) with welding hours from the welding model",
                     "critical path: " + " -> ".join(path[:4] + (["..."] if len(path) > 6 else []) + path[-2:])],
        )  # fmt: skip

    # ---- documents -----------------------------------------------------------------------------

    def tool_search_documents(self, query: str) -> ToolResult:
        """The document sections that answer a question, with citations."""
        from knowledge.documents import DocumentStore

        with DocumentStore(self.settings) as store:
            if store.count() == 0:
                raise ValueError("the document store is empty: run `shipbrain docs ingest` (or `shipbrain demo`)")
            hits = store.search(query, limit=3)
        if not hits:
            return ToolResult(tool="search_documents", args={"query": query}, summary="no document answers that")
        return ToolResult(
            tool="search_documents", args={"query": query},
            summary=f"{len(hits)} sections; best: {hits[0].citation}",
            rows=[{"citation": h.citation, "text": " ".join(h.text.split())[:600], "score": round(h.score, 3)}
                  for h in hits],
            sources=[h.citation for h in hits],
        )  # fmt: skip


def _joint_row(rows: pa.Table, predicted: pa.Table, i: int) -> dict[str, Any]:
    pick = {k: rows.column(k)[i].as_py() for k in ("code", "process", "position", "thickness_mm", "access")}
    pick["hours"] = round(float(predicted.column("hours")[i].as_py()), 2)
    pick["defect_probability"] = round(float(predicted.column("defect_probability")[i].as_py()), 4)
    return pick


def _count(n: int, noun: str) -> str:
    noun = noun.replace("_", " ")
    if n == 1:
        return f"1 {noun}"
    return f"{n:,} {noun[:-1] + 'ies' if noun.endswith('y') else noun + 's'}"
