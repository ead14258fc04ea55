"""The supervisor: a LangGraph graph that plans, runs the tools, re-plans on their results and answers.

```
START -> plan -+-> act -> plan (again, with the results) ... -+-> answer -> END
               +-> approve (interrupt: a person decides) -> act
```

The planner (offline by default, an LLM when `SHIPBRAIN_LLM_BASE_URL` and `SHIPBRAIN_LLM_MODEL` are
set) sees the question and every result so far, and returns the next steps or none (done). A step whose
tool changes the yard's plan goes through `approve` first: that node does nothing but `interrupt()`, so
re-running it on resume repeats no side effect; the change itself runs in `act` with an idempotency key
minted after the decision, so a crash and a re-run of `act` cannot apply it twice.

State is JSON-plain (dicts, lists, strings) so it survives the checkpointer's round trip. Checkpoints
go to SQLite (`DATA_DIR/brain.sqlite`) or PostgreSQL (`SHIPBRAIN_POSTGRES_DSN`); a conversation is a
thread that can be resumed. A question writes one checkpoint, when it ends or stops for a decision
(`durability="exit"`); a decision writes one a step (`"sync"`: the approval's idempotency key is stored before the
change runs). A thread's state carries its earlier questions, so its latest checkpoint is all a follow-up, a
decision, `resume` or `history` reads, and `brain.checkpoints` prunes the rest (and idle threads). Events (each
plan, each tool call with its inputs, timing and row count, an approval request, the answer) stream as the graph
runs.

Threads: one question at a time per thread (a second one while the first runs is refused with
`ThreadBusyError`, the HTTP layer's 409), and a thread that waits for a decision takes no new question
until it gets one. A thread started for an owner (the service passes the API key's id) is continued only for that
owner: another owner, or none (the local `shipbrain ask`), is told it does not exist.

Decisions: `decide` takes the decision record (`brain.planbook.Approver`: the approving key's id and name, and the
digest of the change they were shown, `Approval.digest`); an approval naming another digest than the pending
change's is refused before anything is written. The outcome is kept in the decision (`Approval.outcome`: adopted,
rejected, plan_changed, refused, failed): a change that could not be adopted never reads as approved and done.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import unicodedata
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, computed_field
from typing_extensions import TypedDict

from brain._planner_features import placeholders
from brain.checkpoints import CheckpointRetention, open_checkpointer
from brain.core import YardContext
from brain.errors import NoPendingApprovalError, PlanChangedError, ThreadBusyError, UnknownThreadError
from brain.lexicon import LazyLexicon
from brain.plan import Plan
from brain.planbook import Approver, deciding, decision_in_force
from brain.planning import Planner, ThreadContext
from brain.tools import TOOLS, ToolResult, ToolSpec, describe_change, pin_change, run_tool
from knowledge.errors import InputError, ShipbrainError
from knowledge.settings import Settings, get_settings
from knowledge.store import YardStore

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.types import StateSnapshot

    from adapters.registry import Registry
    from brain.lexicon import Names
    from brain.planner import OfflinePlanner

__all__ = ["MAX_NOTE_CHARS", "MAX_QUESTION_CHARS", "MAX_ROUNDS", "Answer", "Approval", "Brain", "Outcome", "Planner"]

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS: Final = 4_000
MAX_NOTE_CHARS: Final = 2_000
"""Longest note a decision takes."""
MAX_ROUNDS: Final = 4
"""Plan-act rounds per question; the answer then says what was found so far."""
HISTORY_KEPT: Final = 100
"""Earlier questions a thread's state keeps for `Brain.history` (the latest ones)."""
_THREAD_ID: Final = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


class State(TypedDict, total=False):
    """The graph's state; each question starts it afresh."""

    question: str
    plan: dict[str, Any]
    rounds: int
    results: list[dict[str, Any]]
    approval: dict[str, Any] | None
    answer: str
    context: ThreadContext | None
    asked: list[str]
    """The thread's earlier finished questions, oldest first (at most `HISTORY_KEPT`): `history` reads them from the
    latest checkpoint, so older checkpoints can be pruned."""
    owner: str | None
    """Who the thread belongs to (the service's API key id), or None: only that owner continues it."""


