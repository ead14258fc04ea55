"""The offline planner's learned weights: refitted bit for bit, only read at run time, and open to new tools."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from brain._planner_fit import DEMO_YARD, design, fit, fitting_planner, load_dev_cases, weights_json
from brain.lexicon import Lexicon
from brain.planner import WEIGHTS_FILE, OfflinePlanner, load_weights
from brain.tools import TOOLS, ToolResult, ToolRow, ToolSpec, tool
from brain.tools._common import CodeArgs, code_from


def test_a_refit_writes_the_shipped_file_byte_for_byte(demo_names: Lexicon) -> None:
    # the file is what `python -m brain._planner_fit --yard <demo yard>` writes from the dev cases: edit a cue or a
    # phrasing, refit
    cases = load_dev_cases()
    data = design(fitting_planner(cases, demo_names), cases, demo_names)
    assert weights_json(data, fit(data)) == WEIGHTS_FILE.read_text(encoding="utf-8"), (
        "brain/planner_weights.json is not what a fit gives: run `python -m brain._planner_fit --yard <demo yard>`"
    )


def test_the_planner_only_reads_the_weights(yard_factory: Callable[[int, int], Path]) -> None:
    # as the brain plans: codes looked up in the yard's lexicon
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from brain.core import YardContext\n"
        "from brain.lexicon import Lexicon\n"
        "from brain.planner import OfflinePlanner\n"
        f"names = Lexicon.of(YardContext.open(Path({str(yard_factory(*DEMO_YARD))!r})))\n"
        "assert OfflinePlanner(names=names).plan('what is B012?').codes == ['B012']\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'scipy', 'sklearn', 'yaml', 'brain._planner_fit'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]", "planning imported the fit's dependencies"


def test_weights_fitted_for_other_cues_are_refused(tmp_path: Path) -> None:
    stale = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8")) | {"cues_sha256": "0" * 64}
    path = tmp_path / "planner_weights.json"
    path.write_text(json.dumps(stale), encoding="utf-8")
    with pytest.raises(RuntimeError, match=r"other cue patterns.*python -m brain\._planner_fit"):
        load_weights(path)


def test_the_confidence_is_the_winning_intents_probability(demo_names: Lexicon) -> None:
    planner = OfflinePlanner(names=demo_names)
    question = "Which joints of B004 should we inspect with a 5 % budget?"
    plan, probabilities = planner.plan(question), planner.scores(question).probabilities()
    assert plan.intent == "ndt_plan" and plan.confidence == pytest.approx(probabilities["ndt_plan"])
    assert plan.confidence == max(probabilities.values()) and sum(probabilities.values()) == pytest.approx(1.0)


# ---- a tool added later ---------------------------------------------------------------------------------------------


class CoatingRow(ToolRow):
    """One coat of a block's paint system."""

    coat: str
    """Primer, intermediate or top coat."""


def _coating_plan(ctx: object, args: CodeArgs) -> ToolResult:
    raise AssertionError("the planner only plans it")


@pytest.fixture
def coating_tool() -> Iterator[ToolSpec]:
    """A tool the weights were never fitted for: an intent with example phrasings and an args_from, nothing else."""
    spec = tool(
        name="coating_plan",
        description="The paint system of a block or assembly: its coats, primer and film thickness.",
        args=CodeArgs,
        row=CoatingRow,
        intent="coating",
        intent_description="the paint and coating system of a block or assembly",
        examples=(
            "which paint system does the block get",
            "coating specification for the assembly",
            "how many coats of paint go on this block",
            "what primer is used on the block",
            "paint area of the assembly in square metres",
            "what is the dry film thickness of the coating on the block",
        ),
        args_from=code_from("the coating of a block"),
    )(_coating_plan)
    try:
        yield spec
    finally:
        TOOLS.unregister(spec.name)


def test_a_new_tools_intent_is_placed_by_its_examples_without_a_refit(
    coating_tool: ToolSpec, demo_names: Lexicon
) -> None:
    planner = OfflinePlanner(names=demo_names)
    assert "coating" in planner.intents
    assert not any(name.endswith(":coating") for name in planner.weights), "fitted for it: not a new tool"
    for question, code in (("which primer goes on B007?", "B007"), ("paint area of B003-A02", "B003-A02")):
        plan = planner.plan(question)
        assert plan.intent == "coating", plan
        assert [(s.tool, s.args) for s in plan.steps] == [("coating_plan", {"code": code})]
    # ... and it takes nothing from the intents the weights were fitted for
    assert planner.plan("what is B012?").intent == "lookup"
    assert planner.plan("how risky is the welding on B012?").intent == "weld_risk"


def test_the_fit_leaves_out_a_tool_no_dev_case_asks_for(coating_tool: ToolSpec, demo_names: Lexicon) -> None:
    # a plug-in installed where the fit runs must not change the shipped file
    assert "coating" not in fitting_planner(load_dev_cases(), demo_names).intents
