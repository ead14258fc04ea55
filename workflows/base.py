"""The workflow contract, the registry of shipped workflows, the context they run in, and `run_workflow`.

A workflow is a named, versioned, typed job for MES integrations: a pydantic request model (what the MES
sends), a pydantic result model (what it gets back), and a run function `(ctx, request, progress) -> result`.
Workflows compute; a workflow whose spec says `changes_plan` computes a change to the yard's plan, which the
service holds for a person's approval before it is adopted.

```python
from workflows import WorkflowContext, run_workflow

ctx = WorkflowContext.open(".shipbrain/yards/hull-1042")  # an imported store (`shipbrain yard import`)
plan = run_workflow("weld-inspection-plan", {"code": "H1042/DB03", "budget": {"share": 0.1}}, ctx)
plan.expected_defects_caught, plan.inspection_points[0].code
```
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticSerializationError, to_json

from brain.core import YardContext
from knowledge.errors import InputError
from knowledge.plugins import PluginRegistry
from workflows.errors import UnknownWorkflowError, WorkflowInputError

__all__ = [
    "MODEL_CONFIG",
    "WORKFLOWS",
    "CheckFn",
    "ProgressCallback",
    "Steps",
    "Workflow",
    "WorkflowContext",
    "WorkflowRegistry",
    "non_finite",
    "request_field",
    "run_workflow",
    "validate_request",
    "workflow",
]

RequestT = TypeVar("RequestT", bound=BaseModel)
ResultT = TypeVar("ResultT", bound=BaseModel)

ProgressCallback = Callable[[str, int, int], None]
"""Called as `progress(step, done, total)` when a workflow starts a step (`done` steps of `total` are finished),
and once more as `progress("done", total, total)` at the end; the service streams these as events."""


CheckFn = Callable[["WorkflowContext", RequestT], None]
"""Checks a validated request against the yard when it is submitted (codes, equipment, zones exist); raises
`WorkflowInputError` naming the field. It must be quick: the service calls it before it records the run."""

MODEL_CONFIG: Final = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
"""The configuration of the shipped workflows' request and result models: no unknown field, immutable, and no
infinite or NaN number (JSON has none: `1e999` is refused, never stored as `Infinity`)."""


def _no_progress(step: str, done: int, total: int) -> None:
    """A progress callback that ignores every report."""


class Steps:
    """A workflow's named steps, reported to a progress callback as they start."""

    def __init__(self, progress: ProgressCallback | None, names: Sequence[str]) -> None:
        self._progress = progress or _no_progress
        self.names = tuple(names)

    def start(self, name: str) -> None:
        """Report that step `name` starts (the steps before it are done)."""
        self._progress(name, self.names.index(name), len(self.names))

    def done(self) -> None:
        """Report that every step is done."""
        self._progress("done", len(self.names), len(self.names))


@dataclass(frozen=True)
class Workflow(Generic[RequestT, ResultT]):
    """A named, versioned, typed job: what it takes, what it returns, and the function that does it."""

    name: str
    """Registry name, kebab-case (e.g. "weld-inspection-plan"): the CLI's and the HTTP path's name."""
    version: str
    """Version of the request and result contract; bumped on any incompatible change."""
    title: str
    """One line for lists."""
    description: str
    """What it does and how to read its result, for integrators (shown by `shipbrain workflow describe`)."""
    request: type[RequestT]
    """The request model (extra fields forbidden)."""
    result: type[ResultT]
    """The result model."""
    run: Callable[[WorkflowContext, RequestT, ProgressCallback], ResultT]
    """Does the work; raises `WorkflowInputError` naming the field for a request the yard cannot answer."""
    changes_plan: bool = False
    """Computes a change to the yard's adopted plan: the service holds its result for a person's approval."""
    table: str | None = None
    """The result's list field that the CLI shows as a table."""
    check: CheckFn[RequestT] | None = None
    """Checks a request against the yard before it is accepted (see `CheckFn`); None: the run checks it."""

    def describe(self) -> dict[str, Any]:
        """Name, version, title, description and the request's and result's JSON schemas."""
        return {
            "name": self.name,
            "version": self.version,
            "title": self.title,
            "description": self.description,
            "changes_plan": self.changes_plan,
            "request_schema": self.request.model_json_schema(),
            "result_schema": self.result.model_json_schema(mode="serialization"),
        }


