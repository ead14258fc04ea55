"""The offline planner in a conversation: follow-ups read the thread's previous question, single questions do not.

The context is what the supervisor passes for a continued thread: the previous question, its intent, its entities
(`Entities.model_dump(mode="json")`), the args of its last what-if (or None) and its answer.
"""

from __future__ import annotations

import pytest
from pydantic import JsonValue

from brain.plan import Plan, extract_entities
from brain.planner import OfflinePlanner

PANEL_LINE_DOWN: dict[str, JsonValue] = {
    "resource": "PL-2",
    "code": None,
    "days": 3,
    "start_day": None,
    "start_date": None,
}
B012_LATE: dict[str, JsonValue] = {**PANEL_LINE_DOWN, "resource": None, "code": "B012"}


def _context(question: str, intent: str, what_if: dict[str, JsonValue] | None = None) -> dict[str, JsonValue]:
    entities = extract_entities(question).model_dump(mode="json")
    return {"question": question, "intent": intent, "entities": entities, "what_if": what_if, "answer": "..."}


AFTER_WHAT_IF = _context("what if panel line 2 is down for 3 days?", "whatif", PANEL_LINE_DOWN)
AFTER_LATE_BLOCK = _context("what if B012 is 3 days late?", "whatif", B012_LATE)
AFTER_LOOKUP = _context("what is B012?", "lookup")
AFTER_UPSTREAM = _context("what is B012 waiting for?", "upstream")
AFTER_NDT = _context("which joints of B004 should we inspect with a 5 % budget?", "ndt_plan")
AFTER_NDT_HOURS = _context("NDT plan for B012 with 40 hours of inspection", "ndt_plan")
AFTER_CRITICAL = _context("critical path for B020", "critical_path")
SLOWER_WELDING: dict[str, JsonValue] = {"code": "B012", "days": None, "welding_factor": 1.2}
AFTER_SLOWER_WELDING = _context("if welding on B012 takes 20 % longer, what slips?", "whatif", SLOWER_WELDING)


@pytest.fixture(scope="module")
def planner() -> OfflinePlanner:
    return OfflinePlanner()


def _step(plan: Plan) -> tuple[str, dict[str, JsonValue]]:
    assert len(plan.steps) == 1, plan
    return plan.steps[0].tool, plan.steps[0].args


# ---- adopt ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("question", ["Yes, adopt it.", "ok, apply that what-if to the plan", "commit that scenario"])
def test_adopt_it_simulates_the_threads_last_what_if(planner: OfflinePlanner, question: str) -> None:
    plan = planner.plan(question, context=AFTER_WHAT_IF)
    assert plan.intent == "adopt" and plan.entities.codes == []
    assert _step(plan) == ("what_if", PANEL_LINE_DOWN)


def test_adopt_it_asks_which_what_if_when_the_thread_has_none(planner: OfflinePlanner) -> None:
    for context in (None, AFTER_LOOKUP):
        plan = planner.plan("Yes, adopt it.", context=context)
        assert plan.intent == "adopt" and plan.steps == [], plan
        assert plan.reason.startswith("which what-if?")


def test_adopt_it_overrides_the_last_what_if_with_what_it_says(planner: OfflinePlanner) -> None:
    plan = planner.plan("ok, adopt it but for 5 days", context=AFTER_WHAT_IF)
    assert _step(plan) == ("what_if", {**PANEL_LINE_DOWN, "days": 5})


def test_a_named_scenario_wins_over_the_last_what_if(planner: OfflinePlanner) -> None:
    plan = planner.plan("adopt the scenario with crane 1 down for 4 days", context=AFTER_WHAT_IF)
    tool, args = _step(plan)
    assert (tool, args["resource"], args["days"]) == ("what_if", "GC-1", 4)


def test_adopt_proposes_the_change_once_the_what_if_ran(planner: OfflinePlanner) -> None:
    from brain.tools import ToolResult

    first = planner.plan("adopt it", context=AFTER_WHAT_IF)
    ran = ToolResult(tool="what_if", args=PANEL_LINE_DOWN, summary="3 erections slip")
    nxt = planner.plan("adopt it", [ran], first, context=AFTER_WHAT_IF)
    assert _step(nxt) == ("adopt_plan", PANEL_LINE_DOWN)


