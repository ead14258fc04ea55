"""The pages' sign-in without a browser (issue 13, finding 1): the session cookie over HTTP and over TLS, and the
admin key of a first `shipbrain serve` signing in."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from knowledge import Settings
from knowledge.database import dispose
from tests.helpers import postgres
from tests.service.conftest import service_settings
from tests.service.servers import start
from workflows.service import KeyStore, create_app


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_the_session_cookie_is_httponly_strict_and_secure_over_tls(
    tmp_path: Path, small_yard: Path, scheme: str
) -> None:
    settings = Settings(data_dir=tmp_path)
    app = create_app(settings, small_yard, chat=False, start_workers=False, service=service_settings())
    with TestClient(app, base_url=f"{scheme}://127.0.0.1") as client:
        _, token = KeyStore(app.state.service.store).create("planner.anna", "ask,approve", actor="test")
        answer = client.post("/signin", data={"key": token, "next": "/evals"}, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/evals"
        cookie = answer.headers["set-cookie"]
        value = cookie.split(";", 1)[0].removeprefix("shipbrain_session=")
        assert value and token not in cookie and len(value) >= 40  # a token of its own, not the key
        attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "samesite=strict", "path=/"} <= attributes
        assert any(a.startswith("max-age=") for a in attributes)
        assert ("secure" in attributes) == (scheme == "https")
        assert client.get("/evals").status_code == 200  # the cookie signs the client in
        out = client.post("/signout", follow_redirects=False)
        assert out.status_code == 303 and 'shipbrain_session=""' in out.headers["set-cookie"]
        assert client.get("/evals").status_code == 401


@pytest.mark.slow
def test_the_admin_key_of_a_first_serve_signs_in_to_the_pages(tmp_path: Path) -> None:
    """The embedded default stays usable: on a fresh data dir, the admin key `shipbrain serve` made signs in."""
    server = start(tmp_path / "data", "--no-warm")
    try:
        assert server.admin_key is not None, server.output(redact=True)
        with httpx.Client(base_url=server.url, timeout=60) as browser:
            sent = browser.get("/", headers={"Accept": "text/html"})
            assert sent.status_code == 303 and sent.headers["location"] == "/signin?next=/"
            signed = browser.post("/signin", data={"key": server.admin_key, "next": "/"})
            assert signed.status_code == 303 and "shipbrain_session" in browser.cookies
            page = browser.get("/", headers={"Accept": "text/html"})
            assert page.status_code == 200 and "Shipbrain" in page.text
            assert browser.get("/config").status_code == 200 and browser.get("/evals").status_code == 200
    finally:
        server.kill(signal.SIGTERM)


@pytest.mark.slow
@pytest.mark.skipif(not postgres.available(), reason="PostgreSQL's server programs are not installed")
def test_a_session_made_by_one_service_signs_in_at_another_on_one_postgresql(tmp_path: Path, small_yard: Path) -> None:
    """Sessions live in the database, not in a process: two services on one PostgreSQL (behind one balancer) share
    them, and signing out at one ends the session at both."""
    with postgres.postgres_server() as dsn:
        settings = Settings(data_dir=tmp_path, postgres_dsn=dsn)
        one = create_app(settings, small_yard, chat=False, start_workers=False, service=service_settings())
        other = create_app(settings, small_yard, chat=False, start_workers=False, service=service_settings())
        try:
            with TestClient(one) as first, TestClient(other) as second:
                assert one.state.service.store.engine.dialect.name == "postgresql"
                _, token = KeyStore(one.state.service.store).create("planner.anna", "ask", actor="test")
                signed = first.post("/signin", data={"key": token}, follow_redirects=False)
                cookie = {"Cookie": f"shipbrain_session={signed.cookies['shipbrain_session']}"}
                assert second.get("/evals", headers=cookie).status_code == 200
                assert first.post("/signout", headers=cookie, follow_redirects=False).status_code == 303
                assert second.get("/evals", headers=cookie).status_code == 401
        finally:
            dispose(settings)
