from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evals.cli import eval_app
from evals.compare import compare_runs
from evals.errors import ReplayMissError
from evals.package import RecordedPackage
from evals.runner import CaseRecord, list_runs, load_run, run_suite
from evals.suite import load_suite
from knowledge.settings import Settings

SMOKE = Path(__file__).parents[2] / "evals" / "suites" / "smoke.yaml"


@pytest.fixture(scope="module")
def smoke_runs(eval_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, float]:
    """The smoke suite run twice: recording the model calls, then replaying them."""
    root = tmp_path_factory.mktemp("runs")
    suite = load_suite(SMOKE)
    started = time.perf_counter()
    first = run_suite(suite, root / "a", settings=eval_settings)
    seconds = time.perf_counter() - started
    second = run_suite(suite, root / "b", settings=eval_settings, replay=True)
    assert first.ok and second.ok, (first.means, [t for t in first.thresholds if not t.passed])
    return root / "a", root / "b", seconds


def test_smoke_suite_end_to_end(smoke_runs: tuple[Path, Path, float]) -> None:
    a, _, seconds = smoke_runs
    assert seconds < 120
    summary, records = load_run(a)
    assert summary.cases == len(records) > 15 and summary.errors == 0
    assert summary.models["welding"] and summary.models["scheduling"]
    assert summary.means["schedule_validity"] == 1.0 and summary.means["tool_routing"] == 1.0
    assert 0 < summary.means["mae:hours"] < 0.35
    html = (a / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 5  # hours, by position, by process, calibration, latency
    assert (a / "predictions.parquet").is_file()


def test_replay_gives_identical_scores(smoke_runs: tuple[Path, Path, float]) -> None:
    a, b, _ = smoke_runs
    (sa, ra), (sb, rb) = load_run(a), load_run(b)
    assert sb.replay and not sa.replay

    def deterministic(records: list[CaseRecord]) -> dict[str, dict[str, tuple[float, bool | None, str]]]:
        return {
            r.id: {k: (s.value, s.passed, s.reason) for k, s in r.scores.items() if s.deterministic} for r in records
        }

    assert deterministic(ra) == deterministic(rb)
    assert {k: v for k, v in sa.means.items() if k != "latency"} == {
        k: v for k, v in sb.means.items() if k != "latency"
    }


def test_replay_without_a_recording_is_refused(eval_settings: Settings, tmp_path: Path) -> None:
    suite = load_suite(SMOKE)
    summary = run_suite(suite, tmp_path / "run", settings=eval_settings, replay=True, cassette=tmp_path / "empty")
    _, records = load_run(tmp_path / "run")
    model_cases = [r for r in records if r.kind == "model"]
    assert model_cases and all(
        r.error and ReplayMissError.__name__ in r.error or "cassette" in (r.error or "") for r in model_cases
    )
    assert not summary.ok


def test_compare_same_runs_passes_and_a_regression_gates(smoke_runs: tuple[Path, Path, float], tmp_path: Path) -> None:
    a, b, _ = smoke_runs
    assert compare_runs(a, b).ok
    result = CliRunner().invoke(eval_app, ["compare", str(a), str(b)])
    assert result.exit_code == 0, result.output
    # make B worse: one case's MAE up by 0.05 (past the suite's 0.005 margin)
    worse = tmp_path / "worse"
    worse.mkdir()
    (worse / "summary.json").write_text((b / "summary.json").read_text())
    lines = []
    for line in (b / "results.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["id"] == "welding-B001":
            record["scores"]["mae:hours"]["value"] += 0.05
        lines.append(json.dumps(record))
    (worse / "results.jsonl").write_text("\n".join(lines) + "\n")
    cmp = compare_runs(a, worse)
    assert not cmp.ok
    assert [(c.case, c.score) for c in cmp.regressions] == [("welding-B001", "mae:hours")]
    assert cmp.regressions[0].delta == pytest.approx(0.05)
    result = CliRunner().invoke(eval_app, ["compare", str(a), str(worse)])
    assert result.exit_code == 1
    assert "GATE FAILED" in result.output
    # a wider margin lets it through
    assert compare_runs(a, worse, margin=0.1).regressions == [] or not cmp.ok


def test_list_runs(smoke_runs: tuple[Path, Path, float]) -> None:
    a, b, _ = smoke_runs
    runs = list_runs(a.parent)
    assert {Path(r.run_dir) for r in runs} >= {a.resolve(), b.resolve()}
    assert all(r.report.is_file() for r in runs)


def test_cli_errors_are_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "s.yaml"
    bad.write_text("suite: s\npackages:\n  p: {path: nowhere}\ncases: [{id: a, package: p, model: welding}]\n")
    result = CliRunner().invoke(eval_app, ["run", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    result = CliRunner().invoke(eval_app, ["run", str(SMOKE), "--out", str(tmp_path / "o"), "--model", "welding"])
    assert result.exit_code == 2
    result = CliRunner().invoke(eval_app, ["compare", str(tmp_path), str(tmp_path)])
    assert result.exit_code == 2


def test_the_summary_says_which_scores_gate_and_which_only_inform(
    smoke_runs: tuple[Path, Path, float], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11, item 13: "21/21 passed" showed next to set_f1 0.22, which no threshold judges; say which is which."""
    a, _, _ = smoke_runs
    summary, _ = load_run(a)
    by = {s.name: s for s in summary.scores}
    assert set(by) == set(summary.means) | {t.score for t in summary.thresholds}
    mae = by["mae:hours"]
    assert mae.gates and mae.held and mae.rule == "mean <= 0.35; each case <= 0.5" and mae.margin == 0.005
    assert by["schedule_validity"].gates and by["tool_routing"].gates and by["exact:intent"].gates
    informing = {s.name for s in summary.informing}
    assert {"set_f1:inspection_points[*].code", "latency", "calibration:asm"} <= informing
    for s in summary.informing:
        assert not s.gates and s.held is None and s.rule == "no threshold"
    assert by["latency"].in_compare == "compare does not gate it (it depends on the machine)"
    assert by["set_f1:inspection_points[*].code"].in_compare == "compare gates a change worse than 0.01"
    assert [s.gates for s in summary.scores] == sorted((s.gates for s in summary.scores), reverse=True)
    assert f"{summary.passed}/{summary.cases} cases passed" in summary.headline()
    assert f"{len(summary.informing)} only inform (no threshold)" in summary.headline()

    saved = json.loads((a / "summary.json").read_text())
    gates = {s["name"]: s["gates"] for s in saved["scores"]}
    assert gates["mae:hours"] is True and gates["set_f1:inspection_points[*].code"] is False

    html = (a / "report.html").read_text()
    gate_at, inform_at = html.index("Scores that gate"), html.index("Scores that only inform")
    assert gate_at < html.index("mae:hours") < inform_at < html.index("set_f1:inspection_points[*].code")

    monkeypatch.setattr("evals.runner.run_suite", lambda *args, **kwargs: summary)
    result = CliRunner().invoke(eval_app, ["run", str(SMOKE), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.index("gate (a threshold decides pass or fail):") < text.index("mae:hours")
    informs = text.index("only inform (no threshold: the verdict does not depend on them):")
    assert informs < text.index("set_f1:inspection_points[*].code") and informs < text.index("  latency")


def test_a_record_spec_makes_the_synthetic_store(tmp_path: Path) -> None:
    """`record: {parts, seed}` generates and imports the synthetic yard once (an older format's yard made again)."""
    from evals.runner import open_package, yard_of
    from evals.suite import PackageSpec, RecordSpec
    from knowledge.store import YardStore

    settings = Settings(data_dir=tmp_path, executor="in-process")
    old = tmp_path / "evals" / "yards" / "yard-5000-s3"
    old.mkdir(parents=True)
    (old / "manifest.json").write_text(json.dumps({"format_version": 3}))  # what an older Shipbrain generated
    spec = PackageSpec(record=RecordSpec(parts=5000, seed=3, blocks=["B002"]))
    package = open_package("p", spec, settings)
    assert package.manifest.source.kind == "synthetic" and package.manifest.blocks == ["B002"]
    assert yard_of(package, settings) == old and YardStore.open(old).count("block") > 1
    assert open_package("p", spec, settings).path == package.path  # recorded once, then read


def test_a_package_whose_store_is_gone_says_so(small_package: RecordedPackage, tmp_path: Path) -> None:
    from evals.errors import PackageError
    from evals.runner import yard_of

    copy = tmp_path / "moved"
    shutil.copytree(small_package.path, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["source"] |= {"yard": str(tmp_path / "nowhere")}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PackageError, match="was cut from the store .*nowhere"):
        yard_of(RecordedPackage.open(copy), Settings(data_dir=tmp_path, executor="in-process"))
