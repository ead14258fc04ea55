"""Bad input to the service gets a clear 4xx when it is submitted: never a failed run, never a broken stream.

Reviewer's report of 2026-12-02: findings 5 (`"from_day": true, "days": true` got 202 and was adopted as "down for
1 day from day 1"), 7 (a huge `Last-Event-ID` answered 200 and then cut the stream), 8 (`as_of` 9999-12-31 got
202 and the run failed with an OverflowError), 11 (the schema's 200,000 reports did not fit the 1 MiB body) and,
from 14, the anonymous 429's grammar.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from knowledge import Settings
from tests.service.conftest import Api, service_settings
from tests.service.test_checks import _stored
from tests.service.test_streams import serving
from workflows.block_readiness import MAX_REPORTS, REPORT_BYTES
from workflows.service import ServiceSettings, create_app
from workflows.service.store import MAX_EVENT_ID


def _refused(api: Api, workflow: str, request: dict[str, Any], field: str, says: str) -> None:
    answer = api.run({"input": request}, workflow=workflow)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["type"] == "validation_error" and error["field"] == field, error
    assert says in error["message"], error
    assert api.store.runs() == []  # nothing recorded: no run to fail later


@pytest.mark.parametrize(
    ("workflow", "request_", "field", "says"),
    [
        (
            "reschedule",
            {"events": [{"type": "resource_down", "equipment": "PL-2", "from_day": True, "days": True}]},
            "input.events.0.from_day",
            "valid integer (got True)",
        ),
        (
            "reschedule",
            {"events": [{"type": "resource_down", "equipment": "PL-2", "days": 2}], "compare_optimised": 0},
            "input.compare_optimised",
            "valid boolean (got 0)",
        ),
        ("weld-inspection-plan", {"code": "B002", "budget": {"share": True}}, "input.budget.share", "valid number"),
        ("block-readiness", {"block": "B002", "sample_size": "5"}, "input.sample_size", "valid integer"),
        ("block-readiness", {"block": "B002", "as_of": "9999-12-31"}, "input.as_of", "past the schedule's horizon"),
        (
            "block-readiness",
            {
                "block": "B002",
                "reports": [{"code": "WP-B002-ASM", "status": "completed", "reported_at": "9999-12-31T23:59:59Z"}],
            },
            "input.reports.0.reported_at",
            "past the schedule's horizon",
        ),
        (
            "reschedule",
            {"events": [{"type": "resource_down", "equipment": "PL-1", "from_date": "2099-01-01", "days": 2}]},
            "input.events.0.from_date",
            "past the schedule's horizon",
        ),
        (
            "block-readiness",
            {
                "block": "B002",
                "reports": [
                    {"code": "WP-B002-ASM", "status": "completed", "reported_at": "2025-03-01T00:00:00Z"},
                    {"code": "WP-B002-ASM", "status": "not_started", "reported_at": "2025-03-01T00:00:00Z"},
                ],
            },
            "input.reports.1",
            "reports.0 and reports.1 both report WP-B002-ASM",
        ),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_nothing_is_stored(
    api: Api, workflow: str, request_: dict[str, Any], field: str, says: str
) -> None:
    _refused(api, workflow, request_, field, says)
    assert "9999" not in _stored(api.store) and "true" not in _stored(api.store)


def test_as_many_reports_as_the_schema_allows_fit_the_body_limit(api: Api) -> None:
    """The schema's maxItems is what the default 1 MiB body holds; one more report is a 422 naming the field."""
    limit = ServiceSettings.model_fields["max_body_bytes"].default
    envelope = len(json.dumps({"input": {"block": "B002", "reports": []}}))
    assert MAX_REPORTS * REPORT_BYTES + envelope <= limit
    codes = [f"WP-B{b:03d}-{t}" for b in range(1, 4) for t in ("PNL", "ASM", "OFB")]
    reports = [
        {
            "code": codes[i % len(codes)],
            "status": "in_progress",
            "percent": 50.5,
            "reported_at": f"2025-03-01T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
        }
        for i in range(MAX_REPORTS)
    ]
    body = json.dumps({"input": {"block": "B002", "reports": reports}})  # as a client writes it, with spaces
    assert len(body) <= limit
    headers = {**api.auth(), "Content-Type": "application/json"}
    accepted = api.client.post("/v1/workflows/block-readiness/runs", content=body, headers=headers)
    assert accepted.status_code == 202, accepted.text[:300]
    one_more = json.dumps({"input": {"block": "B002", "reports": [*reports, reports[0]]}})
    refused = api.client.post("/v1/workflows/block-readiness/runs", content=one_more, headers=headers)
    assert refused.status_code == 422, refused.text[:300]
    assert refused.json()["error"]["field"] == "input.reports" and "8000" in refused.json()["error"]["message"]


@pytest.mark.parametrize("last", ["99999999999999999999999", str(MAX_EVENT_ID + 1), "9999999999"])
def test_a_last_event_id_no_event_can_have_is_refused_before_the_stream_starts(
    settings: Settings, small_yard: Any, last: str
) -> None:
    with serving(settings, small_yard) as served:
        run_id = served.run({"input": {"steps": 1}})
        url = f"{served.url}/v1/runs/{run_id}/events"
        refused = httpx.get(url, headers=served.auth(**{"Last-Event-ID": last}), timeout=10)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["field"].endswith("Last-Event-ID"), refused.text
        assert "2147483647" in refused.json()["error"]["message"]
        # the largest number there may be is a stream: open, with nothing after it, until the client leaves
        with httpx.stream("GET", url, headers=served.auth(**{"Last-Event-ID": str(MAX_EVENT_ID)}), timeout=10) as ok:
            assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/event-stream")
    assert served.store.events(run_id, MAX_EVENT_ID) == [] and served.store.events(run_id, 10**30) == []


def test_the_anonymous_rate_limit_message_reads_as_a_sentence(settings: Settings, small_yard: Any) -> None:
    app = create_app(settings, small_yard, chat=False, service=service_settings(anonymous_rate_limit="1/minute"))
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/healthz").status_code == 200
        limited = client.get("/healthz")
    assert limited.status_code == 429
    message = limited.json()["error"]["message"]
    assert message.startswith("requests from testclient without a key are limited to 1 per 1 minute"), message


def test_a_run_queued_before_the_strict_rules_still_runs(api: Api) -> None:
    """A run an earlier version accepted with `"steps": "2"` (pydantic's lax mode took it for 2) and stored as sent
    is read back as accepted when it is picked up after an upgrade: it completes, it does not fail on a rule that
    came after it."""
    strict = api.run({"input": {"steps": "2"}})
    assert strict.status_code == 422 and strict.json()["error"]["field"] == "input.steps", strict.text
    queued = api.store.create_run(
        workflow="test-sleep",
        version="1",
        key_id=api.key_id(),
        actor="test",
        idempotency_key=None,
        fingerprint="f",
        request={"steps": "2"},
        webhook_url=None,
    )
    done = api.wait(queued.run_id)
    assert done["status"] == "completed" and done["result"]["steps"] == 2, done
