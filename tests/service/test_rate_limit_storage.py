"""Issue 13, finding 8: rate limits kept where `SHIPBRAIN_RATE_LIMIT_STORAGE` says, so processes can share them.

Two apps on one store stand for two processes here (each has its own `RateLimit` and its own windows); the real
two-process case, through HAProxy, is tests/service/test_multiprocess.py.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from tests.service import redis_server
from tests.service.conftest import Api, service_settings
from workflows.service.launch import free_port


@pytest.fixture
def redis() -> Iterator[str]:
    if not redis_server.available():
        pytest.skip("redis-server is not installed (tests/run.sh)")
    with redis_server.redis_server() as uri:
        yield uri


def _two(make_api: Callable[..., Api], limit: str) -> tuple[Api, Api]:
    service = service_settings(rate_limit=limit)
    return make_api(service=service, start_workers=False), make_api(service=service, start_workers=False)


def test_two_services_on_one_redis_share_a_keys_limit(
    make_api: Callable[..., Api], redis: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPBRAIN_RATE_LIMIT_STORAGE", redis)
    a, b = _two(make_api, "6/minute")
    token = a.auth()
    answers = Counter((a if k % 2 else b).client.get("/v1/workflows", headers=token).status_code for k in range(6))
    assert answers == {200: 6}
    over = b.client.get("/v1/workflows", headers=token)
    assert over.status_code == 429 and over.json()["error"]["type"] == "rate_limited"
    assert a.client.get("/v1/workflows", headers=token).status_code == 429  # the other "process" counts them too


def test_each_service_keeps_its_own_windows_in_memory_by_default(
    make_api: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHIPBRAIN_RATE_LIMIT_STORAGE", raising=False)
    a, b = _two(make_api, "3/minute")
    token = a.auth()
    assert [a.client.get("/v1/workflows", headers=token).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert b.client.get("/v1/workflows", headers=token).status_code == 200  # one process's memory: not shared


def test_an_unreachable_limit_storage_lets_requests_through_and_says_so(
    make_api: Callable[..., Api], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SHIPBRAIN_RATE_LIMIT_STORAGE", f"redis://127.0.0.1:{free_port()}/0")  # nothing listens
    api = make_api(service=service_settings(rate_limit="2/minute"), start_workers=False)
    with caplog.at_level(logging.WARNING, logger="workflows.service._guards"):
        answers = [api.get("/v1/workflows").status_code for _ in range(4)]
    assert answers == [200] * 4
    warnings = [r.getMessage() for r in caplog.records if "rate limits' storage failed" in r.getMessage()]
    assert len(warnings) == 1, warnings  # once a minute, not once a request
