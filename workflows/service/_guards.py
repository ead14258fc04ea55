"""ASGI guards in front of every route (the API, the pages, their queues and assets): trusted hosts, rate limits.

Each refuses with the service's error shape (`{"error": {"type", "message"}}`) before the app sees the request.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus

from fastapi.concurrency import run_in_threadpool
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workflows.service.errors import ServiceError, TooManyRequests, error_body
from workflows.service.keys import KeyStore, Principal
from workflows.service.settings import ServiceSettings

__all__ = ["PRINCIPAL", "ErrorShape", "RateLimit", "TrustedHosts", "refuse", "token_of"]

log = logging.getLogger(__name__)

PRINCIPAL = "shipbrain.principal"
"""The scope's state key under which `RateLimit` leaves `(token, principal)` of a request with a valid API key,
so the API's `require` does not look the key up again."""


async def refuse(scope: Scope, receive: Receive, send: Send, error: ServiceError) -> None:
    """Answer `error` as JSON and close the connection (a WebSocket is closed with policy violation)."""
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1008, "reason": error.message[:120]})
        return
    payload = json.dumps(error.body()).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"connection", b"close"),
        *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in error.headers.items()),
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def host_of(header: str) -> str:
    """The host of a `Host` header value, without its port, lower case, without a final dot (`[::1]:80` -> `::1`)."""
    value = header.strip().lower()
    if value.startswith("["):
        value = value[1 : value.find("]")] if "]" in value else ""
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


