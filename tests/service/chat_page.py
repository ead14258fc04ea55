"""What the chat page's browser tests share: the page served by uvicorn behind the service's sign-in, Debian's
Chromium driven by Playwright (signed in with an API key first), Gradio's queue called as a script would call it,
and screenshots kept as test artefacts under tests/artifacts/chat-page/ (git-ignored).

tests/e2e/install_browser.sh installs Chromium (tests/run.sh calls it); without it the tests are skipped.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from brain.supervisor import Brain
from workflows.service.keys import KeyStore
from workflows.service.store import Store

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


KEYS = {"planner": "ask,approve", "asker": "ask", "approver": "approve", "mes": "run"}
"""The keys `serve` makes, by name: a planner who asks and decides, one who only asks, one who only decides, and an
MES's key (no page scope)."""


@dataclass
class Site:
    """The page being served: its URL, its store (keys, sessions, audit log) and a token per key of `KEYS`."""

    url: str
    store: Store
    tokens: dict[str, str] = field(default_factory=dict)
    key_ids: dict[str, str] = field(default_factory=dict)


@contextmanager
def serve(brain: Brain) -> Iterator[Site]:
    """The chat page over `brain` behind the service's sign-in, served by uvicorn on a free port of 127.0.0.1.

    The keys of `KEYS` are made in the store of the brain's data dir (named "planner.anna" and so on).
    """
    import uvicorn
    from fastapi import FastAPI

    from workflows.service.chat import mount_chat
    from workflows.service.signin import install_signin

    store = Store(brain.settings)
    keys = KeyStore(store)
    made = {name: keys.create(f"{name}.anna", scopes, actor="test") for name, scopes in KEYS.items()}
    app = FastAPI()
    mount_chat(app, brain, install_signin(app, store, keys))
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
        yield Site(
            f"http://127.0.0.1:{port}/",
            store,
            {name: token for name, (_, token) in made.items()},
            {name: key.key_id for name, (key, _) in made.items()},
        )
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium, started by Playwright (the `browser` fixture keeps one per module; `browse` takes a fresh
    context of it for each tab: its own cookies and storage, as a new browser has)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def browse(
    site: Site, key: str | None = "planner", width: int = 1500, height: int = 1300, browser: Any = None
) -> Iterator[Any]:
    """A Chromium tab on the page, signed in with the key named `key` and the question box ready (`key` None: not
    signed in, on the sign-in page the page sends it to); Playwright's waits and expectations get `TIMEOUT_MS`.

    The tab is in a fresh context (no cookies, no storage) of `browser` (from `chromium()`), or of a browser started
    for it when None.
    """
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    with ExitStack() as stack:
        if browser is None:
            browser = stack.enter_context(chromium())
        context = browser.new_context(viewport={"width": width, "height": height})
        stack.callback(context.close)
        tab = context.new_page()
        tab.set_default_timeout(TIMEOUT_MS)
        tab.goto(site.url)
        if key is not None:
            sign_in(tab, site.tokens[key])
            tab.locator("#shipbrain-question textarea").wait_for()
        yield tab


def sign_in(page: Any, token: str) -> None:
    """Fill the sign-in form (where the page sent the tab) with `token` and send it."""
    page.locator("#shipbrain-key").fill(token)
    page.locator("#shipbrain-signin").click()


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


# ---- Gradio's queue, called as a script calls it ------------------------------------------------------------


def page_config(url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """What the page's config says (its components and events), fetched with `headers`."""
    config = httpx.get(url.rstrip("/") + "/config", headers=headers or {}, timeout=60)
    assert config.status_code == 200, config.text
    found: dict[str, Any] = config.json()
    return found


def signed_in(url: str, token: str) -> dict[str, str]:
    """The headers of a browser signed in with `token`: its session cookie, from the sign-in form."""
    answer = httpx.post(url.rstrip("/") + "/signin", data={"key": token, "next": "/"}, timeout=60)
    assert answer.status_code == 303, answer.text
    return {"Cookie": f"shipbrain_session={answer.cookies['shipbrain_session']}"}


def queue_call(
    url: str,
    config: dict[str, Any],
    button: str,
    data: list[Any],
    *,
    session_hash: str,
    headers: dict[str, str] | None = None,
) -> tuple[httpx.Response, dict[str, Any] | None]:
    """The event of the button with elem_id `button`, called through Gradio's queue (`/gradio_api/queue/join`, then
    its event stream) with `data` as its inputs (None for the page's state), as the page in a browser calls it.

    Returns the join's response and the event's last message (None: the join was refused). `session_hash` names the
    browser session (the page keeps its state per session: ask, then approve, in one). Without `headers`, nothing
    signs in.
    """
    fn_index, trigger = _event_of(config, button)
    body = {"data": data, "event_data": None, "fn_index": fn_index, "trigger_id": trigger, "session_hash": session_hash}
    with httpx.Client(base_url=url, headers=headers or {}, timeout=120) as client:
        joined = client.post("/gradio_api/queue/join", json=body)
        if joined.status_code != 200:
            return joined, None
        last: dict[str, Any] | None = None
        with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session_hash}) as events:
            for line in events.iter_lines():
                if line.startswith("data:"):
                    last = json.loads(line[5:])
                    if last.get("msg") == "process_completed":
                        break
        return joined, last


def _event_of(config: dict[str, Any], elem_id: str) -> tuple[int, int]:
    """The id of the event a component triggers, and the component's id, from the page's config."""
    component = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == elem_id)
    event = next(d["id"] for d in config["dependencies"] if any(t[0] == component for t in d["targets"]))
    return event, component
