"""The `shipbrain` command, assembled from each layer's own sub-commands.

Each layer registers its Typer app under the entry-point group `shipbrain.commands` (see
pyproject.toml), so this root imports nothing from the layers by name. A sub-command that fails to
load is reported as a warning, not a crash, so one broken plugin does not take the CLI down.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

__all__ = ["app", "main"]

app = typer.Typer(
    name="shipbrain",
    help=(
        "Shipbrain: one brain over a shipyard's AI models.\n\n"
        "Planners ask questions across welding, outfitting and scheduling; MES integrations call named "
        "workflows; engineers evaluate model and planner changes. Start with `shipbrain serve` (or "
        "`shipbrain demo` for the yard alone), then `shipbrain ask --help`."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.command()
def demo() -> None:
    """Make the demo yard in the data directory if it is not there yet, and print its summary."""
    from knowledge.cli import ensure_demo_yard

    ensure_demo_yard()


YardOption = Annotated[Path | None, typer.Option(help="The yard to ask about [default: the demo yard].")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help='A question, e.g. "which joints of block B012 need NDT?"')],
    yard: YardOption = None,
    thread: Annotated[str | None, typer.Option(help="Continue this conversation thread.")] = None,
    trace: Annotated[bool, typer.Option("--trace", help="Show the plan and each tool's timing.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Ask the brain a question about the yard; the answer comes with its numbers, a table and its sources."""
    _with_brain(yard, lambda brain: brain.ask(question, thread_id=thread), trace=trace, as_json=as_json)


@app.command()
def approve(
    thread: Annotated[str, typer.Argument(help="The thread that waits for a decision.")],
    by: Annotated[str, typer.Option(help="Who decides (recorded with the change).")],
    reject: Annotated[bool, typer.Option("--reject", help="Reject the change instead of approving it.")] = False,
    note: Annotated[str | None, typer.Option(help="Why, for the record.")] = None,
    yard: YardOption = None,
    as_json: JsonOption = False,
) -> None:
    """Approve (or reject) the plan change a conversation stopped for, and let it finish."""
    _with_brain(yard, lambda brain: brain.decide(thread, approved=not reject, by=by, note=note), as_json=as_json)


def _with_brain(yard: Path | None, call: Callable[[Any], Any], *, trace: bool = False, as_json: bool = False) -> None:
    import json

    from knowledge.cli import user_errors
    from knowledge.settings import get_settings

    with user_errors():
        from brain.supervisor import Brain

        brain = Brain(yard or get_settings().demo_yard_dir)
        try:
            answer = call(brain)
        finally:
            brain.close()
        if as_json:
            print(json.dumps(answer.model_dump(mode="json"), indent=2))
            return
        _print_answer(answer, trace)


def _print_answer(answer: Any, trace: bool) -> None:
    from rich.table import Table

    console = Console()
    if trace:
        plan = answer.plan
        console.print(f"[dim]plan ({answer.planner}): {plan.intent} {plan.codes} ({plan.reason})[/]", highlight=False)
        for r in answer.results:
            console.print(
                f"[dim]tool {r.tool}({r.args}): {r.seconds * 1000:.0f} ms, {len(r.rows)} rows[/]", highlight=False
            )
    console.print(answer.answer, highlight=False)
    table_rows = [r for r in answer.results if r.rows and not r.error and r.tool != "search_documents"]
    for result in table_rows[:2]:
        table = Table(title=result.tool.replace("_", " "), title_justify="left")
        columns = list(result.rows[0])
        for column in columns:
            table.add_column(column.replace("_", " "))
        for row in result.rows[:15]:
            table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
        console.print(table)
    if answer.status == "waiting_for_approval":
        console.print(
            f"[yellow]This changes the yard's plan and waits for approval:[/] {answer.approval.change}\n"
            f"  approve: shipbrain approve {answer.thread_id} --by NAME\n"
            f"  reject:  shipbrain approve {answer.thread_id} --by NAME --reject",
            highlight=False,
        )
    console.print(f"[dim]thread {answer.thread_id}[/]")


def _load_commands() -> None:
    err = Console(stderr=True)
    for ep in sorted(entry_points(group="shipbrain.commands"), key=lambda e: e.name):
        try:
            sub = ep.load()
        except Exception as exc:  # a broken plugin must not take the whole CLI down
            err.print(f"[yellow]warning:[/] shipbrain command {ep.name!r} failed to load: {exc}")
            continue
        if isinstance(sub, typer.Typer):
            app.add_typer(sub, name=ep.name)
        else:  # a single command, e.g. serve = "workflows.service.cli:serve_command"
            app.command(ep.name)(sub)


def main() -> None:
    """Entry point of the `shipbrain` script."""
    _load_commands()
    app(prog_name="shipbrain")


if __name__ == "__main__":  # pragma: no cover
    main()
