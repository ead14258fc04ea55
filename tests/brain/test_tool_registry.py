"""A new tool is one new module: the planners, the supervisor's answer and the chat page find it in the registry.

The example tool (the weld length of a block or assembly, by welding process) is written as a module file into a
temporary directory on `sys.path` and imported: its `@tool` declaration registers it, as a module of `brain.tools`
or a plug-in of the `shipbrain.tools` entry-point group would be. Nothing else is edited; afterwards it is removed
from the registry.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from brain.core import YardContext
from brain.lexicon import Lexicon
from brain.plan import Plan, Step
from brain.planner import OfflinePlanner
from brain.supervisor import Brain
from brain.tools import TOOLS, ToolResult, run_tool
from knowledge import InputError, Settings
from knowledge.store import YardStore

QUESTION = "How many metres of weld are there in B002-A01, by process?"
EXAMPLE_TOOL = '''
    """An example tool: the total weld length of a block or assembly, by welding process."""

    from __future__ import annotations

    import numpy as np
    from pydantic import Field, JsonValue

    from brain.core import YardContext
    from brain.plan import Entities
    from brain.tools import Plot, ToolArgs, ToolResult, ToolRow, tool


    class WeldLengthArgs(ToolArgs):
        code: str = Field(min_length=2, max_length=40, description="a block or assembly code")


    class ProcessLength(ToolRow):
        """The joints of one welding process."""

        process: str
        """The welding process."""
        joints: int
        """How many joints it welds."""
        length_m: float = Field(title="weld length", json_schema_extra={"unit": "m"})
        """Their total weld length."""


    def _args(entities: Entities, question: str) -> dict[str, JsonValue] | str:
        return {"code": entities.codes[0]} if entities.codes else "a weld length needs a block or assembly code"


    def _lines(result: ToolResult) -> list[str]:
        rows = result.rows_as(ProcessLength)
        return [f"- {r.process}: {r.length_m:,.1f} m of weld over {r.joints} joints" for r in rows]


    @tool(
        name="weld_length",
        description="The total weld length of a block's or assembly's joints, by welding process.",
        args=WeldLengthArgs,
        row=ProcessLength,
        intent_description="the total weld length of a block or assembly, by welding process",
        examples=(
            "how many metres of weld are there in the block",
            "total weld length of the assembly",
            "how long are all the welds of the block in metres",
            "weld metres by process for the assembly",
            "what length of welding does the block have",
        ),
        args_from=_args,
        lines=_lines,
        plots=(Plot(kind="bar", title="Weld length of {code} by process", x="process", y="length_m", sort="-y"),),
    )
    def weld_length(ctx: YardContext, args: WeldLengthArgs) -> ToolResult:
        yard = ctx.yard
        joints = yard.members(yard.node_of(args.code), kinds=["joint"])
        mine = yard.role_table("joint", ["process", "length_m"], nodes=joints).to_pydict()
        metres: dict[str, float] = {}
        count: dict[str, int] = {}
        for process, length in zip(mine["process"], mine["length_m"], strict=True):
            metres[process] = metres.get(process, 0.0) + length
            count[process] = count.get(process, 0) + 1
        rows = [ProcessLength(process=p, joints=count[p], length_m=round(metres[p], 1)) for p in sorted(metres)]
        total = float(np.sum([r.length_m for r in rows]))
        return weld_length.result(
            args,
            f"{args.code}: {total:,.1f} m of weld over {len(joints):,} joints",
            rows=rows,
            numbers={"length_m": total, "joints": float(len(joints))},
            sources=[f"joints table of {yard.path.name}"],
        )
'''


@pytest.fixture
def example_tool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The example tool's module, written and imported (which registers it); unregistered afterwards."""
    root = tmp_path_factory.mktemp("plugin")
    (root / "shipbrain_example_tool.py").write_text(textwrap.dedent(EXAMPLE_TOOL), encoding="utf-8")
    sys.path.insert(0, str(root))
    try:
        importlib.import_module("shipbrain_example_tool")
        yield "weld_length"
    finally:
        TOOLS.unregister("weld_length")
        sys.modules.pop("shipbrain_example_tool", None)
        sys.path.remove(str(root))


def _expected(yard: Path, code: str) -> dict[str, float]:
    g = YardStore.open(yard)
    table = g.role_table("joint", ["process", "length_m"])
    ids = g.members(g.node_of(code), kinds=["joint"])
    mine = table.filter(pc.is_in(table.column("node"), value_set=pa.array(ids)))
    out: dict[str, float] = {}
    for process, length in zip(mine.column("process").to_pylist(), mine.column("length_m").to_pylist(), strict=True):
        out[process] = out.get(process, 0.0) + length
    return out


