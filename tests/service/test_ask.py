"""The brain over HTTP: questions, threads and their plan-change approvals, with the brain's errors as 4xx."""

from __future__ import annotations

from tests.service.conftest import Api

ADOPT = "Adopt into the plan: B002 is late by 4 days"


def test_a_question_is_answered_and_its_thread_can_be_read(api: Api) -> None:
    answer = api.post("/v1/ask", {"question": "what must be done before B003?"}, scope="ask")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "answered" and body["answer"] and body["thread_id"]
    again = api.get(f"/v1/threads/{body['thread_id']}", scope="ask").json()
    assert again["question"] == body["question"] and again["answer"] == body["answer"]


def test_a_plan_change_in_a_thread_waits_for_an_approver(api: Api) -> None:
    asked = api.post("/v1/ask", {"question": ADOPT}, scope="ask").json()
    assert asked["status"] == "waiting_for_approval", asked
    thread = asked["thread_id"]
    busy = api.post("/v1/ask", {"question": "what is B001?", "thread_id": thread}, scope="ask")
    assert busy.status_code == 409 and busy.json()["error"]["type"] == "thread_busy"
    assert api.post(f"/v1/threads/{thread}/approval", {"approved": True}, scope="ask").status_code == 403
    done = api.post(f"/v1/threads/{thread}/approval", {"approved": True, "note": "ok"}, scope="approve")
    assert done.status_code == 200 and done.json()["status"] == "answered"
    assert "approved by approve-key" in done.json()["answer"]
    twice = api.post(f"/v1/threads/{thread}/approval", {"approved": True}, scope="approve")
    assert twice.status_code == 409 and twice.json()["error"]["type"] == "no_pending_approval"
    audit = api.store.audit_entries(target=thread)
    assert [(a.action, a.actor) for a in audit] == [("ask", "ask-key"), ("thread.approve", "approve-key")]
    assert audit[0].parameters["question"] == ADOPT and audit[0].parameters["status"] == "waiting_for_approval"
    assert audit[0].parameters["approval"]["tool"] == "adopt_plan" and audit[1].parameters["note"] == "ok"


def test_bad_questions_and_unknown_threads_are_4xx(api: Api) -> None:
    empty = api.post("/v1/ask", {"question": "   "}, scope="ask")
    assert empty.status_code == 422 and "empty" in empty.json()["error"]["message"]
    assert api.post("/v1/ask", {"question": "x" * 5_000}, scope="ask").json()["error"]["field"] == "question"
    assert api.post("/v1/ask", {"question": 42}, scope="ask").status_code == 422
    unknown = api.post("/v1/ask", {"question": "what is B001?", "thread_id": "nope"}, scope="ask")
    assert unknown.status_code == 404 and unknown.json()["error"]["type"] == "not_found"
    assert api.get("/v1/threads/nope", scope="ask").status_code == 404
    assert api.get("/v1/threads/bad%20id", scope="ask").status_code == 422
    assert api.post("/v1/threads/nope/approval", {"approved": True}, scope="approve").status_code == 404
