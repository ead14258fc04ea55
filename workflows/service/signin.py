"""Sign-in for the service's pages (the chat page, the eval runs page): one identity with the API, the key's.

A person signs in once at `/signin` with one of the service's API keys (`shipbrain keys create --scopes ask,approve`;
on a fresh machine, the admin key `shipbrain serve` made). The key is checked as the API checks it
(`KeyStore.authenticate`: looked up by its prefix, its hash compared in constant time); the browser gets a session
cookie that is a fresh random token, not the key:

- `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page sends it, so no cross-site request
  and no DNS-rebinding page acts as the planner), `Secure` when the page is served over TLS, `Path=/`, and a
  lifetime (`lifetime_s`, 12 hours by default);
- stored server-side as its SHA-256 with the key's id (table `page_sessions`, in the service's database, so
  several service processes on one database share them); each request reads the key's scopes again, so a
  revoked key's sessions end at once and a key's scopes count as they are now.

`SessionGate` refuses every path outside the API without a session: the chat page (its HTML, its config, Gradio's
queue and every `/gradio_api/...` route), the eval runs page, and any page a plug-in adds. Public are only the
API (`/v1/...`, which checks its own keys), `/healthz`, the API docs and the sign-in pages (`PUBLIC`). A browser
asking for a page is sent to `/signin?next=...`; anything else gets a 401 in the API's error shape. A client
that is not a browser may send its API key instead of a cookie (`Authorization: Bearer` or `X-API-Key`, as on
the API): a browser never sends those on its own, so they need no cross-site protection.

What a signed-in browser may ask of the pages is bounded too, since a session cookie is sent by the browser on its
own:

- **Another origin's requests are refused** (403 `cross_origin`): a request whose `Origin` is not this site's
  (another port, a sibling sub-domain, `null`), and a request that changes something (not GET or HEAD) that a
  browser marks as sent from another site (`Sec-Fetch-Site`). `SameSite=Strict` keeps other *sites'* pages from
  sending the cookie, but a page on a sibling sub-domain or on another port of the same host is the same site;
  this check stops it, preflights included, before Gradio's own CORS handling (which echoes any origin with
  credentials) sees the request.
- **Only the Gradio routes the chat page uses** (`GRADIO_ROUTES`: its queue, heartbeats and start-up events) are
  served; any other `/gradio_api/...` route (file uploads, direct calls, the API description, streams, run
  history) is 403 `route_not_allowed`, whoever asks. The page has no upload component, so nobody may write files
  into Gradio's temporary folder.

A key signs in to the pages when it has the `ask` or `approve` scope (or `admin`): a `run` key is an MES's, not a
person's. Sign-ins and sign-outs go into the audit log under the key's id; so do the page's questions and
decisions (`workflows.service.chat`). OIDC single sign-on is not built: a yard that has it can put its proxy
in front and hand out keys.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Final
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import delete, insert, select
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from workflows.service._http import ApiMethods
from workflows.service._tables import API_KEYS, SESSIONS
from workflows.service.errors import Unauthorized, error_body
from workflows.service.keys import KeyStore, Principal
from workflows.service.store import Store, now

__all__ = [
    "COOKIE",
    "PAGE_SCOPES",
    "PUBLIC",
    "SESSIONS",
    "SessionGate",
    "SignIn",
    "install_signin",
    "principal_of",
    "signed_in",
]

log = logging.getLogger(__name__)

COOKIE: Final = "shipbrain_session"
"""The session cookie's name."""
PAGE_SCOPES: Final = ("ask", "approve")
"""A key with one of these (or admin) may sign in to the pages."""
PUBLIC: Final = frozenset({"/healthz", "/docs", "/redoc", "/openapi.json", "/signin", "/signout"})
"""Paths served without a session (besides those under `PUBLIC_PREFIXES`)."""
PUBLIC_PREFIXES: Final = ("/v1/", "/docs/", "/static/docs/")
"""Path starts served without a session: the API (its own keys) and the API docs' files."""
_FORM_BYTES: Final = 4096
"""A sign-in form is a key and a path: more than this is not one."""
_STATE: Final = "shipbrain_principal"
"""Where the gate leaves the request's principal (the ASGI scope's `state`)."""
GRADIO: Final = "/gradio_api/"
"""Where Gradio's API starts in a path (below the page's mount)."""
GRADIO_ROUTES: Final[Mapping[str, tuple[str, ...]]] = {
    "GET": ("queue/data", "heartbeat/", "startup-events"),
    "POST": ("queue/join", "cancel", "reset"),
}
"""The Gradio API routes the chat page calls, by method (a route ending in `/` is a prefix); HEAD is GET's."""
_SAFE_METHODS: Final = frozenset({"GET", "HEAD"})
_SAME_SITE_FETCHES: Final = frozenset({"same-origin", "none"})
"""`Sec-Fetch-Site` values of a request this site's own pages (or the user, typing a URL) made."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _page_key(principal: Principal) -> bool:
    return any(principal.allows(scope) for scope in PAGE_SCOPES)


def _public(path: str) -> bool:
    return path in PUBLIC or path.startswith(PUBLIC_PREFIXES)


def _next(target: str | None) -> str:
    """Where to go after signing in: a path of this site, never another site's (`//evil`, a backslash, `https:`).

    Whitespace and control characters are refused too: a browser drops a tab or a newline from a URL, so
    `/<tab>/evil` would be `//evil` to it.
    """
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(c.isspace() or not c.isprintable() for c in target):
        return "/"
    return target


class SignIn:
    """API keys turned into page sessions, and back: who a page request comes from.

    Args:
        store: the service's store (its database holds the sessions and the audit log).
        keys: the service's API keys.
        lifetime_s: how long a session lasts after signing in, in seconds.
    """

    def __init__(self, store: Store, keys: KeyStore, *, lifetime_s: float = 12 * 3600) -> None:
        self.store, self.keys, self.lifetime_s = store, keys, lifetime_s

    # ---- keys and sessions ------------------------------------------------------------------------------

    def key(self, token: str) -> Principal | None:
        """The principal of an API key that may use the pages, else None (unknown, revoked, or no page scope)."""
        principal = self.keys.authenticate(token)
        return principal if principal is not None and _page_key(principal) else None

    def open(self, principal: Principal) -> str:
        """A new session for `principal`; returns its token (the cookie's value: the only place it exists)."""
        token = secrets.token_urlsafe(32)
        at = now()
        row = {
            "hash": _hash(token),
            "key_id": principal.key_id,
            "created_at": at,
            "expires_at": at + timedelta(seconds=self.lifetime_s),
        }
        with self.store.engine.begin() as conn:
            conn.execute(delete(SESSIONS).where(SESSIONS.c.expires_at <= at))  # the ended ones, while here
            conn.execute(insert(SESSIONS).values(row))
            who = principal.key_id
            self.store.audit(conn, who, "page.signin", who, {"name": principal.name}, actor_label=principal.name)
        return token

    def close(self, token: str) -> Principal | None:
        """End a session; returns whose it was (None: no such session)."""
        principal = self.session(token)
        with self.store.engine.begin() as conn:
            conn.execute(delete(SESSIONS).where(SESSIONS.c.hash == _hash(token)))
            if principal is not None:
                who = principal.key_id
                self.store.audit(conn, who, "page.signout", who, {"name": principal.name}, actor_label=principal.name)
        return principal

    def session(self, token: str) -> Principal | None:
        """The principal of a session token: its key, as the key is now; None if it ended or the key is revoked."""
        if not token or len(token) > 100:
            return None
        joined = SESSIONS.join(API_KEYS, SESSIONS.c.key_id == API_KEYS.c.id)
        query = (
            select(API_KEYS.c.id, API_KEYS.c.name, API_KEYS.c.scopes)
            .select_from(joined)
            .where(SESSIONS.c.hash == _hash(token), SESSIONS.c.expires_at > now(), API_KEYS.c.revoked_at.is_(None))
        )
        with self.store.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        principal = Principal(row.id, row.name, frozenset(row.scopes.split(",")))
        return principal if _page_key(principal) else None

    def principal(self, key_id: str) -> Principal | None:
        """The key `key_id` as it is now (None: unknown or revoked): what an action on a page is checked against."""
        query = select(API_KEYS).where(API_KEYS.c.id == key_id, API_KEYS.c.revoked_at.is_(None))
        with self.store.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else Principal(row.id, row.name, frozenset(row.scopes.split(",")))

    def of(self, headers: Mapping[str, str]) -> Principal | None:
        """Who a request comes from, by its headers: its session cookie, else an API key sent as on the API."""
        cookies = cookie_parser(headers.get("cookie", ""))
        if cookies.get(COOKIE):
            return self.session(cookies[COOKIE])
        bearer = headers.get("authorization", "")
        token = bearer[7:].strip() if bearer[:7].lower() == "bearer " else headers.get("x-api-key", "")
        return self.key(token) if token else None

    def of_scope(self, scope: Scope) -> Principal | None:
        """Who a request's session cookie signs in (None: no cookie, or a session that ended): the rate limits' key."""
        headers = Headers(scope=scope)
        if COOKIE not in headers.get("cookie", ""):
            return None  # no database read for a request without a session
        token = cookie_parser(headers["cookie"]).get(COOKIE)
        return self.session(token) if token else None

    def audit(self, principal: Principal, action: str, target: str, params: Mapping[str, object]) -> None:
        """An audit entry of something done on a page, under the key's id, its name as the label (as the API's)."""
        self.store.audit_now(principal.key_id, action, target, {**params, "via": "page"}, actor_label=principal.name)

    # ---- the pages ------------------------------------------------------------------------------------------

    def router(self) -> APIRouter:
        """`GET|POST /signin` and `GET|POST /signout`."""
        router = APIRouter(include_in_schema=False)

        @router.get("/signin")
        async def signin_page(request: Request) -> Response:
            return _page(_form(_next(request.query_params.get("next")), ""))

        @router.post("/signin")
        async def signin(request: Request) -> Response:
            refused = _cross_site(request)
            if refused is not None:
                return refused
            form = await _read_form(request)
            if form is None:
                return _page(_form("/", "Send the form of this page."), status=400)
            target = _next(form.get("next"))
            principal = await run_in_threadpool(self.key, form.get("key", "").strip())
            if principal is None:
                client = request.client.host if request.client else "?"
                log.warning("page sign-in refused from %s", client)
                message = (
                    "That key is unknown or revoked, or has neither the ask nor the approve scope. "
                    "Sign in with an API key for people (shipbrain keys create --scopes ask,approve)."
                )
                return _page(_form(target, message), status=401)
            token = await run_in_threadpool(self.open, principal)
            response = RedirectResponse(target, status_code=303)
            response.set_cookie(
                COOKIE,
                token,
                max_age=int(self.lifetime_s),
                path="/",
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
            )
            return response

        @router.get("/signout")
        async def signout_page(request: Request) -> Response:
            principal = await run_in_threadpool(self.of, request.headers)
            if principal is None:
                return RedirectResponse("/signin", status_code=303)
            who = html.escape(f"{principal.name} ({principal.key_id})")
            body = (
                f"<p>Signed in as <b>{who}</b>.</p><form method='post' action='/signout'>"
                "<button type='submit' id='shipbrain-signout'>Sign out</button></form>"
                "<p><a href='/'>Back to the chat</a></p>"
            )
            return _page(body)

        @router.post("/signout")
        async def signout(request: Request) -> Response:
            refused = _cross_site(request)
            if refused is not None:
                return refused
            token = cookie_parser(request.headers.get("cookie", "")).get(COOKIE)
            if token:
                await run_in_threadpool(self.close, token)
            response = RedirectResponse("/signin", status_code=303)
            response.delete_cookie(
                COOKIE, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https"
            )
            return response

        return router


def same_origin(origin: str, host: str | None) -> bool:
    """Whether an `Origin` header names the site a request's `Host` header names (`null` names none).

    The host and port alone, not the scheme: behind a proxy that ends TLS the app may see http where the browser
    said https. A default port (80 for http, 443 for https) may be left out on either side.
    """
    scheme, sep, netloc = origin.strip().lower().partition("://")
    if not sep or not netloc or host is None or "/" in netloc:
        return False
    default = {"http": ":80", "https": ":443"}.get(scheme, "")
    return netloc.removesuffix(default) == host.strip().lower().rstrip(".").removesuffix(default)


def _cross_site(request: Request) -> Response | None:
    """A 403 for a form posted from another site's page (its `Origin` is not this site), else None.

    So no other site's page signs a planner in under someone else's key, or out.
    """
    origin = request.headers.get("origin")
    if origin is None or same_origin(origin, request.headers.get("host")):
        return None
    return _page("<p>Refused: this form was sent from another site.</p>", status=403)


async def _read_form(request: Request) -> dict[str, str] | None:
    """The fields of a small url-encoded form (None: not such a form, or too long)."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _FORM_BYTES:
            return None
    try:
        fields = parse_qs(body.decode(), max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        return None
    return {name: values[0] for name, values in fields.items()}


def _form(target: str, message: str) -> str:
    said = f"<p class='bad' id='shipbrain-signin-error'>{html.escape(message)}</p>" if message else ""
    return (
        "<p>Sign in with your API key. It stays on the server: the browser keeps only a session.</p>"
        f"{said}<form method='post' action='/signin'>"
        f"<input type='hidden' name='next' value='{html.escape(target, quote=True)}'>"
        "<label>API key <input type='password' name='key' id='shipbrain-key' autocomplete='current-password' "
        "required size='50'></label> <button type='submit' id='shipbrain-signin'>Sign in</button></form>"
        "<p>A key for the page has the <code>ask</code> scope (and <code>approve</code> to decide plan changes): "
        "<code>shipbrain keys create --name NAME --scopes ask,approve</code>.</p>"
    )


_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # not no-referrer: the form's Origin would be "null", refused as another site
}


def _page(body: str, status: int = 200) -> HTMLResponse:
    document = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Shipbrain: sign in</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2em}.bad{color:#cf222e}</style></head>"
        f"<body><h1>Shipbrain</h1>{body}</body></html>"
    )
    return HTMLResponse(document, status_code=status, headers=_HEADERS)


def _foreign(method: str, headers: Mapping[str, str]) -> str | None:
    """Why a page request comes from another origin's page (None: it does not, or no browser says so)."""
    origin = headers.get("origin")
    if origin is not None and not same_origin(origin, headers.get("host")):
        return f"requests from {origin[:100]!r} are refused: the pages answer their own origin only"
    fetched_from = headers.get("sec-fetch-site")
    if method not in _SAFE_METHODS and fetched_from is not None and fetched_from not in _SAME_SITE_FETCHES:
        return f"a {method} sent from another site's page ({fetched_from}) is refused"
    return None


def gradio_route_allowed(method: str, path: str) -> bool:
    """Whether `path` is outside Gradio's API or one of its routes the chat page calls with `method`."""
    at = path.find(GRADIO)
    if at < 0:
        return True
    route = path[at + len(GRADIO) :]
    allowed = GRADIO_ROUTES.get("GET" if method == "HEAD" else method, ())
    return any(route.startswith(r) if r.endswith("/") else route == r for r in allowed)


def _refused(status: int, kind: str, message: str) -> Response:
    return Response(
        json.dumps(error_body(kind, message)),
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


class SessionGate:
    """ASGI middleware: a request outside `PUBLIC` goes on only with a session (or a page key); see the module.

    Before the session is looked up, a request from another origin's page is refused (403 `cross_origin`); after
    it, a Gradio route the chat page does not use (403 `route_not_allowed`). The request's principal is left in the
    scope's state for what serves it (`signed_in`, the chat page).
    """

    def __init__(self, app: ASGIApp, signin: SignIn) -> None:
        self.app = app
        self.signin = signin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass a public or signed-in request on; send a browser to /signin and refuse anything else (401)."""
        if scope["type"] not in ("http", "websocket") or _public(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        method = scope.get("method", "GET")
        foreign = _foreign(method, headers)
        if foreign is not None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            else:
                await _refused(403, "cross_origin", foreign)(scope, receive, send)
            return
        principal = await run_in_threadpool(self.signin.of, headers)
        if principal is not None:
            if not gradio_route_allowed(method, scope["path"]):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                message = f"{method} {scope['path']} is not served: the chat page does not use it"
                await _refused(403, "route_not_allowed", message)(scope, receive, send)
                return
            scope.setdefault("state", {})[_STATE] = principal
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        wants_page = scope["method"] in ("GET", "HEAD") and "text/html" in headers.get("accept", "")
        if wants_page:
            path = scope["path"] + (f"?{scope['query_string'].decode('latin-1')}" if scope["query_string"] else "")
            response: Response = RedirectResponse(f"/signin?next={quote(path, safe='/')}", status_code=303)
        else:
            response = _refused(401, "not_signed_in", "sign in at /signin (or send an API key with the ask scope)")
        await response(scope, receive, send)


def install_signin(app: FastAPI, store: Store, keys: KeyStore, *, lifetime_s: float = 12 * 3600) -> SignIn:
    """Put the service's pages behind a sign-in: the sign-in pages, and the gate in front of everything else.

    Install it before the pages are mounted (the chat page reads it from the returned `SignIn`); the gate covers
    them wherever they are mounted, since it stands in front of the whole app.

    Besides the gate, two guards of what is mounted at "/" go in here, since the gate is what stands in front of
    it: a CORS policy that allows no origin (behind the gate, so the gate's 403 comes first; its presence also turns
    off Gradio's own CORS handling, which would echo any origin with credentials), and `ApiMethods` in front of
    the gate, so HEAD and OPTIONS on the API's paths get the API's answer (405 with `Allow`, or the GET without
    its body) rather than the chat page's 404.
    """
    signin = SignIn(store, keys, lifetime_s=lifetime_s)
    app.state.signin = signin
    app.include_router(signin.router())
    app.add_middleware(CORSMiddleware, allow_origins=[])
    app.add_middleware(SessionGate, signin=signin)
    app.add_middleware(ApiMethods)
    return signin


async def principal_of(request: Request, signin: SignIn | None = None) -> Principal | None:
    """Who a page request comes from: the gate's finding, else its own session or key (None: nobody signed in).

    Args:
        request: the request.
        signin: the service's sign-in [default: the app's, `install_signin`; a mounted app such as Gradio's is
            not the service's app, so it passes its own].
    """
    principal = request.scope.get("state", {}).get(_STATE)
    if isinstance(principal, Principal):
        return principal
    signin = signin or getattr(request.app.state, "signin", None)
    return await run_in_threadpool(signin.of, request.headers) if isinstance(signin, SignIn) else None


async def signed_in(request: Request) -> Principal:
    """A FastAPI dependency for a page's routes: who is signed in.

    Raises:
        Unauthorized: nobody is (the gate sends browsers to /signin before this).
    """
    principal = await principal_of(request)
    if principal is None:
        raise Unauthorized("sign in at /signin", kind="not_signed_in")
    return principal
