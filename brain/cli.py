"""The `shipbrain` command, assembled from each layer's own sub-commands.

Each layer registers its Typer app under the entry-point group `shipbrain.commands` (see
pyproject.toml), so this root imports nothing from the layers by name. A sub-command that fails to
load is reported as a warning, not a crash, so one broken plugin does not take the CLI down.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["app", "main"]

app = typer.Typer(
    name="shipbrain",
    help=(
        "Shipbrain: one brain over a shipyard's AI models.\n\n"
        "Planners ask questions across welding, outfitting and scheduling; MES integrations call named "
        "workflows; engineers evaluate model and planner changes. Start with `shipbrain demo`, then "
        "`shipbrain yard --help`."
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


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help='A question, e.g. "which joints of block B012 need NDT?"')],
    yard: Annotated[Path | None, typer.Option(help="The yard to ask about [default: the demo yard].")] = None,
    thread: Annotated[str | None, typer.Option(help="Continue this conversation thread.")] = None,
    trace: Annotated[bool, typer.Option("--trace", help="Show the plan and each tool's timing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Ask the brain a question about the yard; the answer comes with its numbers and sources."""
    import json

    from knowledge.cli import user_errors
    from knowledge.settings import get_settings

    with user_errors():
        from brain.supervisor import Brain

        brain = Brain(yard or get_settings().demo_yard_dir)
        try:
            answer = brain.ask(question, thread_id=thread)
        finally:
            brain.close()
        if as_json:
            print(json.dumps(answer.model_dump(mode="json"), indent=2))
            return
        console = Console()
        if trace:
            plan = answer.plan
            console.print(f"[dim]plan: {plan.intent} {plan.codes} ({plan.reason})[/]", highlight=False)
            for r in answer.results:
                console.print(
                    f"[dim]tool {r.tool}({r.args}): {r.seconds * 1000:.0f} ms, {len(r.rows)} rows[/]", highlight=False
                )
        console.print(answer.answer, highlight=False)
        console.print(f"[dim]thread {answer.thread_id}[/]")


def _load_commands() -> None:
    err = Console(stderr=True)
    for ep in sorted(entry_points(group="shipbrain.commands"), key=lambda e: e.name):
        try:
            sub = ep.load()
        except Exception as exc:  # a broken plugin must not take the whole CLI down
            err.print(f"[yellow]warning:[/] shipbrain command {ep.name!r} failed to load: {exc}")
            continue
        app.add_typer(sub, name=ep.name)


def main() -> None:
    """Entry point of the `shipbrain` script."""
    _load_commands()
    app(prog_name="shipbrain")


if __name__ == "__main__":  # pragma: no cover
    main()