class TrustedHosts:
    """ASGI middleware: a request whose `Host` header names none of `hosts` gets 400 (DNS rebinding stops here).

    A page on `rebind.attacker.example` whose name the attacker points at 127.0.0.1 makes the browser send
    `Host: rebind.attacker.example` to a loopback server: refusing unknown hosts keeps such a page from driving the
    service. `hosts` holds exact names and addresses, `*.example.com` for every subdomain, or `*` for any.
    """

    def __init__(self, app: ASGIApp, hosts: Iterable[str]) -> None:
        self.app = app
        wanted = [host_of(h) if not h.startswith("*") else h.lower() for h in hosts if h.strip()]
        self.any = "*" in wanted
        self.exact = frozenset(h for h in wanted if not h.startswith("*"))
        self.suffixes = tuple(h[1:] for h in wanted if h.startswith("*."))

    def allows(self, header: str) -> bool:
        """Whether a `Host` header value names a served host."""
        host = host_of(header)
        return bool(host) and (self.any or host in self.exact or host.endswith(self.suffixes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
        if self.allows(given):
            await self.app(scope, receive, send)
            return
        shown = given if len(given) <= 100 else given[:97] + "..."
        error = ServiceError(
            f"the Host header {shown!r} is not a host this service answers for; add it to SHIPBRAIN_ALLOWED_HOSTS "
            "if clients reach the service by that name",
            kind="invalid_host",
        )
        await refuse(scope, receive, send, error)


def token_of(scope: Scope) -> str | None:
    """The API key a request sends (`Authorization: Bearer ...` or `X-API-Key`), else None."""
    bearer: str | None = None
    api_key: str | None = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                bearer = credentials.strip()
        elif name == b"x-api-key":
            api_key = value.decode("latin-1").strip() or None
    return bearer or api_key


class RateLimit:
    """ASGI middleware: every route's requests in a moving window, per API key, else per client address.

    A request with a valid API key, or a page's signed-in session (`session_of`), counts against its key
    (`rate_limit`): people behind one address (a yard's proxy, an office's NAT) do not share one window. Any other (no
    key, an unknown one, an ended session, a sign-in form) counts against its client address (`anonymous_rate_limit`),
    which is the proxy's `X-Forwarded-For` only when `serve --behind-proxy` trusts the proxy. Over the limit: 429
    with `Retry-After`.

    The windows live where `storage` says (a `limits` storage URI): this process's memory, or a Redis server
    (`redis://HOST:PORT`) that every process serving one store shares, so that a limit holds across them all. A
    storage that cannot be reached lets requests through, logged (once a minute): the limits guard against floods,
    and their store's outage must not stop the service. Nor slow it: after a failure the storage is not asked for
    `storage_retry_s`, and requests pass at once, instead of each waiting out the socket timeouts (a blackholed Redis
    would hold every request a second, and a worker thread with it); then one request asks it again, the others
    passing meanwhile, and limits hold again as soon as it answers.

    Args:
        app: the app guarded.
        keys: the API keys, to tell a request's key.
        rate_limit: requests per API key, in `limits` notation ("600/minute").
        anonymous_rate_limit: requests per client address without a valid key.
        storage: where the windows live [default: `SHIPBRAIN_RATE_LIMIT_STORAGE`, else `memory://`].
        session_of: the key a request without an API key is signed in with on the pages, by its session cookie
            (`SignIn.of_scope`), else None [default: none: such requests count by address].
        storage_retry_s: how long requests pass without asking a storage that failed.
    """

    def __init__(
        self,
        app: ASGIApp,
        keys: KeyStore,
        rate_limit: str,
        anonymous_rate_limit: str,
        storage: str | None = None,
        session_of: Callable[[Scope], Principal | None] | None = None,
        storage_retry_s: float = 5.0,
    ) -> None:
        self.app = app
        self.keys = keys
        self.session_of = session_of
        self.per_key: RateLimitItem = parse(rate_limit)
        self.per_address: RateLimitItem = parse(anonymous_rate_limit)
        if storage is None:
            storage = ServiceSettings().rate_limit_storage
        # a Redis that does not answer must cost a request a second at most, not hang it (the URI's options win)
        remote: dict[str, float] = {"socket_timeout": 1.0, "socket_connect_timeout": 1.0}
        self.storage = storage_from_string(
            storage, wrap_exceptions=True, **(remote if storage.startswith("redis") else {})
        )
        self.shared = not isinstance(self.storage, MemoryStorage)
        """Whether the windows live outside this process (each hit is then a network call, made off the event loop)."""
        self.limiter = MovingWindowRateLimiter(self.storage)
        self._unreachable_logged = -math.inf
        self.storage_retry_s = storage_retry_s
        self._failing = False  # the storage's last answer was a failure
        self._ask_after = -math.inf  # while failing, the storage is not asked before this (time.monotonic())
        self._breaker = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        token = token_of(scope)
        principal: Principal | None = None
        if token is not None:
            principal = await run_in_threadpool(self.keys.authenticate, token)
        if principal is not None:
            scope.setdefault("state", {})[PRINCIPAL] = (token, principal)
        elif token is None and self.session_of is not None:
            principal = await run_in_threadpool(self.session_of, scope)
        if principal is not None:
            hit = (self.per_key, f"key:{principal.key_id}", f"the key {principal.name!r} is")
        else:
            address = (scope.get("client") or ("unknown", 0))[0]
            hit = (self.per_address, f"address:{address}", f"requests from {address} without a key are")
        if not self.shared:
            refused = self._hit(*hit)
        elif self._may_ask():
            refused = await run_in_threadpool(self._hit, *hit)
        else:  # the storage failed a moment ago: the request passes without waiting for it
            refused = None
        if refused is not None:
            await refuse(scope, receive, send, refused)
            return
        await self.app(scope, receive, send)

    def _may_ask(self) -> bool:
        """Whether this request asks the storage: always while it answers; after a failure, one request a pause."""
        if not self._failing:
            return True
        with self._breaker:
            at = time.monotonic()
            if at < self._ask_after:
                return False
            self._ask_after = at + self.storage_retry_s  # this request tries it; the others pass meanwhile
            return True

    def _hit(self, item: RateLimitItem, identity: str, who: str) -> TooManyRequests | None:
        """The refusal of one more request of `identity` over `item`, else None.

        `who` says whose requests they are, with its verb: "the key 'x' is", "requests from 10.0.0.1 without a key are".
        """
        try:
            if self.limiter.hit(item, identity):
                reset = None
            else:
                reset = self.limiter.get_window_stats(item, identity).reset_time
        except StorageError as exc:
            with self._breaker:
                self._failing = True
                self._ask_after = time.monotonic() + self.storage_retry_s
                if time.monotonic() - self._unreachable_logged > 60:
                    self._unreachable_logged = time.monotonic()
                    log.warning(
                        "the rate limits' storage failed (%s); requests pass unlimited until it answers (asked again "
                        "every %g s)",
                        exc,
                        self.storage_retry_s,
                    )
            return None
        if self._failing:
            with self._breaker:
                if self._failing:
                    self._failing = False
                    log.warning("the rate limits' storage answers again; requests are limited again")
        if reset is None:
            return None
        wait = max(1, math.ceil(reset - time.time()))
        return TooManyRequests(f"{who} limited to {item}; retry in {wait} s", headers={"Retry-After": str(wait)})


_KINDS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
}
_MAX_REWRITE = 65_536


def shaped(status: int, content_type: str, body: bytes) -> bytes | None:
    """An error response's body in the service's shape, or None if it has it already or is not JSON or text.

    `{"detail": ...}` (FastAPI's and Gradio's errors) and plain text (Starlette's) become
    `{"error": {"type", "message"}}`; HTML (a page for a browser) is left as it is.
    """
    media = content_type.split(";", 1)[0].strip().lower()
    kind = _KINDS.get(status, "http_error" if status < 500 else "service_error")
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:  # a status HTTP has no name for
        phrase = "error"
    if media == "application/json":
        try:
            data = json.loads(body or b"null")
        except ValueError:
            return None
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            return None
        detail = data.get("detail") if isinstance(data, dict) else data
        message = detail if isinstance(detail, str) else json.dumps(detail) if detail is not None else phrase
    elif media == "text/plain":
        message = body.decode("utf-8", "replace").strip() or phrase
    else:
        return None
    return json.dumps(error_body(kind, message)).encode()


class ErrorShape:
    """ASGI middleware: every 4xx and 5xx JSON or text body in the service's error shape, whichever app answered.

    The API's own errors have it already; this brings the rest into line: a mounted app's (the chat page's Gradio,
    a plug-in's page) `{"detail": ...}` and Starlette's plain-text errors. Streams and successes pass untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "HEAD":  # a HEAD answer has no body to reshape
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        chunks: list[bytes] = []

        async def reshape(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                headers = {k.lower(): v for k, v in message.get("headers", [])}
                ctype = headers.get(b"content-type", b"").decode("latin-1")
                if message["status"] >= 400 and ctype.split(";")[0].strip() in ("application/json", "text/plain"):
                    held = message
                    return
                await send(message)
                return
            if held is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False) and sum(map(len, chunks)) <= _MAX_REWRITE:
                return
            start, held = held, None
            body = b"".join(chunks)
            headers = {k.lower(): v for k, v in start.get("headers", [])}
            new = (
                None
                if message.get("more_body", False)
                else shaped(start["status"], headers.get(b"content-type", b"").decode("latin-1"), body)
            )
            if new is None:  # left as it was
                await send(start)
                await send({**message, "body": body})
                return
            replaced = (b"content-length", b"content-type")
            kept = [(k, v) for k, v in start.get("headers", []) if k.lower() not in replaced]
            kept += [(b"content-type", b"application/json"), (b"content-length", str(len(new)).encode())]
            await send({**start, "headers": kept})
            await send({"type": "http.response.body", "body": new, "more_body": False})

        await self.app(scope, receive, reshape)
