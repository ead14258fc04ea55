"""The supervisor: a LangGraph graph that plans, runs the tools and composes an answer with its sources.

```
START -> plan -> act -> answer -> END        (plan -> answer when there is nothing to run)
```

State is JSON-plain (dicts, lists, strings) so it survives the checkpointer's round trip. Runs are
checkpointed in SQLite (`DATA_DIR/brain.sqlite`); a conversation is a thread that can be resumed.
Events (the plan, each tool call with its inputs, timing and row count, the answer) stream as the
graph runs.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from typing_extensions import TypedDict

from brain.plan import INTENTS, Plan
from brain.planner import OfflinePlanner
from brain.tools import ToolResult, YardTools
from knowledge.errors import InputError, ShipbrainError
from knowledge.partgraph import PartGraph
from knowledge.settings import Settings, get_settings

__all__ = ["Answer", "Brain", "MAX_QUESTION_CHARS"]

MAX_QUESTION_CHARS = 4_000


class State(TypedDict, total=False):
    """The graph's state: the question, the plan, the tool results, the answer (each run starts them afresh)."""

    question: str
    plan: dict[str, Any]
    results: list[dict[str, Any]]
    answer: str


class Answer(BaseModel):
    """What the brain says, and how it got there."""

    model_config = ConfigDict(frozen=True)

    thread_id: str
    question: str
    answer: str
    plan: Plan
    results: list[ToolResult]

    @property
    def sources(self) -> list[str]:
        """Every source the answer's numbers came from."""
        return [s for r in self.results for s in r.sources]


def _compose(question: str, plan: Plan, results: list[ToolResult]) -> str:
    if plan.intent == "unknown":
        can = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in INTENTS.items())
        return f"I cannot place that question ({plan.reason}). I can answer about {can}."
    lines = []
    for result in results:
        if result.error:
            lines.append(f"I could not answer: {result.error}")
            continue
        lines.append(result.summary + ".")
        if result.tool == "search_documents":
            lines += [f"- {row['citation']}: {row['text'][:300]}" for row in result.rows]
        elif result.rows and result.tool in ("weld_risk", "ndt_plan"):
            lines += [
                f"- {r['code']}: {r['process']} {r['position']}, {r['thickness_mm']:g} mm, {r['access']} access, "
                f"{r['hours']:.1f} h, defect risk {100 * r['defect_probability']:.1f} %"
                for r in result.rows[:10]
            ]
        if result.sources:
            lines.append("Sources: " + "; ".join(result.sources[:5]))
    return "\n".join(lines)


class Brain:
    """Answers planners' questions about one yard.

    Args:
        yard: the yard directory.
        settings: data dir (checkpoints, document store, models).
    """

    def __init__(self, yard: Path, settings: Settings | None = None) -> None:
        from langgraph.checkpoint.sqlite import SqliteSaver
        from langgraph.graph import END, START, StateGraph

        self.settings = settings or get_settings()
        self.graph = PartGraph.open(yard)
        self.tools = YardTools(self.graph, self.settings)
        self.planner = OfflinePlanner()
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.settings.data_dir / "brain.sqlite", check_same_thread=False)
        builder = StateGraph(State)
        builder.add_node("plan", self._plan)
        builder.add_node("act", self._act)
        builder.add_node("answer", self._answer)
        builder.add_edge(START, "plan")
        builder.add_conditional_edges("plan", lambda s: "act" if s["plan"]["steps"] else "answer")
        builder.add_edge("act", "answer")
        builder.add_edge("answer", END)
        self.app = builder.compile(checkpointer=SqliteSaver(self._conn))

    def _plan(self, state: State) -> dict[str, Any]:
        return {"plan": self.planner.plan(state["question"]).model_dump()}

    def _act(self, state: State) -> dict[str, Any]:
        results = []
        for step in Plan.model_validate(state["plan"]).steps:
            try:
                result = self.tools.run(step.tool, step.args)
            except (ShipbrainError, ValueError) as exc:  # the planner's entities can still be wrong: say so
                result = ToolResult(tool=step.tool, args=step.args, summary="", error=str(exc))
            results.append(result.model_dump())
        return {"results": results}

    def _answer(self, state: State) -> dict[str, Any]:
        plan = Plan.model_validate(state["plan"])
        results = [ToolResult.model_validate(r) for r in state.get("results", [])]
        return {"answer": _compose(state["question"], plan, results)}

    @staticmethod
    def check_question(question: object) -> str:
        """The question, or a clear `InputError` for an empty, enormous or non-text one."""
        if not isinstance(question, str):
            raise InputError(f"a question is text, got {type(question).__name__}")
        if not question.strip():
            raise InputError("the question is empty")
        if len(question) > MAX_QUESTION_CHARS:
            raise InputError(f"the question has {len(question):,} characters; the limit is {MAX_QUESTION_CHARS:,}")
        return question.strip()

    def stream(self, question: str, thread_id: str | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
        """(node, update) events as the graph runs: the plan, the tool results, the answer."""
        text = self.check_question(question)
        config: Any = {"configurable": {"thread_id": thread_id or uuid.uuid4().hex}}
        for event in self.app.stream({"question": text, "results": []}, config, stream_mode="updates"):
            yield from event.items()

    def ask(self, question: str, thread_id: str | None = None) -> Answer:
        """Answer one question (in a new thread unless `thread_id` names one)."""
        text = self.check_question(question)
        thread = thread_id or uuid.uuid4().hex
        state = self.app.invoke({"question": text, "results": []}, {"configurable": {"thread_id": thread}})
        return Answer(
            thread_id=thread, question=text, answer=state["answer"], plan=Plan.model_validate(state["plan"]),
            results=[ToolResult.model_validate(r) for r in state["results"]],
        )  # fmt: skip

    def history(self, thread_id: str) -> list[str]:
        """The questions asked in a thread, oldest first."""
        config: Any = {"configurable": {"thread_id": thread_id}}
        finished = [s for s in self.app.get_state_history(config) if not s.next and s.values.get("answer")]
        questions = [s.values.get("question") for s in finished]
        if not questions:
            raise InputError(f"no thread {thread_id!r}")
        return [q for q in reversed(questions) if q]

    def close(self) -> None:
        """Close the checkpoint store."""
        self._conn.close()
