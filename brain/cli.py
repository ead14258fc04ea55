"""The `shipbrain` command, assembled from each layer's own sub-commands.

Each layer registers its Typer app (or one command) under the entry-point group `shipbrain.commands`
(see pyproject.toml), so this root imports nothing from the layers by name, and nothing from a layer
until one of its commands runs: `shipbrain --help` lists every group from the entry points' names
and a one-line help kept here (`SHORT_HELP`; tests hold each line to its group's own help), so it
imports no FastAPI, pyarrow, LangGraph or Ray. A plug-in group without a line here is listed by name
with a generic line. A sub-command that fails to load is a warning and exit code 2 when it is asked
for, never a crash of the other commands.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from functools import cached_property
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:
    import httpx
    from typer._click import Command, Context  # the Click that Typer vendors (typer >= 0.26)
    from typer._click.exceptions import ClickException

    from brain import Answer, Brain

__all__ = [
    "API_KEY_ENV",
    "COMMAND_GROUP",
    "EXIT_REFUSED",
    "EXIT_UNANSWERED",
    "SERVICE_URL_ENV",
    "SHORT_HELP",
    "LazyCommands",
    "app",
    "main",
    "usage_error_line",
]

EXIT_UNANSWERED: Final = 3
"""`shipbrain ask`'s exit code when a model a tool needed could not answer (the answer says "I could not answer
(TOOL): ..."; the tool result's `error_kind` is "model"): a model server down, timing out or failing. 0 is a full
answer; `EXIT_REFUSED` a refused command line or input."""
EXIT_REFUSED: Final = 2
"""Every command's exit code for a refused command line or input; `shipbrain ask`'s too when a tool refused what
the question asked (a mistyped code: "I could not answer (TOOL): unknown assembly ...", `error_kind` "input") or
failed for another reason than a model (a broken configuration or yard data, `error_kind` "other")."""

COMMAND_GROUP: Final = "shipbrain.commands"
"""The entry-point group each layer (and any plug-in) adds its sub-commands to."""

SHORT_HELP: Final[dict[str, str]] = {
    "docs": "The document store: welding procedures, NDT rules, outfitting rules and lessons learned, with citations.",
    "eval": "Evaluate the brain and the yard's models against recorded work packages; compare runs.",
    "keys": "API keys of the HTTP service: create (the token is shown once), list, revoke.",
    "models": "The yard's models as tools: list them, describe their contracts, run them on a yard, train them.",
    "serve": "Serve the HTTP API (and the chat page): on first start make the demo yard and an admin API key.",
    "workflow": "Named, typed workflows for MES integrations: list them, print their schemas, run one on a yard.",
    "yard": "Generate a synthetic yard, inspect it, and query its part-dependency graph.",
}
"""The first line of help of Shipbrain's own command groups, for `shipbrain --help` without importing them."""

_PROJECT = "shipbrain"
_PLUGINS_PANEL = "Plug-ins"


class LazyCommands(TyperGroup):
    """The root group: its own commands, then one per entry point of `COMMAND_GROUP`, imported when it runs.

    Listing (`--help`) shows a stand-in per entry point, with the help of `SHORT_HELP` or a generic line;
    resolving a command to run it loads its entry point and puts the real command in the stand-in's place.
    """

    @cached_property
    def _entry_points(self) -> dict[str, EntryPoint]:
        """The group's entry points by name, read once (scanning the installed distributions takes ~15 ms)."""
        return {ep.name: ep for ep in entry_points(group=COMMAND_GROUP)}

    def list_commands(self, ctx: Context) -> list[str]:
        """The root's own commands in the order they were declared, then the entry points by name."""
        own = super().list_commands(ctx)
        return own + sorted(name for name in self._entry_points if name not in own)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        """A loaded command, else a stand-in for listing (nothing is imported), else None."""
        command = self.commands.get(cmd_name)
        if command is not None:
            return command
        ep = self._entry_points.get(cmd_name)
        return None if ep is None else _stand_in(ep)

    def resolve_command(self, ctx: Context, args: list[str]) -> tuple[str | None, Command | None, list[str]]:
        """Load the entry point of the command about to run (only that one), then resolve as usual."""
        if args and args[0] not in self.commands and args[0] in self._entry_points:
            self.commands[args[0]] = _load(self._entry_points[args[0]])
        return super().resolve_command(ctx, args)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:  # Click's own signature
        """Run as Click does, but say a usage error (an unknown option, a missing argument) in one line on stderr.

        `error: shipbrain keys list: No such option: --bogus (see shipbrain keys list --help)`, exit code 2, like
        every other refusal of the command line (`knowledge.cli.user_errors`), instead of Rich's framed box.
        """
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        from typer._click.exceptions import ClickException, NoArgsIsHelpError

        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except NoArgsIsHelpError:  # the help is printed already
            sys.exit(2)
        except ClickException as exc:
            sys.stderr.write(usage_error_line(exc, prog_name or self.name or "shipbrain") + "\n")
            sys.exit(exc.exit_code)
        except typer.Abort:
            sys.stderr.write("aborted\n")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def usage_error_line(exc: ClickException, prog: str = "shipbrain") -> str:
    """A Click error as one line: `error: COMMAND: MESSAGE (see COMMAND --help)` (`prog` if it names no command)."""
    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    if ctx is None:
        return f"error: {message} (see {prog} --help)"
    path = ctx.command_path
    return f"error: {path}: {message} (see {path} --help)"


