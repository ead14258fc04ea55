"""The tool contract and the `TOOLS` registry: a tool is declared once, in one module, and found by name.

A tool is a `ToolSpec`: its name, what it does (the LLM planner reads it), a pydantic model of its arguments,
a pydantic model of one row of its result, whether it changes the yard's plan, what the offline planner needs
to pick it (`intent`, `examples`, `args_from`), how its result reads in an answer (`lines`) and how the chat page
draws it (`plots`). The `tool` decorator builds the spec from a function and registers it:

```python
class WeldRisk(ToolRow):
    code: str
    \"\"\"The joint.\"\"\"
    hours: float = Field(json_schema_extra={"unit": "h"})
    \"\"\"Predicted welding hours.\"\"\"

@tool(name="weld_risk", description="...", args=CodeArgs, row=WeldRisk, plots=(Plot(kind="bar", ...),))
def weld_risk(ctx: YardContext, args: CodeArgs) -> ToolResult:
    ...
    return weld_risk.result(args, "B012: 812 joints ...", rows=[WeldRisk(code=..., hours=...)])
```

The supervisor, both planners and the chat page know tools only through `TOOLS`: a new tool is one new module in
this package (every public module is imported on first use), or a plug-in registered under the entry-point group
`shipbrain.tools`. Results are plain JSON (they cross LangGraph checkpoints) and carry the schema of their rows
(`columns`: titles, units, types), so nobody reads a column by a name they guessed.

Tool results are data: nothing in them is ever read as an instruction. A tool whose spec says `changes_plan`
runs only with a person's approval (`run_tool(..., approved_by=...)`), which it receives as an `Approved`.
"""

from __future__ import annotations

import datetime
import time
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, TypeAlias, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from knowledge.errors import InputError
from knowledge.plugins import PluginRegistry

if TYPE_CHECKING:
    from brain.core import YardContext
    from brain.plan import Entities

__all__ = [
    "TOOLS",
    "Approved",
    "ArgsFrom",
    "Column",
    "ColumnType",
    "ErrorKind",
    "Plot",
    "ToolArgs",
    "ToolResult",
    "ToolRow",
    "ToolSpec",
    "check_args",
    "columns_of",
    "describe_change",
    "pin_change",
    "plan_change",
    "run_tool",
    "tool",
]

Row: TypeAlias = dict[str, JsonValue]
"""One row of a result, as JSON."""
ColumnType = Literal["string", "integer", "number", "boolean", "date"]
A = TypeVar("A", bound="ToolArgs")
R = TypeVar("R", bound="ToolRow")


class ToolArgs(BaseModel):
    """Base of a tool's arguments: frozen, and an argument the tool does not take is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ToolRow(BaseModel):
    """Base of a tool's row model: each field described (an attribute docstring), a unit where it has one.

    A unit goes in `Field(json_schema_extra={"unit": "h"})`, text written by people (that no planner may read) is
    marked `Field(json_schema_extra={"untrusted": True})`, a title other than the field's name with spaces goes in
    `Field(title=...)`. Fields a row was not given are left out of it (a blank in a table).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class Column(BaseModel):
    """One column of a tool's rows, as the page and the answer text show it."""

    model_config = ConfigDict(frozen=True)

    name: str
    """The key in each row."""
    title: str
    """What a person reads as its heading."""
    unit: str | None = None
    """Its unit ("h", "days", "%"), if it has one."""
    type: ColumnType = "string"
    description: str = ""
    untrusted: bool = False
    """Text written by people (`json_schema_extra={"untrusted": True}`): shown to people, never to a planner."""

    @property
    def heading(self) -> str:
        """The title with its unit: "hours (h)"."""
        return f"{self.title} ({self.unit})" if self.unit else self.title


class Plot(BaseModel):
    """A plot of a result, declared by its tool and drawn by the chat page (the brain never imports the page).

    Column names are the row model's field names; axis titles come from the columns' titles and units.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["bar", "scatter", "gantt", "line"]
    """bar: `y` by `x`; scatter: points; line: `y` along `x`; gantt: one bar per `y` from `x` to `end`."""
    title: str
    """Its heading; `{name}` is replaced by the tool's argument `name` (e.g. "Riskiest joints of {code}")."""
    x: str
    y: str | None = None
    """None (bar, line, scatter): the first number column other than `x`."""
    end: str | None = None
    """A gantt's column where each bar ends (`x` is where it starts; rows without both are left out)."""
    color: str | None = None
    """The column that colours the marks."""
    series: tuple[str, ...] = ()
    """Number columns drawn as one series each, coloured by column (instead of one `y`)."""
    table: Literal["rows", "breakdown"] = "rows"
    """Which table of the result it draws."""
    y_scale: float = 1.0
    """A factor on `y` (100: a probability as a percentage)."""
    y_title: str | None = None
    """The y axis's title, when not the `y` column's heading (e.g. after `y_scale`)."""
    sort: Literal["x", "y", "-x", "-y"] | None = None
    x_label_angle: float = 0
    limit: int | None = Field(default=None, gt=0)
    """At most this many rows, the first ones."""
    min_rows: int = Field(default=1, ge=1)
    """Drawn only when its table has at least this many rows (e.g. a breakdown of one group says nothing)."""
    split_scales: float | None = Field(default=None, gt=1)
    """Bars only: values more than this many times apart are drawn in charts of their own, one per scale, so small
    ones show (7 blocks next to 13,218 parts); None: one chart."""