class WorkflowRegistry:
    """The workflows to serve: the registered ones, plus those of some extra modules.

    Workflows register themselves with `@workflow(...)` in their own module; the project's are the public
    modules of the `workflows` package (imported on first use, so importing this module stays cheap), plug-ins
    come through the entry-point group `shipbrain.workflows`. `modules` names extra modules whose workflows this
    registry serves besides those (the service's `workflow_modules` setting); other registries do not see them.
    """

    def __init__(self, modules: Sequence[str] = ()) -> None:
        self._modules = tuple(modules)
        _EXTRA_MODULES.update(self._modules)
        self._imported = False

    def _all(self) -> dict[str, Workflow[Any, Any]]:
        if not self._imported:
            for module in self._modules:
                importlib.import_module(module)
            self._imported = True
        return {
            name: w
            for name, w in _REGISTERED.items()
            if w.run.__module__ in self._modules or w.run.__module__ not in _EXTRA_MODULES
        }

    def get(self, name: str) -> Workflow[Any, Any]:
        """The workflow called `name`.

        Raises:
            UnknownWorkflowError: no workflow has that name (the message lists the known ones).
        """
        found = self._all()
        if name not in found:
            raise UnknownWorkflowError(f"no workflow {name!r}; the workflows are {', '.join(found)}")
        return found[name]

    def names(self) -> tuple[str, ...]:
        """Every workflow's name, sorted."""
        return tuple(self._all())

    def __contains__(self, name: object) -> bool:
        return name in self._all()

    def list(self) -> tuple[Workflow[Any, Any], ...]:
        """Every workflow, sorted by name."""
        return tuple(self._all().values())


_EXTRA_MODULES: Final[set[str]] = set()
"""Modules that some registry serves as extras (`WorkflowRegistry(modules=...)`): only that registry sees them."""
_REGISTERED: Final[PluginRegistry[Workflow[Any, Any]]] = PluginRegistry(
    "workflow", group="shipbrain.workflows", packages=["workflows"]
)
WORKFLOWS: Final = WorkflowRegistry()
"""The registered workflows."""


def workflow(
    *,
    name: str,
    version: str,
    title: str,
    description: str,
    request: type[RequestT],
    result: type[ResultT],
    changes_plan: bool = False,
    table: str | None = None,
    check: CheckFn[RequestT] | None = None,
) -> Callable[[Callable[[WorkflowContext, RequestT, ProgressCallback], ResultT]], Workflow[RequestT, ResultT]]:
    """Declare and register a workflow: decorate its run function `(ctx, request, progress) -> result`.

    ```python
    @workflow(name="block-readiness", version="1", title=..., description=__doc__, request=Req, result=Res,
              check=check_block_readiness)
    def block_readiness(ctx: WorkflowContext, request: Req, progress: ProgressCallback) -> Res: ...
    ```

    `check(ctx, request)` refuses, when the request is submitted, what the yard does not hold (an unknown block,
    equipment, work package or zone), so the service answers 422 at once instead of a run that fails later.
    """

    def register(
        run: Callable[[WorkflowContext, RequestT, ProgressCallback], ResultT],
    ) -> Workflow[RequestT, ResultT]:
        made = Workflow(
            name=name,
            version=version,
            title=title,
            description=description,
            request=request,
            result=result,
            run=run,
            changes_plan=changes_plan,
            table=table,
            check=check,
        )
        _REGISTERED.register(made)
        return made

    return register


class WorkflowContext(YardContext):
    """What a workflow runs against: one yard and what the domain core computes over it (`brain.core.YardContext`).

    Keep one context per yard and reuse it: it caches what is costly to rebuild (the models, the yard's work
    package index, the adopted schedule). Its errors name the request field they come from.
    """

    def day_of(self, when: date, field: str | None = None) -> int:
        """The schedule day of a calendar date; a date before day 0 or past the horizon is refused, naming `field`."""
        with request_field(field):
            return super().day_of(when)


@contextmanager
def request_field(field: str | None) -> Iterator[None]:
    """Turn the domain core's `InputError`s inside the block into `WorkflowInputError`s naming `field`."""
    try:
        yield
    except WorkflowInputError:
        raise
    except InputError as exc:
        raise WorkflowInputError(str(exc), field=field) from None


