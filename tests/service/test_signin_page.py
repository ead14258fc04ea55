"""The chat page behind the service's sign-in (issue 13, finding 1): one identity for the page and the API.

Was: anyone who reached the page could change the plan. Through Gradio's own queue API, with no key, "Adopt into the
plan: B002 is late by 4 days" and then Approve with a typed name ("mallory-anonymous") added a plan event, and
nothing went into the audit log. Now every page route and queue call wants a session (an API key given once on the
sign-in form), the approver is the signed-in key, a key without the approve scope cannot decide, and the page's
questions and decisions are audited under the key's id. Real parts: uvicorn on loopback, real HTTP, Chromium.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

import httpx
from sqlalchemy import select

from brain.supervisor import Brain
from tests.service.chat_page import (
    MARKS,
    Site,
    ask,
    browse,
    page_config,
    queue_call,
    screenshot,
    sign_in,
    signed_in,
)
from workflows.service.keys import KeyStore
from workflows.service.signin import SESSIONS

pytestmark = MARKS

ADOPT = "Adopt into the plan: B002 is late by 4 days"
FORM = "application/x-www-form-urlencoded"


def _inputs(config: dict[str, Any], button: str, text: str) -> list[Any]:
    """The inputs of a button's event as a script fills them: `text` in each text field, None for the page state."""
    component = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == button)
    event = next(d for d in config["dependencies"] if any(t[0] == component for t in d["targets"]))
    return [*[text] * (len(event["inputs"]) - 1), None]


def _adoptions(brain: Brain) -> list[tuple[str, str]]:
    """The plan book's adopted events and who adopted each."""
    return [(str(e["event"]), str(e["adopted_by"])) for e in brain.context.plan.planbook.entries()]


def test_an_anonymous_queue_call_cannot_adopt_a_plan_change(site: Site, brain: Brain) -> None:
    """Was: asked and approved through Gradio's queue without a key, by "mallory-anonymous", and not audited."""
    # which events the page has is no secret (the page's source says it): take it from a signed-in client
    config = page_config(site.url, {"Authorization": f"Bearer {site.tokens['planner']}"})
    before, audited = _adoptions(brain), len(site.store.audit_entries())
    session = uuid.uuid4().hex[:11]
    joined, outcome = queue_call(site.url, config, "shipbrain-ask", [ADOPT, None], session_hash=session)
    assert joined.status_code == 401, f"an anonymous question was taken: {outcome}"
    approve = _inputs(config, "shipbrain-approve", "mallory-anonymous")
    joined, outcome = queue_call(site.url, config, "shipbrain-approve", approve, session_hash=session)
    assert joined.status_code == 401, f"an anonymous approval was taken: {outcome}"
    assert _adoptions(brain) == before
    assert len(site.store.audit_entries()) == audited
    # every route of the page, not only the queue: refused without a session
    with httpx.Client(base_url=site.url, timeout=60) as client:
        page = client.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"] == "/signin?next=/"
        for path in ("/config", "/gradio_api/info", "/gradio_api/queue/data?session_hash=x", "/theme.css"):
            refused = client.get(path)
            assert refused.status_code == 401, path
            assert refused.json()["error"]["type"] == "not_signed_in"
        for path in ("/gradio_api/cancel", "/gradio_api/reset", "/gradio_api/upload"):
            assert client.post(path, json={}).status_code == 401, path
        assert client.get("/gradio_api/heartbeat/x").status_code == 401
        # a key of the wrong kind, or no key, in the API's headers: refused as well
        assert client.get("/config", headers={"Authorization": f"Bearer {site.tokens['mes']}"}).status_code == 401
        assert client.get("/config", headers={"X-API-Key": "sb_" + "x" * 43}).status_code == 401
        assert client.get("/config", headers={"X-API-Key": site.tokens["asker"]}).status_code == 200
        assert client.get("/signin").status_code == 200


