"""Errors of the HTTP service: each is one HTTP status and one JSON body.

```
ShipbrainError                          (knowledge.errors)
└── ServiceError                        an HTTP refusal: status, type, message, field, headers
    ├── Unauthorized                    401: no key, or an unknown or revoked one
    ├── Forbidden                       403: the key lacks the scope
    ├── NotFound                        404: no such workflow, run or thread
    ├── MethodNotAllowed                405: the path takes other methods (`Allow` names them)
    ├── Conflict                        409: not now (in flight, already decided, thread busy)
    ├── PayloadTooLarge                 413
    ├── UnsupportedMediaType            415
    ├── Unprocessable                   422: well-formed JSON the service cannot accept
    └── TooManyRequests                 429: the key's rate limit; says when to retry
```

Every 4xx body is `{"error": {"type": ..., "message": ..., "field": ...}}` (`field` only when one value is at
fault, as a dotted path into the request body).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, NotRequired, TypedDict

from knowledge.errors import ShipbrainError

__all__ = [
    "Conflict",
    "ErrorDetailJson",
    "ErrorJson",
    "Forbidden",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "ServiceError",
    "TooManyRequests",
    "Unauthorized",
    "Unprocessable",
    "UnsupportedMediaType",
    "error_body",
]


class ErrorDetailJson(TypedDict):
    """What went wrong, as JSON (`workflows.service.models.ErrorDetail` is its schema)."""

    type: str
    message: str
    field: NotRequired[str | None]


class ErrorJson(TypedDict):
    """Every refusal's JSON body (`workflows.service.models.ErrorBody` is its schema)."""

    error: ErrorDetailJson


def error_body(kind: str, message: str, field: str | None = None) -> ErrorJson:
    """The JSON body of a refusal."""
    detail: ErrorDetailJson = {"type": kind, "message": message}
    if field is not None:
        detail["field"] = field
    return {"error": detail}


class ServiceError(ShipbrainError):
    """A request the service refuses, as an HTTP status with a JSON body."""

    status: ClassVar[int] = 400
    kind: ClassVar[str] = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        kind: str | None = None,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.type = kind or self.kind
        self.field = field
        self.headers = dict(headers or {})

    def body(self) -> ErrorJson:
        """The response's JSON body."""
        return error_body(self.type, self.message, self.field)


class Unauthorized(ServiceError):
    """No API key, or one that is unknown or revoked."""

    status = 401
    kind = "unauthorized"


class Forbidden(ServiceError):
    """The API key lacks the scope the call needs."""

    status = 403
    kind = "forbidden"


class NotFound(ServiceError):
    """No such workflow, run or thread."""

    status = 404
    kind = "not_found"


class MethodNotAllowed(ServiceError):
    """The path exists, but not for this method; the `Allow` header names those it takes."""

    status = 405
    kind = "method_not_allowed"


class Conflict(ServiceError):
    """The request cannot be done in the resource's current state."""

    status = 409
    kind = "conflict"


class PayloadTooLarge(ServiceError):
    """The body is larger than the service accepts."""

    status = 413
    kind = "payload_too_large"


class UnsupportedMediaType(ServiceError):
    """The body is not JSON."""

    status = 415
    kind = "unsupported_media_type"


class Unprocessable(ServiceError):
    """Well-formed JSON the service cannot accept."""

    status = 422
    kind = "invalid_request"


class TooManyRequests(ServiceError):
    """The API key's rate limit is used up; `Retry-After` says when to try again."""

    status = 429
    kind = "rate_limited"
