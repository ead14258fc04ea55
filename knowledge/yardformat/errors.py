"""The import error of the open yard format: every problem found, each naming file, row and column.

```
knowledge.errors.InputError
└── YardImportError          the yard's files break the format: `problems` lists what and where
```

A `Problem` names the file (relative to the yard directory, or `yard.toml`), the row (1-based data row: the first
row after a CSV's header is row 1; None for a whole file or a toml key), the column (or toml key) and what is wrong.
Only the first `PROBLEMS_SHOWN` problems of each kind are kept, with the count of all of them, so a yard with a
million bad rows still gives a short, readable message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from knowledge.errors import InputError

__all__ = ["PROBLEMS_SHOWN", "Problem", "ProblemKind", "YardImportError"]

PROBLEMS_SHOWN: Final = 20
"""How many problems of each kind are kept (the rest are counted)."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a yard's files, and where."""

    kind: str
    """What kind of problem, e.g. "duplicate id", "unknown parent" (problems are grouped by it)."""
    file: str
    """The file, relative to the yard directory (`yard.toml` for the spec)."""
    row: int | None
    """1-based data row (the first row after a CSV's header is 1); None for a whole file or column."""
    column: str | None
    """The column (or, in `yard.toml`, the dotted key); None for a whole row or file."""
    message: str
    """What is wrong, naming the value with `!r` and, where it helps, what to do."""

    def where(self) -> str:
        """`file row R, column C`, leaving out what is not known."""
        parts = [self.file]
        if self.row is not None:
            parts.append(f"row {self.row:,}")
        if self.column is not None:
            parts.append(f"column {self.column!r}" if self.file != "yard.toml" else f"key {self.column!r}")
        return ", ".join(parts)


@dataclass(frozen=True)
class ProblemKind:
    """The problems of one kind that were kept, and how many there were in all."""

    kind: str
    count: int
    """Every problem of this kind found (at least `len(shown)`)."""
    shown: tuple[Problem, ...]
    """The first `PROBLEMS_SHOWN` of them, in the order they were found."""


class YardImportError(InputError):
    """A yard's files break the open yard format; nothing was imported.

    `kinds` holds every kind of problem found with its count and first examples; `problems` the examples of all
    kinds, flattened. `str(error)` is a readable report.
    """

    def __init__(self, yard: str, kinds: tuple[ProblemKind, ...]) -> None:
        self.yard = yard
        self.kinds = kinds
        super().__init__(self._message())

    @property
    def problems(self) -> tuple[Problem, ...]:
        """The problems kept (the first of each kind), in kind order."""
        return tuple(p for k in self.kinds for p in k.shown)

    def count(self, kind: str) -> int:
        """How many problems of `kind` were found (0 if none)."""
        return sum(k.count for k in self.kinds if k.kind == kind)

    def _message(self) -> str:
        total = sum(k.count for k in self.kinds)
        lines = [
            f"yard {self.yard!r} cannot be imported: {total:,} problem{'s' if total != 1 else ''}, fix them and retry"
        ]
        for k in self.kinds:
            lines.append(f"{k.kind} ({k.count:,}):")
            lines.extend(f"  {p.where()}: {p.message}" for p in k.shown)
            if k.count > len(k.shown):
                lines.append(f"  ... and {k.count - len(k.shown):,} more")
        return "\n".join(lines)

    def __reduce__(self) -> tuple[type[YardImportError], tuple[str, tuple[ProblemKind, ...]]]:
        return (type(self), (self.yard, self.kinds))