def test_sign_in_refuses_a_wrong_key_gives_a_session_cookie_and_signs_out(site: Site, browser: Any) -> None:
    from playwright.sync_api import expect

    with browse(site, key=None, browser=browser) as page:
        expect(page).to_have_url(re.compile(r"/signin\?next=/$"))  # the page sent the browser to sign in
        sign_in(page, "sb_" + "x" * 43)
        expect(page.locator("#shipbrain-signin-error")).to_contain_text("unknown or revoked")
        sign_in(page, site.tokens["mes"])  # a run key is an MES's, not a person's
        expect(page.locator("#shipbrain-signin-error")).to_contain_text("neither the ask nor the approve scope")
        assert page.context.cookies() == []
        screenshot(page, "signin-refused")

        sign_in(page, site.tokens["planner"])
        page.locator("#shipbrain-question textarea").wait_for()
        expect(page.locator("#shipbrain-who")).to_contain_text(f"planner.anna ({site.key_ids['planner']}")
        (cookie,) = page.context.cookies()
        assert cookie["name"] == "shipbrain_session"
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]  # http: not Secure
        assert site.tokens["planner"] not in cookie["value"]  # never the key itself
        assert page.evaluate("document.cookie") == ""  # no script reads it
        digest = hashlib.sha256(cookie["value"].encode()).hexdigest()
        with site.store.engine.connect() as conn:
            key_id = conn.execute(select(SESSIONS.c.key_id).where(SESSIONS.c.hash == digest)).scalar_one()
        assert key_id == site.key_ids["planner"]  # the session maps to the key's id, server-side
        screenshot(page, "signed-in")

        page.locator("#shipbrain-signout").click()  # on the page itself
        expect(page).to_have_url(re.compile(r"/signin$"))
        assert page.context.cookies() == []
        with site.store.engine.connect() as conn:
            assert conn.execute(select(SESSIONS).where(SESSIONS.c.hash == digest)).first() is None
        page.goto(site.url)
        expect(page).to_have_url(re.compile(r"/signin\?next=/$"))
    actions = [(e.actor, e.action) for e in site.store.audit_entries() if e.action.startswith("page.")]
    assert (site.key_ids["planner"], "page.signin") in actions and (site.key_ids["planner"], "page.signout") in actions


def test_a_planners_question_approval_and_rejection_are_audited_under_the_key_id(
    site: Site, brain: Brain, browser: Any
) -> None:
    from playwright.sync_api import expect

    key_id = site.key_ids["planner"]
    approver = f"planner.anna ({key_id})"
    with browse(site, browser=browser) as page:
        chat = page.locator("#shipbrain-chat")
        ask(page, ADOPT)
        expect(page.locator("#shipbrain-approve")).to_be_visible()
        page.get_by_role("textbox", name="note (optional)").fill("crane 2 is back on Monday")
        page.locator("#shipbrain-approve").click()
        expect(chat).to_contain_text(f"Approved by {approver}")  # the key's name and id
        page.get_by_role("button", name="New conversation").click()
        ask(page, "Adopt into the plan: B005 is late by 2 days")
        expect(page.locator("#shipbrain-reject")).to_be_visible()
        page.locator("#shipbrain-reject").click()
        expect(chat).to_contain_text(f"Rejected by {approver}")
    entry = brain.context.plan.planbook.entries()[-1]
    assert (entry["adopted_by"], entry["adopted_by_key"]) == ("planner.anna", key_id)  # name and id, apart
    asked = [e for e in site.store.audit_entries(action="ask") if e.actor == key_id]
    assert [e.parameters["question"] for e in asked][-2:] == [ADOPT, "Adopt into the plan: B005 is late by 2 days"]
    assert all(e.parameters["via"] == "page" and e.parameters["status"] == "waiting_for_approval" for e in asked[-2:])
    assert all(site.store.thread_owner(e.target) == key_id for e in asked[-2:])  # the key's, as on the API
    assert all(e.actor_label == "planner.anna" for e in asked[-2:])
    (approved,) = site.store.audit_entries(target=asked[-2].target, action="thread.approve")
    assert approved.actor == key_id
    assert approved.parameters["approved"] is True and approved.parameters["note"] == "crane 2 is back on Monday"
    change = approved.parameters["change"]
    assert isinstance(change, dict) and (change["by"], change["by_key"]) == ("planner.anna", key_id)
    assert change["decision"] == "approved" and approved.parameters["outcome"] == "adopted"
    (rejected,) = site.store.audit_entries(target=asked[-1].target, action="thread.reject")
    assert rejected.actor == key_id and rejected.parameters["approved"] is False


