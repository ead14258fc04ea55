"""The intents the planners know: each registered tool's, with what its questions ask; and "unknown".

An intent is what a question asks, named by the tool that answers it (`brain.tools.ToolSpec.intent`,
`intent_description`): a tool added as a module of `brain.tools` or as a plug-in adds its intent here, with no other
edit. "unknown" is no tool's: the question could not be placed, and nothing runs.

```python
from brain.intents import INTENTS, is_known

INTENTS["weld_risk"]  # 'predicted welding hours and defect risk for a block or assembly'
is_known("unknown"), is_known("weather")  # (True, False)
```
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from brain.tools import TOOLS

__all__ = ["INTENTS", "UNKNOWN", "Intents", "is_known"]

UNKNOWN: Final = "unknown"
"""The intent of a question no planner could place."""


class Intents(Mapping[str, str]):
    """intent -> what its questions ask, read from the tool registry on each use (so a plug-in's count too).

    The first tool by name that gives an intent a description describes it; a tool without one (`predict`)
    offers no intent of its own.
    """

    def _described(self) -> dict[str, str]:
        described: dict[str, str] = {}
        for _, spec in TOOLS.items():
            if spec.intent_description and spec.intent != UNKNOWN:
                described.setdefault(spec.intent, spec.intent_description)
        return described

    def __getitem__(self, intent: str) -> str:
        return self._described()[intent]

    def __iter__(self) -> Iterator[str]:
        return iter(self._described())

    def __len__(self) -> int:
        return len(self._described())

    def __contains__(self, intent: object) -> bool:
        return intent in self._described()


INTENTS: Final = Intents()
"""Every intent a tool answers, with what its questions ask ("unknown" is none of them)."""


def is_known(intent: str) -> bool:
    """An intent some registered tool answers, or "unknown"."""
    return intent == UNKNOWN or intent in INTENTS
