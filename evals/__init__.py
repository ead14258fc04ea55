"""Evals: suites over recorded work packages, scorers, runner, reports and run comparison.

```python
from evals import load_suite, run_suite, compare_runs
summary = run_suite(load_suite("evals/suites/smoke.yaml"), "runs/smoke-1")
summary.ok, summary.means["mae:hours"], summary.report
compare_runs("runs/smoke-1", "runs/smoke-2").regressions
```
"""

from evals.compare import Change, Comparison, compare_runs
from evals.errors import EvalGateError, PackageError, ReplayMissError, RunDirError, SuiteError
from evals.package import RecordedAnswer, RecordedPackage, record
from evals.runner import CaseRecord, RunSummary, list_runs, load_run, run_suite
from evals.scorers import SCORERS, CaseOutput, Score, scorer
from evals.suite import Suite, load_suite

__all__ = [
    "SCORERS",
    "CaseOutput",
    "CaseRecord",
    "Change",
    "Comparison",
    "EvalGateError",
    "PackageError",
    "RecordedAnswer",
    "RecordedPackage",
    "ReplayMissError",
    "RunDirError",
    "RunSummary",
    "Score",
    "SuiteError",
    "Suite",
    "compare_runs",
    "list_runs",
    "load_run",
    "load_suite",
    "record",
    "run_suite",
    "scorer",
]