def test_a_key_without_approve_sees_no_approve_button_and_a_forged_approval_is_refused(
    site: Site, brain: Brain, browser: Any
) -> None:
    from playwright.sync_api import expect

    question = "Adopt into the plan: B007 is late by 3 days"
    before = _adoptions(brain)
    with browse(site, key="asker", browser=browser) as page:
        chat = page.locator("#shipbrain-chat")
        ask(page, question)
        expect(chat).to_contain_text("Waiting for your approval")
        expect(chat).to_contain_text("waits for a key with the approve scope")
        expect(page.locator("#shipbrain-approve")).to_be_hidden()
        expect(page.locator("#shipbrain-reject")).to_be_hidden()
        screenshot(page, "no-approve-scope")

    # the same key, calling the page's Approve event through Gradio's queue anyway
    headers = signed_in(site.url, site.tokens["asker"])
    config = page_config(site.url, headers)
    session = uuid.uuid4().hex[:11]
    joined, outcome = queue_call(
        site.url, config, "shipbrain-ask", [question, None], session_hash=session, headers=headers
    )
    assert joined.status_code == 200 and outcome is not None and outcome["success"], joined.text
    approve = _inputs(config, "shipbrain-approve", "")
    joined, outcome = queue_call(site.url, config, "shipbrain-approve", approve, session_hash=session, headers=headers)
    assert joined.status_code == 200 and outcome is not None
    assert "has no approve scope" in str(outcome["output"])
    assert _adoptions(brain) == before
    asker = site.key_ids["asker"]
    assert not [e for e in site.store.audit_entries() if e.actor == asker and e.action.startswith("thread.")]
    assert [e.parameters["question"] for e in site.store.audit_entries(action="ask") if e.actor == asker] == [
        question,
        question,
    ]


def test_a_browser_session_belongs_to_the_key_that_started_it(site: Site) -> None:
    """Gradio names a browser session by an id the browser chose: another key calling that session's events neither
    continues nor reads the first key's conversation."""
    planner, asker = signed_in(site.url, site.tokens["planner"]), signed_in(site.url, site.tokens["asker"])
    config = page_config(site.url, planner)
    session = uuid.uuid4().hex[:11]
    first = "When will B004 be erected?"
    joined, outcome = queue_call(
        site.url, config, "shipbrain-ask", [first, None], session_hash=session, headers=planner
    )
    assert joined.status_code == 200 and outcome is not None and first in str(outcome["output"])
    (mine,) = [e for e in site.store.audit_entries(action="ask") if e.parameters["question"] == first]
    later = "What must be done before B004?"
    joined, outcome = queue_call(site.url, config, "shipbrain-ask", [later, None], session_hash=session, headers=asker)
    assert joined.status_code == 200 and outcome is not None
    assert "not signed in" in str(outcome["output"]) and first not in str(outcome["output"])
    assert not [e for e in site.store.audit_entries(action="ask") if e.parameters["question"] == later]
    assert site.store.audit_entries(target=mine.target) == [mine]  # the planner's thread: nobody else's question
    joined, outcome = queue_call(site.url, config, "shipbrain-new", [None], session_hash=session, headers=asker)
    assert outcome is not None and "not signed in" in str(outcome["output"])  # nor clears it
    joined, outcome = queue_call(
        site.url, config, "shipbrain-ask", [later, None], session_hash=session, headers=planner
    )
    assert outcome is not None and outcome["success"]
    (continued,) = [e for e in site.store.audit_entries(action="ask") if e.parameters["question"] == later]
    assert continued.actor == site.key_ids["planner"] and continued.target == mine.target  # the planner's thread still
    assert continued.parameters["continued"] is True


def test_a_revoked_keys_sessions_end_at_once(site: Site) -> None:
    keys = KeyStore(site.store)
    key, token = keys.create("planner.temp", "ask", actor="test")
    headers = signed_in(site.url, token)
    assert httpx.get(site.url + "config", headers=headers, timeout=60).status_code == 200
    keys.revoke(key.key_id, actor="test")
    assert httpx.get(site.url + "config", headers=headers, timeout=60).status_code == 401


def test_the_sign_in_form_is_not_sent_from_another_site_nor_sends_to_one(site: Site) -> None:
    form = {"key": site.tokens["planner"], "next": "/"}
    with httpx.Client(base_url=site.url, timeout=60) as client:
        forged = client.post("/signin", data=form, headers={"Origin": "http://rebind.attacker.example"})
        assert forged.status_code == 403 and "shipbrain_session" not in forged.cookies
        for elsewhere in (
            "//attacker.example/",
            "https://attacker.example/",
            "/\\attacker.example",
            "/\t/attacker.example",
        ):
            answer = client.post("/signin", data={**form, "next": elsewhere})
            assert answer.status_code == 303 and answer.headers["location"] == "/", elsewhere
        answer = client.post("/signin", data={**form, "next": "/evals"})
        assert answer.headers["location"] == "/evals"
        too_long = client.post("/signin", content=b"key=" + b"x" * 10_000, headers={"Content-Type": FORM})
        assert too_long.status_code == 400 and "shipbrain_session" not in too_long.cookies
