"""Bad input is refused when it is given, naming the field: never read as another value, never a failed run later.

Reviewer's report of 2026-12-02: findings 5 (booleans taken as numbers: `"from_day": true, "days": true` adopted
"down for 1 day from day 1"), 8 (dates past the schedule's horizon accepted, then the run failed with
"OverflowError: date value out of range"), 11 (200,000 reports advertised where ~12,000 fit the body limit), and
from 14: codes read one way for blocks and another for zones, and two reports of one code at one time that
contradict each other, the last silently winning.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from brain.core.context import HORIZON_DAYS
from workflows import WorkflowContext, run_workflow
from workflows.base import WORKFLOWS, validate_request
from workflows.block_readiness import MAX_REPORTS, BlockReadiness
from workflows.errors import WorkflowInputError
from workflows.outfitting_plan import OutfittingPlan
from workflows.reschedule import RescheduleRequest, ResourceDown
from workflows.weld_inspection_plan import WeldInspectionPlanRequest


def _refused(ctx: WorkflowContext, name: str, payload: dict[str, Any]) -> WorkflowInputError:
    with pytest.raises(WorkflowInputError) as caught:
        validate_request(WORKFLOWS.get(name), payload, ctx)
    return caught.value


def _down(**event: Any) -> dict[str, Any]:
    return {"events": [{"type": "resource_down", "equipment": "PL-2", **event}], "compare_optimised": False}


def _report(code: str, status: str = "completed", at: object = "2025-03-01T08:00:00Z", **more: Any) -> dict[str, Any]:
    return {"code": code, "status": status, "reported_at": at, **more}


# ---- finding 5: a boolean is no number, a number no boolean, a string neither ---------------------------------------


@pytest.mark.parametrize(
    ("name", "payload", "field", "says"),
    [
        ("reschedule", _down(from_day=True, days=2), "events.0.from_day", "valid integer (got True)"),
        ("reschedule", _down(days=True), "events.0.days", "valid integer (got True)"),
        ("reschedule", _down(days="2"), "events.0.days", "valid integer (got '2')"),
        ("reschedule", _down(days=2.0), "events.0.days", "valid integer (got 2.0)"),
        ("reschedule", {**_down(days=2), "compare_optimised": 0}, "compare_optimised", "valid boolean (got 0)"),
        ("reschedule", {**_down(days=2), "compare_optimised": "no"}, "compare_optimised", "valid boolean"),
        (
            "reschedule",
            {"events": [{"type": "material_late", "code": "B002-A01", "days": False}]},
            "events.0.days",
            "valid integer (got False)",
        ),
        (
            "weld-inspection-plan",
            {"code": "B002", "budget": {"share": True}},
            "budget.share",
            "valid number (got True)",
        ),
        ("weld-inspection-plan", {"code": "B002", "budget": {"joints": True}}, "budget.joints", "valid integer"),
        ("weld-inspection-plan", {"code": "B002", "budget": {"hours": "40"}}, "budget.hours", "valid number"),
        (
            "weld-inspection-plan",
            {"code": "B002", "ndt_hours_per_joint": {"UT": True}},
            "ndt_hours_per_joint.UT",
            "valid number",
        ),
        ("block-readiness", {"block": "B002", "sample_size": True}, "sample_size", "valid integer"),
        ("block-readiness", {"block": "B002", "as_of": 1_700_000_000}, "as_of", "valid date"),
        (
            "block-readiness",
            {"block": "B002", "reports": [_report("WP-B002-ASM", "in_progress", percent=True)]},
            "reports.0.percent",
            "valid number",
        ),
        ("block-readiness", {"block": "B002", "reports": [_report("WP-B002-ASM", at=1)]}, "reports.0.reported_at", ""),
    ],
)
def test_a_value_of_another_json_type_is_refused_naming_the_field(
    ctx: WorkflowContext, name: str, payload: dict[str, Any], field: str, says: str
) -> None:
    refused = _refused(ctx, name, payload)
    assert refused.field == field and says in refused.message, refused


def test_numbers_of_the_right_type_and_python_values_still_validate(ctx: WorkflowContext) -> None:
    """A whole number is a float, and the CLI's or an eval's Python values (dates, tuples, models) read as JSON."""
    budget = validate_request(WORKFLOWS.get("weld-inspection-plan"), {"code": "B002", "budget": {"share": 1}}, ctx)
    assert isinstance(budget, WeldInspectionPlanRequest) and budget.budget.share == 1.0
    plan = validate_request(
        WORKFLOWS.get("reschedule"),
        {"events": ({"type": "resource_down", "equipment": "PL-2", "from_date": date(2025, 3, 1), "days": 2},)},
        ctx,
    )
    assert isinstance(plan, RescheduleRequest) and isinstance(plan.events[0], ResourceDown)
    assert plan.events[0].from_date == date(2025, 3, 1)
    at = datetime(2025, 3, 1, 8, tzinfo=UTC)
    result = run_workflow(
        "block-readiness",
        {"block": "B002", "reports": [{"code": "WP-B002-ASM", "status": "completed", "reported_at": at}]},
        ctx,
    )
    assert isinstance(result, BlockReadiness) and result.as_of == date(2025, 3, 1)


# ---- finding 8: every date is within the schedule's horizon, refused at once naming its field -----------------------


def test_the_horizon_is_ten_years_after_day_zero(ctx: WorkflowContext) -> None:
    assert ctx.horizon == ctx.day_zero + timedelta(days=HORIZON_DAYS) and HORIZON_DAYS == 3650
    assert ctx.day_of(ctx.horizon) == HORIZON_DAYS


@pytest.mark.parametrize(
    ("name", "payload", "field"),
    [
        ("block-readiness", {"block": "B002", "as_of": "9999-12-31"}, "as_of"),
        (
            "block-readiness",
            {"block": "B002", "reports": [_report("WP-B002-ASM", at="9999-12-31T23:59:59Z")]},
            "reports.0.reported_at",
        ),
        (
            "block-readiness",
            {"block": "B002", "reports": [_report("B002-A01"), _report("WP-B002-ASM", at="2099-01-01T00:00:00Z")]},
            "reports.1.reported_at",
        ),
        (
            "block-readiness",  # not the latest report, still past the horizon
            {
                "block": "B002",
                "as_of": "2025-03-01",
                "reports": [_report("WP-B002-ASM", at="2099-01-01T00:00:00Z")],
            },
            "reports.0.reported_at",
        ),
        ("reschedule", _down(from_date="2099-01-01", days=2), "events.0.from_date"),
        ("reschedule", _down(from_date="9999-12-31", days=2), "events.0.from_date"),
    ],
)
def test_a_date_past_the_horizon_is_refused_naming_its_field(
    ctx: WorkflowContext, name: str, payload: dict[str, Any], field: str
) -> None:
    refused = _refused(ctx, name, payload)
    assert refused.field == field, refused
    assert "past the schedule's horizon" in refused.message and str(ctx.horizon) in refused.message


def test_the_last_day_of_the_horizon_is_taken_and_from_day_has_the_same_cap(ctx: WorkflowContext) -> None:
    last = ctx.horizon.isoformat()
    validate_request(WORKFLOWS.get("reschedule"), _down(from_date=last, days=2), ctx)
    validate_request(WORKFLOWS.get("block-readiness"), {"block": "B002", "as_of": last}, ctx)
    validate_request(WORKFLOWS.get("reschedule"), _down(from_day=HORIZON_DAYS, days=2), ctx)
    refused = _refused(ctx, "reschedule", _down(from_day=HORIZON_DAYS + 1, days=2))
    assert refused.field == "events.0.from_day" and f"less than or equal to {HORIZON_DAYS}" in refused.message
    day_after = (ctx.horizon + timedelta(days=1)).isoformat()
    assert _refused(ctx, "reschedule", _down(from_date=day_after, days=2)).field == "events.0.from_date"


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-05:00"])
def test_a_report_time_no_utc_calendar_holds_is_refused_not_an_overflow(ctx: WorkflowContext, at: str) -> None:
    refused = _refused(ctx, "block-readiness", {"block": "B002", "reports": [_report("WP-B002-ASM", at=at)]})
    assert refused.field == "reports.0.reported_at" and "no date in UTC" in refused.message


def test_the_latest_report_before_day_zero_is_named_as_the_start(ctx: WorkflowContext) -> None:
    refused = _refused(
        ctx,
        "block-readiness",
        {
            "block": "B002",
            "reports": [
                _report("B002-A01", at="2020-01-01T00:00:00Z"),
                _report("WP-B002-ASM", at="2021-01-01T00:00:00Z"),
            ],
        },
    )
    assert refused.field == "reports.1.reported_at" and "before the schedule's day 0" in refused.message


# ---- finding 11: the reports a request may hold fit the body limit --------------------------------------------------


def test_the_schema_advertises_what_the_body_limit_holds(ctx: WorkflowContext) -> None:
    schema = WORKFLOWS.get("block-readiness").describe()["request_schema"]
    assert schema["properties"]["reports"]["maxItems"] == MAX_REPORTS == 8_000
    assert "1 MiB" in schema["properties"]["reports"]["description"]
    too_many = {"block": "B002", "reports": [_report("WP-B002-ASM")] * (MAX_REPORTS + 1)}
    refused = _refused(ctx, "block-readiness", too_many)
    assert refused.field == "reports" and "at most 8000 items" in refused.message


# ---- from 14: contradictory reports of one code at one time ---------------------------------------------------------


def test_two_reports_of_one_code_at_one_time_that_disagree_are_refused_naming_both(ctx: WorkflowContext) -> None:
    payload = {
        "block": "B002",
        "reports": [_report("B002-A01"), _report("WP-B002-ASM"), _report("wp-b002-asm", "not_started")],
    }
    refused = _refused(ctx, "block-readiness", payload)
    assert refused.field == "reports.2"
    assert "reports.1 and reports.2 both report WP-B002-ASM" in refused.message
    assert "completed and as not_started" in refused.message
    percent = [_report("WP-B002-ASM", "in_progress", percent=10), _report("WP-B002-ASM", "in_progress", percent=20)]
    assert (
        "in_progress 10 % and as in_progress 20 %"
        in _refused(ctx, "block-readiness", {"block": "B002", "reports": percent}).message
    )
    # the same instant in another zone is the same time
    zoned = [_report("WP-B002-ASM"), _report("WP-B002-ASM", "not_started", at="2025-03-01T09:00:00+01:00")]
    assert _refused(ctx, "block-readiness", {"block": "B002", "reports": zoned}).field == "reports.1"


def test_a_repeated_report_is_one_and_a_later_one_counts(ctx: WorkflowContext) -> None:
    done = run_workflow("block-readiness", {"block": "B002", "reports": [_report("WP-B002-ASM")] * 2}, ctx)
    reopened = run_workflow(
        "block-readiness",
        {
            "block": "B002",
            "reports": [_report("WP-B002-ASM"), _report("WP-B002-ASM", "not_started", at="2025-03-02T08:00:00Z")],
        },
        ctx,
    )
    nothing = run_workflow("block-readiness", {"block": "B002", "as_of": "2025-03-02"}, ctx)
    assert (
        isinstance(done, BlockReadiness)
        and isinstance(reopened, BlockReadiness)
        and isinstance(nothing, BlockReadiness)
    )
    assert done.done > 0 and reopened.done == nothing.done == 0


# ---- from 14: one rule for codes: the yard's exactly, else the one code of the same loose form ---------------------


def test_zones_are_read_like_every_other_code(ctx: WorkflowContext) -> None:
    exact = run_workflow("outfitting-plan", {"zone": "MVZ3-L1"}, ctx)
    for typed in ("mvz3-l1", " MVZ3 L1 ", "mvz03_l01"):
        loose = run_workflow("outfitting-plan", {"zone": typed}, ctx)
        assert isinstance(loose, OutfittingPlan) and isinstance(exact, OutfittingPlan)
        assert loose.scope == exact.scope == "zone MVZ3-L1" and loose.sequence == exact.sequence
    refused = _refused(ctx, "outfitting-plan", {"zone": "mvz3-l9"})
    assert refused.field == "zone" and "no zone 'mvz3-l9'" in refused.message


def test_block_equipment_and_report_codes_follow_the_same_rule(ctx: WorkflowContext) -> None:
    exact = run_workflow(
        "block-readiness", {"block": "B002", "reports": [_report("WP-B002-ASM"), _report("B002-A01")]}, ctx
    )
    loose = run_workflow(
        "block-readiness", {"block": " b002 ", "reports": [_report("wp-b002-asm"), _report("b2-a1")]}, ctx
    )
    assert isinstance(exact, BlockReadiness) and isinstance(loose, BlockReadiness)
    assert loose.block == exact.block == "B002" and loose.done == exact.done > 0
    validate_request(WORKFLOWS.get("reschedule"), _down(equipment="pl-2", days=2), ctx)
    assert _refused(ctx, "reschedule", _down(equipment="pl-9", days=2)).field == "events.0.equipment"
