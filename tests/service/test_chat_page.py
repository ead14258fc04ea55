"""The chat page in a real browser: Debian's Chromium driven by Playwright against the page served by uvicorn.

A planner signs in with their API key, asks about weld risk and watches the steps stream in, the answer's numbers
(the same as the brain's own), a table and a plot; asks to adopt a delay, sees the approval panel, approves it as
their key (no name to type) and the plan book holds the event. tests/e2e/install_browser.sh installs Chromium
(tests/run.sh calls it); the screenshots go to tests/artifacts/chat-page/ (tests/service/chat_page.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from brain.supervisor import Brain
from knowledge import Settings
from knowledge.documents import DEMO_CORPUS, DocumentStore
from tests.service.chat_page import MARKS, Site, browse, screenshot
from tests.service.chat_page import ask as _ask

RISK = "how risky is the welding in B002?"
ADOPT = "adopt into the plan: B002 is late by 4 days"
UNKNOWN = "What must be done before B999?"
# Records the chat's text at every change, so the test can see the steps arrive before the answer.
WATCH = """() => {
  window.__snapshots = [];
  const chat = document.querySelector('#shipbrain-chat');
  new MutationObserver(() => window.__snapshots.push(chat.innerText))
    .observe(chat, {childList: true, subtree: true, characterData: true});
}"""

pytestmark = MARKS


@pytest.fixture(scope="module")
def brain(small_yard: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Brain]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("chat"))
    with DocumentStore(settings) as store:
        store.ingest([DEMO_CORPUS])
    b = Brain(small_yard, settings)
    yield b
    b.close()


@pytest.fixture
def page(site: Site) -> Iterator[Any]:
    with browse(site) as tab:
        yield tab


def test_a_planner_asks_watches_the_steps_and_approves_a_plan_change(page: Any, brain: Brain, site: Site) -> None:
    from playwright.sync_api import expect

    chat = page.locator("#shipbrain-chat")
    # mistakes are plain messages in the chat
    _ask(page, "   ")
    expect(chat).to_contain_text("the question is empty")
    _ask(page, UNKNOWN)
    expect(chat).to_contain_text("blocks run B001-B012")
    expect(chat).to_contain_text("Tool failed: upstream(code='B999')")
    assert "Traceback" not in chat.inner_text()
    page.get_by_role("button", name="New conversation").click()
    expect(chat).not_to_contain_text("B999")

    page.evaluate(WATCH)
    _ask(page, RISK)
    expect(page.locator("#shipbrain-sources")).to_contain_text("welding model", timeout=45_000)
    expected = brain.ask(RISK)  # the same question, asked of the brain directly
    result = expected.results[0]
    assert result.tool == "weld_risk"
    expect(chat).to_contain_text(result.summary)
    joints = f"{int(result.numbers['joints']):,} joints"
    snapshots: list[str] = page.evaluate("window.__snapshots")
    planned = next(i for i, s in enumerate(snapshots) if "Plan: weld_risk" in s)
    answered = next(i for i, s in enumerate(snapshots) if result.summary in s and "defect risk" in s)
    assert planned < answered, "the plan step should show before the answer"
    assert any("Plan: weld_risk" in s and joints not in s for s in snapshots), "the steps did not stream"
    expect(chat).to_contain_text("weld_risk(code='B002')")
    # the table holds the riskiest joints and a plot is drawn
    expect(page.locator("#shipbrain-table")).to_contain_text(str(result.rows[0]["code"]))
    expect(page.locator("#shipbrain-bars svg").first).to_be_visible()
    expect(page.locator("#shipbrain-scatter svg").first).to_be_visible()
    screenshot(page, "weld-risk")

    # a plan change stops for a person
    _ask(page, ADOPT)
    approve = page.locator("#shipbrain-approve")
    expect(approve).to_be_visible(timeout=45_000)
    expect(chat).to_contain_text("Waiting for your approval")
    expect(page.locator("#shipbrain-gantt svg").first).to_be_visible()  # the what-if's slips, before and after
    assert brain.context.plan.planbook.events() == []
    # the approver is the signed-in key: no name to type
    expect(page.get_by_role("textbox", name="your name", exact=True)).to_have_count(0)
    approver = f"planner.anna ({site.key_ids['planner']})"
    expect(page.locator("#shipbrain-approval").first).to_contain_text(f"You decide as {approver}")
    screenshot(page, "approval")
    approve.click()
    expect(chat).to_contain_text("adopted into the plan: B002 late by 4 days", timeout=45_000)
    expect(chat).to_contain_text(f"Approved by {approver}")  # the key: its name, and its id (names repeat)
    expect(approve).to_be_hidden()
    events = brain.context.plan.planbook.events()
    assert [(e.code, e.days) for e in events] == [("B002", 4)]
    entry = brain.context.plan.planbook.entries()[0]
    assert (entry["adopted_by"], entry["adopted_by_key"]) == ("planner.anna", site.key_ids["planner"])
    screenshot(page, "approved")

    # past conversations reload from the brain's checkpoints
    _choose_thread(page, UNKNOWN)
    expect(chat).to_contain_text("blocks run B001-B012")
    expect(chat).not_to_contain_text("adopted into the plan")
    _choose_thread(page, RISK)
    expect(chat).to_contain_text("adopted into the plan: B002 late by 4 days")
    expect(chat).to_contain_text("Earlier in this conversation (1)")


def _choose_thread(page: Any, question: str) -> None:
    page.locator("#shipbrain-threads input").click()
    page.get_by_role("option", name=question).click()
