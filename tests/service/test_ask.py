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
    shown = asked["approval"]["digest"]  # the change it was shown: an approval names it
    done = api.post(
        f"/v1/threads/{thread}/approval", {"approved": True, "note": "ok", "schedule_digest": shown}, scope="approve"
    )
    assert done.status_code == 200 and done.json()["status"] == "answered"
    assert "approved by approve-key" in done.json()["answer"]
    twice = api.post(f"/v1/threads/{thread}/approval", {"approved": True, "schedule_digest": shown}, scope="approve")
    assert twice.status_code == 409 and twice.json()["error"]["type"] == "no_pending_approval"
    audit = api.store.audit_entries(target=thread)
    assert [(a.action, a.actor, a.actor_label) for a in audit] == [  # keys by id, names as labels (issue 13, #7)
        ("ask", api.key_id("ask"), "ask-key"),
        ("thread.approve.refused", api.key_id("ask"), "ask-key"),  # refused attempts are audited too
        ("thread.approve", api.key_id("approve"), "approve-key"),
        ("thread.approve.refused", api.key_id("approve"), "approve-key"),
    ]
    assert audit[0].parameters["question"] == ADOPT and audit[0].parameters["status"] == "waiting_for_approval"
    assert audit[0].parameters["approval"]["tool"] == "adopt_plan" and audit[2].parameters["note"] == "ok"


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


def test_a_thread_belongs_to_the_key_that_started_it(api: Api) -> None:
    """Issue 13, finding 7: another key reading or continuing a thread gets 404, as if it did not exist."""
    from workflows.service import KeyStore

    _, other = KeyStore(api.store).create("ask-key", "ask", actor="test")  # the same name, another key
    mine = api.post("/v1/ask", {"question": "what must be done before B003?"}, scope="ask").json()["thread_id"]
    theirs = {"Authorization": f"Bearer {other}"}
    read = api.client.get(f"/v1/threads/{mine}", headers=theirs)
    assert read.status_code == 404 and read.json()["error"]["type"] == "not_found"
    continued = api.client.post("/v1/ask", json={"question": "and B004?", "thread_id": mine}, headers=theirs)
    assert continued.status_code == 404
    assert api.post("/v1/ask", {"question": "and B004?", "thread_id": mine}, scope="ask").status_code == 200
    assert api.get(f"/v1/threads/{mine}", scope="ask").json()["question"] == "and B004?"
    assert api.get(f"/v1/threads/{mine}", scope="admin").status_code == 200  # approvers read what they decide
    continued_by_admin = api.post("/v1/ask", {"question": "and B005?", "thread_id": mine}, scope="admin")
    assert continued_by_admin.status_code == 404  # but only its key continues it
    actors = {a.actor for a in api.store.audit_entries(target=mine)}
    assert actors == {api.key_id("ask")}  # one key, though two share its name
