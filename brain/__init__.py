"""The brain: the LangGraph supervisor, its planners and tools, and the `shipbrain` root command.

```python
from brain import Brain

brain = Brain(Path(".shipbrain/yards/demo"))
answer = brain.ask("which joints of B012 need NDT at 5 %?")
answer.answer, answer.sources, answer.results[0].rows
```

Imports are lazy (PEP 562): `import brain` stays cheap for the CLI.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from brain.errors import BrainError, NoPendingApprovalError, PlannerError, ThreadBusyError, UnknownThreadError
    from brain.llm_planner import LLMPlanner
    from brain.plan import Entities, Plan, Step
    from brain.planner import OfflinePlanner
    from brain.supervisor import Answer, Approval, Brain
    from brain.tools import TOOLS, ToolResult, YardTools

__all__ = [
    "TOOLS",
    "Answer",
    "Approval",
    "Brain",
    "BrainError",
    "Entities",
    "LLMPlanner",
    "NoPendingApprovalError",
    "OfflinePlanner",
    "Plan",
    "PlannerError",
    "Step",
    "ThreadBusyError",
    "ToolResult",
    "UnknownThreadError",
    "YardTools",
]
_HOME = {
    "BrainError": "brain.errors", "NoPendingApprovalError": "brain.errors", "PlannerError": "brain.errors",
    "ThreadBusyError": "brain.errors", "UnknownThreadError": "brain.errors", "LLMPlanner": "brain.llm_planner",
    "Entities": "brain.plan", "Plan": "brain.plan", "Step": "brain.plan", "OfflinePlanner": "brain.planner",
    "Answer": "brain.supervisor", "Approval": "brain.supervisor", "Brain": "brain.supervisor",
    "TOOLS": "brain.tools", "ToolResult": "brain.tools", "YardTools": "brain.tools",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'brain' has no attribute {name!r}")
    return getattr(import_module(_HOME[name]), name)
