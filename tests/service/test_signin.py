"""The pages' sign-in without a browser: the session cookie over HTTP and over TLS (issue 13, finding 1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from knowledge import Settings
from tests.service.conftest import service_settings
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
