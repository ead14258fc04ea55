"""Workflows: named, versioned, typed jobs for MES integrations (the HTTP service and the chat page call them).

```python
from workflows import WORKFLOWS, WorkflowContext, run_workflow

WORKFLOWS.names()  # ('block-readiness', 'outfitting-plan', 'reschedule', 'weld-inspection-plan')
ctx = WorkflowContext.open(".shipbrain/yards/demo")
result = run_workflow("block-readiness", {"block": "B012", "reports": []}, ctx)
```

Each workflow lives in its own module with its request and result models (`workflows.weld_inspection_plan`,
`workflows.block_readiness`, `workflows.outfitting_plan`, `workflows.reschedule`); `shipbrain workflow` runs
them from the command line (`workflows.cli`).
"""

from workflows.base import (
    SHIPPED_WORKFLOWS,
    WORKFLOWS,
    ProgressCallback,
    Steps,
    Workflow,
    WorkflowContext,
    WorkflowRegistry,
    run_workflow,
    validate_request,
)
from workflows.errors import UnknownWorkflowError, WorkflowError, WorkflowInputError

__all__ = [
    "SHIPPED_WORKFLOWS",
    "WORKFLOWS",
    "ProgressCallback",
    "Steps",
    "UnknownWorkflowError",
    "Workflow",
    "WorkflowContext",
    "WorkflowError",
    "WorkflowInputError",
    "WorkflowRegistry",
    "run_workflow",
    "validate_request",
]
