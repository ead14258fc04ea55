"""Workflows: named, versioned, typed jobs for MES integrations (the HTTP service and the chat page call them).

```python
from workflows import WORKFLOWS, WorkflowContext, run_workflow

WORKFLOWS.names()  # ('block-readiness', 'outfitting-plan', 'reschedule', 'weld-inspection-plan')
ctx = WorkflowContext.open(".shipbrain/yards/hull-1042")  # an imported store: the bulk carrier sample, say
result = run_workflow("block-readiness", {"block": "H1042/DB03", "reports": []}, ctx)  # the yard's own ids
```

Each workflow is one module that declares it with `@workflow(...)` (`workflows.weld_inspection_plan`,
`workflows.block_readiness`, `workflows.outfitting_plan`, `workflows.reschedule`); plug-ins register through the
entry-point group `shipbrain.workflows`; `shipbrain workflow` runs them from the command line (`workflows.cli`).
They compute over `brain.core`, the domain core they share with the brain's tools.

The public names are listed once, in `__init__.pyi`; each loads on first use (`lazy_loader.attach_stub`).
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
