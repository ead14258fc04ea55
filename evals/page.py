"""The eval runs page: past `shipbrain eval run` results, newest first, each opening its HTML report.

`evals` contributes it to the service through the service's extension point (the `shipbrain.service` entry
point `evals`, see `workflows.service.extensions`): the server serves it beside the chat page (`/evals`), read
from `DATA_DIR/evals/runs` (where `shipbrain eval run` writes when given no `--out`). Like the chat page it is for
signed-in keys only (`workflows.service.signin`: the service's gate refuses it without a session, and its routes
ask who is signed in again, so the page stays closed on an app without the gate). Reports are self-contained HTML
files the runner wrote; only directories under the runs folder that hold a `summary.json` can be opened.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import FileResponse, HTMLResponse

from knowledge.settings import Settings
from workflows.service.errors import NotFound
from workflows.service.signin import signed_in

if TYPE_CHECKING:
    from evals.runner import RunSummary

__all__ = ["add_evals_page", "runs_root"]


def runs_root(settings: Settings) -> Path:
    """Where eval runs are listed from."""
    return settings.data_dir / "evals" / "runs"


def add_evals_page(app: FastAPI, settings: Settings) -> None:
    """Add `GET /evals` (the list) and `GET /evals/runs/{name}/{report.html|compare.html}` to the app."""
    router = APIRouter(include_in_schema=False, dependencies=[Depends(signed_in)])
    root = runs_root(settings)

    @router.get("/evals", response_class=HTMLResponse)
    def evals_page() -> str:
        from evals.runner import list_runs  # on the first visit: the service starts without the eval runner

        runs = list_runs(root) if root.is_dir() else []
        body = "".join(_row(run) for run in runs) or _NO_RUNS
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


def _row(run: RunSummary) -> str:
    """One run's line of the table: its report, suite, time, models, outcome and (if any) its comparison."""
    name = html.escape(Path(run.run_dir).name)
    models = ", ".join(f"{model} {version}" for model, version in run.models.items())
    has_compare = (Path(run.run_dir) / "compare.html").exists()
    cells = [
        f"<a href='/evals/runs/{name}/report.html'>{name}</a>",
        html.escape(run.suite),
        html.escape(run.created),
        html.escape(models),
        f"{run.passed}/{run.cases}",
        str(run.errors),
    ]
    gate = f"<td class='{'ok' if run.ok else 'bad'}'>{'pass' if run.ok else 'FAIL'}</td>"
    after = [
        "replay" if run.replay else "recorded",
        f"{run.seconds:.1f} s",
        f"<a href='/evals/runs/{name}/compare.html'>compare</a>" if has_compare else "",
    ]
    return "<tr>" + _cells(cells) + gate + _cells(after) + "</tr>"


def _cells(values: list[str]) -> str:
    return "".join(f"<td>{value}</td>" for value in values)


_NO_RUNS = "<tr><td colspan='10'>No runs yet: <code>shipbrain eval run SUITE</code></td></tr>"

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Shipbrain: eval runs</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border-bottom:1px solid #ddd;padding:.35em .8em;text-align:left}}
.ok{{color:#1a7f37}}.bad{{color:#cf222e;font-weight:bold}}</style></head><body><h1>Eval runs</h1>
<p>Runs in <code>{root}</code>, newest first. <a href="/">Back to the chat</a>.</p>
<table><tr><th>run</th><th>suite</th><th>created</th><th>models</th><th>passed</th><th>errors</th><th>gate</th>
<th>model calls</th><th>time</th><th></th></tr>{rows}</table></body></html>"""
