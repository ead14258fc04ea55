"""Issue 13, finding 8: rate limits kept where `SHIPBRAIN_RATE_LIMIT_STORAGE` says, so processes can share them.

Two apps on one store stand for two processes here (each has its own `RateLimit` and its own windows); the real
two-process case, through HAProxy, is tests/service/test_multiprocess.py.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
import redis as redis_client

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


@pytest.fixture
def blackhole() -> Iterator[str]:
    """A Redis URI whose address takes connections and never answers (a listening socket nobody reads)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield f"redis://127.0.0.1:{sock.getsockname()[1]}/0"


def test_a_blackholed_limit_storage_costs_one_timeout_not_one_a_request(
    make_api: Callable[..., Api], blackhole: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A Redis that never answers costs the first request its 1 s timeout; the next ones pass at once (review 13, 4).

    Without the pause each request would wait a second for it, holding a worker thread the whole time.
    """
    monkeypatch.setenv("SHIPBRAIN_RATE_LIMIT_STORAGE", blackhole)
    api = make_api(service=service_settings(rate_limit="2/minute"), start_workers=False)
    with caplog.at_level(logging.WARNING, logger="workflows.service._guards"):
        started = time.monotonic()
        answers = [api.get("/v1/workflows").status_code for _ in range(12)]
        took = time.monotonic() - started
    assert answers == [200] * 12
    assert took < 5.0, f"12 requests took {took:.1f} s"  # one timeout (1 s), not twelve
    warnings = [r.getMessage() for r in caplog.records if "rate limits' storage failed" in r.getMessage()]
    assert len(warnings) == 1, warnings


def test_limits_hold_again_once_a_stalled_storage_answers(
    make_api: Callable[..., Api], redis: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Redis that stalls (stopped with SIGSTOP: it takes connections, answers nothing) and comes back."""
    monkeypatch.setenv("SHIPBRAIN_RATE_LIMIT_STORAGE", redis)
    api = make_api(service=service_settings(rate_limit="3/minute"), start_workers=False)
    token = api.auth()
    server = redis_client.Redis.from_url(redis)
    info = server.info()
    server.close()
    assert isinstance(info, dict)
    pid = int(info["process_id"])
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        stalled = [api.client.get("/v1/workflows", headers=token).status_code for _ in range(8)]
        took = time.monotonic() - started
    finally:
        os.kill(pid, signal.SIGCONT)
    assert stalled == [200] * 8 and took < 4.0, (stalled, took)
    time.sleep(5.5)  # the pause after the failure ends; the next request asks Redis again
    answers = [api.client.get("/v1/workflows", headers=token).status_code for _ in range(5)]
    assert answers[:2] == [200, 200] and answers[3:] == [429, 429], answers  # a hit sent while it stalled may count