def _stand_in(ep: EntryPoint) -> Command:
    """A command that only describes an entry point, for `--help`; it is never run."""
    dist = ep.dist.name if ep.dist is not None else None
    if dist == _PROJECT and ep.name in SHORT_HELP:
        return TyperCommand(name=ep.name, short_help=SHORT_HELP[ep.name])
    generic = f"A plug-in ({dist or ep.value}): `shipbrain {ep.name} --help` describes it."
    return TyperCommand(name=ep.name, short_help=generic, rich_help_panel=_PLUGINS_PANEL)


def _load(ep: EntryPoint) -> Command:
    """The click command of an entry point: a Typer app becomes a group, a function one command.

    A plug-in that fails to load is reported as a warning and ends the run with exit code 2.
    """
    try:
        sub = ep.load()
    except Exception as exc:  # a broken plug-in is reported, not raised as a traceback
        from rich.console import Console

        Console(stderr=True).print(
            f"[yellow]warning:[/] shipbrain command {ep.name!r} failed to load ({ep.value}): {exc}", highlight=False
        )
        raise typer.Exit(2) from None
    command: Command
    if isinstance(sub, typer.Typer):
        command = typer.main.get_group(sub)
    else:  # a single command, e.g. serve = "workflows.service.cli:serve_command"
        single = typer.Typer()
        single.command(ep.name)(sub)
        command = typer.main.get_command(single)
    command.name = ep.name
    return command