Outcome = Literal["adopted", "rejected", "plan_changed", "refused", "failed"]
"""What a decision came to: the change adopted; rejected; approved but not adopted because the plan moved since it
was computed, because the yard refused it, or because adopting it failed (the reason is `Approval.reason`)."""


class Approval(BaseModel):
    """A plan change waiting for a person, or decided by one."""

    model_config = ConfigDict(frozen=True)

    tool: str
    args: dict[str, JsonValue]
    change: str
    """What approving does, in words."""
    decision: Literal["pending", "approved", "rejected"] = "pending"
    by: str | None = None
    """The approving key's name."""
    by_key: str | None = None
    """The approving key's id."""
    note: str | None = None
    key: str | None = None
    """Idempotency key of the change, minted when it was approved."""
    pinned: dict[str, JsonValue] = Field(default_factory=dict)
    """Arguments that fix the change to what was shown (plan version, schedule digest): it runs with them."""
    outcome: Outcome | None = None
    """What the decision came to, once carried out (None: pending, or decided before outcomes were kept)."""
    reason: str | None = None
    """Why an approved change was not adopted."""

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented use of a property
    @property
    def digest(self) -> str:
        """What an approval names to say what it approves: the pinned schedule's digest, else one of the request.

        A change that pins no schedule (a plug-in's) is named by the SHA-256 of its tool, arguments and pins.
        """
        pinned = self.pinned.get("schedule_digest")
        if isinstance(pinned, str):
            return pinned
        request = json.dumps([self.tool, self.args, self.pinned], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(request.encode()).hexdigest()

    @property
    def plan_version(self) -> int | None:
        """The plan version the change was computed on, if it pins one."""
        version = self.pinned.get("plan_version")
        return version if isinstance(version, int) and not isinstance(version, bool) else None


class Answer(BaseModel):
    """What the brain says, and how it got there."""

    model_config = ConfigDict(frozen=True)

    thread_id: str
    question: str
    status: Literal["answered", "waiting_for_approval"]
    answer: str
    plan: Plan
    results: list[ToolResult]
    approval: Approval | None = None
    planner: str = Field(default="offline")
    fallback: bool = False
    """The configured planner failed and a fallback planner (the offline one) planned this answer."""

    @property
    def sources(self) -> list[str]:
        """Every source the answer's numbers came from."""
        return [s for r in self.results for s in r.sources]


_REFUSED: Final = {
    "destructive": "Nothing was run: I cannot delete, reset or overwrite the yard's data or its plan; the plan changes "
    "only when a person approves an adopted what-if.",
    "out_of_scope": "That is outside what I can answer: I know this yard's parts, welding, inspection, outfitting, "
    "hours, schedule and procedures.",
}
"""The reason of a refusal in words, by kind (an unplaceable question's reason says what it lacks)."""


def _examples() -> list[str]:
    """Two or three things that can be asked, from the tools' declarations (a planner that suggests none)."""
    offered = [spec for _, spec in TOOLS.items() if spec.intent_description and spec.args_from is not None]
    # a phrasing with a role placeholder ("<block>") needs a code of the yard's: the planner fills those
    plain = [next((e for e in spec.examples if not placeholders(e)), None) for spec in offered]
    examples = [f'"{e}"' for e in plain if e is not None]
    if len(examples) < 2:
        examples = [spec.intent_description for spec in offered]
    return examples[:3]


def _refusal(plan: Plan) -> str:
    """Two short lines: why nothing was answered (unless the planner's own words say it), then what can be asked.

    The questions are the planner's suggestions, else the tools' own examples (or what their questions ask).
    """
    lines = []
    if plan.refusal in _REFUSED:
        lines.append(_REFUSED[plan.refusal])
    elif plan.refusal == "unplaceable":
        lines.append(f"I cannot answer that as asked: {plan.reason}.")
    elif not plan.answer:
        lines.append(f"I cannot place that question ({plan.reason}).")
    asks = [f'"{q}"' for q in plan.suggestions[:3]] or _examples()
    said = ", ".join(asks[:-1]) + f" or {asks[-1]}" if len(asks) > 1 else "".join(asks)
    lines.append(f"I can answer about this yard, for example: {said}")
    return "\n".join(lines)


def _lines(spec: ToolSpec | None, result: ToolResult) -> list[str]:
    """The tool's own lines for its result (its rows, as it wants them read)."""
    if spec is None or spec.lines is None or not result.rows:
        return []
    try:
        return spec.lines(result)
    except ValidationError:  # rows of an older version of the tool, from a checkpoint: the summary says enough
        return []


def _trusted_answer(values: Mapping[str, Any]) -> str:
    """A finished question's answer without text from documents: what a planner may read as context next turn.

    Document text is people's writing, never instructions: the LLM planner's tool-calling model must not see it.
    """
    try:
        plan = Plan.model_validate(values["plan"])
        results = [ToolResult.model_validate(r) for r in values.get("results", [])]
    except (KeyError, ValueError):
        return ""
    kept = [r for r in results if not (r.tool in TOOLS and TOOLS.get(r.tool).untrusted_text)]
    return _compose(plan, kept, None) if kept or not results else ""


def _compose(plan: Plan, results: list[ToolResult], approval: Approval | None) -> str:
    if plan.intent != "unknown" and not results and not plan.answer:
        return f"I cannot answer that yet: {plan.reason}."
    if plan.intent == "unknown" and not results:
        return (plan.answer + "\n\n" if plan.answer else "") + _refusal(plan)
    lines = [plan.answer] if plan.answer else []
    for result in results:
        if result.error:
            lines.append(f"I could not answer ({result.tool}): {result.error}")
            continue
        lines.append(result.summary + ".")
        lines += _lines(TOOLS.get(result.tool) if result.tool in TOOLS else None, result)
        if result.sources:
            lines.append("Sources: " + "; ".join(result.sources[:5]))
    if approval is not None and approval.decision == "rejected":
        lines.append(
            f"Not changed: {approval.by} rejected '{approval.change}'"
            + (f" ({approval.note})" if approval.note else "")
        )
    elif approval is not None and approval.outcome in ("plan_changed", "refused", "failed"):
        lines.append(f"Not adopted: {approval.by} approved '{approval.change}', but {approval.reason}")
    return "\n".join(lines)


def _give_names(planner: object, names: Names) -> None:
    """A planner handed in without a yard's vocabulary (and its fallback) gets this yard's: else it finds no code."""
    if hasattr(planner, "names") and planner.names is None:
        planner.names = names
    fallback = getattr(planner, "fallback", None)
    if fallback is not None:
        _give_names(fallback, names)


def _make_planner(settings: Settings, names: Names) -> tuple[Planner, str]:
    if settings.llm_base_url and settings.llm_model:
        from brain.llm_planner import LLMPlanner

        return LLMPlanner.from_settings(settings, names=names), f"llm {settings.llm_model}"
    from brain.planner import OfflinePlanner

    return OfflinePlanner(names=names), "offline"


class _Closable(Protocol):
    def close(self) -> None: ...


def _changes_plan(tool: str) -> bool:
    return tool in TOOLS and TOOLS.get(tool).changes_plan


class Brain:
    """Answers planners' questions about one yard.

    Args:
        yard: the yard's imported store (a directory `shipbrain yard import` wrote).
        settings: data dir (checkpoints, document store, models), checkpoint database, LLM.
        planner: a planner to use instead of the one the settings choose.
        registry: the models to use instead of `Registry.load(settings)` (e.g. another version, or an eval's
            recording registry).
    """

    def __init__(
        self,
        yard: Path,
        settings: Settings | None = None,
        planner: Planner | None = None,
        registry: Registry | None = None,
    ) -> None:
        from langgraph.graph import END, START, StateGraph

        self.settings = settings or get_settings()
        self.yard = YardStore.open(yard)
        """The yard's imported store."""
        self.context = YardContext(self.yard, self.settings, registry=registry)
        """The yard the tools run on: its models, work packages, plan (the plan book) and documents."""
        self.names = LazyLexicon(self.context)
        """The yard's vocabulary: what a question names is looked up in it (made on the first question)."""
        if planner is None:
            self.planner, self.planner_name = _make_planner(self.settings, self.names)
        else:
            self.planner, self.planner_name = planner, type(planner).__name__
            _give_names(planner, self.names)
        self._busy: set[str] = set()
        self._offline: OfflinePlanner | None = None
        """The offline planner that refuses destructive questions when another planner plans (made on first use)."""
        self._busy_lock = threading.Lock()
        self._closers: list[_Closable] = []
        builder = StateGraph(State)
        builder.add_node("plan", self._plan)
        builder.add_node("approve", self._approve)
        builder.add_node("act", self._act)
        builder.add_node("answer", self._answer)
        builder.add_edge(START, "plan")
        builder.add_conditional_edges("plan", self._route, ["act", "approve", "answer"])
        builder.add_edge("approve", "act")
        builder.add_edge("act", "plan")
        builder.add_edge("answer", END)
        saver = self._checkpointer()
        self.retention = CheckpointRetention.of(saver, self.settings)
        """Prunes the checkpoints (`retention.prune()`; `retention.start()` every interval, as `serve` does)."""
        self.app = builder.compile(checkpointer=saver)

    def _checkpointer(self) -> BaseCheckpointSaver[str]:
        saver, closers = open_checkpointer(self.settings)
        self._closers.extend(closers)
        return saver

    # ---- nodes ---------------------------------------------------------------------------------

    def _plan(self, state: State) -> State:
        from brain.plan import amount_problem
        from brain.planner import OfflinePlanner, refused_outright

        results = [ToolResult.model_validate(r) for r in state.get("results", [])]
        previous = Plan.model_validate(state["plan"]) if state.get("plan") else None
        question = state["question"]
        if previous is None and (refused_outright(question) is not None or amount_problem(question) is not None):
            # destructive, about the assistant itself, or an amount that cannot be read as said ("late by -4 days"):
            # refused before any planner (an LLM's too) sees it, so no planner reads it as another number
            refuser = self.planner if isinstance(self.planner, OfflinePlanner) else self._refuser()
            plan = refuser.plan(state["question"], [], None)
        else:
            plan = self.planner.plan(state["question"], results, previous, context=state.get("context"))
        return {"plan": plan.model_dump(mode="json"), "rounds": state.get("rounds", 0) + 1}

    def _refuser(self) -> OfflinePlanner:
        from brain.planner import OfflinePlanner

        if self._offline is None:
            self._offline = OfflinePlanner(names=self.names)
        return self._offline

    @staticmethod
    def _route(state: State) -> str:
        steps = state["plan"]["steps"]
        if not steps or state.get("rounds", 0) > MAX_ROUNDS:
            return "answer"
        if any(_changes_plan(s["tool"]) for s in steps):
            return "approve"
        return "act"

    def _approve(self, state: State) -> State:
        from langgraph.types import interrupt

        # Nothing before interrupt() changes anything: this node runs again from its start on resume.
        step = next(s for s in state["plan"]["steps"] if _changes_plan(s["tool"]))
        try:
            change = describe_change(self.context, step["tool"], step["args"])
            pinned = pin_change(self.context, step["tool"], step["args"])
        except (ShipbrainError, ValueError) as exc:  # a change that cannot be made is not put to a person
            return {
                "approval": Approval(
                    tool=step["tool"],
                    args=step["args"],
                    change=str(exc),
                    decision="rejected",
                    by="shipbrain",
                    note="the change cannot be made",
                    outcome="refused",
                    reason=str(exc),
                ).model_dump()
            }
        request = Approval(tool=step["tool"], args=step["args"], change=change, pinned=pinned)
        decision = interrupt(request.model_dump())
        if isinstance(decision, dict) and isinstance(decision.get("request"), dict):
            # this node ran again on resume, against today's plan: what the person decided on is the request they saw
            request = Approval.model_validate(decision["request"])
        approved = bool(decision.get("approved")) if isinstance(decision, dict) else False
        by = str(decision.get("by") or "unknown") if isinstance(decision, dict) else "unknown"
        by_key = decision.get("key_id") if isinstance(decision, dict) else None
        note = decision.get("note") if isinstance(decision, dict) else None
        return {
            "approval": request.model_copy(
                update={
                    "decision": "approved" if approved else "rejected",
                    "by": by,
                    "by_key": by_key if isinstance(by_key, str) else None,
                    "note": note,
                    "key": uuid.uuid4().hex if approved else None,
                    "outcome": None if approved else "rejected",
                }
            ).model_dump()
        }

    def _act(self, state: State, config: RunnableConfig) -> State:
        results = list(state.get("results", []))
        approval = Approval.model_validate(state["approval"]) if state.get("approval") else None
        thread = str((config.get("configurable") or {}).get("thread_id"))
        update: State = {}
        for step in Plan.model_validate(state["plan"]).steps:
            try:
                if _changes_plan(step.tool):
                    if approval is None or approval.decision != "approved" or approval.args != step.args:
                        why = f"rejected by {approval.by}" if approval and approval.by else "not approved"
                        result = ToolResult(tool=step.tool, args=step.args, summary=f"not done: {why}")
                    else:
                        result, approval = self._change(step.tool, step.args, approval, thread)
                        update["approval"] = approval.model_dump()
                else:
                    result = run_tool(self.context, step.tool, step.args)
            except (ShipbrainError, ValueError) as exc:  # wrong entities or arguments: say so, let the planner see it
                result = ToolResult.failed(step.tool, step.args, exc)
            results.append(result.model_dump(mode="json"))
        return {**update, "results": results}

    def _change(
        self, tool: str, args: dict[str, JsonValue], approval: Approval, thread: str
    ) -> tuple[ToolResult, Approval]:
        """Run an approved plan change under its decision record; the approval comes back with its outcome.

        Whatever stops the change (the plan moved, the yard refuses it, the database fails) is kept as the outcome
        with its reason, never raised past the decision: an approved change is either adopted or says why not.
        """
        outcome: Outcome
        try:
            approver = Approver(approval.by or "unknown", approval.by_key or "unknown", approval.digest)
            outer = decision_in_force()  # `decide`'s record, with what its caller writes along with the adoption
            if outer is not None and (outer.name, outer.key_id, outer.digest) == (
                approver.name,
                approver.key_id,
                approver.digest,
            ):
                approver = outer
            with deciding(approver):
                result = run_tool(
                    self.context,
                    tool,
                    {**args, **approval.pinned},
                    approved_by=approver.name,
                    thread_id=thread,
                    key=approval.key,
                )
        except PlanChangedError as exc:
            result, outcome = ToolResult.failed(tool, args, exc), "plan_changed"
        except (ShipbrainError, ValueError) as exc:
            result, outcome = ToolResult.failed(tool, args, exc), "refused"
        except Exception as exc:  # a database or disk failure: the change is not adopted, and the decision says so
            log.exception("thread %s: the approved change (%s) could not be adopted", thread, tool)
            failed = RuntimeError(f"adopting it failed ({type(exc).__name__}); the service log has the details")
            result, outcome = ToolResult.failed(tool, args, failed), "failed"
        else:
            return result, approval.model_copy(update={"outcome": "adopted"})
        reason = result.error or "it was not adopted"
        return result, approval.model_copy(update={"outcome": outcome, "reason": reason})

    def _answer(self, state: State) -> State:
        plan = Plan.model_validate(state["plan"])
        results = [ToolResult.model_validate(r) for r in state.get("results", [])]
        approval = Approval.model_validate(state["approval"]) if state.get("approval") else None
        return {"answer": _compose(plan, results, approval)}

    # ---- the public API --------------------------------------------------------------------------

    @staticmethod
    def check_question(question: object) -> str:
        """The question, or a clear `InputError` for an empty, enormous or non-text one."""
        if not isinstance(question, str):
            raise InputError(f"a question is text, got {type(question).__name__}")
        if not question.strip():
            raise InputError("the question is empty")
        if len(question) > MAX_QUESTION_CHARS:
            raise InputError(f"the question has {len(question):,} characters; the limit is {MAX_QUESTION_CHARS:,}")
        if "\x00" in question:
            raise InputError("the question holds a NUL character")
        return question.strip()

    @staticmethod
    def check_thread_id(thread_id: object) -> str:
        """A well-formed thread id, or `InputError`."""
        if not isinstance(thread_id, str) or not _THREAD_ID.match(thread_id):
            raise InputError(f"a thread id is 1-128 letters, digits, '_', '.', ':' or '-', got {thread_id!r}")
        return thread_id

    def pending(self, thread_id: str) -> Approval | None:
        """The plan change a thread waits on, if any."""
        return self._waiting(self.app.get_state(self._config(thread_id)))

    @staticmethod
    def _waiting(state: StateSnapshot) -> Approval | None:
        """The plan change a checkpoint snapshot waits on, if any."""
        for task in state.tasks:
            for intr in task.interrupts:
                return Approval.model_validate(intr.value)
        return None

    @staticmethod
    def _config(thread_id: str) -> RunnableConfig:
        return {"configurable": {"thread_id": thread_id}}

    @contextmanager
    def _holding(self, thread_id: str) -> Iterator[None]:
        with self._busy_lock:
            if thread_id in self._busy:
                raise ThreadBusyError(f"thread {thread_id!r} is answering another question; try again when it is done")
            self._busy.add(thread_id)
        try:
            yield
        finally:
            with self._busy_lock:
                self._busy.discard(thread_id)

    @staticmethod
    def check_note(note: object) -> str | None:
        """A decision's note as kept (stripped; None when empty), or `InputError` for one that is not plain text.

        Control characters (NUL among them, which PostgreSQL refuses to store) are refused; line breaks and tabs
        are text.
        """
        if note is None:
            return None
        if not isinstance(note, str):
            raise InputError(f"a note is text, got {type(note).__name__}")
        if len(note) > MAX_NOTE_CHARS:
            raise InputError(f"the note has {len(note):,} characters; the limit is {MAX_NOTE_CHARS:,}")
        bad = next((c for c in note if c not in "\n\t" and unicodedata.category(c) in ("Cc", "Cs")), None)
        if bad is not None:
            raise InputError(f"the note holds a control character (U+{ord(bad):04X}); send plain text")
        return note.strip() or None

    def _start(self, question: object, thread_id: str | None) -> tuple[str, str]:
        text = self.check_question(question)
        return text, uuid.uuid4().hex if thread_id is None else self.check_thread_id(thread_id)

    def _inputs(self, text: str, thread: str, fresh: bool, owner: str | None = None) -> State:
        """A new question's state; in a continued thread it carries the previous question as context.

        Raises:
            UnknownThreadError: a continued thread that does not exist, or belongs to another owner.
            ThreadBusyError: a continued thread that waits for a decision.
        """
        context, asked = None, []
        if not fresh:
            state = self.app.get_state(self._config(thread))  # one read: exists, waits, previous question
            if state.created_at is None:
                raise UnknownThreadError(f"no thread {thread!r}; leave the thread out to start a new conversation")
            if "owner" in state.values and state.values["owner"] != owner:  # as if it did not exist
                raise UnknownThreadError(
                    f"no thread {thread!r}"
                    + ("; a thread started on the service is continued there, with its key" if owner is None else "")
                )
            waiting = self._waiting(state)
            if waiting is not None:
                raise ThreadBusyError(
                    f"thread {thread!r} waits for a decision on '{waiting.change}'; approve or reject it first"
                )
            if state.next:  # a decision stored a step at a time stopped part-way: finish it before anything else
                raise ThreadBusyError(f"thread {thread!r} has a decision not carried out to its end; resume it first")
            values = state.values
            if values.get("plan"):
                plan = values["plan"]
                what_ifs = [r["args"] for r in values.get("results", []) if r.get("tool") == "what_if"]
                context = ThreadContext(
                    question=values.get("question", ""),
                    intent=plan.get("intent"),
                    entities=plan.get("entities", {}),
                    what_if=what_ifs[-1] if what_ifs else None,
                    answer=_trusted_answer(values)[:2_000],
                )
            asked = self._asked(thread, state)[-HISTORY_KEPT:]
        return {
            "question": text,
            "results": [],
            "rounds": 0,
            "approval": None,
            "plan": {},
            "context": context,
            "asked": asked,
            "owner": owner,
        }

    def _asked(self, thread: str, state: StateSnapshot) -> list[str]:
        """The questions finished in a thread up to its latest checkpoint (`state`), oldest first."""
        values = state.values
        if "asked" not in values:  # a thread from before `asked`: its finished questions are its checkpoints'
            finished = [
                s for s in self.app.get_state_history(self._config(thread)) if not s.next and s.values.get("answer")
            ]
            return [q for q in reversed([s.values.get("question") for s in finished]) if q]
        done = not state.next and values.get("answer") and values.get("question")
        return [*values["asked"], values["question"]] if done else list(values["asked"])

    def stream(
        self, question: str, thread_id: str | None = None, *, owner: str | None = None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(node, update) events as the graph runs: each plan, the tool results, an approval request, the answer.

        The last event is ("thread", {"thread_id": ...}) so a caller can continue the conversation. `owner` as
        `ask`'s.
        """
        text, thread = self._start(question, thread_id)
        with self._holding(thread):
            inputs = self._inputs(text, thread, fresh=thread_id is None, owner=owner)
            updates = self.app.stream(inputs, self._config(thread), stream_mode="updates", durability="exit")
            yield from self._events(updates)
        yield "thread", {"thread_id": thread}

    @staticmethod
    def _events(chunks: Iterator[Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        for chunk in chunks:
            for node, update in chunk.items():
                if node == "__interrupt__":
                    yield "approval", Approval.model_validate(update[0].value).model_dump()
                elif update is not None:
                    yield node, update

    def ask(self, question: str, thread_id: str | None = None, *, owner: str | None = None) -> Answer:
        """Answer one question (in a new thread unless `thread_id` names an existing one).

        Args:
            question: the question.
            thread_id: the conversation to continue (None: a new one).
            owner: who asks (the service's API key id; None locally): a new thread is theirs, and a thread is
                continued only by its owner.

        Raises:
            InputError: an empty, enormous or non-text question, or a malformed thread id.
            UnknownThreadError: `thread_id` names no conversation, or another owner's.
            ThreadBusyError: the thread is busy with another question or waits for a decision.
        """
        text, thread = self._start(question, thread_id)
        with self._holding(thread):
            inputs = self._inputs(text, thread, fresh=thread_id is None, owner=owner)
            self.app.invoke(inputs, self._config(thread), durability="exit")
        return self.result(thread)

    def decide(self, thread_id: str, approved: bool, by: Approver, note: str | None = None) -> Answer:
        """Approve or reject the plan change a thread waits on, and let the run finish.

        Args:
            thread_id: the thread that waits.
            approved: adopt the change (True) or not.
            by: the decision record: the approving key's id and name, and the digest of the change they were shown
                (`Approval.digest`; an approval needs it, a rejection may name it).
            note: why, for the record (plain text).

        The answer's `approval.outcome` says what the decision came to: "adopted", "rejected", or why an approved
        change was not adopted ("plan_changed", "refused", "failed", with `approval.reason`). After "failed" (the
        database failed while adopting) the thread waits for the decision again, as it did before.

        Raises:
            UnknownThreadError: no such thread.
            NoPendingApprovalError: the thread waits for no decision.
            InputError: `by` is not a decision record, an approval names no digest, or the note is not plain text.
            PlanChangedError: the digest is not the pending change's (it changed since it was shown); nothing is
                written.
        """
        from langgraph.types import Command

        thread = self.check_thread_id(thread_id)
        if not isinstance(by, Approver):
            raise InputError("a decision needs its record (brain.planbook.Approver: key id, name, digest), not a name")
        note = self.check_note(note)
        if approved and by.digest is None:
            raise InputError("an approval names the digest of the change it approves (the pending approval's digest)")
        with self._holding(thread):
            state = self.app.get_state(self._config(thread))
            if state.created_at is None:
                raise UnknownThreadError(f"no thread {thread!r}")
            waiting = self._waiting(state)
            if waiting is None:
                raise NoPendingApprovalError(f"thread {thread!r} waits for no decision")
            if by.digest is not None and by.digest != waiting.digest:
                raise PlanChangedError(
                    f"thread {thread!r} waits on another change than the one decided on: it waits on digest "
                    f"{waiting.digest}, the decision names {by.digest}; read the thread again and decide what it shows"
                )
            decision = {
                "approved": approved,
                "by": by.name,
                "key_id": by.key_id,
                "note": note,
                "request": waiting.model_dump(),
            }
            # each step stored as it ends: the approval's key is in the database before `act` makes the change
            try:
                with deciding(by):  # its record (and what the caller writes with the adoption) reaches the plan book
                    self.app.invoke(Command(resume=decision), self._config(thread), durability="sync")
            except Exception:  # the checkpoint store itself failed part-way
                if not self._adopted_by(thread):  # nothing adopted: it waits for the decision again
                    self._wait_again(thread, state)
                raise  # else the change is in the plan book: `resume` finishes the thread with the same key
            answer = self.result(thread)
            if answer.approval is not None and answer.approval.outcome == "failed":
                self._wait_again(thread, state)  # adopting failed (a database error): the change can be decided again
        return answer

    def _adopted_by(self, thread: str) -> bool:
        """Whether the decision a thread stopped in (its latest checkpoint's approval key) adopted its change."""
        try:
            approval = self.app.get_state(self._config(thread)).values.get("approval") or {}
            key = approval.get("key") if isinstance(approval, dict) else None
            return isinstance(key, str) and self.context.plan.planbook.by_key(key) is not None
        except Exception:  # the stores still fail: assume the worst (adopted), so nothing is adopted twice
            log.exception("thread %s: could not read what its failed decision did", thread)
            return True

    def _wait_again(self, thread: str, pending: StateSnapshot) -> None:
        """Put a thread whose decision failed back to waiting for one: a step from its pending checkpoint again.

        The failed decision stays in the thread's history; its latest checkpoint asks for the decision again (the
        change described and pinned against the plan as it is now, so an unchanged plan shows the same digest).
        Nothing before `interrupt()` has side effects, so running the approval step again is safe.
        """
        try:
            self.app.invoke(None, pending.config, durability="exit")
        except Exception:  # the store is still failing: the thread stands as the failure left it (resume finishes it)
            log.exception("thread %s: could not put the failed decision back to waiting", thread)

    def resume(self, thread_id: str) -> Answer:
        """Finish a decision whose run stopped part-way (its process died): what was done is not done again.

        A decision is stored a step at a time (`durability="sync"`), so its run goes on from the last step stored:
        that step runs again from its start; a plan change in it carries the approval's idempotency key, so the plan
        book adopts it at most once. A question is stored only when its run exits: answered, failed or stopped for
        a decision (`durability="exit"`); one whose process died left nothing to resume, and the thread stands where
        its previous question left it (this returns that; a new thread was never stored: `UnknownThreadError`). Ask
        it again.

        Raises:
            UnknownThreadError: no such thread.
            ThreadBusyError: the thread waits for a decision (decide it instead).
        """
        thread = self.check_thread_id(thread_id)
        with self._holding(thread):
            state = self.app.get_state(self._config(thread))
            if state.created_at is None:
                raise UnknownThreadError(f"no thread {thread!r}")
            if self._waiting(state) is not None:
                raise ThreadBusyError(f"thread {thread!r} waits for a decision; approve or reject it")
            if state.next:
                self.app.invoke(None, self._config(thread), durability="sync")
        return self.result(thread)

    def result(self, thread_id: str) -> Answer:
        """The thread's latest question as it stands: answered, or waiting for approval."""
        state = self.app.get_state(self._config(self.check_thread_id(thread_id)))
        if state.created_at is None:
            raise UnknownThreadError(f"no thread {thread_id!r}")
        values = state.values
        waiting = self._waiting(state)
        plan = Plan.model_validate(values["plan"])
        said = values.get("answer", "")
        if waiting:
            said = f"Waiting for approval: {waiting.change}"
        elif state.next and not said:
            said = "The decision was recorded, but its run stopped before it ended; resuming the thread finishes it."
        return Answer(
            thread_id=thread_id,
            question=values["question"],
            status="waiting_for_approval" if waiting else "answered",
            answer=said,
            plan=plan,
            results=[ToolResult.model_validate(r) for r in values.get("results", [])],
            approval=waiting or (Approval.model_validate(values["approval"]) if values.get("approval") else None),
            planner=self.planner_name,
            fallback=plan.fallback,
        )

    def history(self, thread_id: str) -> list[str]:
        """The questions asked in a thread, oldest first."""
        thread = self.check_thread_id(thread_id)
        questions = self._asked(thread, self.app.get_state(self._config(thread)))
        if not questions:
            raise UnknownThreadError(f"no thread {thread_id!r}")
        return questions

    def close(self) -> None:
        """Stop pruning, close the checkpoint store and the yard's document store and models."""
        self.retention.stop()
        self.context.close()
        for conn in self._closers:
            conn.close()
        self._closers.clear()