ErrorKind: TypeAlias = Literal["model", "input", "other"]
"""Whose failure a tool's error was: a model's, the question's (its input), or something else's."""


class ToolResult(BaseModel):
    """What one tool call found: JSON-plain, so it survives a checkpoint."""

    model_config = ConfigDict(frozen=True)

    tool: str
    args: dict[str, JsonValue]
    summary: str
    rows: list[Row] = Field(default_factory=list)
    """The rows behind the summary, each validated by the tool's row model when it was made."""
    columns: list[Column] = Field(default_factory=list)
    """The rows' schema: every column in order, with its title, unit and type."""
    breakdown: list[Row] = Field(default_factory=list)
    """The result grouped (e.g. weld risk by assembly): a second table for people who would rather look."""
    breakdown_columns: list[Column] = Field(default_factory=list)
    numbers: dict[str, float] = Field(default_factory=dict)
    sources: list[str] = Field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    error_kind: ErrorKind | None = None
    """Whose failure `error` is: "model" a model that could not answer (down, timing out, failing: an
    `adapters.errors.ModelCallError`), "input" the question's entities or arguments refused (a mistyped code), "other"
    anything else (a broken configuration or yard data). None: no error (or a result written before it was kept)."""

    @classmethod
    def failed(cls, tool: str, args: dict[str, JsonValue], exc: Exception) -> ToolResult:
        """The result of a call of `tool` that raised `exc`: its message, and whose failure it was (`error_kind`)."""
        from adapters.errors import ModelCallError

        kind: ErrorKind = (
            "model" if isinstance(exc, ModelCallError) else "input" if isinstance(exc, ValueError) else "other"
        )
        return cls(tool=tool, args=args, summary="", error=str(exc), error_kind=kind)

    def rows_as(self, row: type[R]) -> list[R]:
        """The rows as `row` models again (the tool's own row model, for its `lines`)."""
        return [row.model_validate(r) for r in self.rows]

    def breakdown_as(self, row: type[R]) -> list[R]:
        """The breakdown's rows as `row` models again."""
        return [row.model_validate(r) for r in self.breakdown]


class Approved(BaseModel):
    """A person's approval of one plan change, as a plan-changing tool receives it."""

    model_config = ConfigDict(frozen=True)

    by: str
    """Who approved it."""
    thread_id: str | None = None
    """The conversation it was approved in."""
    key: str | None = None
    """The change's idempotency key, minted when it was approved."""


ArgsFrom: TypeAlias = "Callable[[Entities, str], dict[str, JsonValue] | str]"
"""From a question's entities and its text: the tool's arguments, or in a few words what the question lacks
("an NDT plan needs a block or assembly code such as ...")."""
Lines: TypeAlias = Callable[[ToolResult], list[str]]
"""A result's lines in the answer text, below its summary."""
RunFn: TypeAlias = "Callable[[YardContext, ToolArgs, Approved | None], ToolResult]"
DescribeFn: TypeAlias = "Callable[[YardContext, ToolArgs], str]"
PinFn: TypeAlias = "Callable[[YardContext, ToolArgs], dict[str, JsonValue]]"


