"""`shipbrain eval`: record packages, run suites, compare runs, list past runs.

Exit codes: 0 ok; 1 a gate failed (a case or suite threshold missed, or a regression past its margin);
2 bad input (a one-line error naming the file and line), as everywhere in Shipbrain.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["eval_app"]

eval_app = typer.Typer(
    help="Evaluate the brain and the yard's models against recorded work packages; compare runs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]


@eval_app.command("record")
def record_command(
    yard: Annotated[Path, typer.Option(help="The yard store to cut from (`shipbrain yard import` or `generate`).")],
    out_dir: Annotated[Path, typer.Option("--out", help="The package directory to write.")],
    blocks: Annotated[
        str | None, typer.Option(help="Block ids, comma-separated, as the yard writes them [default: every block].")
    ] = None,
    work_packages: Annotated[
        str | None,
        typer.Option("--work-packages", help="Work package ids instead of blocks, comma-separated."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="The package's name [default: the directory's].")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the package if it exists.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Cut a recorded work package from a yard store: model inputs, work packages, resources, actuals, answers."""
    from knowledge.cli import user_errors

    with user_errors():
        from evals.package import package_summary, record

        chosen = [b for b in blocks.split(",") if b.strip()] if blocks else None
        packages = [w for w in work_packages.split(",") if w.strip()] if work_packages else None
        package = record(yard, chosen, out_dir, work_packages=packages, name=name, force=force)
        summary = package_summary(package)
        if as_json:
            out.print_json(json.dumps(summary))
        else:
            out.print(", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in summary.items()))


def _parse_models(models: list[str]) -> dict[str, str]:
    from knowledge.errors import InputError

    chosen = {}
    for item in models:
        name, sep, version = item.partition("=")
        if not sep or not name.strip() or not version.strip():
            raise InputError(f"--model {item!r}: write NAME=VERSION, e.g. welding=2")
        chosen[name.strip()] = version.strip()
    return chosen


@eval_app.command("run")
def run_command(
    suite: Annotated[Path, typer.Argument(help="A suite file (e.g. evals/suites/smoke.yaml).")],
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="The run directory [default: DATA_DIR/evals/runs/SUITE-TIME].")
    ] = None,
    model: Annotated[list[str], typer.Option("--model", help="NAME=VERSION, e.g. welding=2 (repeatable).")] = [],  # noqa: B006
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Cases at once.")] = 2,
    replay: Annotated[bool, typer.Option("--replay", help="Answer model calls from the cassette only.")] = False,
    cassette: Annotated[
        Path | None, typer.Option(help="The cassette [default: DATA_DIR/evals/cassettes/SUITE].")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a run already in --out.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Run a suite: results.jsonl, summary.json and report.html in --out; exit 1 if a threshold is missed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from knowledge.cli import user_errors
    from knowledge.settings import get_settings

    with user_errors():
        from evals.runner import run_suite
        from evals.suite import load_suite

        versions = _parse_models(model)
        checked = load_suite(suite)
        if out_dir is None:  # where `eval list` and the service's /evals page look
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            out_dir = get_settings().data_dir / "evals" / "runs" / f"{checked.name}-{stamp}"
        bars = err.is_terminal or get_settings().progress
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=err, disable=not bars) as progress:
            task = progress.add_task(f"suite {checked.name}", total=None)
            summary = run_suite(
                checked,
                out_dir,
                versions=versions,
                concurrency=concurrency,
                replay=replay,
                cassette=cassette,
                force=force,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    if as_json:
        out.print_json(summary.model_dump_json())
    else:
        from evals.runner import summary_lines

        for line in summary_lines(summary):  # which scores gate (a threshold) and which only inform (none)
            out.print(line, highlight=False, soft_wrap=True)
    if not summary.ok:
        raise typer.Exit(1)


@eval_app.command("compare")
def compare_command(
    run_a: Annotated[Path, typer.Argument(help="The baseline run directory.")],
    run_b: Annotated[Path, typer.Argument(help="The candidate run directory.")],
    margin: Annotated[float | None, typer.Option(help="Default margin for scores the suite gives none.")] = None,
    html: Annotated[Path | None, typer.Option(help="Write the comparison here [default: RUN_B/compare.html].")] = None,
    as_json: JsonFlag = False,
) -> None:
    """What improved and what regressed from run A to run B; exit 1 on a regression past its margin."""
    from knowledge.cli import user_errors

    with user_errors():
        from evals.compare import compare_runs, render_text, write_html

        cmp = compare_runs(run_a, run_b, margin=margin)
        page = write_html(cmp, html or run_b / "compare.html")
    if as_json:
        payload = {
            "ok": cmp.ok,
            "means": [{"score": c.score, "a": c.a, "b": c.b, "verdict": c.verdict} for c in cmp.means],
            "regressions": [{"case": c.case, "score": c.score, "a": c.a, "b": c.b} for c in cmp.regressions],
            "newly_failing": cmp.newly_failing,
            "threshold_misses": cmp.threshold_misses,
            "html": str(page),
        }
        out.print_json(json.dumps(payload))
    else:
        for line in render_text(cmp):
            out.print(line, highlight=False, markup=False, soft_wrap=True)
        out.print(f"html: {page}")
    if not cmp.ok:
        raise typer.Exit(1)


@eval_app.command("list")
def list_command(
    root: Annotated[Path | None, typer.Argument(help="Where runs live [default: DATA_DIR/evals/runs].")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Past runs under a folder, newest first, with their reports."""
    from evals.runner import list_runs
    from knowledge.settings import get_settings

    runs = list_runs(root or get_settings().data_dir / "evals" / "runs")
    if as_json:
        out.print_json(json.dumps([r.model_dump() | {"report": str(r.report)} for r in runs]))
        return
    for r in runs:
        verdict = "ok" if r.ok else "FAILED"
        out.print(f"{r.created}  {r.suite:<12} {r.passed}/{r.cases} {verdict:<6} {r.report}", highlight=False)
