"""The HTTP plumbing of the service: body limits, error bodies, HEAD and OPTIONS, API key authentication."""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from brain.errors import NoPendingApprovalError, ThreadBusyError, UnknownThreadError
from knowledge.errors import InputError, ShipbrainError
from workflows.service._guards import PRINCIPAL, refuse
from workflows.service.errors import (
    Forbidden,
    PayloadTooLarge,
    ServiceError,
    Unauthorized,
    Unprocessable,
    UnsupportedMediaType,
    error_body,
)
from workflows.service.keys import KeyStore, Principal
from workflows.service.keys import Scope as KeyScope

__all__ = ["ApiMethods", "Auth", "BodyLimit", "api_methods", "install_error_handlers", "non_finite_number", "require"]

log = logging.getLogger(__name__)
_BODY_METHODS = frozenset({"POST"})
"""The methods whose API bodies must be JSON: the API takes bodies on POST only (a PUT gets 405, not 415)."""


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class _NonFinite:
    """A number JSON cannot hold, as it was written (`1e999`, `NaN`, `-Infinity`)."""

    def __init__(self, text: str) -> None:
        self.text = text


def _number(text: str) -> float | _NonFinite:
    value = float(text)
    return value if math.isfinite(value) else _NonFinite(text)


def _find_non_finite(data: object, path: tuple[str, ...] = ()) -> tuple[str, str] | None:
    if isinstance(data, _NonFinite):
        return ".".join(path), data.text
    children = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in children:
        found = _find_non_finite(value, (*path, str(key)))
        if found is not None:
            return found
    return None


def non_finite_number(body: bytes) -> Unprocessable | None:
    """A 422 naming the first number of a JSON body that is infinite or NaN once read (`1e999`, `NaN`), else None.

    Python's JSON reader turns `1e999` into infinity and accepts `NaN` and `Infinity`, which JSON has not; such a
    value would be stored as non-standard JSON. A body that is not JSON is left to the app (400).
    """
    if not body.strip():
        return None
    try:
        data = json.loads(body, parse_float=_number, parse_constant=_NonFinite)
        found = _find_non_finite(data)
    except (ValueError, RecursionError):
        return None
    if found is None:
        return None
    field, text = found
    return Unprocessable(f"numbers must be finite (got {text})", kind="validation_error", field=field or None)