@dataclass(frozen=True)
class ToolSpec:
    """A tool, declared once: everything the supervisor, the planners and the chat page know of it."""

    name: str
    description: str
    """What it does, for an LLM planner choosing tools."""
    args: type[ToolArgs]
    row: type[ToolRow]
    """One row of its result."""
    run: RunFn
    """Runs it: `(context, checked arguments, approval or None)`; build it with `tool` or `plan_change`."""
    changes_plan: bool = False
    """Changes the yard's adopted plan: runs only after a person approves it."""
    untrusted_text: bool = False
    """Returns text written by people (documents): shown to users, never fed to a planner as instructions."""
    intent: str = ""
    """The offline planner's intent this tool answers (default: its name)."""
    intent_description: str = ""
    """One line: what questions of that intent ask (the "I can answer about ..." text); empty: not offered."""
    examples: tuple[str, ...] = ()
    """Phrasings of the intent, for the offline planner's similarity vote."""
    args_from: ArgsFrom | None = None
    """The arguments from a question; None: the offline planner never picks this tool on its own."""
    lines: Lines | None = None
    plots: tuple[Plot, ...] = ()
    breakdown_row: type[ToolRow] | None = None
    describe_change: DescribeFn | None = None
    """A plan-changing tool's change in words, without making it (what a person is asked to approve)."""
    pin: PinFn | None = None
    """A plan-changing tool's arguments that fix what was shown (the plan version, the computed schedule's digest):
    taken when the approval is asked for, added to the arguments it runs with, so it adopts exactly that or refuses."""

    def __post_init__(self) -> None:
        if not self.intent:
            object.__setattr__(self, "intent", self.name)
        if self.changes_plan and self.describe_change is None:
            raise ValueError(f"tool {self.name!r} changes the plan: it needs describe_change for the approval")

    @property
    def columns(self) -> list[Column]:
        """The columns of its rows."""
        return columns_of(self.row)

    def result(
        self,
        args: ToolArgs,
        summary: str,
        *,
        rows: Sequence[ToolRow] = (),
        breakdown: Sequence[ToolRow] = (),
        numbers: Mapping[str, float] | None = None,
        sources: Sequence[str] = (),
        row: type[ToolRow] | None = None,
    ) -> ToolResult:
        """A result of this tool, its rows checked against its row model (or `row`, for rows whose columns vary).

        Raises:
            TypeError: a row of another model (a bug in the tool, not the caller's mistake).
        """
        model = row or self.row
        if row is not None and not issubclass(row, self.row):
            raise TypeError(f"tool {self.name!r}: rows of {row.__name__} are no {self.row.__name__}")
        return ToolResult(
            tool=self.name,
            args=args.model_dump(mode="json"),
            summary=summary,
            rows=_dump(self.name, model, rows),
            columns=columns_of(model),
            breakdown=_dump(self.name, self.breakdown_row, breakdown),
            breakdown_columns=columns_of(self.breakdown_row) if self.breakdown_row else [],
            numbers=dict(numbers or {}),
            sources=list(sources),
        )


def _dump(tool: str, model: type[ToolRow] | None, rows: Sequence[ToolRow]) -> list[Row]:
    if rows and model is None:
        raise TypeError(f"tool {tool!r} declares no breakdown_row for its breakdown")
    bad = next((r for r in rows if model is None or not isinstance(r, model)), None)
    if bad is not None:
        raise TypeError(
            f"tool {tool!r}: a {type(bad).__name__} row where its rows are {getattr(model, '__name__', '')}"
        )
    return [r.model_dump(mode="json", exclude_unset=True) for r in rows]


TOOLS: Final[PluginRegistry[ToolSpec]] = PluginRegistry("tool", group="shipbrain.tools", packages=["brain.tools"])
"""Every tool by name: this package's modules, then the plug-ins of the entry-point group `shipbrain.tools`."""


def tool(
    *,
    name: str,
    description: str,
    args: type[A],
    row: type[ToolRow],
    untrusted_text: bool = False,
    intent: str = "",
    intent_description: str = "",
    examples: Sequence[str] = (),
    args_from: ArgsFrom | None = None,
    lines: Lines | None = None,
    plots: Sequence[Plot] = (),
    breakdown_row: type[ToolRow] | None = None,
) -> Callable[[Callable[[YardContext, A], ToolResult]], ToolSpec]:
    """Declare and register a tool (see `ToolSpec` for the fields) from its function `(context, arguments)`."""

    def register(fn: Callable[[YardContext, A], ToolResult]) -> ToolSpec:
        def run(ctx: YardContext, checked: ToolArgs, approved: Approved | None) -> ToolResult:
            return fn(ctx, cast(A, checked))  # run_tool checked them against `args`

        spec = ToolSpec(
            name=name,
            description=description,
            args=args,
            row=row,
            run=run,
            untrusted_text=untrusted_text,
            intent=intent,
            intent_description=intent_description,
            examples=tuple(examples),
            args_from=args_from,
            lines=lines,
            plots=tuple(plots),
            breakdown_row=breakdown_row,
        )
        return TOOLS.register(spec)

    return register


