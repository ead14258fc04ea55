"""What a person approves is exactly what happens, once, under their key, and it is in the audit log (review of
2026-12-02, findings 2, 3, 4, 6 and the identity part of 14): the API's decisions on threads and runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from brain.planbook import PlanBook
from knowledge import Settings
from knowledge.database import dispose
from tests.helpers import postgres
from tests.service.conftest import Api, service_settings
from tests.service.test_approvals import EVENTS, _book, _held
from workflows.service import KeyStore, create_app
from workflows.service.errors import Unprocessable

LATE_1 = "Adopt into the plan: B010 is late by 1 day"
LATE_30 = "Adopt into the plan: B010 is late by 30 days"


def _thread(api: Api, question: str, scope: str = "ask", thread: str | None = None) -> dict[str, Any]:
    body = {"question": question} | ({"thread_id": thread} if thread else {})
    asked = api.post("/v1/ask", body, scope=scope)
    assert asked.status_code == 200 and asked.json()["status"] == "waiting_for_approval", asked.text
    return dict(asked.json())


def _decide(api: Api, thread: str, body: dict[str, Any], scope: str = "approve") -> Any:
    return api.post(f"/v1/threads/{thread}/approval", body, scope=scope)


def _plan_book(api: Api) -> PlanBook:
    return api.client.app.state.service.ctx.plan.planbook  # type: ignore[attr-defined,no-any-return]


def test_a_thread_approval_names_the_change_it_was_shown(api: Api) -> None:
    """Finding 2: the approver read "late by 1 day"; the thread then asked "late by 30 days"; an approval of what
    was read must not adopt what was not."""
    first = _thread(api, LATE_1)
    thread = first["thread_id"]
    shown = api.get(f"/v1/threads/{thread}", scope="approve").json()["approval"]  # an approve-only key reads it
    assert shown["digest"] == shown["pinned"]["schedule_digest"] == first["approval"]["digest"]
    assert _decide(api, thread, {"approved": False, "schedule_digest": shown["digest"]}).status_code == 200
    second = _thread(api, LATE_30, thread=thread)
    assert second["approval"]["digest"] != shown["digest"]

    blind = _decide(api, thread, {"approved": True, "note": "ok, 1 day is fine"})
    assert blind.status_code == 422 and blind.json()["error"]["field"] == "schedule_digest", blind.text
    stale = _decide(api, thread, {"approved": True, "note": "ok, 1 day is fine", "schedule_digest": shown["digest"]})
    assert stale.status_code == 409 and stale.json()["error"]["type"] == "proposal_changed", stale.text
    said = stale.json()["error"]["message"]
    assert shown["digest"] in said and second["approval"]["digest"] in said  # names both
    wrong_version = {"approved": True, "schedule_digest": second["approval"]["digest"], "plan_version": 7}
    assert _decide(api, thread, wrong_version).json()["error"]["type"] == "proposal_changed"
    assert _plan_book(api).adoptions() == []
    assert api.get(f"/v1/threads/{thread}", scope="ask").json()["status"] == "waiting_for_approval"

    named = {"approved": True, "schedule_digest": second["approval"]["digest"], "plan_version": 0}
    done = _decide(api, thread, named)
    assert done.status_code == 200 and done.json()["approval"]["outcome"] == "adopted", done.text
    (adoption,) = _plan_book(api).adoptions()
    assert [(e.code, e.days) for e in adoption.events] == [("B010", 30)]
    assert adoption.digest == second["approval"]["digest"]
    assert (adoption.adopted_by, adoption.adopted_by_key) == ("approve-key", api.key_id("approve"))
    entries = api.store.audit_entries(target=thread)
    refused = [e for e in entries if e.action == "thread.approve.refused"]
    assert [e.parameters["error"]["status"] for e in refused] == [422, 409, 409]  # every refused attempt
    approved = next(e for e in entries if e.action == "thread.approve")
    assert approved.actor == api.key_id("approve") and approved.parameters["outcome"] == "adopted"
    assert approved.parameters["schedule_digest"] == adoption.digest and approved.parameters["adopted_version"] == 1


def test_a_thread_approved_after_the_plan_moved_is_409_and_its_decision_says_so(api: Api) -> None:
    """Finding 4: it answered 200 "approved" and adopted nothing; runs answer 409 plan_changed."""
    first, second = _thread(api, LATE_1), _thread(api, "Adopt into the plan: PL-1 is down for 2 days from day 3")
    assert _decide(
        api, first["thread_id"], {"approved": True, "schedule_digest": first["approval"]["digest"]}
    ).is_success
    late = _decide(api, second["thread_id"], {"approved": True, "schedule_digest": second["approval"]["digest"]})
    assert late.status_code == 409 and late.json()["error"]["type"] == "plan_changed", late.text
    after = api.get(f"/v1/threads/{second['thread_id']}", scope="ask").json()
    assert after["approval"]["decision"] == "approved" and after["approval"]["outcome"] == "plan_changed"
    assert "plan changed" in after["approval"]["reason"] and "Not adopted" in after["answer"]
    assert [(e.code, e.days) for e in _plan_book(api).events()] == [("B010", 1)]
    (entry,) = api.store.audit_entries(target=second["thread_id"], action="thread.approve")
    assert entry.parameters["outcome"] == "plan_changed" and "plan changed" in str(entry.parameters["reason"])


def test_a_failed_adoption_is_an_error_the_thread_waits_again_and_the_audit_says_so(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 3: a database error while adopting left "approved" with nothing adopted, no audit, and the next
    question continued the thread (the approved change lost silently)."""
    asked = _thread(api, LATE_1)
    thread, digest = asked["thread_id"], asked["approval"]["digest"]
    adopt = PlanBook.adopt_all

    def database_down(*_: Any, **__: Any) -> Any:
        raise OperationalError("INSERT INTO plan_adoptions ...", {}, Exception("server closed the connection"))

    monkeypatch.setattr(PlanBook, "adopt_all", database_down)
    failed = _decide(api, thread, {"approved": True, "schedule_digest": digest})
    assert failed.status_code == 503 and "not adopted" in failed.json()["error"]["message"], failed.text
    assert "waits for the decision again" in failed.json()["error"]["message"]
    monkeypatch.setattr(PlanBook, "adopt_all", adopt)
    assert _plan_book(api).adoptions() == []
    now = api.get(f"/v1/threads/{thread}", scope="ask").json()
    assert now["status"] == "waiting_for_approval" and now["approval"]["digest"] == digest  # decided again below
    busy = api.post("/v1/ask", {"question": "what is B001?", "thread_id": thread}, scope="ask")
    assert busy.status_code == 409 and busy.json()["error"]["type"] == "thread_busy"  # not continued past it
    (entry,) = api.store.audit_entries(target=thread, action="thread.approve")
    assert entry.parameters["outcome"] == "failed" and "OperationalError" in str(entry.parameters["reason"])

    again = _decide(api, thread, {"approved": True, "schedule_digest": digest})
    assert again.status_code == 200 and again.json()["approval"]["outcome"] == "adopted", again.text
    assert len(_plan_book(api).adoptions()) == 1


