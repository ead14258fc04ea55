"""The typed plan a planner hands the supervisor: an intent, its entities, and the tool steps."""

from __future__ import annotations

import re
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CODE_PATTERN", "INTENTS", "Intent", "Plan", "Step", "extract_codes", "extract_percent"]

Intent = Literal["lookup", "upstream", "downstream", "weld_risk", "ndt_plan", "schedule", "procedure", "unknown"]
INTENTS: Final[dict[str, str]] = {
    "lookup": "what a block, assembly, part, joint or outfitting item is and what it holds",
    "upstream": "everything that must be done before a code",
    "downstream": "everything that waits on a code (what slips if it is late)",
    "weld_risk": "predicted welding hours and defect risk for a block or assembly",
    "ndt_plan": "which joints of a block or assembly to inspect by NDT, under a budget",
    "schedule": "when a block is erected, the makespan and the critical path of the yard's schedule",
    "procedure": "welding procedures, inspection rules, outfitting rules and lessons learned, with citations",
}
CODE_PATTERN: Final = re.compile(
    r"\b(B\d{1,3}(?:-A\d{1,2}(?:-S\d{1,2}(?:-P\d{1,4})?)?)?|J\d{1,3}-\d{1,6}|O\d{1,3}-\d{1,5})\b", re.IGNORECASE
)
_PERCENT: Final = re.compile(r"(\d+(?:\.\d+)?)\s*(?:%|percent)", re.IGNORECASE)


class Step(BaseModel):
    """One tool call."""

    model_config = ConfigDict(frozen=True)

    tool: str
    args: dict[str, Any] = Field(default_factory=dict)


class Plan(BaseModel):
    """What the planner understood and what to run."""

    model_config = ConfigDict(frozen=True)

    intent: Intent
    codes: list[str] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)
    confidence: float = Field(ge=0, le=1)
    """How sure the planner is of the intent (1 for an exact rule, a similarity otherwise)."""
    reason: str


def extract_codes(question: str) -> list[str]:
    """Yard codes in a question, upper-cased, in order, without repeats."""
    seen: list[str] = []
    for match in CODE_PATTERN.finditer(question):
        code = match.group(1).upper()
        if code not in seen:
            seen.append(code)
    return seen


def extract_percent(question: str) -> float | None:
    """A percentage in the question (an inspection budget), as a fraction."""
    match = _PERCENT.search(question)
    return float(match.group(1)) / 100.0 if match else None
