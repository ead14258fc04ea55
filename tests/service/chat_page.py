"""What the chat page's browser tests share: the page served by uvicorn, Debian's Chromium driven by Playwright, and
screenshots kept as test artefacts under tests/artifacts/chat-page/ (git-ignored).

tests/e2e/install_browser.sh installs Chromium (tests/run.sh calls it); without it the tests are skipped.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from brain.supervisor import Brain

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "chat-page"
"""Screenshots of the page as the tests saw it (look at them: a chart can be drawn and still unreadable)."""
# Debian's Chromium as root in a sandbox with a closed network (see .library/env/machines/python.md)
ARGS = (
    "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking "
    "--disable-component-update --disable-sync"
).split()
TIMEOUT_MS = 45_000
"""A step of the page under load (two cores shared by several test runs): asking, drawing, deciding."""

MARKS = [
    pytest.mark.slow,
    # Gradio 6.31's queue sums up every event (Queue._get_df) with pd.option_context("future.no_silent_downcasting")
    # and infer_objects(copy=False), both deprecated by pandas 3: two Pandas4Warnings (DeprecationWarnings, silent
    # outside tests) in the server's worker thread on each event, which filterwarnings=error turns into a dead queue.
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated:pandas.errors.Pandas4Warning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:pandas.errors.Pandas4Warning"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (tests/e2e/install_browser.sh installs it)"),
]
"""The marks of every chat page test module (its `pytestmark`)."""


@contextmanager
def serve(brain: Brain) -> Iterator[str]:
    """The chat page over `brain`, served by uvicorn on a free port of 127.0.0.1; yields its URL."""
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
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@contextmanager
def browse(url: str, width: int = 1500, height: int = 1300) -> Iterator[Any]:
    """A Chromium tab on the page, the question box ready; Playwright's waits and expectations get `TIMEOUT_MS`."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            tab = browser.new_page(viewport={"width": width, "height": height})
            tab.set_default_timeout(TIMEOUT_MS)
            tab.goto(url)
            tab.locator("#shipbrain-question textarea").wait_for()
            yield tab
        finally:
            browser.close()


def ask(page: Any, question: str) -> None:
    """Type a question and press Ask."""
    page.locator("#shipbrain-question textarea").fill(question)
    page.locator("#shipbrain-ask").click()


def screenshot(page: Any, name: str) -> Path:
    """The whole page as `ARTIFACTS/name.png`; prints where, so a test run's output says where to look."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path
