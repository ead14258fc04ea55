"""The entities of issue 11's questions, by pattern and exact: budgets in hours or joints, factors, dates, hours.

A percentage in a what-if about welding or rework is a factor, never an inspection budget; nothing is guessed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from pydantic import JsonValue

from brain._planner_fit import DEMO_YARD
from brain.core import YardContext
from brain.lexicon import Lexicon
from brain.plan import extract_entities
from brain.planner import OfflinePlanner
from brain.tools import run_tool
from knowledge import InputError


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # inspection budgets: hours, joints, a share in words
        ("NDT plan for B012 with 40 hours of inspection", {"budget_hours": 40.0, "budget": None}),
        ("NDT plan for B012, budget 40 h", {"budget_hours": 40.0}),
        ("30 NDT hours for B004-A02: which joints?", {"budget_hours": 30.0}),
        ("inspect 50 joints of B012", {"budget_joints": 50, "budget": None, "budget_hours": None}),
        ("pick the 20 riskiest welds of B009 for UT", {"budget_joints": 20}),
        ("NDT plan for B003, inspect a tenth of the welds", {"budget": 0.1, "budget_joints": None}),
        ("one in twenty welds of B002 for RT", {"budget": 0.05, "budget_joints": None}),
        ("which joints of B004 should we inspect with a 5 % budget?", {"budget": 0.05, "budget_hours": None}),
        # cross-model what-ifs: the percentage is a factor, not a budget
        ("if welding on B012 takes 20 % longer, what slips?", {"welding_factor": 1.2, "budget": None}),
        ("what if welding on B012 is 10 % faster", {"welding_factor": 0.9, "budget": None}),
        ("if welding on B009 takes half again as long", {"welding_factor": 1.5}),
        ("if outfitting rework on B030 doubles", {"rework_factor": 2.0, "welding_factor": None}),
        ("what if rework on B030 goes up 50 %", {"rework_factor": 1.5, "budget": None}),
        ("if rework halves in B011, what happens", {"rework_factor": 0.5}),
        ("if welding on B012 takes 20 % longer and rework doubles", {"welding_factor": 1.2, "rework_factor": 2.0}),
        ("what if welders' productivity on B002 drops 15 %", {"welding_factor": 1.15}),
        ("if we speed up welding on B011 by 10 %, what moves", {"welding_factor": 0.9, "budget": None}),
        ("if rework probability in B024 goes from 10 to 20 %, what slips", {"rework_factor": 2.0, "budget": None}),
        ("rework on B016 doubles - new finish date?", {"rework_factor": 2.0}),
        # ... said as over or under plan, as a signed amount, as "N times what", or as an order to change the work
        ("what slips if welding on B014 runs 15 % over", {"welding_factor": 1.15, "budget": None}),
        ("if welding on B003 comes in 10 % under, does anything finish sooner", {"welding_factor": 0.9}),
        ("B009 weld hours +30 %: effect on delivery?", {"welding_factor": 1.3, "budget": None}),
        ("B005 welding -10 % - knock-on for the dock?", {"welding_factor": 0.9, "budget": None}),
        ("let's say rework on B017 is three times what we predicted", {"rework_factor": 3.0}),
        ("say rework on B017 is twice what the model says: does the delivery move?", {"rework_factor": 2.0}),
        ("reduce the outfitting rework on B023 by 30 %", {"rework_factor": 0.7, "budget": None}),
        ("welding on B014 overruns by 15 % - which erections move?", {"welding_factor": 1.15}),
        ("which welds of B012 to inspect with a 20 % budget", {"welding_factor": None, "budget": 0.2}),
        # no what-if, no factor: "double-sided" and "20 %" mean what they say
        ("is double-sided welding allowed on 20 mm plate?", {"welding_factor": None}),
        ("which welds of B012 to inspect with 20 % more budget", {"welding_factor": None}),
        ("which welds of B012 should we inspect if we have 20 % more budget", {"welding_factor": None}),
        ("give me a hundred joints of B030 to inspect", {"budget_joints": 100}),
        ("which 25 seams of B004 get shot?", {"budget_joints": 25}),  # radiographers shoot welds
        ("shot blasting of B012 takes 40 hours", {"budget_hours": None}),  # ... but shot blasting inspects nothing
        # dates with a year, in more forms; a day that does not exist is left out
        ("PL-2 unavailable for 8 days from 24/03/2025", {"start_date": date(2025, 3, 24), "days": 8}),
        ("WS-3 goes down on 1 April 2025 for 5 days", {"start_date": date(2025, 4, 1)}),
        ("crane 1 down from March 10, 2025 for 3 days", {"start_date": date(2025, 3, 10)}),
        ("dock closed from 2025-02-30 for 2 days", {"start_date": None}),
        ("crane 1 down from March 10 for 3 days", {"start_date": None}),  # no year: no date
        # durations abbreviated
        ("panel line 1 down 3 wks from day 5", {"days": 21, "start_day": 5, "resource": "PL-1"}),
        ("crane 2 out for 2wk", {"days": 14}),
        # inspection hours named before their amount
        ("inspection hours available on B010: 90. ndt plan?", {"budget_hours": 90.0, "codes": ["B010"]}),
        ("NDT hours for B012 = 40", {"budget_hours": 40.0}),
        ("inspection hours on B010: 9 days", {"budget_hours": None}),
        # durations in hours: whole days, rounded up
        ("impact of a 48 hour pannel line 1 outage from day 15", {"days": 2, "resource": "PL-1", "start_day": 15}),
        ("what if B012 is 36 hours late", {"days": 2, "budget_hours": None}),
        ("how many hours will B012 take?", {"days": None, "budget_hours": None}),
    ],
)
def test_entities(demo_names: Lexicon, question: str, expected: dict[str, JsonValue]) -> None:
    found = extract_entities(question, demo_names)
    assert {k: getattr(found, k) for k in expected} == expected


def test_a_follow_up_of_a_cross_model_what_if_changes_the_same_factor(demo_names: Lexicon) -> None:
    before = extract_entities("if welding on B012 takes 20 % longer, what slips?", demo_names)
    context: dict[str, JsonValue] = {
        "question": "if welding on B012 takes 20 % longer, what slips?",
        "intent": "whatif",
        "entities": before.model_dump(mode="json"),
        "what_if": None,
        "answer": "...",
    }
    plan = OfflinePlanner(names=demo_names).plan("and if it is 30 % longer?", context=context)
    assert plan.intent == "whatif" and plan.entities.codes == ["B012"], plan
    assert plan.entities.welding_factor == pytest.approx(1.3) and plan.entities.budget is None


# ---- what the question names: found in the yard's lexicon, with its role and place ---------------------------------

NAMES_THREE = "what if B012-A03 is late while panel line 2 is down in MVZ3-L2?"


def test_each_code_resource_and_zone_is_found_with_its_role_and_place(demo_names: Lexicon) -> None:
    # where: similarity reads the question with each named thing masked by its role, so a span is the thing alone
    found = extract_entities(NAMES_THREE, demo_names)
    assert (found.codes, found.roles, found.resource, found.zone) == (["B012-A03"], ["assembly"], "PL-2", "MVZ3-L2")
    assert [(NAMES_THREE[start:end], role) for start, end, role in found.spans] == [
        ("B012-A03", "assembly"),
        ("panel line 2", "resource"),
        ("MVZ3-L2", "zone"),
    ]


def test_without_a_yard_nothing_is_a_code() -> None:
    # no naming scheme: with no lexicon the question names no code, resource or zone; the rest is still read
    found = extract_entities(NAMES_THREE)
    assert (found.codes, found.roles, found.spans, found.resource, found.zone) == ([], [], [], None, None)
    assert extract_entities("what if B012 is 3 days late").days == 3


def test_a_code_the_yard_lacks_reaches_the_tool_that_says_so(
    demo_names: Lexicon, yard_factory: Callable[[int, int], Path]
) -> None:
    # the demo yard has blocks B001-B031: B040 reads like a block, so it is named (role "unknown"); the tool refuses it
    found = extract_entities("what is block B040?", demo_names)
    assert (found.codes, found.roles) == (["B040"], ["unknown"])
    plan = OfflinePlanner(names=demo_names).plan("what is block B040?")
    assert [(s.tool, s.args) for s in plan.steps] == [("lookup", {"code": "B040"})]
    with pytest.raises(InputError, match=r"no block 'B040' in this yard; blocks run B001-B031"):
        run_tool(YardContext.open(yard_factory(*DEMO_YARD)), "lookup", plan.steps[0].args)
