"""Issue 13, finding 7's contract items: 405 for a method a path does not take, one error shape on every route,
and an OpenAPI document that tells of the idempotent replay and of the rules across fields."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, HTTPException
from fastapi.responses import PlainTextResponse

from knowledge.settings import Settings
from tests.service.conftest import Api


def test_a_method_the_path_does_not_take_is_405_naming_those_it_takes(api: Api) -> None:
    for method, path, allowed in [
        ("PUT", "/v1/runs/x", "GET, HEAD"),
        ("DELETE", "/v1/runs/x", "GET, HEAD"),
        ("PATCH", "/v1/workflows", "GET, HEAD"),
        ("POST", "/v1/runs/x", "GET, HEAD"),
        ("GET", "/v1/ask", "POST"),
    ]:
        answer = api.client.request(method, path, json={}, headers=api.auth())
        assert answer.status_code == 405, (method, path, answer.text)
        assert answer.headers["allow"] == allowed and answer.json()["error"]["type"] == "method_not_allowed"
    bare = api.client.put("/v1/runs/x", headers=api.auth())  # no body, no content type: still 405, not 415
    assert bare.status_code == 405
    assert api.client.put("/v1/nothing-here", headers=api.auth()).status_code == 404


def add_sub_app(app: FastAPI, settings: Settings) -> None:
    sub = FastAPI()

    @sub.get("/missing")
    def missing() -> None:
        raise HTTPException(404, "no such thing here")

    @sub.get("/text")
    def text() -> PlainTextResponse:
        return PlainTextResponse("teapot refused", status_code=418)

    @sub.get("/fine")
    def fine() -> dict[str, str]:
        return {"detail": "a 200 is left alone"}

    app.mount("/sub", sub)


def test_errors_outside_the_api_have_the_error_shape(make_api: Callable[..., Api]) -> None:
    api = make_api(extensions=[add_sub_app])
    missing = api.client.get("/sub/missing", headers=api.auth())
    assert missing.status_code == 404
    assert missing.json() == {"error": {"type": "not_found", "message": "no such thing here"}}
    posted = api.client.post("/sub/missing", headers=api.auth())
    assert posted.status_code == 405 and posted.json()["error"]["type"] == "method_not_allowed"
    text = api.client.get("/sub/text", headers=api.auth())
    assert text.status_code == 418 and text.json() == {"error": {"type": "http_error", "message": "teapot refused"}}
    assert api.client.get("/sub/fine", headers=api.auth()).json() == {"detail": "a 200 is left alone"}
    assert api.client.get("/nothing-here", headers=api.auth()).json()["error"]["type"] == "not_found"


def test_the_openapi_document_tells_of_replays_and_rules_across_fields(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    create = doc["paths"]["/v1/workflows/test-sleep/runs"]["post"]
    replay = create["responses"]["200"]
    assert replay["content"]["application/json"]["schema"]["$ref"].endswith("/RunView")
    assert "Idempotent-Replayed" in replay["headers"] and "replay" in replay["description"].lower()
    assert "Location" in create["responses"]["202"]["headers"]
    assert "405" in doc["paths"]["/v1/runs/{run_id}"]["get"]["responses"]
    assert "SleepRequest: refuse and crash: at most one of them." in create["description"]
    outfitting = doc["paths"]["/v1/workflows/outfitting-plan/runs"]["post"]["description"]
    assert "Rules across fields" in outfitting and "OutfittingPlanRequest:" in outfitting
    assert "Exactly one of zone and block" in outfitting  # the rule itself, not the validator's name
    weld = doc["paths"]["/v1/workflows/weld-inspection-plan/runs"]["post"]["description"]
    assert "InspectionBudget: Exactly one budget: share, joints or hours." in weld
    both = api.run({"input": {"refuse": True, "crash": True}})
    assert both.status_code == 422 and "not both" in both.json()["error"]["message"]