class BodyLimit:
    """ASGI middleware: every request's body is at most its limit (else 413), and an API body is JSON (else 415).

    Under `/v1/` a body must be JSON and at most `max_bytes`; elsewhere (the pages, Gradio's queue and uploads, the
    sign-in form) at most `page_max_bytes`, of any type. `Content-Length` is checked first, so a body declared too
    large is refused before a byte of it is read; the body is then read in chunks, counting, so a chunked body that
    lies or has no length is refused as soon as it passes the limit, never held whole. An API body is then refused
    with 422 if it holds a number JSON has not (`non_finite_number`), and handed on to the app.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, page_max_bytes: int | None = None, prefix: str = "/v1/") -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.page_max_bytes = max_bytes if page_max_bytes is None else page_max_bytes
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        api = scope["path"].startswith(self.prefix)
        has_body = "content-length" in headers or "transfer-encoding" in headers
        if not has_body and not (api and scope["method"] in _BODY_METHODS):
            await self.app(scope, receive, send)
            return
        if api and scope["method"] in _BODY_METHODS and not _is_json(headers.get("content-type", "")):
            given = headers.get("content-type") or "none"
            await refuse(scope, receive, send, UnsupportedMediaType(f"send the body as application/json (got {given})"))
            return
        limit = self.max_bytes if api else self.page_max_bytes
        length = headers.get("content-length")
        too_large = PayloadTooLarge(f"the body is larger than {limit:,} bytes")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await refuse(scope, receive, send, too_large)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await refuse(scope, receive, send, too_large)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        refused = non_finite_number(body) if api else None
        if refused is not None:
            await refuse(scope, receive, send, refused)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


# ---- HEAD and OPTIONS on the API ------------------------------------------------------------------------


def api_methods(app: object, path: str) -> set[str]:
    """The methods the API's documented routes take on `path` (HEAD with GET; none: no route has the path).

    Read from the app's OpenAPI document (built once, then cached by FastAPI), as the API's own 405s are.
    """
    methods: set[str] = set()
    if not isinstance(app, FastAPI):
        return methods
    for template, operations in app.openapi()["paths"].items():
        if compile_path(template)[0].match(path):
            methods |= {m.upper() for m in operations if m.upper() in _METHODS}
    if "GET" in methods:
        methods.add("HEAD")
    return methods


_METHODS: Final = frozenset({"GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"})


class ApiMethods:
    """ASGI middleware: HEAD and OPTIONS on the API's paths answered as HTTP says, not by whatever is mounted at "/".

    Under `prefix` (`/v1/`), HEAD on a path that takes GET is the GET without its body (same status and headers; an
    event stream is ended as soon as its headers are sent); OPTIONS, and HEAD on a path without GET, are 405 with
    `Allow`; on a path no route has, 404. Other methods pass on untouched (the app's routes answer them).
    """

    def __init__(self, app: ASGIApp, prefix: str = "/v1/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method")
        if scope["type"] != "http" or method not in ("HEAD", "OPTIONS") or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        allowed = api_methods(scope.get("app"), scope["path"])
        if method == "HEAD" and "GET" in allowed:
            await self._head(scope, receive, send)
            return
        if allowed:
            shown = ", ".join(sorted(allowed))
            message = f"{method} is not allowed on {scope['path']}; use {' or '.join(sorted(allowed))}"
            await _answer(send, 405, error_body("method_not_allowed", message), {"Allow": shown}, body=method != "HEAD")
        else:
            message = "no such endpoint; the API is described at /docs"
            await _answer(send, 404, error_body("not_found", message), {}, body=method != "HEAD")

    async def _head(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The GET, its status and headers sent, its body dropped; the app is then told the client has gone."""
        started = asyncio.Event()

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.start" and not started.is_set():
                await send(message)
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                started.set()

        async def until_started() -> Message:
            if started.is_set():
                return {"type": "http.disconnect"}
            waiting = asyncio.ensure_future(receive())
            done = asyncio.ensure_future(started.wait())
            finished, _ = await asyncio.wait({waiting, done}, return_when=asyncio.FIRST_COMPLETED)
            if waiting in finished:
                done.cancel()
                return waiting.result()
            waiting.cancel()
            return {"type": "http.disconnect"}

        await self.app({**scope, "method": "GET"}, until_started, headers_only)


async def _answer(send: Send, status: int, payload: object, headers: Mapping[str, str], *, body: bool) -> None:
    content = json.dumps(payload).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(content)).encode()),
        *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": content if body else b""})


# ---- error bodies ------------------------------------------------------------------------------------


def _field_path(loc: Sequence[int | str], data: object) -> str | None:
    """The dotted path of a value in the body (`data`, as parsed), without the union tags pydantic adds to `loc`."""
    path: list[str] = []
    for k, part in enumerate(loc):
        last = k == len(loc) - 1
        if isinstance(data, Mapping) and isinstance(part, str) and part not in data and not last:
            continue  # a tagged union's tag, not a key of the body
        path.append(str(part))
        if isinstance(data, Mapping):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int):
            data = data[part] if 0 <= part < len(data) else None
    return ".".join(path) or None


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": "invalid"}
    loc = tuple(first.get("loc", ()))
    if first.get("type") == "json_invalid":
        position = loc[1] if len(loc) > 1 else "?"
        ctx = first.get("ctx")
        reason = ctx.get("error", "invalid JSON") if isinstance(ctx, dict) else "invalid JSON"
        message = f"the body is not valid JSON: {reason} at position {position}"
        return JSONResponse(error_body("malformed_json", message), status_code=400)
    where, rest = (loc[0], loc[1:]) if loc else ("body", ())
    body = exc.body
    if where == "body" and isinstance(body, bytes | str):
        try:
            body = json.loads(body)
        except ValueError:
            body = None
    field = _field_path(rest, body) if where == "body" else ".".join(str(p) for p in loc)
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if first.get("type") not in ("missing", "extra_forbidden") and "input" in first and where == "body" and rest:
        given = repr(first["input"])
        message += f" (got {given if len(given) <= 60 else given[:57] + '...'})"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problems)"
    if where == "body" and not rest:
        message = "the body is empty; send a JSON object" if first.get("type") == "missing" else f"the body: {message}"
    return JSONResponse(error_body("validation_error", message, field), status_code=422)