def test_a_note_that_is_not_plain_text_is_422_and_decides_nothing(api: Api) -> None:
    """Finding 3 (b): a NUL in the note was a 500 on PostgreSQL and left the thread "rejected" with no audit."""
    asked = _thread(api, LATE_1)
    body = {"approved": False, "note": "x\u0000y", "schedule_digest": asked["approval"]["digest"]}
    refused = _decide(api, asked["thread_id"], body)
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "note", refused.text
    assert api.get(f"/v1/threads/{asked['thread_id']}", scope="ask").json()["status"] == "waiting_for_approval"
    lines = _decide(api, asked["thread_id"], body | {"note": "crane\n\tbooked"})  # line breaks and tabs are text
    assert lines.status_code == 200 and lines.json()["approval"]["note"] == "crane\n\tbooked"


def test_a_run_is_not_approved_by_the_key_that_submitted_it(api: Api) -> None:
    """Finding 6: the README's MES key (run,approve) submitted a reschedule and approved it itself."""
    _, mes = KeyStore(api.store).create("mes-line-3", "run,approve", actor="test")
    created = api.client.post(
        "/v1/workflows/reschedule/runs",
        json={"input": {"events": EVENTS[:1], "compare_optimised": False}},
        headers={"Authorization": f"Bearer {mes}"},
    )
    assert created.status_code == 202, created.text
    held = api.wait(created.json()["run_id"], until=("waiting_for_approval", "failed"), timeout=120)
    body = {"approved": True, "schedule_digest": held["result"]["schedule_digest"]}
    itself = api.client.post(held["links"]["approval"], json=body, headers={"Authorization": f"Bearer {mes}"})
    assert itself.status_code == 403 and itself.json()["error"]["type"] == "self_approval", itself.text
    (entry,) = api.store.audit_entries(target=held["run_id"], action="run.approve.refused")
    assert entry.parameters["error"]["status"] == 403 and entry.parameters["error"]["type"] == "self_approval"
    assert api.get(held["links"]["self"]).json()["status"] == "waiting_for_approval"

    blind = api.post(held["links"]["approval"], {"approved": True}, scope="approve")
    assert blind.status_code == 422 and blind.json()["error"]["field"] == "schedule_digest"
    other = api.post(held["links"]["approval"], body | {"schedule_digest": "a" * 64}, scope="approve")
    assert other.status_code == 409 and other.json()["error"]["type"] == "proposal_changed"
    done = api.post(held["links"]["approval"], body, scope="approve")
    assert done.status_code == 200 and done.json()["status"] == "completed", done.text
    (approved,) = api.store.audit_entries(target=held["run_id"], action="run.approve")
    assert approved.actor == api.key_id("approve")
    assert approved.parameters["schedule_digest"] == held["result"]["schedule_digest"]
    assert approved.parameters["plan_version"] == held["result"]["plan_version"] == 0
    assert {a.adopted_by_key for a in _plan_book(api).adoptions()} == {api.key_id("approve")}


