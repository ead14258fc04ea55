"""Errors raised by `workflows`, split by who must act.

```
ShipbrainError                          (knowledge.errors)
├── InputError                          the caller's mistake (knowledge.errors)
│   ├── WorkflowInputError              a request a workflow refuses: names the workflow and the field
│   └── UnknownWorkflowError            a workflow name that is not registered: lists the known ones
└── WorkflowError                       base of this package's errors
```

`WorkflowInputError` and `UnknownWorkflowError` are both `WorkflowError`s and `InputError`s, so the CLI (and the
HTTP service) turn them into a one-line refusal, never a traceback. Errors carry plain strings only, so they
pickle and cross a checkpoint.
"""

from __future__ import annotations

from knowledge.errors import InputError, ShipbrainError

__all__ = ["UnknownWorkflowError", "WorkflowError", "WorkflowInputError"]


class WorkflowError(ShipbrainError):
    """Base class of the errors of the `workflows` layer."""


class WorkflowInputError(InputError, WorkflowError):
    """A workflow request that cannot be run as asked: the message names the workflow, the field and the problem.

    `field` is the dotted path of the offending value in the request (`reports.3.code`, `budget.share`), or None
    when the problem spans the request.
    """

    def __init__(self, message: str, *, field: str | None = None, workflow: str | None = None) -> None:
        self.message = message
        self.field = field
        self.workflow = workflow
        super().__init__(self._text())

    def _text(self) -> str:
        where = ": ".join(p for p in (self.workflow, self.field) if p)
        return f"{where}: {self.message}" if where else self.message

    def for_workflow(self, workflow: str) -> WorkflowInputError:
        """The same error, naming the workflow that refused the request."""
        return self if self.workflow else type(self)(self.message, field=self.field, workflow=workflow)

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.message, self.field, self.workflow))

    def __str__(self) -> str:
        return self._text()


def _rebuild(
    cls: type[WorkflowInputError], message: str, field: str | None, workflow: str | None
) -> WorkflowInputError:
    return cls(message, field=field, workflow=workflow)


class UnknownWorkflowError(InputError, WorkflowError):
    """A workflow name that names no registered workflow."""
