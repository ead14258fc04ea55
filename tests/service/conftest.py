from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from brain.supervisor import Brain
from knowledge import Settings
from tests.service.chat_page import Site, serve
from workflows.service import KeyStore, ServiceSettings, Store, create_app

if TYPE_CHECKING:
    from httpx2 import Response  # what Starlette's TestClient answers with (httpx when httpx2 is not installed)

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SLEEP = "tests.service.sleepy_workflow"


def service_settings(**overrides: Any) -> ServiceSettings:
    values: dict[str, Any] = {
        "rate_limit": "100000/minute",
        "anonymous_rate_limit": "100000/minute",
        "poll_s": 0.05,
        "webhook_secret": SECRET,
        "workflow_modules": [SLEEP],
        "webhook_allow": ["127.0.0.1"],  # the tests' webhook receivers listen on loopback
        "allowed_hosts": ["testserver"],  # the Host that Starlette's TestClient sends
    }
    values.update(overrides)
    return ServiceSettings(**values)


@dataclass
class Api:
    """A running app, its store and one token per scope (plus "all": admin)."""

    client: TestClient
    store: Store
    tokens: dict[str, str] = field(default_factory=dict)
    closed: bool = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.client.__exit__(None, None, None)

    def key_id(self, scope: str = "admin") -> str:
        """The id of the key behind `tokens[scope]` (what the audit log names)."""
        principal = KeyStore(self.store).authenticate(self.tokens[scope])
        assert principal is not None
        return principal.key_id

    def auth(self, scope: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[scope]}"}

    def post(self, path: str, body: Any, scope: str = "admin", **headers: str) -> Response:
        return self.client.post(path, json=body, headers={**self.auth(scope), **headers})

    def get(self, path: str, scope: str = "admin") -> Response:
        return self.client.get(path, headers=self.auth(scope))

    def run(self, body: dict[str, Any], workflow: str = "test-sleep", **headers: str) -> Response:
        return self.post(f"/v1/workflows/{workflow}/runs", body, **headers)

    def wait(
        self, run_id: str, until: tuple[str, ...] = ("completed", "failed", "rejected"), timeout: float = 30.0
    ) -> dict[str, Any]:
        import time

        deadline = time.monotonic() + timeout
        while True:
            run = self.get(f"/v1/runs/{run_id}").json()
            if run["status"] in until:
                return dict(run)
            assert time.monotonic() < deadline, f"run {run_id} is still {run['status']}"
            time.sleep(0.02)


def make_tokens(store: Store) -> dict[str, str]:
    keys = KeyStore(store)
    tokens = {}
    for scope in ("admin", "run", "approve", "ask"):
        tokens[scope] = keys.create(f"{scope}-key", scope, actor="test")[1]
    return tokens


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def make_api(settings: Settings, small_yard: Path) -> Iterator[Callable[..., Api]]:
    opened: list[Api] = []

    def make(**kwargs: Any) -> Api:
        service = kwargs.pop("service", None) or service_settings()
        app = create_app(settings, small_yard, chat=False, service=service, **kwargs)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        store = app.state.service.store
        made = Api(client, store, make_tokens(store))
        opened.append(made)
        return made

    yield make
    for made in opened:
        made.close()


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium for a module's browser tests (`chat_page.browse(..., browser=browser)` gives each tab a fresh
    context of it); skipped where Chromium is not installed, as those modules are."""
    from tests.service.chat_page import CHROMIUM, chromium

    if not CHROMIUM.exists():
        pytest.skip(f"no {CHROMIUM} (tests/e2e/install_browser.sh installs it)")
    with chromium() as started:
        yield started


# ---- the chat page's browser tests (tests/service/chat_page.py) ---------------------------------------------------


@pytest.fixture(scope="module")
def brain(
    small_yard: Path, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Brain]:
    """The brain a chat page test module serves: the small yard, in a data dir of the module's own (a module that
    needs another yard or a corpus defines its own `brain`)."""
    b = Brain(small_yard, Settings(data_dir=tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])))
    yield b
    b.close()


@pytest.fixture(scope="module")
def site(brain: Brain) -> Iterator[Site]:
    """The chat page over the module's `brain`, served on loopback behind the sign-in, with a key per `KEYS` name."""
    with serve(brain) as served:
        yield served
