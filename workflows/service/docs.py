"""The API's documentation pages, `/docs` (Swagger UI) and `/redoc` (ReDoc), served from packaged files.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so on a network without internet (a shipyard's network
is often one) `/docs` stays blank. The JavaScript, CSS and icon come from the `fastapi-offline` package instead
(its `static` folder, mounted at `/static/docs`), and ReDoc is asked not to fetch Google Fonts. A Content Security
Policy on both pages keeps the browser on this server: ReDoc's side menu would fetch Redocly's logo from its CDN
(an image that hides itself when it fails), which the policy stops before it leaves the browser.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["CONTENT_SECURITY_POLICY", "DOCS_FILES", "STATIC_URL", "mount_docs"]

STATIC_URL: Final = "/static/docs"
"""Where the pages' files are served."""
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'"
)
"""The pages load from this server only (their inline start-up script and styles included)."""


def _local_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page


def _files() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


DOCS_FILES: Final = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")
"""The files the pages load, all from `STATIC_URL`."""


def mount_docs(app: FastAPI, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Serve Swagger UI at `docs_url` and ReDoc at `redoc_url` from packaged files.

    The app must be made with `docs_url=None, redoc_url=None` (FastAPI's CDN pages off).
    """
    files = _files()
    missing = [name for name in DOCS_FILES if not (files / name).is_file()]
    if missing:
        raise FileNotFoundError(f"the API docs' files are missing from {files}: {', '.join(missing)}")
    app.mount(STATIC_URL, StaticFiles(directory=files), name="docs-static")
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect = f"{docs_url}/oauth2-redirect"

    @app.get(docs_url, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _local_only(
            get_swagger_ui_html(
                openapi_url=f"{root}{openapi_url}",
                title=f"{app.title} API",
                oauth2_redirect_url=f"{root}{oauth2_redirect}",
                swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
                swagger_favicon_url=f"{root}{STATIC_URL}/favicon.png",
                swagger_ui_parameters={"validatorUrl": None},  # the validator badge would call validator.swagger.io
            )
        )

    @app.get(oauth2_redirect, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(redoc_url, include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _local_only(
            get_redoc_html(
                openapi_url=f"{root}{openapi_url}",
                title=f"{app.title} API",
                redoc_js_url=f"{root}{STATIC_URL}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{STATIC_URL}/favicon.png",
                with_google_fonts=False,
            )
        )
