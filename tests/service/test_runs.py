"""The run lifecycle over HTTP: queued -> running -> completed, with its events as Server-Sent Events."""

from __future__ import annotations

import json
from typing import Any

from tests.service.conftest import Api


def _sse(text: str) -> list[dict[str, Any]]:
    events = []
    for block in text.replace("\r\n", "\n").strip().split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields[name] = value.strip()
        if "data" in fields:
            events.append({"id": int(fields["id"]), "event": fields["event"], **json.loads(fields["data"])})
    return events


def test_a_run_goes_from_queued_to_completed_and_streams_its_events(api: Api) -> None:
    created = api.run({"input": {"steps": 3, "tag": "a"}})
    assert created.status_code == 202, created.text
    run = created.json()
    assert created.headers["location"] == f"/v1/runs/{run['run_id']}" == run["links"]["self"]
    assert run["status"] == "queued" and run["isa95_state"] == "Waiting" and run["input"] == {"steps": 3, "tag": "a"}
    done = api.wait(run["run_id"])
    assert done["status"] == "completed" and done["isa95_state"] == "Completed"
    assert done["result"]["tag"] == "a" and done["result"]["steps"] == 3 and done["attempts"] == 1

    with api.client.stream("GET", run["links"]["events"], headers=api.auth()) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _sse(response.read().decode())
    kinds = [e["event"] for e in events]
    assert kinds == ["queued", "started", "progress", "progress", "progress", "progress", "completed"]
    assert [e["id"] for e in events] == list(range(1, 8))
    assert [(e["step"], e["done"], e["total"]) for e in events if e["event"] == "progress"] == [
        ("step-0", 0, 3),
        ("step-1", 1, 3),
        ("step-2", 2, 3),
        ("done", 3, 3),
    ]

    with api.client.stream("GET", run["links"]["events"], headers={**api.auth(), "Last-Event-ID": "5"}) as response:
        resumed = _sse(response.read().decode())
    assert [e["id"] for e in resumed] == [6, 7]

    audit = api.store.audit_entries(target=run["run_id"])
    # the key by its id, its name as a label (issue 13, finding 7: names are not unique)
    assert [(a.action, a.actor, a.actor_label) for a in audit] == [
        ("run.create", api.key_id("admin"), "admin-key"),
        ("run.complete", "shipbrain-service", None),
    ]
    assert audit[0].parameters["input"] == {"steps": 3, "tag": "a"}


def test_events_stream_live_until_the_run_ends(api: Api) -> None:
    run = api.run({"input": {"steps": 3, "seconds_per_step": 0.2}}).json()
    with api.client.stream("GET", run["links"]["events"], headers=api.auth()) as response:
        events = _sse(response.read().decode())
    assert [e["event"] for e in events][-1] == "completed" and len(events) == 7
    assert api.get(run["links"]["self"]).json()["status"] == "completed"


def test_a_refused_or_crashed_run_fails_with_its_error(api: Api) -> None:
    refused = api.wait(api.run({"input": {"refuse": True}}).json()["run_id"])
    assert refused["status"] == "failed" and refused["isa95_state"] == "Aborted"
    assert refused["error"] == {"type": "workflow_input_error", "message": "refused as asked", "field": "refuse"}
    crashed = api.wait(api.run({"input": {"crash": True}}).json()["run_id"])
    assert crashed["error"]["type"] == "workflow_failed" and "crashed as asked" in crashed["error"]["message"]
    assert [a.action for a in api.store.audit_entries(target=crashed["run_id"])] == ["run.create", "run.fail"]


def test_a_shipped_workflow_runs_on_the_yard(api: Api) -> None:
    run = api.run({"input": {"block": "B002", "reports": []}}, workflow="block-readiness").json()
    done = api.wait(run["run_id"])
    assert done["status"] == "completed", done
    assert done["result"]["block"] == "B002"


def test_workflows_are_listed_with_their_schemas(api: Api) -> None:
    listed = api.get("/v1/workflows", scope="run").json()
    names = [w["name"] for w in listed]
    assert names == ["block-readiness", "outfitting-plan", "reschedule", "test-sleep", "weld-inspection-plan"]
    reschedule = next(w for w in listed if w["name"] == "reschedule")
    assert reschedule["changes_plan"] is True and reschedule["runs_url"] == "/v1/workflows/reschedule/runs"
    assert "events" in reschedule["request_schema"]["properties"]
    assert api.get("/v1/workflows/reschedule").json()["version"] == "1"
    schema = api.client.get("/openapi.json").json()
    assert "/v1/workflows/reschedule/runs" in schema["paths"] and "/v1/runs/{run_id}/events" in schema["paths"]
    assert api.client.get("/docs").status_code == 200


def test_runs_are_listed_newest_first_and_each_key_sees_its_own(api: Api) -> None:
    mine = [api.post("/v1/workflows/test-sleep/runs", {"input": {"tag": str(k)}}, scope="run").json() for k in range(3)]
    api.run({"input": {}})  # the admin key's
    listed = api.get("/v1/runs?limit=2", scope="run").json()
    assert [r["run_id"] for r in listed] == [mine[2]["run_id"], mine[1]["run_id"]]
    assert len(api.get("/v1/runs", scope="approve").json()) == 4
    assert api.get("/v1/runs?status=nonsense").status_code == 422