def test_the_registry_runs_the_new_tool_and_checks_its_arguments(example_tool: str, small_yard: Path) -> None:
    assert example_tool in TOOLS and example_tool in TOOLS.names()
    ctx = YardContext.open(small_yard)
    result = run_tool(ctx, example_tool, {"code": "B002-A01"})
    expected = _expected(small_yard, "B002-A01")
    assert {r["process"]: r["length_m"] for r in result.rows} == {p: round(m, 1) for p, m in expected.items()}
    assert [(c.name, c.title, c.unit, c.type) for c in result.columns] == [
        ("process", "process", None, "string"),
        ("joints", "joints", None, "integer"),
        ("length_m", "weld length", "m", "number"),
    ]
    assert result.columns[2].description == "Their total weld length."
    with pytest.raises(InputError, match="weld_length: code: String should have at least 2 characters"):
        run_tool(ctx, example_tool, {"code": "B"})


def test_the_offline_planner_places_a_question_for_it(example_tool: str, small_yard: Path) -> None:
    plan = OfflinePlanner(names=Lexicon.of(YardContext.open(small_yard))).plan(QUESTION)  # codes by the yard's ids
    assert plan.intent == "weld_length", plan.reason
    assert plan.steps == [Step(tool="weld_length", args={"code": "B002-A01"})]


class _Fixed:
    """A planner that asks for one step, then is done (the supervisor's part, apart from any planner's)."""

    def __init__(self, step: Step) -> None:
        self.step = step

    def plan(self, question: str, results: list[ToolResult], previous: Plan | None, context: object = None) -> Plan:
        steps = [] if results else [self.step]
        return Plan(intent="weld_length", steps=steps, confidence=1.0, reason="fixed")


def test_the_answer_text_has_its_lines(example_tool: str, small_yard: Path, tmp_path: Path) -> None:
    brain = Brain(
        small_yard, Settings(data_dir=tmp_path), planner=_Fixed(Step(tool=example_tool, args={"code": "B002"}))
    )
    try:
        answer = brain.ask(QUESTION)
    finally:
        brain.close()
    result = answer.results[0]
    assert result.tool == example_tool and result.error is None
    for process, metres in _expected(small_yard, "B002").items():
        assert f"- {process}: {round(metres, 1):,.1f} m of weld over" in answer.answer
    assert "Sources: joints table of" in answer.answer


def test_the_llm_planner_is_offered_it(example_tool: str) -> None:
    from brain.llm_planner import LLMPlanner, tool_intent
    from tests.helpers.chat import ScriptedChatModel

    model = ScriptedChatModel(script=[])
    LLMPlanner(model)
    (bound,) = model.bound
    offered = {t["function"]["name"]: t["function"] for t in bound}
    assert offered[example_tool]["description"].startswith("The total weld length")
    assert offered[example_tool]["parameters"]["required"] == ["code"]
    assert tool_intent(example_tool) == "weld_length"


def test_the_chat_page_shows_its_columns_and_its_plot(example_tool: str, small_yard: Path) -> None:
    from workflows.service.chat import result_plots, result_table

    result = run_tool(YardContext.open(small_yard), example_tool, {"code": "B002"})
    table = result_table(result)
    assert list(table.columns) == ["process", "joints", "weld length (m)"]
    assert len(table) == len(result.rows)
    plots = result_plots(result)
    assert list(plots) == ["bars"]
    bars = plots["bars"]
    assert (bars["x"], bars["y"], bars["title"], bars["y_title"]) == (
        "process",
        "length_m",
        "Weld length of B002 by process",
        "weld length (m)",
    )
    assert sorted(bars["value"]["process"]) == sorted(str(r["process"]) for r in result.rows)
    # no rows: the headings still show, not "1 2 3"
    empty = result.model_copy(update={"rows": []})
    assert list(result_table(empty).columns) == ["process", "joints", "weld length (m)"]
    assert result_plots(empty) == {}


def test_a_removed_tool_is_gone(small_yard: Path) -> None:
    assert "weld_length" not in TOOLS
    with pytest.raises(InputError, match="no tool 'weld_length'; the tools are adopt_plan, critical_path, downstream"):
        run_tool(YardContext.open(small_yard), "weld_length", {"code": "B002"})
