"""The offline planner in a conversation: follow-ups read the thread's previous question, single questions do not.

The context is what the supervisor passes for a continued thread: the previous question, its intent, its entities
(`Entities.model_dump(mode="json")`), the args of its last what-if (or None) and its answer.
"""

from __future__ import annotations

import pytest
from pydantic import JsonValue

from brain.lexicon import Lexicon
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
SLOWER_WELDING: dict[str, JsonValue] = {"code": "B012", "days": None, "welding_factor": 1.2}
PREVIOUS: dict[str, tuple[str, str, dict[str, JsonValue] | None]] = {
    "after_what_if": ("what if panel line 2 is down for 3 days?", "whatif", PANEL_LINE_DOWN),
    "after_late_block": ("what if B012 is 3 days late?", "whatif", B012_LATE),
    "after_lookup": ("what is B012?", "lookup", None),
    "after_upstream": ("what is B012 waiting for?", "upstream", None),
    "after_ndt": ("which joints of B004 should we inspect with a 5 % budget?", "ndt_plan", None),
    "after_ndt_hours": ("NDT plan for B012 with 40 hours of inspection", "ndt_plan", None),
    "after_critical": ("critical path for B020", "critical_path", None),
    "after_slower_welding": ("if welding on B012 takes 20 % longer, what slips?", "whatif", SLOWER_WELDING),
}
"""The previous question of a thread, its intent and its last what-if's args, by name."""


@pytest.fixture(scope="module")
def contexts(demo_names: Lexicon) -> dict[str, dict[str, JsonValue]]:
    """Each previous question of `PREVIOUS` as the supervisor passes it: its entities found in the demo yard."""
    return {name: _context(demo_names, *previous) for name, previous in PREVIOUS.items()}


def _context(
    names: Lexicon, question: str, intent: str, what_if: dict[str, JsonValue] | None = None
) -> dict[str, JsonValue]:
    entities = extract_entities(question, names).model_dump(mode="json")
    return {"question": question, "intent": intent, "entities": entities, "what_if": what_if, "answer": "..."}


@pytest.fixture(scope="module")
def planner(demo_names: Lexicon) -> OfflinePlanner:
    return OfflinePlanner(names=demo_names)


def _step(plan: Plan) -> tuple[str, dict[str, JsonValue]]:
    assert len(plan.steps) == 1, plan
    return plan.steps[0].tool, plan.steps[0].args


# ---- adopt ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("question", ["Yes, adopt it.", "ok, apply that what-if to the plan", "commit that scenario"])
def test_adopt_it_simulates_the_threads_last_what_if(
    planner: OfflinePlanner, contexts: dict[str, dict[str, JsonValue]], question: str
) -> None:
    plan = planner.plan(question, context=contexts["after_what_if"])
    assert plan.intent == "adopt" and plan.entities.codes == []
    assert _step(plan) == ("what_if", PANEL_LINE_DOWN)


def test_adopt_it_asks_which_what_if_when_the_thread_has_none(
    planner: OfflinePlanner, contexts: dict[str, dict[str, JsonValue]]
) -> None:
    for context in (None, contexts["after_lookup"]):
        plan = planner.plan("Yes, adopt it.", context=context)
        assert plan.intent == "adopt" and plan.steps == [], plan
        assert plan.reason.startswith("which what-if?")


def test_adopt_it_overrides_the_last_what_if_with_what_it_says(
    planner: OfflinePlanner, contexts: dict[str, dict[str, JsonValue]]
) -> None:
    plan = planner.plan("ok, adopt it but for 5 days", context=contexts["after_what_if"])
    assert _step(plan) == ("what_if", {**PANEL_LINE_DOWN, "days": 5})


def test_a_named_scenario_wins_over_the_last_what_if(
    planner: OfflinePlanner, contexts: dict[str, dict[str, JsonValue]]
) -> None:
    plan = planner.plan("adopt the scenario with crane 1 down for 4 days", context=contexts["after_what_if"])
    tool, args = _step(plan)
    assert (tool, args["resource"], args["days"]) == ("what_if", "GC-1", 4)


