"""The HTTP service's request and response bodies (pydantic; they are also its OpenAPI schemas)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping
from datetime import datetime
from functools import cache
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StrictBool, StrictInt, create_model, field_validator

from workflows.base import Workflow
from workflows.service.store import ISA95_STATE, RunRecord, RunStatus

__all__ = [
    "ApprovalBody",
    "AskBody",
    "ErrorBody",
    "ErrorDetail",
    "Isa95State",
    "RunLinks",
    "RunProgress",
    "RunView",
    "WebhookView",
    "WorkflowInfo",
    "cross_field_rules",
    "submission_model",
]

Isa95State = Literal["Waiting", "Running", "Held", "Completed", "Aborted"]

# The JSON objects a response passes through (a run's input, result and decision; a workflow's JSON schemas) are
# typed `dict[str, object]`, not `dict[str, JsonValue]`: they come out of the store's JSON already, and a JsonValue
# field would validate every value of every run on each response (83 ms for a 20,000-row result).


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    """What was wrong with a request."""

    type: str = Field(description="A stable machine-readable kind, e.g. validation_error, not_found.")
    message: str
    field: str | None = Field(default=None, description="The dotted path of the offending value in the body.")


class ErrorBody(BaseModel):
    """Every 4xx and 5xx response's body."""

    error: ErrorDetail


class ApprovalBody(_Body):
    """A person's decision on a plan change: it names the change it decides, as it was shown."""

    approved: StrictBool = Field(description="true adopts the change into the plan; false rejects it.")
    note: str | None = Field(
        default=None, max_length=2_000, description="Why, for the record: plain text (no control characters)."
    )
    schedule_digest: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="The change decided on, as the GET showed it: a run's `result.schedule_digest`, a thread's "
        "`approval.digest`. An approval needs it (422 without); another change's is 409 `proposal_changed`.",
    )
    plan_version: StrictInt | None = Field(
        default=None,
        ge=0,
        description="The plan version the change was computed on, as the GET showed it (a run's "
        "`result.plan_version`, a thread's `approval.pinned.plan_version`); checked when given.",
    )

    @field_validator("note")
    @classmethod
    def _plain(cls, note: str | None) -> str | None:
        """A note is plain text: control characters (NUL among them) are refused; line breaks and tabs are text."""
        if note is not None:
            bad = next((c for c in note if c not in "\n\t" and unicodedata.category(c) in ("Cc", "Cs")), None)
            if bad is not None:
                raise ValueError(f"the note holds a control character (U+{ord(bad):04X}); send plain text")
        return note


class AskBody(_Body):
    """A planner's question to the brain."""

    question: str = Field(min_length=1, max_length=4_000)
    thread_id: str | None = Field(default=None, max_length=128, description="Continue this conversation.")


class RunProgress(BaseModel):
    """The step a run is at."""

    step: str
    done: int
    total: int


class RunLinks(BaseModel):
    """Where to follow a run."""

    self: str
    events: str
    approval: str | None = None


class WebhookView(BaseModel):
    """Where a run's webhook stands: delivered, still being tried, or given up after its last attempt."""

    status: Literal["pending", "delivered", "given_up"]
    attempts: int = Field(description="Deliveries tried so far.")
    last_error: str | None = Field(description="Why the last attempt failed (None once delivered).")
    delivered_at: datetime | None
    next_attempt_at: datetime | None = Field(description="When it is tried next (None once delivered or given up).")


class RunView(BaseModel):
    """A workflow run as the API shows it."""

    run_id: str
    workflow: str
    version: str
    status: RunStatus
    isa95_state: Isa95State = Field(description="The ISA-95 job state of `status`.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int = Field(description="How many times a worker started it (more than 1 after a restart).")
    idempotency_key: str | None
    webhook_url: str | None
    input: dict[str, object]
    progress: RunProgress | None = None
    result: dict[str, object] | None
    error: ErrorDetail | None
    approval: dict[str, object] | None = Field(description="The decision on a plan change, and what was adopted.")
    webhook: WebhookView | None = Field(
        default=None, description="Its webhook's delivery, once the run has ended (shown when one run is read)."
    )
    links: RunLinks

    @classmethod
    def of(
        cls, run: RunRecord, progress: Mapping[str, object] | None = None, webhook: WebhookView | None = None
    ) -> RunView:
        """The view of a stored run (and its latest progress event's data, while it runs; its webhook's delivery)."""
        base = f"/v1/runs/{run.run_id}"
        approval = f"{base}/approval" if run.status == "waiting_for_approval" else None
        return cls(
            run_id=run.run_id,
            workflow=run.workflow,
            version=run.version,
            status=run.status,
            isa95_state=ISA95_STATE[run.status],
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            attempts=run.attempts,
            idempotency_key=run.idempotency_key,
            webhook_url=run.webhook_url,
            input=run.request,
            progress=RunProgress.model_validate(progress) if progress else None,
            result=run.result,
            error=ErrorDetail.model_validate(run.error) if run.error else None,
            approval=run.approval,
            webhook=webhook,
            links=RunLinks(self=base, events=f"{base}/events", approval=approval),
        )


class WorkflowInfo(BaseModel):
    """A workflow as listed: its contract and where to start a run."""

    name: str
    version: str
    title: str
    description: str
    changes_plan: bool = Field(description="Its runs stop at waiting_for_approval until a person decides.")
    runs_url: str
    request_schema: dict[str, object]
    result_schema: dict[str, object]

    @classmethod
    def of(cls, workflow: Workflow[Any, Any]) -> WorkflowInfo:
        """The listing of a workflow."""
        return cls(runs_url=f"/v1/workflows/{workflow.name}/runs", **workflow.describe())


@cache
def submission_model(workflow: Workflow[Any, Any]) -> type[BaseModel]:
    """The body of `POST /v1/workflows/{name}/runs`: `{"input": <the workflow's request>, "webhook_url": ...}`."""
    title = "".join(part.capitalize() for part in workflow.name.split("-"))
    model: type[BaseModel] = create_model(
        f"{title}Submission",
        __config__=ConfigDict(extra="forbid"),
        __doc__=f"A run of {workflow.name} v{workflow.version}: its request, and where to report its end.",
        input=(workflow.request, Field(description=f"The {workflow.name} request.")),
        webhook_url=(
            HttpUrl | None,
            Field(default=None, description="POSTed a signed Standard Webhooks message when the run ends."),
        ),
    )
    return model


def _models_in(annotation: object) -> Iterator[type[BaseModel]]:
    """The pydantic models an annotation holds (itself, or inside a union, list, dict or `Annotated`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in get_args(annotation):
        yield from _models_in(arg)


def cross_field_rules(model: type[BaseModel]) -> list[str]:
    """The rules a JSON schema cannot say, of `model` and every model inside it: its model validators' docstrings.

    JSON Schema has no word for "zone or block, exactly one" as pydantic checks it (a model validator), so these go
    into the OpenAPI document as text, each as `Model: rule`. A validator without a docstring is listed by its name.
    """
    rules: list[str] = []
    seen: set[type[BaseModel]] = set()
    todo = [model]
    while todo:
        current = todo.pop(0)
        if current in seen:
            continue
        seen.add(current)
        for name, found in current.__pydantic_decorators__.model_validators.items():
            doc = " ".join((found.func.__doc__ or "").split())
            rules.append(f"{current.__name__}: {doc or 'checked across its fields (' + name.strip('_') + ')'}")
        for field in current.model_fields.values():
            todo.extend(_models_in(field.annotation))
    return rules
