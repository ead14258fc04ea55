"""An amount in a question is read exactly as said, or refused naming it: never read as another number, never dropped.

Reviewer's report of 2026-12-02, finding 14: "late by -4 days" proposed +4 days; "4.5 days" became 5 and "-5 hours"
became 5; "down 99999999999999999999 days" was answered as a plain schedule, the what-if silently dropped; "late by
100000 days" said "needs how long".
"""

from __future__ import annotations

import pytest

from brain.lexicon import Lexicon
from brain.plan import LAST_START_DAY, MAX_WHAT_IF_DAYS, amount_problem, extract_entities
from brain.planner import OfflinePlanner


@pytest.fixture(scope="module")
def planner(demo_names: Lexicon) -> OfflinePlanner:
    return OfflinePlanner(names=demo_names)


@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("adopt into the plan: B012 is late by -4 days", "'-4 days' is negative"),
        ("if panel line 2 is down −3 days, what slips?", "'−3 days' is negative"),
        ("if B012 is late minus four days, what slips?", "'minus four days' is negative"),
        (
            "adopt into the plan: B012 is late by 4.5 days",
            "'4.5 days': a what-if counts whole days, so say '4 days' or '5 days'",
        ),
        ("if B012 is 1.5 weeks late, what slips?", "'1.5 weeks' is 10.5 days"),
        ("NDT plan for B012 with -5 hours of inspection", "'-5 hours' is negative"),
        (
            "if panel line 2 is down 99999999999999999999 days from day 10, which erections slip?",
            f"'99999999999999999999 days' is longer than a what-if covers: at most {MAX_WHAT_IF_DAYS} days",
        ),
        ("adopt into the plan: B012 is late by 100000 days", "'100000 days' is longer than a what-if covers"),
        ("adopt into the plan: B012 is late by 1,000 days", "'1,000 days' is longer"),
        ("adopt into the plan: B012 is late by 0 days", "'0 days' is no time at all"),
        ("if panel line 2 is down 20000 hours, what slips?", "'20000 hours' is 834 days"),
        ("if panel line 2 is down 3 days from day -10", "'from day -10' is before day 0"),
        (
            "if panel line 2 is down 3 days from day 99999",
            f"'from day 99999' is past the schedule's horizon, day {LAST_START_DAY}",
        ),
        ("which joints of block B012 need NDT at 1e308 %?", "'1e308 %' is a number in exponent form"),
    ],
)
def test_an_amount_that_cannot_be_read_as_said_is_refused_naming_it(
    planner: OfflinePlanner, question: str, names: str
) -> None:
    plan = planner.plan(question)
    assert plan.intent == "unknown" and plan.refusal == "unplaceable" and plan.steps == [], plan
    assert names in plan.reason, plan.reason
    assert amount_problem(question) is not None
    entities = extract_entities(question)  # nothing read from it that a follow-up could carry on
    assert entities.days is None and entities.start_day is None and entities.budget_hours is None


@pytest.mark.parametrize(
    ("question", "args"),
    [
        ("adopt into the plan: B012 is late by 4 days", {"code": "B012", "days": 4}),
        (
            "if panel line 2 is down 3 days from day 10, which erections slip?",
            {"resource": "PL-2", "days": 3, "start_day": 10},
        ),
        (
            f"if panel line 2 is down {MAX_WHAT_IF_DAYS} days from day {LAST_START_DAY}",
            {"days": 365, "start_day": 3650},
        ),
        ("if B012 is two weeks late, what slips?", {"code": "B012", "days": 14}),
        ("if B012 is 36 hours late what slips?", {"code": "B012", "days": 2}),  # part of a day down is a day lost
        ("if panel line 2 has a 48-hour outage from day 12, what slips?", {"days": 2, "start_day": 12}),  # no minus
    ],
)
def test_amounts_said_plainly_are_read_exactly(planner: OfflinePlanner, question: str, args: dict[str, object]) -> None:
    plan = planner.plan(question)
    assert amount_problem(question) is None
    assert plan.steps, plan
    step = plan.steps[0]
    assert step.tool == "what_if" and {k: step.args.get(k) for k in args} == args, step


def test_fractional_inspection_hours_are_a_budget_as_said(planner: OfflinePlanner) -> None:
    plan = planner.plan("NDT plan for B012 with 4.5 hours of inspection")
    assert plan.steps and plan.steps[0].args == {"code": "B012", "hours": 4.5}
