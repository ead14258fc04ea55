"""The document tool answers with the fact (the sentence or the table row under its header) and its citation, says
when no document answers, and keeps the documents' text away from the planner (the fields that hold it are marked
untrusted)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from brain.core import YardContext
from brain.tools import TOOLS, ToolResult, run_tool
from knowledge import Settings

QUESTIONS = Path(__file__).parents[2] / "evals" / "cases" / "document_questions.yaml"


@pytest.fixture(scope="module")
def ctx(small_yard: Path, settings: Settings) -> Iterator[YardContext]:
    context = YardContext.open(small_yard, settings)
    yield context
    context.close()


def _answer(result: ToolResult) -> str:
    """What a person reads: the summary and the tool's own lines, as the supervisor writes them."""
    lines = TOOLS.get("search_documents").lines
    return "\n".join([result.summary + "."] + (lines(result) if lines is not None else []))


def test_the_readme_question_is_answered_with_the_preheat_row(ctx: YardContext) -> None:
    result = run_tool(ctx, "search_documents", {"query": "what preheat does the WPS require for thick EH36 plate?"})
    text = _answer(result)
    assert "WPS-FCAW-HS-01 \u00a7 Preheat and interpass temperature" in result.sources
    line = next(line for line in text.splitlines() if "\u00a7 Preheat and interpass temperature" in line)
    assert "Grade: EH36" in line and "Minimum preheat: 100 °C" in line  # the row, read with its header


def test_the_summary_states_the_fact_and_cites_it(ctx: YardContext) -> None:
    result = run_tool(ctx, "search_documents", {"query": "Max size of a single pore at quality level B?"})
    assert result.summary.startswith(f"{result.sources[0]}: ")
    assert "3 mm" in result.summary


def test_the_document_text_stays_marked_untrusted(ctx: YardContext) -> None:
    result = run_tool(ctx, "search_documents", {"query": "minimum preheat for EH36"})
    untrusted = {c.name for c in result.columns if c.untrusted}
    assert untrusted == {"passage", "text"}
    assert {c.name for c in result.columns if not c.untrusted} == {"citation", "score"}
    assert TOOLS.get("search_documents").untrusted_text


def test_facts_and_refusals_on_questions_written_without_the_retriever(ctx: YardContext) -> None:
    questions = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))["questions"]
    answerable = [q for q in questions if q["expected"]]
    unanswerable = [q for q in questions if not q["expected"]]
    stated = refused_wrongly = 0
    for q in answerable:
        result = run_tool(ctx, "search_documents", {"query": q["question"]})
        stated += q["fact"] in _answer(result)
        refused_wrongly += result.summary.startswith("no document answers that")
    refused = 0
    for q in unanswerable:
        result = run_tool(ctx, "search_documents", {"query": q["question"]})
        if result.summary.startswith("no document answers that"):
            refused += 1
            assert result.sources == [] and "closest, not an answer" in _answer(result)
    print(
        f"fact stated in {stated}/{len(answerable)} answers; {refused}/{len(unanswerable)} unanswerable questions "
        f"answered 'no document answers that'; {refused_wrongly} answerable ones refused"
    )
    assert stated >= 0.85 * len(answerable)  # 71 of 80 when written
    assert refused >= 4 and refused_wrongly <= 2  # 4 of 10 and 1 when written: the keyword coverage catches few