_BRAIN_STATUS: dict[type[Exception], tuple[int, str]] = {
    UnknownThreadError: (404, "not_found"),
    NoPendingApprovalError: (409, "no_pending_approval"),
    ThreadBusyError: (409, "thread_busy"),
}


def install_error_handlers(app: FastAPI) -> None:
    """Every error becomes `{"error": {"type", "message", "field"?}}`; nothing unexpected leaks a traceback."""

    async def service_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ServiceError)
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _validation_response(exc)

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404:
            message = "no such endpoint; the API is described at /docs"
        return JSONResponse(error_body(kind, message), status_code=exc.status_code, headers=exc.headers)

    async def shipbrain_error(_: Request, exc: Exception) -> JSONResponse:
        for cls, (status, kind) in _BRAIN_STATUS.items():
            if isinstance(exc, cls):
                return JSONResponse(error_body(kind, str(exc)), status_code=status)
        if isinstance(exc, InputError):
            return JSONResponse(error_body("invalid_request", str(exc), getattr(exc, "field", None)), status_code=422)
        log.error("service failure: %s", exc, exc_info=exc)
        return JSONResponse(error_body("service_error", str(exc)), status_code=503)

    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error", exc_info=exc)
        return JSONResponse(error_body("internal_error", "the service failed; the error is logged"), status_code=500)

    app.add_exception_handler(ServiceError, service_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(ShipbrainError, shipbrain_error)
    app.add_exception_handler(Exception, unexpected)


# ---- authentication and rate limits --------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer sb_...`.")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key, instead of the bearer header.")


class Auth:
    """Checks a request's API key and scope (the rate limits are `RateLimit`'s, in front of every route)."""

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys

    def check(self, token: str | None, *scopes: KeyScope, known: Principal | None = None) -> Principal:
        """The principal of `token` if it has one of `scopes`.

        Args:
            token: the request's API key.
            scopes: the scopes of which the key must have one.
            known: the principal `RateLimit` found for this token already (it is not looked up again).

        Raises:
            Unauthorized: no token, or an unknown or revoked one.
            Forbidden: the key has none of `scopes`.
        """
        challenge = {"WWW-Authenticate": "Bearer"}
        if not token:
            raise Unauthorized(
                "no API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                kind="missing_api_key",
                headers=challenge,
            )
        principal = known or self.keys.authenticate(token)
        if principal is None:
            raise Unauthorized("the API key is unknown or revoked", kind="invalid_api_key", headers=challenge)
        if not any(principal.allows(scope) for scope in scopes):
            wanted = " or ".join(repr(s) for s in scopes)
            has = ", ".join(sorted(principal.scopes))
            raise Forbidden(f"the key {principal.name!r} lacks the {wanted} scope (it has {has})", kind="missing_scope")
        return principal


def require(*scopes: KeyScope) -> Callable[..., Principal]:
    """A FastAPI dependency: the request's principal, which must have one of `scopes`."""

    def principal(
        request: Request,
        bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008 (FastAPI's idiom)
        api_key: str | None = Depends(_api_key),
    ) -> Principal:
        auth: Auth = request.app.state.auth
        token = bearer.credentials if bearer else api_key
        found = request.scope.get("state", {}).get(PRINCIPAL)
        known = found[1] if found is not None and found[0] == token else None
        return auth.check(token, *scopes, known=known)

    return principal