def run_workflow(
    name: str,
    payload: Mapping[str, Any] | BaseModel,
    ctx: WorkflowContext,
    progress: ProgressCallback | None = None,
) -> BaseModel:
    """Validate `payload` against the workflow's request model and run it.

    Args:
        name: a registered workflow's name (see `WORKFLOWS.names()`).
        payload: the request as JSON-like data (or an instance of the request model).
        ctx: the yard to run against.
        progress: called as `progress(step, done, total)` as the workflow proceeds.

    Returns:
        The workflow's result model.

    Raises:
        UnknownWorkflowError: no workflow has that name.
        WorkflowInputError: the payload does not validate, or names what the yard does not hold; the message
            names the workflow and the field (`block-readiness: reports.3.code: ...`).
    """
    workflow = WORKFLOWS.get(name)
    request = validate_request(workflow, payload, ctx)
    try:
        result = workflow.run(ctx, request, progress or _no_progress)
    except WorkflowInputError as exc:
        raise exc.for_workflow(name) from None
    return result


def validate_request(
    workflow: Workflow[RequestT, Any],
    payload: Mapping[str, Any] | BaseModel,
    ctx: WorkflowContext | None = None,
    *,
    strict: bool = True,
) -> RequestT:
    """The payload as the workflow's request model, or a `WorkflowInputError` naming the first bad field.

    The payload is read as the JSON it stands for, in pydantic's strict mode: `true` is no number and `1` no boolean,
    `"5"` no number and `5` no date; a date or time is an ISO 8601 string (Python `date`s and `datetime`s in a
    payload are taken as theirs), and a whole number field takes no `2.0`. A number that is infinite or NaN is
    refused whatever the request model says (JSON has no such number). With `ctx`, the request is also checked
    against that yard (`Workflow.check`): what it names must exist there.

    `strict=False` reads a request that was accepted earlier (a queued run, stored by a version that took `"5"` for
    5) the way pydantic converts by default, so an upgrade does not fail the runs it finds waiting.
    """
    if isinstance(payload, workflow.request):
        request = payload
    else:
        data = payload.model_dump() if isinstance(payload, BaseModel) else payload
        bad = non_finite(data)
        if bad is not None:
            where, value = bad
            raise WorkflowInputError(
                f"numbers must be finite (got {value!r})", workflow=workflow.name, field=where or None
            )
        try:
            text = to_json(data)
        except PydanticSerializationError as exc:
            raise WorkflowInputError(f"the request is not JSON: {exc}", workflow=workflow.name) from None
        try:  # strictly, as the JSON it is: no boolean as a number, no number as a boolean, no string as a number
            request = workflow.request.model_validate_json(text, strict=strict)
        except ValidationError as exc:
            raise WorkflowInputError(_first_error(exc), workflow=workflow.name, field=_field(exc, data)) from None
    if ctx is not None and workflow.check is not None:
        try:
            workflow.check(ctx, request)
        except WorkflowInputError as exc:
            raise exc.for_workflow(workflow.name) from None
        except InputError as exc:
            raise WorkflowInputError(str(exc), workflow=workflow.name) from None
    return request


def non_finite(data: object, path: str = "") -> tuple[str, float] | None:
    """The dotted path and value of the first infinite or NaN number in JSON-like `data`, else None."""
    if isinstance(data, float) and not math.isfinite(data):
        return path, data
    if isinstance(data, Mapping):
        items: Iterator[tuple[object, object]] = iter(data.items())
    elif isinstance(data, list | tuple):
        items = iter(enumerate(data))
    else:
        return None
    for key, value in items:
        found = non_finite(value, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


def _field(exc: ValidationError, data: object) -> str | None:
    """The dotted path of the first error in the payload, without the union tags pydantic puts in `loc`."""
    err = exc.errors()[0]
    loc = err["loc"]
    path: list[str] = []
    for k, part in enumerate(loc):
        named = k == len(loc) - 1 and err["type"] == "missing"  # a missing field is named though it is absent
        if isinstance(data, Mapping) and isinstance(part, str) and part not in data and not named:
            continue  # a tagged union's tag ("resource_down"), not a key of the payload
        path.append(str(part))
        if isinstance(data, Mapping):
            data = data.get(part)
        elif isinstance(data, Sequence) and not isinstance(data, str) and isinstance(part, int):
            data = data[part] if 0 <= part < len(data) else None
    return ".".join(path) or None


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    err = errors[0]
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] not in ("missing", "extra_forbidden", "value_error") and err["loc"]:
        given = repr(err.get("input"))
        msg += f" (got {given if len(given) <= 60 else given[:57] + '...'})"
    return msg + (f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else "")
