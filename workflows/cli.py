"""`shipbrain workflow`: list the workflows, print their request and result schemas, and run one on a yard."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from knowledge.cli import user_errors
from workflows.errors import WorkflowInputError

if TYPE_CHECKING:
    from workflows.base import ProgressCallback, Workflow

__all__ = ["workflow_app"]

workflow_app = typer.Typer(
    help="Named, typed workflows for MES integrations: list them, print their schemas, run one on a yard.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

NameArg = Annotated[str, typer.Argument(help="A workflow's name, e.g. weld-inspection-plan (see `workflow list`).")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for machines instead of tables.")]
_ROWS = 20
_COLUMNS = 9


@workflow_app.command("list")
def list_workflows(as_json: JsonFlag = False) -> None:
    """List the workflows with their versions."""
    from workflows.base import WORKFLOWS

    with user_errors():
        found = WORKFLOWS.list()
        if as_json:
            rows = [
                {"name": w.name, "version": w.version, "title": w.title, "changes_plan": w.changes_plan} for w in found
            ]
            sys.stdout.write(json.dumps(rows, indent=2) + "\n")
            return
        table = Table(title="workflows", title_justify="left")
        for column in ("name", "version", "changes plan", "what it does"):
            table.add_column(column)
        for w in found:
            table.add_row(w.name, w.version, "yes (needs approval)" if w.changes_plan else "no", w.title)
        out.print(table)
        out.print("shipbrain workflow describe NAME prints a workflow's request and result schemas")


@workflow_app.command()
def describe(name: NameArg, as_json: JsonFlag = False) -> None:
    """Print a workflow's description and the JSON schemas of its request and result (JSON, --json or not)."""
    del as_json  # the contract is JSON either way; the flag is accepted like every other command's
    from workflows.base import WORKFLOWS

    with user_errors():
        sys.stdout.write(json.dumps(WORKFLOWS.get(name).describe(), indent=2) + "\n")


@workflow_app.command()
def run(
    name: NameArg,
    input_file: Annotated[
        Path, typer.Option("--input", "-i", help="The request as a JSON file ('-' reads standard input).")
    ],
    yard: Annotated[
        Path | None,
        typer.Option(help="The imported yard store (what `shipbrain yard import` wrote) [default: the demo yard]."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run a workflow on a yard: the request comes from a JSON file, the result goes to standard output."""
    from knowledge.settings import get_settings
    from workflows.base import WORKFLOWS, WorkflowContext, run_workflow, validate_request

    with user_errors():
        workflow = WORKFLOWS.get(name)
        request = validate_request(workflow, _read_payload(input_file))  # refuse a bad request before opening
        ctx = WorkflowContext.open(yard or get_settings().demo_yard_dir)
        try:
            with _progress(name) as report:
                result = run_workflow(name, request, ctx, report)
        finally:
            ctx.close()
        if as_json:
            envelope = {
                "workflow": workflow.name,
                "version": workflow.version,
                "changes_plan": workflow.changes_plan,
                "result": result.model_dump(mode="json"),
            }
            sys.stdout.write(json.dumps(envelope, indent=2) + "\n")
            return
        _print_result(workflow, result.model_dump(mode="json"))


def _read_payload(path: Path) -> dict[str, Any]:
    where = "standard input" if str(path) == "-" else repr(str(path))
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text()
    except OSError as exc:
        raise WorkflowInputError(f"cannot read the request from {where}: {exc.strerror or exc}") from None
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorkflowInputError(f"the request in {where} is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise WorkflowInputError(f"the request in {where} must be a JSON object, got {type(payload).__name__}")
    return payload


@contextmanager
def _progress(name: str) -> Iterator[ProgressCallback]:
    """A progress callback drawing a bar on stderr (one plain line per step when stderr is not a terminal)."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from knowledge.settings import get_settings

    bars = err.is_terminal or get_settings().progress
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not bars,
    ) as progress:
        task = progress.add_task(name, total=None)

        def report(step: str, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total, description=f"{name}: {step}")
            if not bars:
                err.print(f"[{min(done + 1, total)}/{total}] {name}: {step}", highlight=False)

        yield report


def _print_result(workflow: Workflow[Any, Any], data: dict[str, Any]) -> None:
    out.print(f"[bold]{workflow.name}[/] v{workflow.version}: {data.get('summary', '')}", highlight=False)
    rows = data.get(workflow.table or "", None)
    if not isinstance(rows, list) or not rows:
        return
    columns = [k for k, v in rows[0].items() if not isinstance(v, (list, dict))][:_COLUMNS]
    table = Table(title=workflow.table.replace("_", " ") if workflow.table else None, title_justify="left")
    for column in columns:
        table.add_column(column.replace("_", " "), overflow="fold")
    for row in rows[:_ROWS]:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    out.print(table)
    if len(rows) > _ROWS:
        out.print(f"(showing {_ROWS} of {len(rows):,}; --json prints the whole result)")
    if workflow.changes_plan:
        out.print("this result changes the plan: nothing is adopted until a person approves it")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}"
    return "" if value is None else str(value)
