"""Keys and scopes, limits, and bad input: every refusal is a 4xx with a JSON body naming what was wrong."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.service.conftest import Api, service_settings
from workflows.service import KeyStore

ROUTES = [
    ("GET", "/v1/workflows", None, "run"),
    ("POST", "/v1/workflows/test-sleep/runs", {"input": {}}, "run"),
    ("GET", "/v1/runs/run_x", None, "run,approve"),
    ("GET", "/v1/runs", None, "run,approve"),
    ("POST", "/v1/runs/run_x/approval", {"approved": True}, "approve"),
    ("POST", "/v1/ask", {"question": "what must be done before B003?"}, "ask"),
    ("POST", "/v1/threads/t1/approval", {"approved": True}, "approve"),
]


@pytest.mark.parametrize(("method", "path", "body", "scope"), ROUTES)
def test_every_route_wants_a_key_with_its_scope(api: Api, method: str, path: str, body: object, scope: str) -> None:
    missing = api.client.request(method, path, json=body)
    assert missing.status_code == 401 and missing.json()["error"]["type"] == "missing_api_key"
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = api.client.request(method, path, json=body, headers={"Authorization": "Bearer sb_nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["type"] == "invalid_api_key"
    for other in ("run", "approve", "ask"):
        answer = api.client.request(method, path, json=body, headers={"X-API-Key": api.tokens[other]})
        if other in scope.split(","):
            assert answer.status_code not in (401, 403), answer.text
        else:
            assert answer.status_code == 403 and answer.json()["error"]["type"] == "missing_scope"
            assert all(repr(s) in answer.json()["error"]["message"] for s in scope.split(","))
    assert api.client.request(method, path, json=body, headers=api.auth("admin")).status_code not in (401, 403)


def test_health_needs_no_key(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}


def test_a_revoked_key_stops_working(api: Api) -> None:
    keys = KeyStore(api.store)
    key, token = keys.create("mes", "run", actor="test")
    assert api.client.get("/v1/workflows", headers={"X-API-Key": token}).status_code == 200
    keys.revoke(key.key_id, actor="test")
    assert api.client.get("/v1/workflows", headers={"X-API-Key": token}).status_code == 401
    assert [a.action for a in api.store.audit_entries(target=key.key_id)] == ["key.create", "key.revoke"]


@pytest.fixture
def tight(make_api: Callable[..., Api]) -> Iterator[Api]:
    yield make_api(service=service_settings(rate_limit="3/minute", max_body_bytes=2_048))


def test_a_body_over_the_limit_is_413(tight: Api) -> None:
    big = {"input": {"tag": "x" * 5_000}}
    assert tight.post("/v1/workflows/test-sleep/runs", big).status_code == 413
    chunks = iter([b'{"input": {"tag": "', b"y" * 3_000, b'"}}'])
    streamed = tight.client.post(
        "/v1/workflows/test-sleep/runs", content=chunks, headers={**tight.auth(), "content-type": "application/json"}
    )
    assert streamed.status_code == 413 and streamed.json()["error"]["type"] == "payload_too_large"


def test_a_body_that_is_not_json_is_415(api: Api) -> None:
    for headers in ({"content-type": "text/plain"}, {}):
        refused = api.client.post(
            "/v1/workflows/test-sleep/runs", content=b'{"input": {}}', headers={**api.auth(), **headers}
        )
        assert refused.status_code == 415 and refused.json()["error"]["type"] == "unsupported_media_type"
    fine = api.client.post(
        "/v1/workflows/test-sleep/runs",
        content=b'{"input": {}}',
        headers={**api.auth(), "content-type": "application/json; charset=utf-8"},
    )
    assert fine.status_code == 202


def test_a_key_over_its_rate_limit_is_429_with_retry_after(tight: Api) -> None:
    codes = [tight.get("/v1/workflows", scope="run").status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    limited = tight.get("/v1/workflows", scope="run")
    assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.json()["error"]["type"] == "rate_limited"
    assert tight.get("/v1/workflows", scope="ask").status_code == 403  # another key has its own window


@pytest.mark.parametrize(
    ("body", "status", "kind", "field"),
    [
        (b'{"input": {"steps": 2,}}', 400, "malformed_json", None),
        (b'{"input": ', 400, "malformed_json", None),
        (b"[1, 2]", 422, "validation_error", None),
        (b'"text"', 422, "validation_error", None),
        (b"null", 422, "validation_error", None),
        (b"{}", 422, "validation_error", "input"),
        (b'{"input": {"steps": "many"}}', 422, "validation_error", "input.steps"),
        (b'{"input": {"steps": 0}}', 422, "validation_error", "input.steps"),
        (b'{"input": {"colour": "red"}}', 422, "validation_error", "input.colour"),
        (b'{"input": {}, "webhook_url": "not a url"}', 422, "validation_error", "webhook_url"),
        (b'{"input": {}, "webhook_url": "ftp://x"}', 422, "validation_error", "webhook_url"),
        (b'{"input": {}, "extra": 1}', 422, "validation_error", "extra"),
        (b'{"input": {"tag": "\\ud800"}}', 422, "validation_error", None),
        (b"\xff\xfe", 400, "malformed_json", None),
        (b"", 422, "validation_error", None),
    ],
)
def test_bad_bodies_are_refused_naming_the_field(api: Api, body: bytes, status: int, kind: str, field: str) -> None:
    refused = api.client.post(
        "/v1/workflows/test-sleep/runs", content=body, headers={**api.auth(), "content-type": "application/json"}
    )
    assert refused.status_code in (status, 400, 422) and refused.status_code < 500, refused.text
    error = refused.json()["error"]
    assert error["type"] in (kind, "malformed_json", "validation_error") and error["message"]
    if field is not None:
        assert error["field"] == field
    if kind == "malformed_json" and body.startswith(b"{"):
        assert refused.status_code == 400 and "position" in error["message"]


def test_a_tagged_union_field_is_named_without_its_tag(api: Api) -> None:
    body = {"input": {"events": [{"type": "resource_down", "equipment": "PL-1", "days": 0}]}}
    refused = api.post("/v1/workflows/reschedule/runs", body)
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "input.events.0.days"


def test_fuzzed_bodies_never_give_a_500(api: Api) -> None:
    import random

    rng = random.Random(5)
    pieces = [b"{", b"}", b"[", b"]", b'"input"', b":", b",", b"1", b"null", b'"\\u0000"', b"true", b"1e999"]
    pieces += [b'"steps"', b"-1", b"\x00", b"\xc3", b" ", b'{"input": {}}']
    for _ in range(150):
        body = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        for path in ("/v1/workflows/test-sleep/runs", "/v1/workflows/reschedule/runs", "/v1/runs/r/approval"):
            answer = api.client.post(path, content=body, headers={**api.auth(), "content-type": "application/json"})
            assert answer.status_code < 500, (body, answer.status_code, answer.text)
            assert answer.status_code == 202 or answer.json()["error"]["type"]


def test_unknown_workflows_runs_and_endpoints_are_404(api: Api) -> None:
    unknown = api.post("/v1/workflows/welding-magic/runs", {"input": {}})
    assert unknown.status_code == 404 and "block-readiness" in unknown.json()["error"]["message"]
    assert api.get("/v1/workflows/welding-magic").status_code == 404
    for path in ("/v1/runs/run_nope", "/v1/runs/run_nope/events", "/v1/nothing-here"):
        answer = api.get(path)
        assert answer.status_code == 404 and answer.json()["error"]["type"] == "not_found", path
    assert api.post("/v1/runs/run_nope/approval", {"approved": True}).status_code == 404
    assert api.client.delete("/v1/runs/x", headers=api.auth()).status_code in (404, 405)


def test_a_bad_last_event_id_is_422(api: Api) -> None:
    run = api.run({"input": {}}).json()
    answer = api.client.get(run["links"]["events"], headers={**api.auth(), "Last-Event-ID": "abc"})
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "header.Last-Event-ID"
