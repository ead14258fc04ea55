"""The brain's tools: graph queries, the models over sets of parts, the scheduler, what-ifs, documents.

One module per family (`graph`, `welding`, `hours`, `outfitting`, `schedule`, `predict`, `documents`), each
declaring its tools with `tool` (or `plan_change`) from `brain.tools.base`; `TOOLS` finds them all, and the
plug-ins of the entry-point group `shipbrain.tools`, on first use.

```python
from brain.core import YardContext
from brain.tools import TOOLS, run_tool

result = run_tool(YardContext.open(".shipbrain/yards/demo"), "weld_risk", {"code": "B012"})
result.summary, result.columns, result.rows[:3]
```
"""

from brain.tools.base import (
    TOOLS,
    Approved,
    ArgsFrom,
    Column,
    Plot,
    ToolArgs,
    ToolResult,
    ToolRow,
    ToolSpec,
    check_args,
    columns_of,
    describe_change,
    pin_change,
    plan_change,
    run_tool,
    tool,
)

__all__ = [
    "TOOLS",
    "Approved",
    "ArgsFrom",
    "Column",
    "Plot",
    "ToolArgs",
    "ToolResult",
    "ToolRow",
    "ToolSpec",
    "check_args",
    "columns_of",
    "describe_change",
    "pin_change",
    "plan_change",
    "run_tool",
    "tool",
]
