"""A reschedule run stops for approval; approving adopts its events into the plan book exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi.testclient import TestClient

from brain.planbook import Approver, PlanBook
from knowledge import Settings
from tests.service.conftest import Api, service_settings
from workflows.service import create_app
from workflows.service._tables import RUNS
from workflows.service.runner import process_id
from workflows.service.store import Lease

if TYPE_CHECKING:
    from httpx2 import Response  # what Starlette's TestClient answers with

EVENTS: list[dict[str, Any]] = [
    {"type": "resource_down", "equipment": "pl-1", "from_day": 2, "days": 6, "reason": "hydraulics"},
    {"type": "material_late", "code": "B006-A01", "days": 4},
    {"type": "finished_early", "work_package": "WP-B001-OFB", "days": 1},
]


def _held(api: Api, events: list[dict[str, Any]] = EVENTS) -> dict[str, Any]:
    created = api.run({"input": {"events": events, "compare_optimised": False}}, workflow="reschedule")
    assert created.status_code == 202, created.text
    return api.wait(created.json()["run_id"], until=("waiting_for_approval", "failed", "completed"), timeout=120)


def _shown(held: dict[str, Any]) -> str:
    """The schedule digest a held run shows: what an approval of it names."""
    return str(held["result"]["schedule_digest"])


def _approval(held: dict[str, Any], digest: str | None = None) -> dict[str, Any]:
    """An approval of the change `held` shows (or of the one `digest` names)."""
    return {"approved": True, "schedule_digest": digest or _shown(held)}


def _book(api: Api, settings: Settings) -> PlanBook:
    return PlanBook(settings, str(api.client.app.state.service.ctx.yard.path.resolve()))  # type: ignore[attr-defined]


def test_approval_adopts_the_events_once(api: Api, settings: Settings) -> None:
    held = _held(api)
    assert held["status"] == "waiting_for_approval" and held["isa95_state"] == "Held", held
    assert held["result"]["changed"] > 0 and held["links"]["approval"] == f"/v1/runs/{held['run_id']}/approval"
    book = _book(api, settings)
    assert book.events() == []
    assert api.post(held["links"]["approval"], {"approved": True}, scope="run").status_code == 403

    barrier = threading.Barrier(4)

    def decide(_: int) -> Response:
        barrier.wait()
        body = {"approved": True, "note": "agreed with the dock", "schedule_digest": _shown(held)}
        return api.post(held["links"]["approval"], body, scope="approve")

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(decide, range(4)))
    assert Counter(a.status_code for a in answers) == {200: 1, 409: 3}
    done = next(a.json() for a in answers if a.status_code == 200)
    assert done["status"] == "completed" and done["approval"]["approved"] is True
    assert done["approval"]["by"] == "approve-key" and done["approval"]["note"] == "agreed with the dock"
    assert [a["described"] for a in done["approval"]["adopted"]] == [
        "PL-1 down for 6 days from day 2",
        "B006-A01 late by 4 days",
    ]
    assert [n["index"] for n in done["approval"]["not_adopted"]] == [2]
    entries = book.entries()
    assert [(e["adopted_by"], e["key"]) for e in entries] == [("approve-key", f"run:{held['run_id']}")] * 2
    # what was approved is what is adopted: the run's repaired schedule, byte for byte (issue 11 #1)
    (adoption,) = book.adoptions()
    assert adoption.digest == held["result"]["schedule_digest"] and adoption.version == 1
    adopted = {t["code"]: t["start_day"] for t in json.loads(adoption.schedule or "{}")["tasks"]}
    assert adopted == {w["work_package"]: w["start_day"] for w in held["result"]["schedule"]}
    assert json.loads(adoption.schedule or "{}")["makespan_days"] == held["result"]["makespan_days"]
    again = api.post(held["links"]["approval"], {"approved": True}, scope="approve")
    assert again.status_code == 409 and again.json()["error"]["type"] == "not_waiting_for_approval"
    assert len(book.entries()) == 2
    actions = [a.action for a in api.store.audit_entries(target=held["run_id"])]
    assert [a for a in actions if not a.endswith(".refused")] == ["run.create", "run.approve"]
    assert actions.count("run.approve.refused") == 5  # the run key's 403, the three 409s of the race, the late one


def test_rejection_adopts_nothing(api: Api, settings: Settings) -> None:
    held = _held(api, EVENTS[:1])
    rejected = api.post(held["links"]["approval"], {"approved": False, "note": "crane is back"}, scope="approve")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert rejected.json()["isa95_state"] == "Aborted"
    assert _book(api, settings).entries() == []
    assert [a.action for a in api.store.audit_entries(target=held["run_id"])] == ["run.create", "run.reject"]


def test_a_change_computed_against_an_older_plan_is_not_adopted(api: Api, settings: Settings) -> None:
    first, second = _held(api, EVENTS[:1]), _held(api, EVENTS[1:2])
    assert api.post(first["links"]["approval"], _approval(first), scope="approve").status_code == 200
    stale = api.post(second["links"]["approval"], _approval(second), scope="approve")
    assert stale.status_code == 409 and stale.json()["error"]["type"] == "plan_changed"
    assert api.post(second["links"]["approval"], {"approved": False}, scope="approve").status_code == 200
    assert len(_book(api, settings).entries()) == 1


def test_only_a_held_run_takes_a_decision(api: Api) -> None:
    run = api.wait(api.run({"input": {}}).json()["run_id"])
    refused = api.post(f"/v1/runs/{run['run_id']}/approval", {"approved": True})
    assert refused.status_code == 409 and "completed" in refused.json()["error"]["message"]
    lax = api.post(f"/v1/runs/{run['run_id']}/approval", {"approved": "yes"})
    assert lax.status_code == 422 and lax.json()["error"]["field"] == "approved"


def test_a_decision_whose_plan_moved_under_it_ends_the_run_failed_and_never_stops_a_start(
    make_api: Callable[..., Api], settings: Settings, small_yard: Path
) -> None:
    """Two processes approve two runs computed on one plan version: one adopts, the other's run ends failed.

    Process B checked that the plan was current for the second run before process A adopted the first, and recorded
    its decision; B then died. Whoever carries that decision out finds the plan moved: the run ends `failed`
    (`plan_changed`), nothing is adopted for it, and a service starting on the store starts (review 13, item 1).
    """
    api = make_api(service=service_settings(lease_s=1.0, lease_renew_s=0.2))
    first, second = _held(api, EVENTS[:2]), _held(api, EVENTS[1:2])
    assert first["status"] == second["status"] == "waiting_for_approval"
    process_b = Lease("yard-node-7.example~4026531836:4242:0badc0de/1", timedelta(seconds=0.5))
    assert api.post(first["links"]["approval"], _approval(first), scope="approve").status_code == 200
    decision = {"approved": True, "by": "anna", "key_id": None, "note": None, "at": "2026-12-02T12:00:00+00:00"}
    assert api.store.record_decision(second["run_id"], decision, lease=process_b)

    ended = api.wait(second["run_id"], timeout=30)  # this process takes the decision once B's lease runs out
    assert ended["status"] == "failed" and ended["error"]["type"] == "plan_changed", ended
    assert ended["approval"]["by"] == "anna"
    again = api.post(second["links"]["approval"], {"approved": False}, scope="approve")
    assert again.status_code == 409 and "failed" in again.json()["error"]["message"]
    assert [e.key for e in _book(api, settings).adoptions()] == [f"run:{first['run_id']}"]
    actions = [a.action for a in api.store.audit_entries(target=second["run_id"])]
    assert actions == ["run.create", "run.fail", "run.reject.refused"]  # the late rejection is audited, refused
    api.close()

    # a decision recorded by a process of this host that died before carrying it out, the plan moved since: the
    # next start takes it at once (recover) and must start all the same, ending that run failed
    third = make_api()
    held = _held(third, EVENTS[1:2])
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = Lease(f"{process_id().split(':')[0]}:{child.stdout.strip()}:0badc0de/1", timedelta(minutes=5))
    assert third.store.record_decision(held["run_id"], decision | {"by": "bob"}, lease=dead)
    book = _book(third, settings)
    carl = Approver("carl", "key_carl")
    book.adopt_all([], key="elsewhere", by=carl, base_version=book.version())  # the plan moves once more
    third.close()
    app = create_app(settings, small_yard, chat=False, service=service_settings())
    with TestClient(app):  # recover() carried the decision out before the workers started: the start did not raise
        run = third.store.get_run(held["run_id"])
        assert run is not None and run.status == "failed" and (run.error or {}).get("type") == "plan_changed", run


def test_an_approval_whose_change_cannot_be_adopted_answers_409_and_ends_the_run(api: Api, settings: Settings) -> None:
    """The change computed again at approval differs from the one shown (here: the stored digest no longer matches).

    Before review 13's item 1 the API answered 500 and the run stayed waiting with its decision recorded, for good.
    """
    held = _held(api, EVENTS[:1])
    with api.store.engine.begin() as conn:
        conn.execute(
            RUNS.update()
            .where(RUNS.c.id == held["run_id"])
            .values(result=json.dumps(held["result"] | {"schedule_digest": "0" * 64}))
        )
    approved = api.post(held["links"]["approval"], _approval(held, digest="0" * 64), scope="approve")
    assert approved.status_code == 409 and approved.json()["error"]["type"] == "plan_changed", approved.text
    run = api.get(held["links"]["self"]).json()
    assert run["status"] == "failed" and run["error"]["type"] == "plan_changed" and run["approval"]["adopted"] == []
    assert _book(api, settings).entries() == []
    again = api.post(held["links"]["approval"], {"approved": False}, scope="approve")
    assert again.status_code == 409 and again.json()["error"]["type"] == "not_waiting_for_approval"
