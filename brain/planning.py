"""What a planner is to the supervisor: the `Planner` protocol and the thread context it reads.

Kept apart from `brain.supervisor` and the planners themselves, so that the supervisor, the offline planner and the
LLM planner each import it and none imports another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from pydantic import JsonValue
from typing_extensions import TypedDict

if TYPE_CHECKING:
    from brain.plan import Plan
    from brain.tools import ToolResult

__all__ = ["Planner", "ThreadContext"]


class ThreadContext(TypedDict):
    """The previous question of a conversation, for follow-ups ("and for B013?", "adopt it")."""

    question: str
    """The previous question, as asked."""
    intent: str | None
    """Its plan's intent."""
    entities: dict[str, JsonValue]
    """Its plan's entities (`Entities.model_dump(mode="json")`)."""
    what_if: dict[str, JsonValue] | None
    """The arguments of its last what-if, if it ran one ("adopt it" adopts that)."""
    answer: str
    """Its answer (at most 2,000 characters)."""


class Planner(Protocol):
    """Turns a question, and the results of the steps run so far, into the next steps (none: done)."""

    def plan(
        self, question: str, results: list[ToolResult], previous: Plan | None, context: ThreadContext | None = None
    ) -> Plan:
        """The next plan.

        Args:
            question: the planner's question, as asked.
            results: every tool result of this question so far, in order.
            previous: the plan of the round before (None on the first round).
            context: the thread's previous question, for follow-ups; None in a new thread.
        """
        ...
