"""`/docs` and `/redoc` render in a real browser without internet: Swagger UI and ReDoc from packaged files.

Issue 11, item 12: `/docs` was blank without internet because Swagger UI loaded from a CDN. Here the browser may
reach 127.0.0.1 only; every other request is aborted (and recorded).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from knowledge import Settings
from tests.service.conftest import service_settings
from workflows.service import create_app

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path("/tmp")
ARGS = (
    "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking "
    "--disable-component-update --disable-sync"
).split()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (tests/e2e/install_browser.sh installs it)"),
]


@pytest.fixture(scope="module")
def url(small_yard: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import uvicorn

    settings = Settings(data_dir=tmp_path_factory.mktemp("docs") / "data")
    app = create_app(settings, small_yard, chat=False, start_workers=False, service=service_settings())
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", ws="none"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(15)
    sock.close()


@pytest.fixture
def offline_page(url: str) -> Iterator[tuple[Any, list[str]]]:
    """A browser tab that reaches 127.0.0.1 only, and the list of every other URL it tried."""
    from playwright.sync_api import sync_playwright

    outside: list[str] = []

    def only_local(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort("internetdisconnected")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 1200})
            tab.set_default_timeout(30_000)
            tab.route("**/*", only_local)
            yield tab, outside
        finally:
            browser.close()


def test_swagger_ui_renders_without_internet(url: str, offline_page: tuple[Any, list[str]]) -> None:
    from playwright.sync_api import expect

    page, outside = offline_page
    page.goto(f"{url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Shipbrain")
    runs = page.locator(".opblock-summary-path", has_text="/v1/workflows/reschedule/runs")
    expect(runs.first).to_be_visible()
    assert page.locator(".opblock").count() > 10
    page.screenshot(path=str(SCREENSHOTS / "shipbrain-docs.png"), full_page=False)
    assert outside == [], f"the page tried to reach {outside}"


def test_redoc_renders_without_internet(url: str, offline_page: tuple[Any, list[str]]) -> None:
    from playwright.sync_api import expect

    page, outside = offline_page
    page.goto(f"{url}/redoc")
    expect(page.locator(".api-info h1")).to_contain_text("Shipbrain")
    expect(page.get_by_text("/v1/workflows/reschedule/runs").first).to_be_attached()
    page.screenshot(path=str(SCREENSHOTS / "shipbrain-redoc.png"), full_page=False)
    assert outside == [], f"the page tried to reach {outside}"
