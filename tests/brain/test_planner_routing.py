"""Issue 11's questions reach the tool a planner would choose, with the arguments the question gives.

Budgets by share, hours or joints (item 4), one joint, part, item or work package (item 5), the critical path into a
code or of the ship (item 6), and cross-model what-ifs: each reaches its tool with what the question says, never a
default in its place. The codes are found in the yard's lexicon, as the yard spells them: the demo yard's, and the
bulk carrier's own.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import JsonValue

from brain.core import YardContext
from brain.lexicon import Lexicon
from brain.planner import OfflinePlanner


@pytest.fixture(scope="module")
def planner(demo_names: Lexicon) -> OfflinePlanner:
    return OfflinePlanner(names=demo_names)


@pytest.mark.parametrize(
    ("question", "tool", "args"),
    [
        # item 4: the budget asked for, not the 10 % default
        ("NDT plan for B012 with 40 hours of inspection", "ndt_plan", {"code": "B012", "hours": 40.0}),
        ("NDT plan for B012, budget 40 h", "ndt_plan", {"code": "B012", "hours": 40.0}),
        ("inspect 50 joints of B012", "ndt_plan", {"code": "B012", "joints": 50}),
        ("NDT plan for B003, inspect a tenth of the welds", "ndt_plan", {"code": "B003", "budget": 0.1}),
        # item 5: one joint, part, item or work package
        # ... typed short, it reaches the tool as the yard spells it (found in the yard's lexicon)
        ("how risky is joint J12-1426?", "weld_risk", {"code": "J012-001426"}),
        ("how many hours will part B003-A02-S01-P0004 take?", "predicted_hours", {"codes": ["B003-A02-S01-P0004"]}),
        ("man-hours for outfitting item O010-00069", "predicted_hours", {"codes": ["O010-00069"]}),
        ("rework risk of O006-00062", "outfitting", {"code": "O006-00062"}),
        ("total hours of work package WP-B012-OFB", "predicted_hours", {"codes": ["WP-B012-OFB"]}),
        # item 6: the path into the code asked about, or the ship's
        ("critical path for B020", "critical_path", {"code": "B020", "hours": "planned"}),
        ("critical path of B020, predicted hours", "critical_path", {"code": "B020", "hours": "predicted"}),
        ("longest chain into B020-A03", "critical_path", {"code": "B020-A03"}),
        ("the ship's critical path", "critical_path", {"code": None}),
        # cross-model what-ifs: the factor, and no inspection budget made of its percentage
        ("if welding on B012 takes 20 % longer, what slips?", "what_if", {"code": "B012", "welding_factor": 1.2}),
        ("what if outfitting rework on B030 doubles?", "what_if", {"code": "B030", "rework_factor": 2.0}),
        # ... said without "if ... longer": over plan, a signed amount, a multiple of the model, an order to cut
        ("welding on B013 ran 25 % over - what moves?", "what_if", {"code": "B013", "welding_factor": 1.25}),
        ("B021 weld hours +10 %, effect on the erections?", "what_if", {"code": "B021", "welding_factor": 1.1}),
        ("say B008's rework is twice what the model predicts: new delivery date?", "what_if", {"rework_factor": 2.0}),
        ("cut the welding time of B004 by 20 %, does the ship finish sooner?", "what_if", {"welding_factor": 0.8}),
        # the time one joint or part takes, without its risk, is its hours; with its risk the welding model's
        ("how long to weld joint J006-000210?", "predicted_hours", {"codes": ["J006-000210"]}),
        ("weld time of part B002-A03-S01-P0011", "predicted_hours", {"codes": ["B002-A03-S01-P0011"]}),
        ("how long to weld J006-000210, and how likely is a defect?", "weld_risk", {"code": "J006-000210"}),
        # what depends on a code waits on it; the run of jobs that sets how early is the critical path
        ("everything that depends on B017-A01", "downstream", {"code": "B017-A01"}),
        ("which chain of jobs decides how soon B014 can be erected?", "critical_path", {"code": "B014"}),
        # dates and durations said other ways
        ("what-if: PL-2 unavailable for 8 days from 24/03/2025", "what_if", {"start_date": "2025-03-24", "days": 8}),
        ("impact of a 48 hour pannel line 1 outage from day 15", "what_if", {"resource": "PL-1", "days": 2}),
    ],
)
def test_the_question_reaches_its_tool_with_what_it_says(
    planner: OfflinePlanner, question: str, tool: str, args: dict[str, JsonValue]
) -> None:
    plan = planner.plan(question)
    assert len(plan.steps) == 1, plan
    step = plan.steps[0]
    assert step.tool == tool, plan.reason
    assert {k: step.args.get(k) for k in args} == args
    if tool == "ndt_plan":  # exactly one budget: the one asked for
        assert [k for k in ("budget", "hours", "joints") if step.args.get(k) is not None] == [
            k for k in args if k != "code"
        ]


# ---- another yard's codes ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bulk_planner(bulk_carrier: Path) -> OfflinePlanner:
    """The offline planner over the bulk carrier's lexicon: ids with slashes, spaces and inch marks."""
    return OfflinePlanner(names=Lexicon.of(YardContext.open(bulk_carrier)))


@pytest.mark.parametrize(
    ("question", "tool", "args"),
    [
        ("what is upstream of h1042/ab2?", "upstream", {"code": "H1042/AB02"}),  # typed loosely
        (
            "how many hours will part H1042/AB01-P01-S1 WB0052 take?",
            "predicted_hours",
            {"codes": ["H1042/AB01-P01-S1 WB0052"]},
        ),
        ("how risky is joint W-AB01-00001?", "weld_risk", {"code": "W-AB01-00001"}),
        ('rework risk of SP-210-04 4"', "outfitting", {"code": 'SP-210-04 4"'}),
        ("total hours of work package WP-DB09-FAB", "predicted_hours", {"codes": ["WP-DB09-FAB"]}),
        ("critical path into H1042/AB01-P04", "critical_path", {"code": "H1042/AB01-P04"}),
        ("what if CPL-1 is down for 3 days?", "what_if", {"resource": "CPL-1", "code": None, "days": 3}),
        ("assembly hall 2 is closed for 3 days, what slips?", "what_if", {"resource": "AH-2", "days": 3}),
    ],
)
def test_another_yards_codes_reach_their_tools_as_it_spells_them(
    bulk_planner: OfflinePlanner, question: str, tool: str, args: dict[str, JsonValue]
) -> None:
    plan = bulk_planner.plan(question)
    assert [(s.tool, {k: s.args.get(k) for k in args}) for s in plan.steps] == [(tool, args)], plan.reason


def test_a_code_of_another_yard_names_nothing(bulk_planner: OfflinePlanner) -> None:
    # the planner knows no naming scheme: B012 is no code of the bulk carrier, and nothing is made of it
    plan = bulk_planner.plan("what if B012 is 3 days late?")
    assert plan.codes == [] and plan.steps == [], plan
