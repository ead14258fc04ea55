"""CallGuard (tenacity retries + pybreaker circuit) and the HTTP error mapping shared by remote transports."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from adapters.errors import (
    CircuitOpenError,
    ModelCallError,
    ModelResponseError,
    ModelTimeoutError,
    ModelUnavailableError,
)
from adapters.transports._resilience import CallGuard, http_errors, raise_for_status
from adapters.transports.base import CallPolicy

POLICY = CallPolicy(max_attempts=4, backoff_initial_s=0.1, backoff_max_s=0.25, breaker_failures=2, breaker_reset_s=0.05)


class Script:
    """A model call that fails with the given errors, in order, then answers "ok"."""

    def __init__(self, *failures: ModelCallError | Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def unavailable(detail: str = "HTTP 503") -> ModelUnavailableError:
    return ModelUnavailableError("welding", "v2", detail)


def guard(sleeps: list[float] | None = None, policy: CallPolicy = POLICY) -> CallGuard:
    return CallGuard("welding", "v2", policy, sleep=(sleeps.append if sleeps is not None else lambda _: None))


def test_retries_transient_errors_then_succeeds() -> None:
    sleeps: list[float] = []
    call = Script(unavailable(), ModelTimeoutError("welding", "v2", "read timeout"))
    assert guard(sleeps).call(call) == "ok"
    assert call.calls == 3
    # Exponential with jitter: base * 2**n plus up to one base, capped at backoff_max_s.
    assert 0.1 <= sleeps[0] <= 0.2 and 0.2 <= sleeps[1] <= 0.25


def test_gives_up_after_max_attempts_with_the_typed_error() -> None:
    sleeps: list[float] = []
    call = Script(*[unavailable(f"HTTP 503 #{n}") for n in range(10)])
    with pytest.raises(ModelUnavailableError) as caught:
        guard(sleeps).call(call)
    assert call.calls == POLICY.max_attempts and len(sleeps) == POLICY.max_attempts - 1
    error = caught.value
    assert (error.model, error.transport) == ("welding", "v2")
    assert error.detail == "HTTP 503 #3 (gave up after 4 attempts)"
    assert isinstance(error.__cause__, ModelUnavailableError)


@pytest.mark.parametrize(
    "terminal",
    [ModelResponseError("welding", "v2", "HTTP 400: unknown input"), RuntimeError("a bug, not a model failure")],
    ids=["response-error", "unexpected-exception"],
)
def test_terminal_errors_are_not_retried_nor_counted(terminal: Exception) -> None:
    sleeps: list[float] = []
    call_guard = guard(sleeps)
    for _ in range(POLICY.breaker_failures + 1):
        call = Script(terminal)
        with pytest.raises(type(terminal)):
            call_guard.call(call)
        assert call.calls == 1
    assert sleeps == []
    assert call_guard.state == "closed"


def test_breaker_counts_calls_not_attempts_and_opens() -> None:
    call_guard = guard()
    for failed_calls in range(1, POLICY.breaker_failures + 1):
        call = Script(*[unavailable("connection refused")] * POLICY.max_attempts)
        with pytest.raises(ModelUnavailableError):
            call_guard.call(call)
        assert call.calls == POLICY.max_attempts
        assert call_guard.state == ("open" if failed_calls == POLICY.breaker_failures else "closed")

    refused = Script()
    with pytest.raises(CircuitOpenError) as caught:
        call_guard.call(refused)
    assert refused.calls == 0
    detail = caught.value.detail
    assert detail.startswith("circuit open until ") and "+00:00" in detail
    assert "2 recent failures, the last: model 'welding' over v2: connection refused (gave up after 4" in detail
    assert (caught.value.model, caught.value.transport) == ("welding", "v2")


def test_a_success_resets_the_failure_count() -> None:
    call_guard = guard()
    for _ in range(3):
        with pytest.raises(ModelUnavailableError):
            call_guard.call(Script(*[unavailable()] * POLICY.max_attempts))
        assert call_guard.call(Script()) == "ok"
    assert call_guard.state == "closed"


def open_breaker(call_guard: CallGuard) -> None:
    for _ in range(POLICY.breaker_failures):
        with pytest.raises(ModelUnavailableError):
            call_guard.call(Script(*[unavailable()] * POLICY.max_attempts))
    assert call_guard.state == "open"


def test_breaker_half_opens_after_reset_and_closes_on_success() -> None:
    call_guard = guard()
    open_breaker(call_guard)
    time.sleep(POLICY.breaker_reset_s + 0.02)
    trial = Script()
    assert call_guard.call(trial) == "ok"
    assert trial.calls == 1 and call_guard.state == "closed"


def test_failed_trial_call_reopens_at_once() -> None:
    call_guard = guard()
    open_breaker(call_guard)
    time.sleep(POLICY.breaker_reset_s + 0.02)
    with pytest.raises(ModelUnavailableError):
        call_guard.call(Script(*[unavailable()] * POLICY.max_attempts))
    assert call_guard.state == "open"
    with pytest.raises(CircuitOpenError):
        call_guard.call(Script())


def test_calls_from_threads_run_concurrently() -> None:
    # pybreaker's call() would hold its lock for the whole call: two threads could never meet here.
    both_inside = threading.Barrier(2, timeout=5)
    call_guard = guard()
    results: list[str] = []

    def meet() -> str:
        both_inside.wait()
        return "ok"

    threads = [threading.Thread(target=lambda: results.append(call_guard.call(meet))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert results == ["ok", "ok"]


def response(status: int, body: bytes) -> httpx.Response:
    return httpx.Response(status, content=body, request=httpx.Request("POST", "http://127.0.0.1:9/v2/models/w/infer"))


@pytest.mark.parametrize(
    ("status", "body", "error_type", "message"),
    [
        (429, b'{"error": "slow down"}', ModelUnavailableError, "slow down"),
        (500, b'{"error": "boom"}', ModelUnavailableError, "boom"),
        (503, b"upstream gone", ModelUnavailableError, "upstream gone"),
        (400, b'{"error": "unknown input"}', ModelResponseError, "unknown input"),
        (401, b'{"error": {"message": "bad key", "type": "auth"}}', ModelResponseError, "bad key"),
        (422, b'{"detail": [{"msg": "field required"}]}', ModelResponseError, "field required"),
    ],
)
def test_status_codes_map_to_typed_errors(
    status: int, body: bytes, error_type: type[ModelCallError], message: str
) -> None:
    with pytest.raises(error_type) as caught:
        raise_for_status("welding", "v2", response(status, body))
    assert type(caught.value) is error_type
    assert f"HTTP {status} from POST http://127.0.0.1:9/v2/models/w/infer: " in caught.value.detail
    assert message in caught.value.detail


def test_2xx_is_not_an_error() -> None:
    raise_for_status("welding", "v2", response(200, b"{}"))


@pytest.mark.parametrize(
    ("exc", "error_type"),
    [
        (httpx.ReadTimeout("timed out"), ModelTimeoutError),
        (httpx.ConnectError("refused"), ModelUnavailableError),
        (httpx.RemoteProtocolError("peer closed"), ModelUnavailableError),
    ],
    ids=["timeout", "refused", "dropped"],
)
def test_httpx_exceptions_map_to_typed_errors(exc: httpx.HTTPError, error_type: type[ModelCallError]) -> None:
    with pytest.raises(error_type) as caught, http_errors("welding", "v2", "http://127.0.0.1:9/x"):
        raise exc
    assert caught.value.retryable
    assert "http://127.0.0.1:9/x" in caught.value.detail
