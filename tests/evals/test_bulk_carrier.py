"""`eval record` and `eval run` on a yard of its own: the bulk carrier sample (other ids, kinds, columns, units)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evals.cli import eval_app
from evals.package import RecordedPackage
from evals.runner import load_run, run_suite
from evals.suite import load_suite
from knowledge.settings import Settings
from tests.evals.conftest import BULK_BLOCKS

SUITE = """\
suite: bulk
description: The models, a schedule, and the brain and a workflow on the recorded answers of two blocks.
packages:
  hull: {{path: {path}}}
thresholds:
  "schedule_validity": {{min: 1.0}}
  "exact:intent": {{min: 1.0}}
cases:
  - id: welding-{{block}}
    package: hull
    for_each: block
    model: welding
    where: {{block: "{{block}}"}}
    scorers: [mae, calibration, latency]
  - id: welding-{{work_package}}
    package: hull
    for_each: work_package
    model: welding
    where: {{work_package: "{{work_package}}"}}
    scorers: [{{name: mae, as: "mae:hours-wp"}}]
  - id: outfitting
    package: hull
    model: outfitting
    table: outfitting_item
    scorers: [{{name: calibration, output: rework_probability, actual: rework}}]
  - id: schedule
    package: hull
    schedule: {{}}
    scorers: [{{name: schedule_validity, min: 1}}, latency]
  - id: recorded
    package: hull
    answers: all
    scorers:
      - {{name: exact, field: intent}}
      - {{name: tool_routing, min: 1}}
      - {{name: numeric, field: numbers.joint, min: 1}}
      - {{name: numeric, field: numbers.nodes, min: 1}}
      - {{name: numeric, field: numbers.inspected, min: 1}}
      - {{name: numeric, field: joints_total, min: 1}}
      - {{name: set_f1, field: "inspection_points[*].code"}}
"""


@pytest.fixture(scope="module")
def bulk_run(bulk_package: RecordedPackage, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bulk-run")
    path = root / "bulk.yaml"
    path.write_text(SUITE.format(path=bulk_package.path))
    settings = Settings(data_dir=root / "data", executor="in-process")
    summary = run_suite(load_suite(path), root / "run", settings=settings)
    assert summary.ok, (summary.means, [t for t in summary.thresholds if not t.passed])
    return root / "run"


def test_a_suite_runs_on_a_yard_of_its_own(bulk_run: Path, bulk_package: RecordedPackage) -> None:
    summary, records = load_run(bulk_run)
    assert summary.errors == 0 and summary.passed == summary.cases
    by_id = {r.id: r for r in records}
    for block in BULK_BLOCKS:  # one welding case per block, scored on the seams the yard booked
        mae = by_id[f"welding-{block}"].scores["mae:hours"]
        assert math.isfinite(mae.value) and mae.value > 0 and "rows" in mae.reason
    assert {f"welding-{c}" for c in bulk_package.manifest.work_packages} <= set(by_id)
    assert summary.means["schedule_validity"] == 1.0
    assert summary.means["exact:intent"] == 1.0 and summary.means["tool_routing"] == 1.0
    assert summary.means["numeric:numbers.joint"] == 1.0 and summary.means["numeric:joints_total"] == 1.0
    assert summary.models["welding"] and summary.models["scheduling"] and summary.models["outfitting"]
    html = (bulk_run / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 4  # hours, by position, by process, calibration (+ latency)


def test_eval_record_cli_on_a_yard_of_its_own(bulk_carrier: Path, tmp_path: Path) -> None:
    yard = ["record", "--yard", str(bulk_carrier)]
    result = CliRunner().invoke(eval_app, [*yard, "--out", str(tmp_path / "one"), "--blocks", BULK_BLOCKS[0], "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["blocks"] == 1 and summary["joints"] > 0 and summary["work_packages"] >= 5
    assert RecordedPackage.open(tmp_path / "one").manifest.blocks == BULK_BLOCKS[:1]
    packages = ["--work-packages", "WP-DB09-ASM,WP-DB10-ERC"]
    result = CliRunner().invoke(eval_app, [*yard, "--out", str(tmp_path / "wp"), *packages])
    assert result.exit_code == 0, result.output
    assert RecordedPackage.open(tmp_path / "wp").manifest.work_packages == ["WP-DB09-ASM", "WP-DB10-ERC"]
    result = CliRunner().invoke(eval_app, [*yard, "--out", str(tmp_path / "x"), "--blocks", "B001"])
    assert result.exit_code == 2 and "no block 'B001'" in result.output
