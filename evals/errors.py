"""The errors of the `evals` layer.

```
ShipbrainError
└── KnowledgeError
    └── InputError (ValueError)                 the caller's mistake: says what and where
        ├── FileLineError                       a file that cannot be read as what it should be: file and line
        │   ├── CaseFileError                   a planner question file
        │   └── SuiteError                      a suite file; refused before anything runs
        ├── PackageError                        a recorded work package that cannot be read or cut
        ├── RunDirError                         a run directory that is not one, or is in the way
        └── ReplayMissError                     --replay, and the cassette holds no output for a model call
EvalGateError (ShipbrainError)                  not a failure of the tool: a threshold miss or regression
```

`EvalGateError` is raised by nothing that runs; `compare` and `run` return it as their verdict, and the CLI
turns it into exit code 1 (bad input is exit code 2, as everywhere in Shipbrain).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from knowledge.errors import InputError, ShipbrainError

__all__ = [
    "CaseFileError",
    "EvalGateError",
    "FileLineError",
    "PackageError",
    "ReplayMissError",
    "RunDirError",
    "SuiteError",
]


class FileLineError(InputError):
    """A file that cannot be read as what it should be: the message names the file and line (`x.yaml:12: ...`)."""

    def __init__(self, path: Path | str, line: int | None, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        super().__init__(f"{path}:{line if line is not None else '?'}: {problem}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.line, self.problem))


class CaseFileError(FileLineError):
    """A planner question file that cannot be read as cases."""


class SuiteError(FileLineError):
    """A suite that cannot run."""


class PackageError(InputError):
    """A recorded work package that is missing, malformed, or cannot be cut from the yard as asked."""


class RunDirError(InputError):
    """A run directory that holds no run (no summary.json), or an --out directory that already holds one."""


class ReplayMissError(InputError):
    """A replayed run asked a model for rows the cassette never recorded: record them with a run without --replay."""


class EvalGateError(ShipbrainError):
    """A gate failed: a score missed its threshold or regressed past the margin (exit code 1)."""
