"""Issue 13, finding 1 (its Host part): a request naming a host the service does not answer for is refused, on
every route, the chat page included, so a DNS-rebinding page cannot drive a loopback server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from knowledge import Settings
from tests.service.conftest import Api, service_settings
from workflows.service import create_app

REBIND = "rebind.attacker.example"


@pytest.fixture
def with_page(settings: Settings, small_yard: Path) -> Iterator[TestClient]:
    """The app with its chat page, serving loopback's names only (no `testserver`)."""
    service = service_settings(allowed_hosts=["*.yard.example"])
    app = create_app(settings, small_yard, chat=True, start_workers=False, service=service)
    with TestClient(app, base_url="http://127.0.0.1:8000", raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("path", ["/", "/healthz", "/docs", "/openapi.json", "/v1/workflows", "/gradio_api/info"])
def test_a_dns_rebinding_request_is_refused_on_every_route(with_page: TestClient, path: str) -> None:
    for host in (REBIND, f"{REBIND}:8000", "127.0.0.1.attacker.example", "", "[::2]:8000"):
        refused = with_page.get(path, headers={"Host": host})
        assert refused.status_code == 400, (path, host, refused.text)
        assert refused.json()["error"]["type"] == "invalid_host"
    posted = with_page.post("/gradio_api/queue/join", json={}, headers={"Host": REBIND})
    assert posted.status_code == 400 and REBIND in posted.json()["error"]["message"]


def test_loopback_names_and_the_allowed_hosts_are_served(with_page: TestClient) -> None:
    for host in (
        "127.0.0.1:8000",
        "localhost",
        "LOCALHOST.:8000",
        "[::1]:8000",
        "mes.yard.example",
        "a.b.yard.example",
    ):
        assert with_page.get("/healthz", headers={"Host": host}).status_code == 200, host
    page = with_page.get("/", headers={"Host": "localhost:8000"})  # the page's own answer (its sign-in), not 400
    assert page.status_code in (200, 303, 401) and "invalid_host" not in page.text
    assert with_page.get("/healthz", headers={"Host": "yard.example.evil"}).status_code == 400


def test_the_test_client_host_is_served_only_because_the_fixture_allows_it(make_api: Callable[..., Api]) -> None:
    closed = make_api(service=service_settings(allowed_hosts=[]))
    assert closed.client.get("/healthz").status_code == 400  # TestClient sends Host: testserver
    assert closed.client.get("/healthz", headers={"Host": "127.0.0.1"}).status_code == 200