def test_a_run_may_be_approved_by_its_own_key_when_the_setting_allows(
    make_api: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPBRAIN_ALLOW_SELF_APPROVAL", "true")
    api = make_api()
    held = _held(api, EVENTS[:1])  # submitted by the admin key
    body = {"approved": True, "schedule_digest": held["result"]["schedule_digest"]}
    assert api.post(held["links"]["approval"], body, scope="admin").status_code == 200


def test_a_planner_may_approve_the_change_of_their_own_question(api: Api) -> None:
    """The human confirms the machine's proposal: a key with ask and approve decides its own thread."""
    _, anna = KeyStore(api.store).create("anna", "ask,approve", actor="test")
    headers = {"Authorization": f"Bearer {anna}"}
    asked = api.client.post("/v1/ask", json={"question": LATE_1}, headers=headers).json()
    body = {"approved": True, "schedule_digest": asked["approval"]["digest"]}
    done = api.client.post(f"/v1/threads/{asked['thread_id']}/approval", json=body, headers=headers)
    assert done.status_code == 200 and done.json()["approval"]["outcome"] == "adopted"


def test_refused_attempts_are_audited_under_the_key(api: Api) -> None:
    """Finding 14: a 403 or 409 on an approval left no trace."""
    held = _held(api, EVENTS[:1])
    body = {"approved": True, "schedule_digest": held["result"]["schedule_digest"]}
    assert api.post(held["links"]["approval"], body, scope="run").status_code == 403
    asked = _thread(api, LATE_1)
    assert _decide(api, asked["thread_id"], {"approved": False}, scope="ask").status_code == 403
    run_entry = api.store.audit_entries(target=held["run_id"], action="run.approve.refused")
    thread_entry = api.store.audit_entries(target=asked["thread_id"], action="thread.reject.refused")
    assert [(e.actor, e.parameters["error"]["type"]) for e in run_entry] == [(api.key_id("run"), "missing_scope")]
    assert [(e.actor, e.parameters["error"]["type"]) for e in thread_entry] == [(api.key_id("ask"), "missing_scope")]
    assert _book(api, api.client.app.state.service.settings).adoptions() == []  # type: ignore[attr-defined]


@pytest.mark.slow
@pytest.mark.skipif(not postgres.available(), reason="PostgreSQL's server programs are not installed")
def test_on_postgresql_a_long_key_name_and_a_nul_in_a_note_decide_cleanly(tmp_path: Path, small_yard: Path) -> None:
    """Finding 3 on PostgreSQL: the page's "name (id)" (up to 223 characters) overflowed adopted_by VARCHAR(200)
    and left "approved" with nothing adopted; a NUL in a note was a 500 that left the thread "rejected"."""
    from fastapi.testclient import TestClient

    with postgres.postgres_server() as dsn:
        settings = Settings(data_dir=tmp_path, postgres_dsn=dsn)
        app = create_app(settings, small_yard, chat=False, service=service_settings())
        with TestClient(app, raise_server_exceptions=False) as client:
            state = app.state.service
            long_key, token = KeyStore(state.store).create("n" * 200, "ask,approve", actor="test")
            headers = {"Authorization": f"Bearer {token}"}
            asked = client.post("/v1/ask", json={"question": LATE_1}, headers=headers).json()
            thread, digest = asked["thread_id"], asked["approval"]["digest"]
            nul = {"approved": False, "note": "x\u0000y", "schedule_digest": digest}
            assert client.post(f"/v1/threads/{thread}/approval", json=nul, headers=headers).status_code == 422
            principal = state.keys.authenticate(token)
            assert principal is not None
            with pytest.raises(Unprocessable, match="control character"):  # the page's path: the same function
                state.decisions.thread(principal, thread, approved=False, note="x\x00y", digest=digest, via="page")
            assert state.brain.pending(thread) is not None
            done = state.decisions.thread(principal, thread, approved=True, note=None, digest=digest, via="page")
            assert done.approval is not None and done.approval.outcome == "adopted"
            (adoption,) = state.ctx.plan.planbook.adoptions()
            assert (adoption.adopted_by, adoption.adopted_by_key) == ("n" * 200, long_key.key_id)
            (entry,) = state.store.audit_entries(target=thread, action="thread.approve")
            assert entry.parameters["via"] == "page" and entry.parameters["outcome"] == "adopted"
        dispose(settings)


def test_an_adopted_change_and_its_audit_entry_are_written_together(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """The thread's approval entry is written in the plan book's transaction: an audit log that refuses it leaves
    nothing adopted (and the thread waiting), never an adoption nobody can find in the log."""
    from workflows.service.store import Store

    asked = _thread(api, LATE_1)
    thread, digest = asked["thread_id"], asked["approval"]["digest"]
    audit = Store.audit
    refused: list[str] = []

    def audit_refusing_once(conn: Any, actor: str, action: str, target: str, params: Any, **kw: Any) -> None:
        if action == "thread.approve" and not refused:
            refused.append(action)
            raise OperationalError("INSERT INTO audit ...", {}, Exception("disk full"))
        audit(conn, actor, action, target, params, **kw)

    monkeypatch.setattr(Store, "audit", staticmethod(audit_refusing_once))
    failed = _decide(api, thread, {"approved": True, "schedule_digest": digest})
    assert failed.status_code == 503 and refused, failed.text
    assert _plan_book(api).adoptions() == []  # rolled back with the entry
    assert api.get(f"/v1/threads/{thread}", scope="ask").json()["status"] == "waiting_for_approval"
    done = _decide(api, thread, {"approved": True, "schedule_digest": digest})
    assert done.status_code == 200, done.text
    (adoption,) = _plan_book(api).adoptions()
    outcomes = [e.parameters["outcome"] for e in api.store.audit_entries(target=thread, action="thread.approve")]
    assert outcomes == ["failed", "adopted"]
    adopted = api.store.audit_entries(target=thread, action="thread.approve")[1]
    assert adopted.parameters["adopted_version"] == adoption.version == 1
