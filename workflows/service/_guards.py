"""ASGI guards in front of every route (the API, the pages, their queues and assets): trusted hosts, rate limits.

Each refuses with the service's error shape (`{"error": {"type", "message"}}`) before the app sees the request.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from workflows.service.errors import ServiceError

__all__ = ["TrustedHosts", "refuse"]


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
