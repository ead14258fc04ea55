"""What a signed-in browser's cookie may be used for (review of 2026-12-02, findings 12 and 13).

Was (12): any signed-in page key, an ask-only one too, could POST files to `/gradio_api/upload` (into Gradio's temp
folder), though the page has no upload component; and since a multipart POST needs no preflight and no Origin was
checked, a page on the same site (another port of the host, a sibling sub-domain: `SameSite=Strict` lets their
requests carry the cookie) could do it with a victim's cookie. Was (13): Gradio's CORS middleware answers any origin
with `Access-Control-Allow-Origin: <it>` and `Allow-Credentials: true` when the host is not a loopback name, and any
loopback origin when it is, so such a page could read the page's config and drive its queue with the victim's
session. Now the gate refuses every request from another origin (403 `cross_origin`, preflights included, before
Gradio sees it), a parent CORS policy allowing no origin turns Gradio's off, and only the Gradio routes the page
uses are served (403 `route_not_allowed`). Real parts: the page under uvicorn on loopback, real HTTP, Chromium.
"""

from __future__ import annotations

import json
import tempfile
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tests.service.chat_page import MARKS, Site, browse, page_config, queue_call
from tests.service.chat_page import signed_in as cookie_of

pytestmark = MARKS

QUESTION = "What must be done before B003?"


def _origin(site: Site) -> str:
    return site.url.rstrip("/")


def _uploaded(name: str) -> list[Path]:
    """Files of that name in Gradio's upload folder (GRADIO_TEMP_DIR, else the system's temp folder's gradio/)."""
    import os

    root = Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio")
    return list(root.rglob(name)) if root.exists() else []


def test_no_key_may_upload_files_and_unused_gradio_routes_are_closed(site: Site) -> None:
    name = f"gate-{uuid.uuid4().hex}.txt"
    with httpx.Client(base_url=site.url, timeout=60) as client:
        for who in ("asker", "planner"):
            for headers in (cookie_of(site.url, site.tokens[who]), {"Authorization": f"Bearer {site.tokens[who]}"}):
                upload = client.post("/gradio_api/upload", files={"files": (name, b"x" * 1000)}, headers=headers)
                assert upload.status_code == 403, (who, upload.text)
                assert upload.json()["error"]["type"] == "route_not_allowed"
        assert _uploaded(name) == []
        cookie = cookie_of(site.url, site.tokens["planner"])
        for method, path in (
            ("GET", "/gradio_api/info"),
            ("GET", "/gradio_api/upload_progress?upload_id=x"),
            ("POST", "/gradio_api/call/v2/x"),
            ("POST", "/gradio_api/run/predict"),
            ("POST", "/gradio_api/process_recording"),
        ):
            refused = client.request(method, path, headers=cookie, json={})
            assert refused.status_code == 403, (method, path, refused.text)
        # what the page uses stays open
        assert client.get("/config", headers=cookie).status_code == 200
        with client.stream("GET", "/gradio_api/heartbeat/abc", headers=cookie) as beating:  # a stream: not read
            assert beating.status_code == 200
        # and without a session it is the sign-in's 401 as before
        assert client.post("/gradio_api/upload", files={"files": (name, b"x")}).status_code == 401