app = typer.Typer(
    name="shipbrain",
    cls=LazyCommands,
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
    """Ask the brain a question about the yard; the answer comes with its numbers, a table and its sources.

    Exit codes: 0 answered; 3 a model a tool needed could not answer (down, timing out or failing: the answer says
    which, in a line "I could not answer (TOOL): ..."; with --json, each result's `error` and `error_kind` "model");
    2 a refused command line or input, a question a tool refused (a mistyped code: the answer's line says why) or
    another tool failure. Both at once: 3.
    """
    answer = _with_brain(yard, lambda brain: brain.ask(question, thread_id=thread), trace=trace, as_json=as_json)
    failed = {result.error_kind or "other" for result in answer.results if result.error}
    if "model" in failed:
        raise typer.Exit(EXIT_UNANSWERED)
    if failed:
        raise typer.Exit(EXIT_REFUSED)


API_KEY_ENV: Final = "SHIPBRAIN_API_KEY"
"""The environment variable `shipbrain approve` reads the approver's API key from (else a file, else a prompt)."""
SERVICE_URL_ENV: Final = "SHIPBRAIN_SERVICE_URL"
"""The environment variable naming the service `shipbrain approve` decides through [default: http://127.0.0.1:8000]."""
_MIN_DIGEST: Final = 12


@app.command()
def approve(
    thread: Annotated[str, typer.Argument(help="The thread that waits for a decision.")],
    digest: Annotated[
        str | None,
        typer.Option(
            help="The digest of the change you approve, as `shipbrain ask` printed it (at least its first 12 "
            "characters); without it, the change is shown and you are asked to confirm it.",
        ),
    ] = None,
    reject: Annotated[bool, typer.Option("--reject", help="Reject the change instead of approving it.")] = False,
    note: Annotated[str | None, typer.Option(help="Why, for the record.")] = None,
    key_file: Annotated[
        Path | None,
        typer.Option(help=f"A file holding the approver's API key (else ${API_KEY_ENV}, else it is asked for)."),
    ] = None,
    url: Annotated[
        str | None, typer.Option(help=f"The service (else ${SERVICE_URL_ENV}, else http://127.0.0.1:8000).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Approve (or reject) the plan change a conversation stopped for, as your API key, through the service.

    The decision goes through the service's approval endpoint like the page's and the API's: under the key's
    identity (it needs the approve scope), checked against the change you were shown, and in the audit log. The key
    comes from $SHIPBRAIN_API_KEY, --key-file, or a prompt (never the command line, which other users can see).
    """
    import os

    from knowledge.cli import user_errors

    with user_errors():
        base = (url or os.environ.get(SERVICE_URL_ENV) or "http://127.0.0.1:8000").rstrip("/")
        token = _api_key(key_file)
        answer = _decide_over_http(base, token, thread, approved=not reject, digest=digest, note=note)
        if as_json:
            import json

            print(json.dumps(answer.model_dump(mode="json"), indent=2))
        else:
            _print_answer(answer, trace=False)


def _api_key(key_file: Path | None) -> str:
    """The approver's API key: from $SHIPBRAIN_API_KEY, a file, or asked for (hidden on a terminal, else a line)."""
    import getpass
    import os

    from knowledge.errors import InputError

    if key_file is not None:
        try:
            token = key_file.read_text().strip()
        except OSError as exc:
            raise InputError(f"cannot read the key file {str(key_file)!r}: {exc.strerror}") from None
    else:
        token = os.environ.get(API_KEY_ENV, "").strip()
    if not token:
        token = (getpass.getpass("API key: ") if sys.stdin.isatty() else sys.stdin.readline()).strip()
    if not token:
        raise InputError(f"a decision is made as an API key with the approve scope: set ${API_KEY_ENV} or --key-file")
    return token


def _decide_over_http(
    base: str, token: str, thread: str, *, approved: bool, digest: str | None, note: str | None
) -> Answer:
    """Read the thread's pending change, check it is the one named (or confirmed), and send the decision."""
    import httpx
    from rich.console import Console

    from knowledge.errors import InputError

    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
            shown = _answer(client.get(f"/v1/threads/{thread}"))
            approval = shown.approval
            if shown.status != "waiting_for_approval" or approval is None:
                raise InputError(f"thread {thread!r} waits for no decision")
            if digest is not None:
                named = digest.strip().lower()
                if len(named) < _MIN_DIGEST or not approval.digest.startswith(named):
                    raise InputError(
                        f"thread {thread!r} waits on another change than the one named: it waits on digest "
                        f"{approval.digest} ('{approval.change}'); --digest names {named!r}"
                    )
            elif approved:
                Console().print(f"{approval.change}\n[dim]digest {approval.digest}[/]", highlight=False)
                if not sys.stdin.isatty() or not typer.confirm("Approve this change?", default=False):
                    raise InputError(
                        "not approved: name the change you approve with --digest (as `shipbrain ask` printed it), "
                        "or confirm it on a terminal"
                    )
            body = {"approved": approved, "note": note, "schedule_digest": approval.digest}
            return _answer(client.post(f"/v1/threads/{thread}/approval", json=body))
    except httpx.TransportError as exc:
        raise InputError(f"cannot reach the service at {base} ({exc}); start it with `shipbrain serve`") from None


def _answer(response: httpx.Response) -> Answer:
    """An answer from the service, or its refusal as an `InputError` with the service's words."""
    from brain import Answer
    from knowledge.errors import InputError

    if response.status_code != 200:
        try:
            error = response.json()["error"]
            said = f"{error['message']} ({response.status_code} {error['type']})"
        except (ValueError, KeyError, TypeError):
            said = f"{response.status_code} {response.text[:200]}"
        raise InputError(f"the service refused: {said}")
    return Answer.model_validate(response.json())


checkpoints_app = typer.Typer(
    help="The brain's conversation checkpoints: prune idle conversations and older checkpoints, reclaim the space.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(checkpoints_app, name="checkpoints")


@checkpoints_app.command("prune")
def prune_checkpoints(
    days: Annotated[
        float | None,
        typer.Option(
            "--days",
            min=0,
            help="Delete conversations idle longer than this (0: none) [default: SHIPBRAIN_CHECKPOINT_RETENTION_DAYS].",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Keep each conversation's latest checkpoint, delete idle ones (never one waiting for a decision); say what went.

    `shipbrain serve` does the same every SHIPBRAIN_CHECKPOINT_PRUNE_INTERVAL_S; this runs it now (also while the
    service runs: both take the database's locks).
    """
    import json

    from knowledge.cli import user_errors
    from knowledge.settings import get_settings

    with user_errors():
        from brain.checkpoints import CheckpointRetention, open_checkpointer

        settings = get_settings()
        saver, closers = open_checkpointer(settings)
        try:
            retention = CheckpointRetention.of(saver, settings)
            if days is not None:
                retention.retention_days = days
            report = retention.prune()
        finally:
            for conn in closers:
                conn.close()
        print(json.dumps(report.model_dump(mode="json"), indent=2) if as_json else report.line())


def _with_brain(
    yard: Path | None, call: Callable[[Brain], Answer], *, trace: bool = False, as_json: bool = False
) -> Answer:
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
        else:
            _print_answer(answer, trace)
        return answer


def _print_answer(answer: Answer, trace: bool) -> None:
    from rich.console import Console
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
    if answer.status == "waiting_for_approval" and answer.approval is not None:
        console.print(
            f"[yellow]This changes the yard's plan and waits for approval:[/] {answer.approval.change}\n"
            f"  approve: shipbrain approve {answer.thread_id} --digest {answer.approval.digest[:16]}\n"
            f"  reject:  shipbrain approve {answer.thread_id} --reject\n"
            f"  (as an API key with the approve scope, through the service: ${API_KEY_ENV})",
            highlight=False,
        )
    console.print(f"[dim]thread {answer.thread_id}[/]")


def main() -> None:
    """Entry point of the `shipbrain` script."""
    app(prog_name="shipbrain")


if __name__ == "__main__":  # pragma: no cover
    main()
