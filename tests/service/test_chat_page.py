"""The chat page in a real browser: Debian's Chromium driven by Playwright against the page served by uvicorn.

A planner asks about weld risk and watches the steps stream in, the answer's numbers (the same as the brain's
own), a table and a plot; asks to adopt a delay, sees the approval panel, approves it under their name and
the plan book holds the event. tests/e2e/install_browser.sh installs Chromium (tests/run.sh calls it).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from brain.supervisor import Brain
from knowledge import Settings
from knowledge.documents import DEMO_CORPUS, DocumentStore

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path("/tmp/shipbrain-chat.png")
RISK = "how risky is the welding in B002?"
ADOPT = "adopt into the plan: B002 is late by 4 days"
UNKNOWN = "What must be done before B999?"
# Debian's Chromium as root in a sandbox with a closed network (see .library/env/machines/python.md)
ARGS = (
    "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking "
    "--disable-component-update --disable-sync"
).split()
# Records the chat's text at every change, so the test can see the steps arrive before the answer.
WATCH = """() => {
  window.__snapshots = [];
  const chat = document.querySelector('#shipbrain-chat');
  new MutationObserver(() => window.__snapshots.push(chat.innerText))
    .observe(chat, {childList: true, subtree: true, characterData: true});
}"""

pytestmark = [
    pytest.mark.slow,
    # Gradio 6.31's queue sums up every event (Queue._get_df) with pd.option_context("future.no_silent_downcasting")
    # and infer_objects(copy=False), both deprecated by pandas 3: two Pandas4Warnings (DeprecationWarnings, silent
    # outside tests) in the server's worker thread on each event, which filterwarnings=error turns into a dead queue.
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated:pandas.errors.Pandas4Warning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:pandas.errors.Pandas4Warning"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (tests/e2e/install_browser.sh installs it)"),
]


@pytest.fixture(scope="module")
def brain(small_yard: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Brain]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("chat"))
    with DocumentStore(settings) as store:
        store.ingest([DEMO_CORPUS])
    b = Brain(small_yard, settings)
    yield b
    b.close()


@pytest.fixture(scope="module")
def url(brain: Brain) -> Iterator[str]:
    import uvicorn
    from fastapi import FastAPI

    from workflows.service.chat import mount_chat

    app = mount_chat(FastAPI(), brain)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", ws="none"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(15)
    sock.close()


@pytest.fixture
def page(url: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1500, "height": 1300})
            tab.set_default_timeout(45_000)
            tab.goto(url)
            tab.locator("#shipbrain-question textarea").wait_for()
            yield tab
        finally:
            browser.close()


def _ask(page: Any, question: str) -> None:
    page.locator("#shipbrain-question textarea").fill(question)
    page.locator("#shipbrain-ask").click()


def test_a_planner_asks_watches_the_steps_and_approves_a_plan_change(page: Any, brain: Brain) -> None:
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
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # a plan change stops for a person
    _ask(page, ADOPT)
    approve = page.locator("#shipbrain-approve")
    expect(approve).to_be_visible(timeout=45_000)
    expect(chat).to_contain_text("Waiting for your approval")
    expect(page.locator("#shipbrain-gantt svg").first).to_be_visible()  # the what-if's slips, before and after
    assert brain.context.plan.planbook.events() == []
    page.screenshot(path=str(SCREENSHOT.with_name("shipbrain-chat-approval.png")), full_page=True)
    approve.click()  # without a name: refused
    expect(chat).to_contain_text("Type your name")
    assert brain.context.plan.planbook.events() == []
    page.get_by_role("textbox", name="your name", exact=True).fill("planner.anna")
    approve.click()
    expect(chat).to_contain_text("adopted into the plan: B002 late by 4 days", timeout=45_000)
    expect(chat).to_contain_text("approved by planner.anna")
    expect(approve).to_be_hidden()
    events = brain.context.plan.planbook.events()
    assert [(e.code, e.days) for e in events] == [("B002", 4)]
    assert brain.context.plan.planbook.entries()[0]["adopted_by"] == "planner.anna"
    page.screenshot(path=str(SCREENSHOT.with_name("shipbrain-chat-approved.png")), full_page=True)

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