def test_adopt_proposes_the_change_once_the_what_if_ran(
    planner: OfflinePlanner, contexts: dict[str, dict[str, JsonValue]]
) -> None:
    from brain.tools import ToolResult

    first = planner.plan("adopt it", context=contexts["after_what_if"])
    ran = ToolResult(tool="what_if", args=PANEL_LINE_DOWN, summary="3 erections slip")
    nxt = planner.plan("adopt it", [ran], first, context=contexts["after_what_if"])
    assert _step(nxt) == ("adopt_plan", PANEL_LINE_DOWN)


# ---- follow-ups on other intents -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "context", "tool", "args"),
    [
        ("what about B013?", "after_upstream", "upstream", {"code": "B013"}),
        ("and for B005?", "after_ndt", "ndt_plan", {"code": "B005", "budget": 0.05}),
        ("how about a week?", "after_what_if", "what_if", {**PANEL_LINE_DOWN, "days": 7}),
        ("how about a week?", "after_late_block", "what_if", {**B012_LATE, "days": 7}),
        ("same for the dock", "after_what_if", "what_if", {**PANEL_LINE_DOWN, "resource": "DOCK-1"}),
        # no budget said: the tool's default share (10 %), which the arguments leave to the tool
        ("and its NDT plan?", "after_lookup", "ndt_plan", {"code": "B012"}),
        ("when will it be erected?", "after_lookup", "erection_schedule", {"code": "B012"}),
        ("what if it is 4 days late?", "after_lookup", "what_if", {**B012_LATE, "days": 4}),
        # issue 11's kinds: the budget in hours, the factor, the path carry over; "its" points back
        ("and for B013?", "after_ndt_hours", "ndt_plan", {"code": "B013", "hours": 40.0}),
        ("same for B014 with 20 hours", "after_ndt_hours", "ndt_plan", {"code": "B014", "hours": 20.0}),
        ("and for B013?", "after_slower_welding", "what_if", {**SLOWER_WELDING, "code": "B013"}),
        ("what about 30 % longer?", "after_slower_welding", "what_if", {**SLOWER_WELDING, "welding_factor": 1.3}),
        ("and for B021-A03?", "after_critical", "critical_path", {"code": "B021-A03", "hours": "planned"}),
        ("and its erection date?", "after_critical", "erection_schedule", {"code": "B020"}),
        ("what is its critical path?", "after_lookup", "critical_path", {"code": "B012", "hours": "planned"}),
    ],
)
def test_a_follow_up_takes_what_it_lacks_from_the_previous_question(
    planner: OfflinePlanner,
    contexts: dict[str, dict[str, JsonValue]],
    question: str,
    context: str,
    tool: str,
    args: dict[str, JsonValue],
) -> None:
    assert _step(planner.plan(question, context=contexts[context])) == (tool, args)


def test_a_follow_up_of_an_adoption_only_simulates(
    planner: OfflinePlanner, contexts: dict[str, dict[str, JsonValue]]
) -> None:
    after_adopt = {**contexts["after_what_if"], "intent": "adopt"}
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
    planner: OfflinePlanner, contexts: dict[str, dict[str, JsonValue]], question: str, intent: str, tool: str
) -> None:
    plan = planner.plan(question, context=contexts["after_lookup"])
    assert plan.intent == intent and _step(plan)[0] == tool
    assert plan == planner.plan(question)


@pytest.mark.parametrize("question", ["is it going to rain tomorrow?", "thanks, that's all"])
def test_an_off_topic_follow_up_stays_unknown(
    planner: OfflinePlanner, contexts: dict[str, dict[str, JsonValue]], question: str
) -> None:
    assert planner.plan(question, context=contexts["after_lookup"]).intent == "unknown"


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
