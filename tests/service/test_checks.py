"""Input checked at the door: a request the yard cannot run is a 422 naming the field, before anything is stored.

Issue 11, item 9: an unknown equipment code (PL-9) or block (B099) got 202 and failed later; a budget of `1e999`
was accepted and stored as non-standard JSON `Infinity`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from tests.service.conftest import Api
from workflows.service._tables import AUDIT, RUN_EVENTS, RUNS
from workflows.service.store import Store


def _stored(store: Store) -> str:
    """Every JSON text the store holds (runs, events, audit), as one string."""
    texts: list[str] = []
    with store.engine.connect() as conn:
        for row in conn.execute(select(RUNS.c.request, RUNS.c.result, RUNS.c.error, RUNS.c.approval)):
            texts.extend(t for t in row if t)
        texts.extend(r.data for r in conn.execute(select(RUN_EVENTS.c.data)))
        texts.extend(r.parameters for r in conn.execute(select(AUDIT.c.parameters)))
    return "\n".join(texts)


@pytest.mark.parametrize(
    ("workflow", "request_", "field", "says"),
    [
        (
            "reschedule",
            {"events": [{"type": "resource_down", "equipment": "PL-9", "days": 2}]},
            "input.events.0.equipment",
            "no resource 'PL-9'",
        ),
        (
            "reschedule",
            {
                "events": [
                    {"type": "resource_down", "equipment": "PL-1", "days": 2},
                    {"type": "material_late", "code": "B099", "days": 3},
                ]
            },
            "input.events.1.code",
            "B099",
        ),
        (
            "reschedule",
            {"events": [{"type": "finished_early", "work_package": "WP-B099-ASM", "days": 1}]},
            "input.events.0.work_package",
            "WP-B099-ASM",
        ),
        ("block-readiness", {"block": "B099"}, "input.block", "B099"),
        (
            "block-readiness",
            {
                "block": "B002",
                "reports": [
                    {"code": "B002", "status": "not_started", "reported_at": "2025-01-02T08:00:00Z"},
                    {"code": "WP-B002-ASM", "status": "not_started", "reported_at": "2025-01-02T08:00:00Z"},
                    {"code": "B002-A01", "status": "completed", "reported_at": "2025-01-02T08:00:00Z"},
                    {"code": "B002-A99", "status": "completed", "reported_at": "2025-01-02T08:00:00Z"},
                ],
            },
            "input.reports.3.code",
            "B002-A99",
        ),
        ("block-readiness", {"block": "B002-A01"}, "input.block", "give a block code"),
        ("outfitting-plan", {"zone": "MVZ9-L9"}, "input.zone", "no zone 'MVZ9-L9'"),
        ("outfitting-plan", {"block": "B099"}, "input.block", "B099"),
        ("weld-inspection-plan", {"code": "B099"}, "input.code", "B099"),
        ("weld-inspection-plan", {"code": "WP-B002-XYZ"}, "input.code", "WP-B002-XYZ"),
    ],
)
def test_what_the_yard_does_not_hold_is_422_before_anything_is_stored(
    api: Api, workflow: str, request_: dict[str, Any], field: str, says: str
) -> None:
    refused = api.run({"input": request_}, workflow=workflow)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["type"] == "validation_error" and error["field"] == field
    assert says in error["message"]
    assert api.store.runs() == []


def test_a_request_the_yard_holds_is_still_accepted(api: Api) -> None:
    ok = api.run({"input": {"events": [{"type": "resource_down", "equipment": "pl-1", "days": 2}]}}, "reschedule")
    assert ok.status_code == 202, ok.text
    assert api.wait(ok.json()["run_id"], until=("waiting_for_approval", "failed"))["status"] == "waiting_for_approval"


def test_an_idempotent_refusal_stores_nothing_and_a_retry_is_refused_again(api: Api) -> None:
    body = {"input": {"block": "B099"}}
    for _ in range(2):
        refused = api.run(body, workflow="block-readiness", **{"Idempotency-Key": "door-1"})
        assert refused.status_code == 422 and refused.json()["error"]["field"] == "input.block"
    assert api.store.runs() == []


@pytest.mark.parametrize(
    ("body", "field", "text"),
    [
        (b'{"input": {"code": "B002", "budget": {"hours": 1e999}}}', "input.budget.hours", "1e999"),
        (b'{"input": {"code": "B002", "budget": {"hours": -1E400}}}', "input.budget.hours", "-1E400"),
        (b'{"input": {"code": "B002", "budget": {"share": NaN}}}', "input.budget.share", "NaN"),
        (b'{"input": {"code": "B002", "ndt_hours_per_joint": {"UT": Infinity}}}', "input.ndt_hours_per_joint.UT", ""),
        (b'{"input": {"code": "B002"}, "extra": [1, -Infinity]}', "extra.1", "-Infinity"),
    ],
)
def test_non_finite_numbers_are_refused_and_never_stored(api: Api, body: bytes, field: str, text: str) -> None:
    refused = api.client.post(
        "/v1/workflows/weld-inspection-plan/runs",
        content=body,
        headers={**api.auth(), "content-type": "application/json"},
    )
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["type"] == "validation_error" and error["field"] == field
    assert "finite" in error["message"] and text in error["message"]
    assert api.store.runs() == []
    for token in ("Infinity", "NaN"):
        assert token not in _stored(api.store)


def test_a_non_finite_number_is_refused_on_every_route(api: Api) -> None:
    for path, body in (
        ("/v1/ask", b'{"question": "weld risk of B002", "thread_id": null, "x": 1e999}'),
        ("/v1/runs/run_nope/approval", b'{"approved": true, "note": NaN}'),
    ):
        answer = api.client.post(path, content=body, headers={**api.auth(), "content-type": "application/json"})
        assert answer.status_code == 422 and "finite" in answer.json()["error"]["message"], answer.text


def test_the_store_never_writes_non_standard_json(api: Api) -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        api.store.create_run(
            workflow="test-sleep",
            version="1",
            key_id="key_x",
            actor="test",
            idempotency_key=None,
            fingerprint="f",
            request={"seconds_per_step": float("inf")},
            webhook_url=None,
        )
    assert api.store.runs() == []


def test_a_result_holding_nan_fails_the_run_instead_of_being_stored(api: Api) -> None:
    run = api.run({"input": {"nan_result": True}}).json()
    failed = api.wait(run["run_id"])
    assert failed["status"] == "failed" and failed["error"]["type"] == "workflow_failed"
    assert "score" in failed["error"]["message"] and "JSON" in failed["error"]["message"]
    assert "NaN" not in _stored(api.store)
    json.loads(json.dumps(failed), parse_constant=lambda c: pytest.fail(f"non-standard {c}"))
