"""The eval runs page: past `shipbrain eval run` results, newest first, each opening its HTML report.

Served by the same server beside the chat page (`/evals`), read from `DATA_DIR/evals/runs` (where
`shipbrain eval run` writes when given no `--out`). Like the chat page it has no login of its own: the
server listens on 127.0.0.1 by default and the API keys guard `/v1`. Reports are self-contained HTML files
the runner wrote; only directories under the runs folder that hold a `summary.json` can be opened.
"""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, HTMLResponse

from knowledge.settings import Settings
from workflows.service.errors import NotFound

__all__ = ["add_evals_page", "runs_root"]


def runs_root(settings: Settings) -> Path:
    """Where eval runs are listed from."""
    return settings.data_dir / "evals" / "runs"


def add_evals_page(app: FastAPI, settings: Settings) -> None:
    """Add `GET /evals` (the list) and `GET /evals/runs/{name}/{report.html|compare.html}` to the app."""
    router = APIRouter(include_in_schema=False)
    root = runs_root(settings)

    @router.get("/evals", response_class=HTMLResponse)
    def evals_page() -> str:
        from evals.runner import list_runs

        runs = list_runs(root) if root.is_dir() else []
        rows = []
        for run in runs:
            name = Path(run.run_dir).name
            compare = Path(run.run_dir) / "compare.html"
            models = ", ".join(f"{k} {v}" for k, v in run.models.items())
            rows.append(
                "<tr>"
                f"<td><a href='/evals/runs/{html.escape(name)}/report.html'>{html.escape(name)}</a></td>"
                f"<td>{html.escape(run.suite)}</td><td>{html.escape(run.created)}</td>"
                f"<td>{html.escape(models)}</td><td>{run.passed}/{run.cases}</td><td>{run.errors}</td>"
                f"<td class='{'ok' if run.ok else 'bad'}'>{'pass' if run.ok else 'FAIL'}</td>"
                f"<td>{'replay' if run.replay else 'recorded'}</td><td>{run.seconds:.1f} s</td>"
                + (f"<td><a href='/evals/runs/{html.escape(name)}/compare.html'>compare</a></td>" if compare.exists()
                   else "<td></td>")
                + "</tr>"
            )  # fmt: skip
        body = "".join(rows) or "<tr><td colspan='10'>No runs yet: <code>shipbrain eval run SUITE</code></td></tr>"
        return _PAGE.format(root=html.escape(str(root)), rows=body)

    @router.get("/evals/runs/{name}/{page}")
    def run_page(name: str, page: str) -> FileResponse:
        if page not in ("report.html", "compare.html") or "/" in name or name.startswith("."):
            raise NotFound(f"no page {page!r} of run {name!r}")
        run = root / name
        target = run / page
        if not (run / "summary.json").is_file() or not target.is_file() or run.resolve().parent != root.resolve():
            raise NotFound(f"no {page} for eval run {name!r} under {root}")
        return FileResponse(target, media_type="text/html")

    app.include_router(router)


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Shipbrain: eval runs</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border-bottom:1px solid #ddd;padding:.35em .8em;text-align:left}}
.ok{{color:#1a7f37}}.bad{{color:#cf222e;font-weight:bold}}</style></head><body><h1>Eval runs</h1>
<p>Runs in <code>{root}</code>, newest first. <a href="/">Back to the chat</a>.</p>
<table><tr><th>run</th><th>suite</th><th>created</th><th>models</th><th>passed</th><th>errors</th><th>gate</th>
<th>model calls</th><th>time</th><th></th></tr>{rows}</table></body></html>"""
