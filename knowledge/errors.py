"""Errors raised by `knowledge`, split by who must act.

```
ShipbrainError                      base of every Shipbrain error (lives here: the lowest layer)
└── KnowledgeError
    ├── InputError                  the caller's mistake: fix the request
    │   ├── UnknownCodeError        a code that names no block, assembly, part, joint or item
    │   ├── SubgraphTooLargeError   a networkx subgraph past its size limit
    │   └── InvalidYardSpecError    generator parameters out of range
    └── YardDataError               the yard directory on disk is unusable: regenerate or restore it
        ├── YardNotFoundError       no directory, or no manifest in it
        ├── ManifestError           unreadable manifest, or one of another format version
        ├── YardIntegrityError      a file missing, truncated, of the wrong shape, or failing its checksum
        └── GraphCycleError         the edge arrays contain a cycle
```

Every message names the thing with `!r` and says what to do. Errors carry only plain data, so they
pickle and cross a checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = [
    "GraphCycleError",
    "InputError",
    "InvalidYardSpecError",
    "KnowledgeError",
    "ManifestError",
    "ShipbrainError",
    "SubgraphTooLargeError",
    "MissingFieldError",
    "UnknownCodeError",
    "YardDataError",
    "YardIntegrityError",
    "YardNotFoundError",
]


class ShipbrainError(Exception):
    """Base class of every error Shipbrain raises on purpose."""


class KnowledgeError(ShipbrainError):
    """Base class of the errors of the `knowledge` layer."""


class InputError(KnowledgeError, ValueError):
    """The caller asked for something that cannot be: the message says what and where."""


class MissingFieldError(InputError):
    """A role's field the question needs is not in the yard: its `yard.toml` maps no column onto it."""

    def __init__(self, role: str, fields: list[str], message: str) -> None:
        super().__init__(message)
        self.role = role
        self.fields = fields

    def __reduce__(self) -> tuple[type[MissingFieldError], tuple[str, list[str], str]]:
        return (type(self), (self.role, self.fields, str(self)))


class UnknownCodeError(InputError, KeyError):
    """A code names nothing in this yard."""

    def __init__(self, code: str, message: str, *, not_a_code: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.not_a_code = not_a_code
        """The text is no id of this yard's at all (not merely one the yard has none of)."""

    def __reduce__(self) -> tuple[Callable[..., UnknownCodeError], tuple[object, ...]]:
        return (_unknown_code, (type(self), self.code, self.message, self.not_a_code))

    def __str__(self) -> str:
        # KeyError would quote the message; users should read it plainly.
        return self.message


class SubgraphTooLargeError(InputError):
    """A networkx subgraph was asked for more nodes than its limit allows."""


class InvalidYardSpecError(InputError):
    """Generator parameters outside what the generator supports."""


class YardDataError(KnowledgeError):
    """The yard directory cannot be used as it is on disk."""


class YardNotFoundError(YardDataError, FileNotFoundError):
    """No yard directory (or no manifest) at the given path."""


class ManifestError(YardDataError):
    """The manifest is unreadable or of a format version this Shipbrain does not read."""


class YardIntegrityError(YardDataError):
    """A file of the yard is missing, truncated, misshapen or fails its checksum."""


class GraphCycleError(YardDataError):
    """The part-dependency graph has a cycle, so nothing on it can be ordered."""


def _unknown_code(cls: type[UnknownCodeError], code: str, message: str, not_a_code: bool) -> UnknownCodeError:
    return cls(code, message, not_a_code=not_a_code)
