"""`shipbrain workflow` through its Typer app (the installed script is tested with the service)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from knowledge.settings import get_settings
from workflows.cli import workflow_app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SHIPBRAIN_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_list_and_describe() -> None:
    listed = runner.invoke(workflow_app, ["list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [w["name"] for w in json.loads(listed.stdout)][-1] == "weld-inspection-plan"
    table = runner.invoke(workflow_app, ["list"])
    assert table.exit_code == 0 and "reschedule" in table.stdout
    described = runner.invoke(workflow_app, ["describe", "block-readiness"])
    assert described.exit_code == 0
    schema = json.loads(described.stdout)
    assert schema["version"] == "1" and "reports" in schema["request_schema"]["properties"]


def test_run_prints_json_and_progress(small_yard: Path, tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"code": "B002", "budget": {"joints": 4}}))
    args = ["run", "weld-inspection-plan", "--input", str(request), "--yard", str(small_yard)]
    done = runner.invoke(workflow_app, [*args, "--json"])
    assert done.exit_code == 0, done.output
    envelope = json.loads(done.stdout)
    assert envelope["workflow"] == "weld-inspection-plan" and envelope["version"] == "1"
    assert envelope["result"]["joints_inspected"] == 4
    assert "weld-inspection-plan: welding model" in done.stderr
    table = runner.invoke(workflow_app, args)
    assert table.exit_code == 0 and "inspect 4 of" in table.stdout and "J002-" in table.stdout


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("weld-inspection-plan", '{"code": "B002", "budget": {"share": 3}}', "budget.share: Input should be less"),
        ("weld-inspection-plan", "{not json", "is not JSON"),
        ("weld-inspection-plan", "[1, 2]", "must be a JSON object"),
        ("weld-plan", "{}", "no workflow 'weld-plan'"),
        ("block-readiness", '{"block": "B999"}', "block-readiness: block:"),
    ],
)
def test_errors_are_one_line_and_exit_2(small_yard: Path, tmp_path: Path, name: str, body: str, message: str) -> None:
    request = tmp_path / "request.json"
    request.write_text(body)
    failed = runner.invoke(workflow_app, ["run", name, "--input", str(request), "--yard", str(small_yard)])
    assert failed.exit_code == 2
    lines = failed.stderr.strip().splitlines()  # progress lines of the steps that ran, then one error line
    assert lines[-1].startswith("error: ") and message in lines[-1]
    assert all(line.startswith("[") for line in lines[:-1]) and failed.stdout == ""
