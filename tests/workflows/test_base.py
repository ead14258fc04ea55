"""The workflow contract: the registry, request validation with named fields, progress, errors that pickle."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from knowledge import InputError
from workflows import WORKFLOWS, UnknownWorkflowError, WorkflowContext, WorkflowInputError, run_workflow

SHIPPED = ("block-readiness", "outfitting-plan", "reschedule", "weld-inspection-plan")


def test_registry_lists_the_shipped_workflows() -> None:
    assert WORKFLOWS.names() == SHIPPED
    assert [w.name for w in WORKFLOWS.list()] == list(SHIPPED)
    assert [w.name for w in WORKFLOWS.list() if w.changes_plan] == ["reschedule"]
    assert all(w.version == "1" for w in WORKFLOWS.list())
    with pytest.raises(UnknownWorkflowError, match="no workflow 'weld-plan'; the workflows are block-readiness, "):
        WORKFLOWS.get("weld-plan")


@pytest.mark.parametrize("name", SHIPPED)
def test_schemas_forbid_extra_fields_and_describe_every_field(name: str) -> None:
    described = WORKFLOWS.get(name).describe()
    assert described["name"] == name and described["description"]
    request, result = described["request_schema"], described["result_schema"]
    models = [request, *request.get("$defs", {}).values()]
    for model in models:
        if model.get("type") == "object":
            assert model.get("additionalProperties") is False, model.get("title")
    for prop, spec in request["properties"].items():
        assert spec.get("description"), f"{name}: request field {prop} has no description"
    assert result["type"] == "object" and "summary" in result["properties"]


@pytest.mark.parametrize(
    ("name", "payload", "where", "what"),
    [
        ("weld-inspection-plan", {"code": "B002", "colour": "red"}, "colour", "Extra inputs are not permitted"),
        ("weld-inspection-plan", {"code": "B002", "budget": {"share": "ten"}}, "budget.share", "valid number"),
        ("weld-inspection-plan", {"code": "B002", "budget": {"share": 0.1, "joints": 3}}, "budget", "exactly one"),
        ("weld-inspection-plan", {"code": "B777"}, "code", "B777"),
        ("weld-inspection-plan", {"code": "WP-B002-XYZ"}, "code", "no work package 'WP-B002-XYZ'"),
        ("outfitting-plan", {"zone": "MVZ99-L1"}, "zone", "no zone 'MVZ99-L1'"),
        ("outfitting-plan", {"block": 12}, "block", "valid string"),
        ("block-readiness", {"block": "B003", "reports": "all"}, "reports", "valid array"),  # read as JSON, strictly
        (
            "reschedule",
            {"events": [{"type": "resource_down", "equipment": "PL-1", "days": -2}]},
            "events.0.days",
            "greater than or equal to 1",
        ),
        (
            "reschedule",
            {"events": [{"type": "material_late", "code": "B002-A01", "days": 0}]},
            "events.0.days",
            "greater than or equal to 1",
        ),
        (
            "reschedule",
            {"events": [{"type": "resource_down", "equipment": "PL-7", "days": 2}]},
            "events.0.equipment",
            "no resource 'PL-7'",
        ),
        (
            "reschedule",
            {"events": [{"type": "material_late", "code": "B002-A99", "days": 2}]},
            "events.0.code",
            "B002-A99",
        ),
    ],
)
def test_bad_payloads_are_refused_naming_the_field(
    ctx: WorkflowContext, name: str, payload: dict[str, Any], where: str, what: str
) -> None:
    with pytest.raises(WorkflowInputError) as caught:
        run_workflow(name, payload, ctx)
    assert caught.value.field == where
    assert caught.value.workflow == name
    assert str(caught.value).startswith(f"{name}: {where}: ")
    assert what in str(caught.value)
    assert isinstance(caught.value, InputError)


def test_progress_reports_each_step_then_done(ctx: WorkflowContext) -> None:
    seen: list[tuple[str, int, int]] = []
    run_workflow("outfitting-plan", {"block": "B003"}, ctx, progress=lambda *a: seen.append(a))
    assert [s for s, _, _ in seen] == ["scope", "outfitting model", "sequence", "done"]
    assert [d for _, d, _ in seen] == [0, 1, 2, 3] and {t for _, _, t in seen} == {3}


def test_input_errors_pickle_with_their_field() -> None:
    exc = WorkflowInputError("unknown code 'X'", field="reports.3.code", workflow="block-readiness")
    back = pickle.loads(pickle.dumps(exc))
    assert (back.field, back.workflow, str(back)) == (exc.field, exc.workflow, str(exc))


@pytest.mark.parametrize(
    ("name", "payload", "where", "what"),
    [
        (
            "reschedule",
            {"events": [{"type": "resource_down", "equipment": "PL-9", "days": 2}]},
            "events.0.equipment",
            "PL-9",
        ),
        ("reschedule", {"events": [{"type": "material_late", "code": "B099", "days": 2}]}, "events.0.code", "B099"),
        (
            "reschedule",
            {"events": [{"type": "resource_down", "equipment": "PL-1", "days": 2, "from_date": "1990-01-01"}]},
            "events.0.from_date",
            "before",
        ),
        ("block-readiness", {"block": "B099"}, "block", "B099"),
        (
            "block-readiness",
            {"block": "B002", "reports": [{"code": "Q1", "status": "completed", "reported_at": "2025-01-02T08:00Z"}]},
            "reports.0.code",
            "Q1",
        ),
        ("outfitting-plan", {"zone": "MVZ9-L9"}, "zone", "MVZ9-L9"),
        ("outfitting-plan", {"block": "B099"}, "block", "B099"),
        ("weld-inspection-plan", {"code": "B099"}, "code", "B099"),
    ],
)
def test_requests_are_checked_against_the_yard_before_they_run(
    ctx: WorkflowContext, name: str, payload: dict[str, Any], where: str, what: str
) -> None:
    """`validate_request(..., ctx)` (what the service calls when a run is submitted) refuses before any run."""
    from dataclasses import replace

    from workflows.base import validate_request

    def never(*_: object) -> None:
        raise AssertionError("the workflow ran")

    workflow = replace(WORKFLOWS.get(name), run=never)
    assert workflow.check is not None
    with pytest.raises(WorkflowInputError) as caught:
        validate_request(workflow, payload, ctx)
    assert (caught.value.field, caught.value.workflow) == (where, name)
    assert what in str(caught.value)
    assert validate_request(workflow, payload) is not None  # the request model alone takes it


@pytest.mark.parametrize(
    ("name", "payload", "where"),
    [
        ("weld-inspection-plan", {"code": "B002", "budget": {"hours": float("inf")}}, "budget.hours"),
        (
            "weld-inspection-plan",
            {"code": "B002", "ndt_hours_per_joint": {"UT": float("nan")}},
            "ndt_hours_per_joint.UT",
        ),
        ("block-readiness", {"block": "B002", "sample_size": float("-inf")}, "sample_size"),
    ],
)
def test_non_finite_numbers_are_refused(ctx: WorkflowContext, name: str, payload: dict[str, Any], where: str) -> None:
    with pytest.raises(WorkflowInputError, match="finite") as caught:
        run_workflow(name, payload, ctx)
    assert caught.value.field == where


def test_request_and_result_models_refuse_non_finite_numbers() -> None:
    for w in WORKFLOWS.list():
        assert w.request.model_config.get("allow_inf_nan") is False, w.name
        assert w.result.model_config.get("allow_inf_nan") is False, w.name
