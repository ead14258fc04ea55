"""Evals on a third, sparse yard (tests/helpers/third_yard.py): work package ids with spaces and unicode, no crane,
no actuals. Recording keeps the packages' order, the schedule case runs, and a score with nothing to compare
against reads as such in the report rather than breaking it."""

from __future__ import annotations

import json
from pathlib import Path

from evals.package import record
from evals.runner import run_suite
from evals.suite import load_suite
from knowledge import Settings
from tests.helpers.third_yard import BLOCKS, third_yard_store

SUITE = """\
suite: third
description: the third yard's recorded package
packages:
  third: {{path: {package}}}
cases:
  - id: welding-all
    package: third
    model: welding
    scorers: [{{name: mae, max: 0.5}}]
  - id: schedule
    package: third
    schedule: {{}}
    scorers: [{{name: schedule_validity, min: 1}}]
  - id: answers
    package: third
    answers: all
    scorers: [{{name: exact, field: intent}}, tool_routing]
"""


def test_a_package_of_a_yard_without_cranes_or_actuals_runs_and_reports(tmp_path: Path) -> None:
    store = third_yard_store(tmp_path, with_packages=True)
    package = record(store, [BLOCKS[1], BLOCKS[2]], tmp_path / "package")
    after = [a for a in package.table("work_package").column("after").to_pylist() if a]
    assert any(" " in a for a in after) and all(a.split("\n")[0].startswith("ap ") for a in after)
    answers = (tmp_path / "package" / "answers.jsonl").read_text(encoding="utf-8").splitlines()
    assert answers and not any('"workflow"' in a for a in answers)  # no NDT findings: no plan to score against them
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE.format(package=tmp_path / "package"), encoding="utf-8")
    summary = run_suite(load_suite(suite), tmp_path / "run", settings=Settings(data_dir=tmp_path / "data"))
    results = {r["id"]: r for r in map(json.loads, (tmp_path / "run" / "results.jsonl").read_text().splitlines())}
    assert results["schedule"]["error"] is None and results["schedule"]["scores"]["schedule_validity"]["value"] == 1
    assert results["welding-all"]["scores"]["mae:hours"]["value"] is None
    report = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert "n/a (the rows have no column" in report
    assert not summary.ok  # the gate on hours it cannot measure is missed, and says why
