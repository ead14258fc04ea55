"""The eval runs page beside the chat: it lists the runs `shipbrain eval run` wrote and opens their reports."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from evals.page import runs_root
from evals.runner import run_suite
from evals.suite import load_suite
from knowledge import Settings
from tests.service.conftest import service_settings
from workflows.service import create_app

SMOKE = Path(__file__).resolve().parents[2] / "evals" / "suites" / "smoke.yaml"


def test_runs_are_listed_and_their_reports_open(tmp_path: Path, small_yard: Path) -> None:
    settings = Settings(data_dir=tmp_path, executor="in-process")
    (tmp_path / "evals" / "yards").mkdir(parents=True)  # the smoke suite's yard, already generated
    (tmp_path / "evals" / "yards" / "yard-20000-s1").symlink_to(small_yard.resolve(), target_is_directory=True)
    app = create_app(settings, small_yard, chat=False, start_workers=False, service=service_settings())
    with TestClient(app) as client:
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
