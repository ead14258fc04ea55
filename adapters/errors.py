"""Errors raised by `adapters`, split by who must act.

```
ShipbrainError (knowledge.errors)
└── AdapterError                    base of every adapter error; names the model
    ├── AdapterInputError           the caller's mistake: fix the request
    │   ├── SchemaError             a row that violates the model's input schema (row index, field)
    │   └── UnknownModelError       no adapter by that name (lists the known ones)
    ├── AdapterConfigError          the adapter config file or a plugin is wrong: fix the config
    └── ModelCallError              the model or its server failed: names model, transport, what happened
        ├── ModelTimeoutError       no answer in time (retryable)
        ├── ModelUnavailableError   connection refused, 5xx, 429 (retryable)
        ├── CircuitOpenError        too many recent failures: calls are refused for a while
        └── ModelResponseError      the model answered, but not with what its contract promises (terminal)
```

Retries are an allow-list: only `ModelTimeoutError` and `ModelUnavailableError` are retried;
schema and response errors never are. Every error carries plain data only, so it pickles (Ray
moves it between processes) and crosses a checkpoint.
"""

from __future__ import annotations

from knowledge.errors import ShipbrainError

__all__ = [
    "AdapterConfigError",
    "AdapterError",
    "AdapterInputError",
    "CircuitOpenError",
    "ModelCallError",
    "ModelResponseError",
    "ModelTimeoutError",
    "ModelUnavailableError",
    "SchemaError",
    "UnknownModelError",
]


class AdapterError(ShipbrainError):
    """Base class of the errors of the `adapters` layer."""


class AdapterInputError(AdapterError, ValueError):
    """The caller asked for something the adapter cannot take."""


class SchemaError(AdapterInputError):
    """A row violates the adapter's input (or a model's output violates its output) schema."""

    def __init__(self, model: str, row: int, field: str, message: str) -> None:
        self.model, self.row, self.field, self.message = model, row, field, message
        super().__init__(f"{model}: row {row}, field {field!r}: {message}")

    def __reduce__(self) -> tuple[type[SchemaError], tuple[str, int, str, str]]:
        return (type(self), (self.model, self.row, self.field, self.message))


class UnknownModelError(AdapterInputError, KeyError):
    """No adapter is registered under that name."""

    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        self.name, self.known = name, tuple(known)
        super().__init__(name)

    def __reduce__(self) -> tuple[type[UnknownModelError], tuple[str, tuple[str, ...]]]:
        return (type(self), (self.name, self.known))

    def __str__(self) -> str:
        return f"unknown model {self.name!r}; known models: {', '.join(self.known) or '(none registered)'}"


class AdapterConfigError(AdapterError):
    """The adapter configuration (file, entry point or spec) is wrong."""


class ModelCallError(AdapterError):
    """A model call failed: which model, over which transport, what happened."""

    retryable = False

    def __init__(self, model: str, transport: str, detail: str) -> None:
        self.model, self.transport, self.detail = model, transport, detail
        super().__init__(f"model {model!r} over {transport}: {detail}")

    def __reduce__(self) -> tuple[type[ModelCallError], tuple[str, str, str]]:
        return (type(self), (self.model, self.transport, self.detail))


class ModelTimeoutError(ModelCallError):
    """The model did not answer in time."""

    retryable = True


class ModelUnavailableError(ModelCallError):
    """The model's server refused the connection or answered 429 or 5xx."""

    retryable = True


class CircuitOpenError(ModelCallError):
    """Recent calls failed so often that calls are refused until the breaker's reset time."""


class ModelResponseError(ModelCallError):
    """The model answered with something its contract does not allow (wrong shape, type or 4xx)."""
