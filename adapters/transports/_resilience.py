"""Retries, a circuit breaker and HTTP error mapping shared by the remote transports.

`CallGuard` wraps one model's calls as `breaker(retry(call))`: tenacity retries what is transient
(errors whose `retryable` is True: timeouts, refused connections, 429, 500, 502-504 and other 5xx) with exponential
backoff and jitter; pybreaker counts a call as failed only once its retries are spent, so
`CallPolicy.breaker_failures` means failed *calls*, not attempts. A terminal error (a 4xx, a
malformed answer, a 501 "not implemented", a 500 with one of Triton's known messages for a request it
could not parse) is neither retried nor counted: the server answered, so it is up, and sending the same
request again would get the same answer (pybreaker resets the failure count on it, as on a success).

`http_errors`, `raise_for_status` and `parse_body` turn httpx's exceptions, status codes and
malformed bodies into the typed errors of `adapters.errors`, so every HTTP transport classifies
failures the same way.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, TypeVar, cast

import httpx
import pybreaker
import pydantic
import tenacity

from adapters.errors import (
    CircuitOpenError,
    ModelCallError,
    ModelResponseError,
    ModelTimeoutError,
    ModelUnavailableError,
)
from adapters.transports.base import CallPolicy

__all__ = ["BreakerState", "CallGuard", "http_errors", "parse_body", "parse_json", "raise_for_status"]

T = TypeVar("T")
Body = TypeVar("Body", bound=pydantic.BaseModel)
BreakerState = Literal["closed", "open", "half-open"]

_log = logging.getLogger(__name__)

_UNPARSABLE: Final = re.compile(
    r"attempt to access JSON non-[a-z-]+ as |failed to parse the request JSON buffer|Unable to parse '[^']+'",
    re.IGNORECASE,
)
"""The known messages of a 500 that refuses the request itself, each a phrase of Triton's JSON parser (its
`triton::common::TritonJson` and HTTP frontend): "attempt to access JSON non-number as double" (a NaN sent as null),
"failed to parse the request JSON buffer", "Unable to parse 'shape': ...". Only these: a free-text guess would make
a real outage ("could not parse the model's config", "... not supported" by a broken backend) terminal; a server
that does not implement something answers 501, which is terminal by its status."""


def _is_retryable(exc: BaseException) -> bool:
    return bool(getattr(exc, "retryable", False))


class _FailureLog(pybreaker.CircuitBreakerListener):
    """Keeps what `CircuitOpenError` reports: when the breaker opened and the last failure."""

    def __init__(self) -> None:
        self.last_failure = "(none)"
        self.opened_at: datetime | None = None

    def failure(self, cb: pybreaker.CircuitBreaker, exc: BaseException) -> None:
        self.last_failure = str(exc)

    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        if new_state.name == pybreaker.STATE_OPEN:
            self.opened_at = datetime.now(UTC)


class CallGuard:
    """Runs one model's calls with the retries and circuit breaker of a `CallPolicy`.

    Thread-safe: one guard serves every thread that calls the model, and its breaker counts
    their failures together. Calls run concurrently; so, once `breaker_reset_s` has passed, every
    call arriving before the first trial call returns is let through, not only one.

    Args:
        model: Model name, for errors.
        transport: Transport kind ("v2", "openai-chat"), for errors.
        policy: Attempts, backoff and breaker settings.
        sleep: How to wait between attempts; tests pass a recorder.
    """

    def __init__(
        self,
        model: str,
        transport: str,
        policy: CallPolicy,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.model, self.transport, self.policy = model, transport, policy
        self._failures = _FailureLog()
        self._breaker = pybreaker.CircuitBreaker(
            fail_max=policy.breaker_failures,
            reset_timeout=policy.breaker_reset_s,
            exclude=[lambda exc: not _is_retryable(exc)],
            listeners=[self._failures],
            name=f"{transport}:{model}",
            # The call that trips the breaker reports its own failure; later calls get CircuitOpenError.
            throw_new_error_on_trip=False,
        )
        self._retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(policy.max_attempts),
            wait=tenacity.wait_exponential_jitter(
                multiplier=policy.backoff_initial_s, max=policy.backoff_max_s, jitter=policy.backoff_initial_s
            ),
            retry=tenacity.retry_if_exception(_is_retryable),
            sleep=sleep,
            before_sleep=tenacity.before_sleep_log(_log, logging.INFO),
            reraise=True,
        )

    @property
    def state(self) -> BreakerState:
        """The breaker's state: "closed" (calls run), "open" (calls refused) or "half-open" (next call tests)."""
        return cast(BreakerState, self._breaker.current_state)

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn`, retrying transient failures, unless the circuit is open.

        Args:
            fn: One attempt; raises a `ModelCallError` subclass on failure.

        Returns:
            What `fn` returned.

        Raises:
            CircuitOpenError: The breaker is open; `fn` was not called.
            ModelCallError: The last attempt's error, once retries are spent or on a terminal error.
        """
        try:
            # `calling()` rather than `call()`: pybreaker's `call()` holds the breaker's lock for the
            # whole call, which would serialise every thread calling this model.
            with self._breaker.calling():
                return self._attempts(fn)
        except pybreaker.CircuitBreakerError:
            raise self._open_error() from None

    def _attempts(self, fn: Callable[[], T]) -> T:
        retrying = self._retrying.copy()  # per call: a Retrying holds the state of its current call
        try:
            return retrying(fn)
        except ModelCallError as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            if exc.retryable and attempts > 1:
                raise type(exc)(exc.model, exc.transport, f"{exc.detail} (gave up after {attempts} attempts)") from exc
            raise

    def _open_error(self) -> CircuitOpenError:
        opened_at = self._failures.opened_at or datetime.now(UTC)
        until = opened_at + timedelta(seconds=self.policy.breaker_reset_s)
        return CircuitOpenError(
            self.model,
            self.transport,
            f"circuit open until {until.isoformat(timespec='seconds')}; "
            f"{self._breaker.fail_counter} recent failures, the last: {self._failures.last_failure}",
        )


@contextmanager
def http_errors(model: str, transport: str, url: str) -> Iterator[None]:
    """Turn httpx's exceptions raised in the block into typed model errors.

    Args:
        model: Model name, for errors.
        transport: Transport kind, for errors.
        url: The URL called, for errors.

    Raises:
        ModelTimeoutError: No answer within the policy's timeouts.
        ModelUnavailableError: The connection was refused or broke.
    """
    try:
        yield
    except httpx.TimeoutException as exc:
        raise ModelTimeoutError(model, transport, f"no answer from {url} in time ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        # A refused or dropped connection: the server is down or restarting, so another try may work.
        raise ModelUnavailableError(model, transport, f"cannot reach {url}: {type(exc).__name__}: {exc}") from exc


def raise_for_status(model: str, transport: str, response: httpx.Response) -> None:
    """Raise the typed error for a non-2xx answer, quoting the server's own message.

    Args:
        model: Model name, for errors.
        transport: Transport kind, for errors.
        response: The server's answer.

    Raises:
        ModelUnavailableError: 429, 500, 502, 503, 504 or another 5xx (retryable: the server may recover).
        ModelResponseError: Any other non-2xx status (terminal: the request itself was refused): 4xx, 501 (the
            server does not implement what was asked, e.g. KServe's "Model versioning not supported yet"), and a 500
            whose message says the request could not be parsed (Triton answers a NaN sent as JSON null with 500).
            A gateway's 502/503/504 stays retryable whatever it says.
    """
    status = response.status_code
    if 200 <= status < 300:
        return
    message = _server_message(response)
    detail = f"HTTP {status} from {response.request.method} {response.request.url}: {message}"
    if status == 501 or (status == 500 and _UNPARSABLE.search(message)):
        raise ModelResponseError(model, transport, detail)
    if status == 429 or status >= 500:
        raise ModelUnavailableError(model, transport, detail)
    raise ModelResponseError(model, transport, detail)


def _server_message(response: httpx.Response) -> str:
    """The error text of a v2 (`{"error": "..."}`) or OpenAI (`{"error": {"message": ...}}`) body."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return response.text[:500] or "(empty body)"
    if isinstance(body, dict):
        error = body.get("error", body.get("detail"))
        if isinstance(error, dict) and "message" in error:
            return str(error["message"])
        if error is not None:
            return str(error)
    return response.text[:500]


def parse_body(model: str, transport: str, body_type: type[Body], response: httpx.Response) -> Body:
    """Validate a JSON answer against its pydantic model.

    Args:
        model: Model name, for errors.
        transport: Transport kind, for errors.
        body_type: The pydantic model the answer must match.
        response: The server's (2xx) answer.

    Returns:
        The validated body.

    Raises:
        ModelResponseError: The body is not JSON or does not match, listing the first problems found.
    """
    return parse_json(model, transport, body_type, response.content, str(response.request.url))


def parse_json(model: str, transport: str, body_type: type[Body], content: bytes, url: str) -> Body:
    """Validate JSON text (a whole answer, or the JSON header of a binary one) against its pydantic model.

    Args:
        model: Model name, for errors.
        transport: Transport kind, for errors.
        body_type: The pydantic model the JSON must match.
        content: The JSON text.
        url: Where it came from, for errors.

    Returns:
        The validated body.

    Raises:
        ModelResponseError: The text is not JSON or does not match, listing the first problems found.
    """
    try:
        return body_type.model_validate_json(content)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or '(body)'}: {error['msg']}" for error in exc.errors()[:5]
        )
        raise ModelResponseError(model, transport, f"malformed answer from {url}: {problems}") from exc
