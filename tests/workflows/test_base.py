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
        ("block-readiness", {"block": "B003", "reports": "all"}, "reports", "valid list"),
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
