"""The chat page approves the change it displayed, nothing else (review of 2026-12-02, finding 2), in a real browser.

The page keeps the digest of the change it showed in the session and sends it with the decision: when the thread
came to wait on another change meanwhile (rejected and asked again from another tab), Approve is refused and says
why, nothing is adopted, and the refusal is in the audit log under the key, `"via": "page"`.
"""

from __future__ import annotations

from typing import Any

from brain.planbook import Approver
from brain.supervisor import Brain
from tests.service.chat_page import MARKS, Site, ask, browse, screenshot

pytestmark = MARKS

SHOWN = "adopt into the plan: B003 is late by 1 day"
SWAPPED = "adopt into the plan: B003 is late by 30 days"


def test_the_page_approves_the_change_it_displayed_and_not_another(brain: Brain, site: Site) -> None:
    from playwright.sync_api import expect

    with browse(site) as page:
        ask(page, SHOWN)
        approve = page.locator("#shipbrain-approve")
        expect(approve).to_be_visible(timeout=45_000)
        expect(page.locator("#shipbrain-chat")).to_contain_text("B003 late by 1 day")
        (asked,) = site.store.audit_entries(action="ask")
        thread, planner = asked.target, site.key_ids["planner"]
        shown = brain.pending(thread)
        assert shown is not None

        # meanwhile, elsewhere (another tab, the API): rejected, and the thread asked again for 30 days
        brain.decide(thread, approved=False, by=Approver("planner.anna", planner, shown.digest))
        swapped = brain.ask(SWAPPED, thread_id=thread, owner=planner)
        assert swapped.approval is not None and swapped.approval.digest != shown.digest

        approve.click()  # the button of the 1-day change, still on screen
        chat = page.locator("#shipbrain-chat")
        expect(chat).to_contain_text("waits on another change than the one decided on", timeout=45_000)
        screenshot(page, "approval-of-another-change-refused")
        assert brain.context.plan.planbook.adoptions() == []
        assert brain.pending(thread) is not None  # the 30-day change still waits for a decision of its own
        (refused,) = site.store.audit_entries(target=thread, action="thread.approve.refused")
        params: dict[str, Any] = refused.parameters
        assert refused.actor == planner and params["via"] == "page" and params["schedule_digest"] == shown.digest
        assert params["error"]["type"] == "proposal_changed"

        # the page now shows the 30-day change; approving what it shows adopts exactly that
        expect(chat).to_contain_text("B003 late by 30 days")
        expect(approve).to_be_visible()
        approve.click()
        expect(chat).to_contain_text("adopted into the plan: B003 late by 30 days", timeout=45_000)
    (adoption,) = brain.context.plan.planbook.adoptions()
    assert adoption.digest == swapped.approval.digest and adoption.adopted_by_key == planner
