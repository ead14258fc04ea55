"""The eval runs page beside the chat: it lists the runs `shipbrain eval run` wrote and opens their reports, to
signed-in keys only (as the chat page)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from evals.page import runs_root
from evals.runner import run_suite
from evals.suite import load_suite
from knowledge import Settings
from tests.service.conftest import service_settings
from workflows.service import KeyStore, create_app

SMOKE = Path(__file__).resolve().parents[2] / "evals" / "suites" / "smoke.yaml"


def test_runs_are_listed_and_their_reports_open(tmp_path: Path, small_yard: Path) -> None:
    settings = Settings(data_dir=tmp_path, executor="in-process")
    (tmp_path / "evals" / "yards").mkdir(parents=True)  # the smoke suite's yard, already generated
    (tmp_path / "evals" / "yards" / "yard-20000-s1").symlink_to(small_yard.resolve(), target_is_directory=True)
    app = create_app(settings, small_yard, chat=False, start_workers=False, service=service_settings())
    with TestClient(app) as client:
        # not signed in: a browser is sent to sign in, anything else refused; a report neither
        page = client.get("/evals", headers={"Accept": "text/html"}, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/signin?next=/evals"
        assert client.get("/evals").status_code == 401
        assert client.get("/evals/runs/nothing/report.html").status_code == 401
        _, token = KeyStore(app.state.service.store).create("engineer.ben", "ask", actor="test")
        signed = client.post("/signin", data={"key": token, "next": "/evals"}, follow_redirects=False)
        assert signed.status_code == 303 and signed.headers["location"] == "/evals"
        empty = client.get("/evals")
        assert empty.status_code == 200 and "No runs yet" in empty.text
        assert client.get("/evals/runs/nothing/report.html").status_code == 404
        assert client.get("/evals/runs/..%2F..%2Fetc/report.html").status_code == 404
        assert client.get("/evals/runs/x/summary.json").status_code == 404
        summary = run_suite(load_suite(SMOKE), runs_root(settings) / "smoke-1", settings=settings)
        page = client.get("/evals")
        assert "smoke-1" in page.text and f"{summary.passed}/{summary.cases}" in page.text
        report = client.get("/evals/runs/smoke-1/report.html")
        assert report.status_code == 200 and "<img" in report.text and summary.suite in report.text


def test_the_page_stays_closed_on_an_app_without_the_sign_in(tmp_path: Path) -> None:
    """Its routes ask who is signed in themselves: mounted on a bare app (no gate in front), nobody is."""
    from fastapi import FastAPI

    from evals.page import add_evals_page
    from workflows.service._http import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)
    add_evals_page(app, Settings(data_dir=tmp_path))
    with TestClient(app) as client:
        refused = client.get("/evals")
        assert refused.status_code == 401 and refused.json()["error"]["type"] == "not_signed_in"
