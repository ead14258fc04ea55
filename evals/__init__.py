"""Evals: suites over recorded work packages, scorers, runner, reports and run comparison.

```python
from evals import load_suite, run_suite, compare_runs
summary = run_suite(load_suite("evals/suites/smoke.yaml"), "runs/smoke-1")
summary.ok, summary.means["mae:hours"], summary.report
compare_runs("runs/smoke-1", "runs/smoke-2").regressions
```

The public names are listed once, in `__init__.pyi`; each loads on first use (`lazy_loader.attach_stub`).
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
