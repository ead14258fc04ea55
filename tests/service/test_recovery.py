"""Crash recovery in-process: a decision recorded but not carried out is carried out at the next start, once."""

from __future__ import annotations

from collections.abc import Callable

from brain.planbook import Approver, PlanBook, PlanEvent
from knowledge import Settings
from tests.service.conftest import Api
from tests.service.test_approvals import _held


def test_a_half_done_approval_is_finished_at_start_without_adopting_twice(
    make_api: Callable[..., Api], settings: Settings
) -> None:
    api = make_api()
    held = _held(api)
    yard = str(api.client.app.state.service.ctx.yard.path.resolve())  # type: ignore[attr-defined]
    api.close()
    # the service died after recording the decision and writing the adoption, before marking the run completed
    assert api.store.record_decision(held["run_id"], {"approved": True, "by": "anna", "note": None, "at": "now"})
    book = PlanBook(settings, yard)
    events = [PlanEvent(resource="PL-1", start_day=2, days=6), PlanEvent(code="B006-A01", days=4)]
    book.adopt_all(events, key=f"run:{held['run_id']}", by=Approver("anna", "key_anna"), base_version=0)

    again = make_api()
    run = again.get(f"/v1/runs/{held['run_id']}").json()
    assert run["status"] == "completed" and run["approval"]["by"] == "anna"
    assert [a.key for a in book.adoptions()] == [f"run:{held['run_id']}"] and book.events() == events
    assert [a.action for a in again.store.audit_entries(target=held["run_id"])] == ["run.create", "run.approve"]


def test_a_queued_run_left_by_a_stopped_service_runs_at_the_next_start(make_api: Callable[..., Api]) -> None:
    idle = make_api(start_workers=False)
    run = idle.run({"input": {"tag": "later"}}).json()
    assert idle.get(run["links"]["self"]).json()["status"] == "queued"
    idle.close()
    busy = make_api()
    assert busy.wait(run["run_id"])["result"]["tag"] == "later"
