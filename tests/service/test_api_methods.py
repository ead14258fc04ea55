"""HEAD and OPTIONS on the API's paths (review of 2026-12-02, finding 14): as the README says, not the page's 404.

Was: with the chat page mounted at "/", `OPTIONS /v1/runs` and `HEAD /v1/runs` fell through to Gradio and got 404,
while the README says a method a path does not take is 405 with `Allow`. Now OPTIONS is 405 with `Allow`, HEAD on a
path that takes GET is that GET without its body (its status and headers: 200, 401, 404 alike), and an event
stream asked with HEAD ends at once, giving its place back. Real parts: the whole service (chat page included)
under uvicorn on loopback, real HTTP.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from knowledge import Settings
from tests.service.conftest import make_tokens, service_settings
from workflows.service import create_app

pytestmark = [
    # Gradio's queue (the chat page is mounted) warns under pandas 3; see tests/service/chat_page.py
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated:pandas.errors.Pandas4Warning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:pandas.errors.Pandas4Warning"),
]


@contextmanager
def service(settings: Settings, yard: Path, **overrides: Any) -> Iterator[tuple[httpx.Client, dict[str, str], Any]]:
    """The service with its chat page under uvicorn on a free loopback port: a client, a token per scope, the app."""
    app = create_app(settings, yard, chat=True, start_workers=False, service=service_settings(**overrides))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", ws="none"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client, make_tokens(app.state.service.store), app
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@pytest.fixture(scope="module")
def served(small_yard: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    with service(Settings(data_dir=tmp_path_factory.mktemp("methods")), small_yard) as (client, tokens, _):
        yield client, tokens


def _auth(tokens: dict[str, str], scope: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[scope]}"}


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/v1/runs", "GET, HEAD"),
        ("/v1/workflows", "GET, HEAD"),
        ("/v1/ask", "POST"),
        ("/v1/runs/r-1/approval", "POST"),
        ("/v1/threads/t-1", "GET, HEAD"),
        ("/v1/workflows/test-sleep/runs", "POST"),
    ],
)
def test_options_is_405_with_allow(served: tuple[httpx.Client, dict[str, str]], path: str, allow: str) -> None:
    client, tokens = served
    for headers in ({}, _auth(tokens)):
        answer = client.options(path, headers=headers)
        assert answer.status_code == 405, (path, answer.text)
        assert answer.headers["allow"] == allow
        assert answer.json()["error"]["type"] == "method_not_allowed"


def test_options_and_head_on_no_endpoint_are_404(served: tuple[httpx.Client, dict[str, str]]) -> None:
    client, tokens = served
    assert client.options("/v1/nothing", headers=_auth(tokens)).json()["error"]["type"] == "not_found"
    head = client.head("/v1/nothing/here", headers=_auth(tokens))
    assert head.status_code == 404 and head.content == b""


def test_head_is_the_get_without_its_body(served: tuple[httpx.Client, dict[str, str]]) -> None:
    client, tokens = served
    for path in ("/v1/runs", "/v1/workflows", "/v1/workflows/test-sleep"):
        got = client.get(path, headers=_auth(tokens))
        head = client.head(path, headers=_auth(tokens))
        assert got.status_code == 200 and head.status_code == 200, path
        assert head.content == b""
        assert head.headers["content-type"] == got.headers["content-type"]
        assert head.headers["content-length"] == got.headers["content-length"]
    # its refusals too: no key is 401, a missing run 404, a key without the scope 403
    assert client.head("/v1/runs").status_code == 401
    assert client.head("/v1/runs/nope", headers=_auth(tokens)).status_code == 404
    assert client.head("/v1/workflows", headers=_auth(tokens, "ask")).status_code == 403
    # a method the path does not take, HEAD included, names what it takes
    refused = client.head("/v1/ask", headers=_auth(tokens))
    assert refused.status_code == 405 and refused.headers["allow"] == "POST"
    put = client.put("/v1/runs", headers=_auth(tokens), json={})
    assert put.status_code == 405 and "GET" in put.headers["allow"]


def test_head_on_an_event_stream_ends_at_once_and_frees_its_place(small_yard: Path, tmp_path: Path) -> None:
    with service(Settings(data_dir=tmp_path / "data"), small_yard, stream_per_key=1) as (client, tokens, app):
        created = client.post("/v1/workflows/test-sleep/runs", json={"input": {}}, headers=_auth(tokens))
        assert created.status_code == 202
        events = f"/v1/runs/{created.json()['run_id']}/events"
        for _ in range(3):  # one place per key: each HEAD must give it back
            head = client.head(events, headers=_auth(tokens), timeout=10)
            assert head.status_code == 200 and head.content == b""
            assert head.headers["content-type"].startswith("text/event-stream")
        deadline = time.monotonic() + 5
        while app.state.streams.open_streams() != 0:
            assert time.monotonic() < deadline, "a HEAD's stream still holds its place"
            time.sleep(0.05)
        with client.stream("GET", events, headers=_auth(tokens)) as stream:
            assert stream.status_code == 200