def test_a_cross_origin_post_with_the_victims_cookie_is_refused(site: Site) -> None:
    cookie = cookie_of(site.url, site.tokens["planner"])
    config = page_config(site.url, cookie)
    audited = len(site.store.audit_entries())
    for foreign in ({"Origin": "http://127.0.0.1:9999"}, {"Origin": "null"}, {"Sec-Fetch-Site": "same-site"}):
        session = uuid.uuid4().hex[:11]
        joined, outcome = queue_call(
            site.url, config, "shipbrain-ask", [QUESTION, None], session_hash=session, headers={**cookie, **foreign}
        )
        assert joined.status_code == 403, (foreign, outcome)
        assert joined.json()["error"]["type"] == "cross_origin"
    with httpx.Client(base_url=site.url, timeout=60) as client:  # the upload of the review, from another port
        upload = client.post(
            "/gradio_api/upload",
            files={"files": ("a.txt", b"x")},
            headers={**cookie, "Origin": "http://127.0.0.1:9999"},
        )
        assert upload.status_code == 403 and upload.json()["error"]["type"] == "cross_origin"
    assert len(site.store.audit_entries()) == audited, "a refused question was asked"

    # the page's own origin (and a script that sends none) is served
    session = uuid.uuid4().hex[:11]
    own = {**cookie, "Origin": _origin(site), "Sec-Fetch-Site": "same-origin"}
    joined, outcome = queue_call(site.url, config, "shipbrain-ask", [QUESTION, None], session_hash=session, headers=own)
    assert joined.status_code == 200 and outcome is not None and outcome["success"], outcome
    assert len(site.store.audit_entries()) == audited + 1


def test_a_sibling_origin_gets_no_cors_grant(site: Site) -> None:
    """A page on evil.yard.example against the service at planner.yard.example (a host Gradio's CORS trusted)."""
    cookie = cookie_of(site.url, site.tokens["planner"])
    host = {"Host": "planner.yard.example"}
    sibling = {"Origin": "https://evil.yard.example"}
    with httpx.Client(base_url=site.url, timeout=60) as client:
        preflight = client.options(
            "/gradio_api/queue/join",
            headers={
                **host,
                **sibling,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status_code == 403, preflight.text
        read = client.get("/config", headers={**host, **sibling, **cookie})
        assert read.status_code == 403, "the sibling page read the page's config with the victim's session"
        for answer in (preflight, read):
            assert "access-control-allow-origin" not in answer.headers
            assert "access-control-allow-credentials" not in answer.headers
        # the same request from the page's own origin is served, and grants no other origin anything
        own = client.get("/config", headers={**host, "Origin": "https://planner.yard.example", **cookie})
        assert own.status_code == 200 and "access-control-allow-origin" not in own.headers


class _Attacker(BaseHTTPRequestHandler):
    """Serves a page (another port of 127.0.0.1: the same site as the service) that tries the attacks."""

    page = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(self.page)))
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, *args: Any) -> None:
        pass


ATTACK = """
async (site) => {
  const out = {};
  try {  // a credentialed read: needs the service to grant this origin
    const r = await fetch(site + '/config', {credentials: 'include'});
    out.read = r.status;
  } catch (e) { out.read = 'blocked'; }
  try {  // a JSON POST: preflighted
    const r = await fetch(site + '/gradio_api/queue/join', {method: 'POST', credentials: 'include',
      headers: {'content-type': 'application/json'}, body: '{}'});
    out.join = r.status;
  } catch (e) { out.join = 'blocked'; }
  const form = new FormData();  // a multipart POST: no preflight, the response unread
  form.append('files', new Blob(['owned']), NAME);
  await fetch(site + '/gradio_api/upload', {method: 'POST', credentials: 'include', mode: 'no-cors', body: form});
  return out;
}
"""


def test_a_same_site_page_in_a_browser_can_neither_read_nor_upload(site: Site) -> None:
    name = f"gate-{uuid.uuid4().hex}.txt"
    handler = type("Attacker", (_Attacker,), {"page": b"<!doctype html><title>another port</title><p>hello</p>"})
    attacker = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    try:
        with browse(site) as tab:  # the victim signs in, then visits a page on another port of the same host
            tab.goto(f"http://127.0.0.1:{attacker.server_address[1]}/")
            found = tab.evaluate(ATTACK.replace("NAME", json.dumps(name)), _origin(site))
    finally:
        attacker.shutdown()
        attacker.server_close()
    # before: the read was 200 (Gradio granted the loopback origin, credentials too); only the preflight's 401 (no
    # cookie on a preflight) stopped the join
    assert found == {"read": "blocked", "join": "blocked"}, found
    assert _uploaded(name) == [], "the other page's upload was stored"
