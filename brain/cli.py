"""The `shipbrain` command, assembled from each layer's own sub-commands.

Each layer registers its Typer app under the entry-point group `shipbrain.commands` (see
pyproject.toml), so this root imports nothing from the layers by name. A sub-command that fails to
load is reported as a warning, not a crash, so one broken plugin does not take the CLI down.
"""

from __future__ import annotations

from importlib.metadata import entry_points

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