def plan_change(
    *,
    name: str,
    description: str,
    args: type[A],
    row: type[ToolRow],
    describe_change: Callable[[YardContext, A], str],
    pin: Callable[[YardContext, A], dict[str, JsonValue]] | None = None,
    intent: str = "",
    intent_description: str = "",
    examples: Sequence[str] = (),
    lines: Lines | None = None,
    plots: Sequence[Plot] = (),
) -> Callable[[Callable[[YardContext, A, Approved], ToolResult]], ToolSpec]:
    """Declare and register a tool that changes the yard's plan, from its function `(context, arguments, approval)`.

    It runs only with a person's approval, which it receives; `describe_change` says in words what it would change,
    without changing anything (the text a person approves). The offline planner never picks it on its own.
    """

    def describe(ctx: YardContext, checked: ToolArgs) -> str:
        return describe_change(ctx, cast(A, checked))

    def pinned(ctx: YardContext, checked: ToolArgs) -> dict[str, JsonValue]:
        return pin(ctx, cast(A, checked)) if pin is not None else {}

    def register(fn: Callable[[YardContext, A, Approved], ToolResult]) -> ToolSpec:
        def run(ctx: YardContext, checked: ToolArgs, approved: Approved | None) -> ToolResult:
            if approved is None:  # run_tool refuses first; a direct call of `run` must not slip through
                raise InputError(f"{name} changes the yard's plan and runs only after a person approves it")
            return fn(ctx, cast(A, checked), approved)

        spec = ToolSpec(
            name=name,
            description=description,
            args=args,
            row=row,
            run=run,
            changes_plan=True,
            intent=intent,
            intent_description=intent_description,
            examples=tuple(examples),
            lines=lines,
            plots=tuple(plots),
            describe_change=describe,
            pin=pinned,
        )
        return TOOLS.register(spec)

    return register


def check_args(spec: ToolSpec, args: Mapping[str, object]) -> ToolArgs:
    """`args` checked against the tool's argument model.

    Raises:
        InputError: arguments it refuses, naming the tool and the field ("ndt_plan: budget: ...").
    """
    try:
        return spec.args.model_validate(args)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        raise InputError(f"{spec.name}: {where}: {err['msg'].removeprefix('Value error, ')}") from None


def run_tool(
    ctx: YardContext,
    name: str,
    args: Mapping[str, object],
    *,
    approved_by: str | None = None,
    thread_id: str | None = None,
    key: str | None = None,
) -> ToolResult:
    """Run one tool by name with checked arguments, timing it.

    Args:
        ctx: the yard.
        name: the tool's name in `TOOLS`.
        args: its arguments, checked against its argument model.
        approved_by: who approved the call; a tool that changes the plan refuses to run without one.
        thread_id: the conversation the call belongs to (recorded with a plan change).
        key: the plan change's idempotency key.

    Raises:
        InputError: an unknown tool (the message lists the tools), arguments it refuses (naming the field and
            why), or a plan-changing tool without an approval.
    """
    spec = TOOLS.get(name)
    if spec.changes_plan and not approved_by:
        raise InputError(f"{name} changes the yard's plan and runs only after a person approves it")
    checked = check_args(spec, args)
    approved = Approved(by=approved_by, thread_id=thread_id, key=key) if spec.changes_plan and approved_by else None
    began = time.perf_counter()
    result = spec.run(ctx, checked, approved)
    return result.model_copy(update={"seconds": time.perf_counter() - began})


def describe_change(ctx: YardContext, name: str, args: Mapping[str, object]) -> str:
    """What running a plan-changing tool would do, in words, without doing it (for an approval request).

    Raises:
        InputError: an unknown tool, arguments it refuses, or a change the yard cannot take (an unknown resource).
    """
    spec = TOOLS.get(name)
    checked = check_args(spec, args)
    if spec.describe_change is None:
        return f"run {name} with {dict(args)}"
    return spec.describe_change(ctx, checked)


def pin_change(ctx: YardContext, name: str, args: Mapping[str, object]) -> dict[str, JsonValue]:
    """The arguments that fix a plan change to what is shown for approval (none for a tool that pins nothing)."""
    spec = TOOLS.get(name)
    return spec.pin(ctx, check_args(spec, args)) if spec.pin is not None else {}


def columns_of(row: type[BaseModel]) -> list[Column]:
    """The columns of a row model, in field order: titles, units (`json_schema_extra={"unit": ...}`) and types."""
    out = []
    for name, field in row.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        unit = extra.get("unit")
        out.append(
            Column(
                name=name,
                title=field.title or name.replace("_", " "),
                unit=unit if isinstance(unit, str) else None,
                type=_column_type(field.annotation),
                description=field.description or "",
                untrusted=extra.get("untrusted") is True,
            )
        )
    return out


def _column_type(annotation: object) -> ColumnType:
    """The JSON-ish type of a field's annotation: `int | None` is an integer column, a `Literal` of text a string."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _column_type(inner[0]) if len(inner) == 1 else "string"
    if typing.get_origin(annotation) is Literal:
        values = typing.get_args(annotation)
        return _column_type(type(values[0])) if values else "string"
    if annotation is bool:
        return "boolean"
    if annotation is int:
        return "integer"
    if annotation is float:
        return "number"
    if annotation is datetime.date:
        return "date"
    return "string"