# ---- follow-ups on other intents -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "context", "tool", "args"),
    [
        ("what about B013?", AFTER_UPSTREAM, "upstream", {"code": "B013"}),
        ("and for B005?", AFTER_NDT, "ndt_plan", {"code": "B005", "budget": 0.05}),
        ("how about a week?", AFTER_WHAT_IF, "what_if", {**PANEL_LINE_DOWN, "days": 7}),
        ("how about a week?", AFTER_LATE_BLOCK, "what_if", {**B012_LATE, "days": 7}),
        ("same for the dock", AFTER_WHAT_IF, "what_if", {**PANEL_LINE_DOWN, "resource": "DOCK-1"}),
        # no budget said: the tool's default share (10 %), which the arguments leave to the tool
        ("and its NDT plan?", AFTER_LOOKUP, "ndt_plan", {"code": "B012"}),
        ("when will it be erected?", AFTER_LOOKUP, "erection_schedule", {"code": "B012"}),
        ("what if it is 4 days late?", AFTER_LOOKUP, "what_if", {**B012_LATE, "days": 4}),
        # issue 11's kinds: the budget in hours, the factor, the path carry over; "its" points back
        ("and for B013?", AFTER_NDT_HOURS, "ndt_plan", {"code": "B013", "hours": 40.0}),
        ("same for B014 with 20 hours", AFTER_NDT_HOURS, "ndt_plan", {"code": "B014", "hours": 20.0}),
        ("and for B013?", AFTER_SLOWER_WELDING, "what_if", {**SLOWER_WELDING, "code": "B013"}),
        ("what about 30 % longer?", AFTER_SLOWER_WELDING, "what_if", {**SLOWER_WELDING, "welding_factor": 1.3}),
        ("and for B021-A03?", AFTER_CRITICAL, "critical_path", {"code": "B021-A03"}),
        ("and its erection date?", AFTER_CRITICAL, "erection_schedule", {"code": "B020"}),
        ("what is its critical path?", AFTER_LOOKUP, "critical_path", {"code": "B012"}),
    ],
)
def test_a_follow_up_takes_what_it_lacks_from_the_previous_question(
    planner: OfflinePlanner, question: str, context: dict[str, JsonValue], tool: str, args: dict[str, JsonValue]
) -> None:
    assert _step(planner.plan(question, context=context)) == (tool, args)


def test_a_follow_up_of_an_adoption_only_simulates(planner: OfflinePlanner) -> None:
    after_adopt = {**AFTER_WHAT_IF, "intent": "adopt"}
    plan = planner.plan("how about a week?", context=after_adopt)
    assert plan.intent == "whatif" and _step(plan) == ("what_if", {**PANEL_LINE_DOWN, "days": 7})


@pytest.mark.parametrize(
    ("question", "intent", "tool"),
    [
        ("What does B013 consist of?", "lookup", "lookup"),  # names its own code and asks its own question
        ("what is the makespan?", "schedule", "erection_schedule"),  # no follow-up cue
        ("how do we weld it?", "procedure", "search_documents"),  # a how-to stays a how-to
        ("and the critical path?", "critical_path", "critical_path"),  # the ship's path needs no block
    ],
)
def test_a_question_that_stands_alone_ignores_the_context(
    planner: OfflinePlanner, question: str, intent: str, tool: str
) -> None:
    plan = planner.plan(question, context=AFTER_LOOKUP)
    assert plan.intent == intent and _step(plan)[0] == tool
    assert plan == planner.plan(question)


@pytest.mark.parametrize("question", ["is it going to rain tomorrow?", "thanks, that's all"])
def test_an_off_topic_follow_up_stays_unknown(planner: OfflinePlanner, question: str) -> None:
    assert planner.plan(question, context=AFTER_LOOKUP).intent == "unknown"


@pytest.mark.parametrize("question", ["what about B013?", "how about a week?", "when will it be erected?"])
def test_without_context_a_follow_up_is_planned_as_today(planner: OfflinePlanner, question: str) -> None:
    assert planner.plan(question, context=None) == planner.plan(question)


@pytest.mark.parametrize(
    "context",
    [
        {"question": "?", "intent": "weather", "entities": {}, "what_if": None, "answer": ""},
        {"question": "?", "intent": "lookup", "entities": {"codes": "B012", "days": "soon"}, "what_if": None},
        {"intent": None},
    ],
)
def test_a_context_that_cannot_be_read_is_ignored(planner: OfflinePlanner, context: dict[str, JsonValue]) -> None:
    assert planner.plan("what about B013?", context=context) == planner.plan("what about B013?")
