"""Plan changes wait for a person: interrupts, decisions, busy threads, and the same flow on PostgreSQL."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from brain.errors import NoPendingApprovalError, ThreadBusyError, UnknownThreadError
from brain.plan import Plan
from brain.planbook import Approver
from brain.planner import OfflinePlanner
from brain.supervisor import Answer, Brain
from brain.tools import ToolResult
from knowledge import InputError, Settings
from knowledge.database import dispose
from tests.helpers import postgres

ADOPT = "Adopt into the plan: B002 is late by 4 days"


def by(name: str, shown: Answer | None = None) -> Approver:
    """The decision record of `name`'s key, naming the change `shown` waits on (none: a rejection's)."""
    return Approver(name, f"key_{name.replace(' ', '_')}", shown.approval.digest if shown and shown.approval else None)


@pytest.fixture
def brain(small_yard: Path, tmp_path: Path) -> Iterator[Brain]:
    b = Brain(small_yard, Settings(data_dir=tmp_path))
    yield b
    b.close()


def test_a_plan_change_waits_for_approval_and_changes_nothing_before(brain: Brain) -> None:
    asked = brain.ask(ADOPT)
    assert asked.status == "waiting_for_approval"
    assert asked.approval is not None and asked.approval.tool == "adopt_plan"
    assert "B002 late by 4 days" in asked.approval.change
    assert [r.tool for r in asked.results] == ["what_if"]  # simulated first, re-planned on its result
    assert brain.context.plan.planbook.events() == []
    with pytest.raises(ThreadBusyError, match="waits for a decision"):
        brain.ask("What is B001?", thread_id=asked.thread_id)

    done = brain.decide(asked.thread_id, approved=True, by=by("planner.anna", asked), note="crane booked")
    assert done.status == "answered"
    assert "adopted into the plan: B002 late by 4 days" in done.answer and "approved by planner.anna" in done.answer
    entries = brain.context.plan.planbook.entries()
    assert len(entries) == 1 and entries[0]["adopted_by"] == "planner.anna"
    assert entries[0]["adopted_by_key"] == "key_planner.anna"
    assert str(entries[0]["thread_id"]).startswith(asked.thread_id)
    # deciding twice applies nothing twice
    with pytest.raises(NoPendingApprovalError):
        brain.decide(asked.thread_id, approved=True, by=by("planner.anna", asked))
    assert len(brain.context.plan.planbook.events()) == 1
    # the adopted event is now part of every schedule the brain reports
    schedule = brain.ask("What is the critical path of the ship?")
    assert "adopted: B002 late by 4 days" in schedule.sources


def test_a_rejected_change_is_not_made(brain: Brain) -> None:
    asked = brain.ask("Please apply PL-2 down for 3 days from day 5 to the plan")
    assert asked.status == "waiting_for_approval" and asked.approval is not None
    done = brain.decide(asked.thread_id, approved=False, by=by("lead.bob"), note="repair is quicker")
    assert done.status == "answered" and brain.context.plan.planbook.events() == []
    assert "Not changed: lead.bob rejected" in done.answer and "repair is quicker" in done.answer


def test_decisions_need_a_thread_that_waits_and_a_record(brain: Brain) -> None:
    with pytest.raises(UnknownThreadError):
        brain.decide("no-such-thread", approved=False, by=by("x"))
    answered = brain.ask("What is B001?")
    with pytest.raises(NoPendingApprovalError, match="waits for no decision"):
        brain.decide(answered.thread_id, approved=False, by=by("x"))
    with pytest.raises(InputError, match="record"):
        brain.decide(answered.thread_id, approved=True, by="x")  # type: ignore[arg-type]  # a name is not a record
    with pytest.raises(InputError, match="1-200 characters"):
        Approver("  ", "key_x")


class _Gate:
    """A planner that holds its first round until released, so a second question can arrive meanwhile."""

    def __init__(self) -> None:
        self.inner = OfflinePlanner()
        self.entered, self.release = threading.Event(), threading.Event()

    def plan(
        self, question: str, results: list[ToolResult], previous: Plan | None, context: dict[str, Any] | None = None
    ) -> Plan:
        if previous is None and "hold" in question:
            self.entered.set()
            assert self.release.wait(30)
        return self.inner.plan(question.replace("hold ", ""), results, previous)


def test_a_second_question_on_a_busy_thread_is_refused(small_yard: Path, tmp_path: Path) -> None:
    gate = _Gate()
    brain = Brain(small_yard, Settings(data_dir=tmp_path), planner=gate)
    try:
        thread = brain.ask("What is B001?").thread_id
        first: list[object] = []
        worker = threading.Thread(target=lambda: first.append(brain.ask("hold what is B002?", thread_id=thread)))
        worker.start()
        assert gate.entered.wait(30)
        with pytest.raises(ThreadBusyError, match="answering another question"):
            brain.ask("What is B003?", thread_id=thread)
        gate.release.set()
        worker.join(30)
        assert first and brain.history(thread) == ["What is B001?", "hold what is B002?"]
        assert brain.ask("What is B003?", thread_id=thread).status == "answered"  # free again
    finally:
        gate.release.set()
        brain.close()


@pytest.mark.slow
@pytest.mark.skipif(not postgres.available(), reason="PostgreSQL server programs not installed (tests/run.sh does)")
def test_checkpoints_and_the_plan_book_on_postgresql(small_yard: Path, tmp_path: Path) -> None:
    with postgres.postgres_server() as dsn:
        settings = Settings(data_dir=tmp_path, postgres_dsn=dsn)
        brain = Brain(small_yard, settings)
        try:
            asked = brain.ask(ADOPT)
            assert asked.status == "waiting_for_approval"
        finally:
            brain.close()
        assert not (tmp_path / "brain.sqlite").exists() and not (tmp_path / "shipbrain.sqlite").exists()
        again = Brain(small_yard, settings)  # another process: the interrupted run is in PostgreSQL
        try:
            assert again.pending(asked.thread_id) is not None
            done = again.decide(asked.thread_id, approved=True, by=by("planner.anna", asked))
            assert done.status == "answered"
            assert [e.code for e in again.context.plan.planbook.events()] == ["B002"]
            assert again.history(asked.thread_id) == [ADOPT]
            assert "postgresql" in again.context.plan.planbook.where
        finally:
            again.close()
            dispose(settings)  # the server stops next: close the pooled connections first


def test_adopt_it_after_a_whatif_adopts_that_whatif(brain: Brain) -> None:
    first = brain.ask("If panel line 2 is down 3 days from day 2, which erections slip?")
    assert first.results[0].tool == "what_if"
    follow = brain.ask("ok, adopt it", thread_id=first.thread_id)
    assert follow.status == "waiting_for_approval" and follow.approval is not None
    assert follow.approval.args["resource"] == "PL-2" and follow.approval.args["days"] == 3
    assert "PL-2 down for 3 days from day 2" in follow.approval.change
    # in a new thread there is nothing to adopt: it says so rather than guess
    alone = brain.ask("ok, adopt it")
    assert alone.status == "answered" and alone.results == [] and "which what-if" in alone.answer
    assert brain.context.plan.planbook.events() == []


def test_the_llm_planner_sees_the_previous_turn_of_its_thread() -> None:
    from brain.llm_planner import LLMPlanner
    from tests.helpers.chat import ScriptedChatModel

    planner = LLMPlanner(ScriptedChatModel(script=[]))
    context = {"question": "what is B002?", "answer": "B002 is a block holding 6 assemblies"}
    sent = planner.messages("and B003?", [], context)
    assert [m.content for m in sent[1:]] == ["what is B002?", "B002 is a block holding 6 assemblies", "and B003?"]


def test_what_is_approved_is_what_is_adopted(brain: Brain) -> None:
    """Issue 11 #1: the adopted plan is the repaired schedule shown for approval, not a re-solve of the events."""
    asked = brain.ask("Adopt into the plan: B012 is late by 4 days")
    assert asked.status == "waiting_for_approval" and asked.approval is not None
    shown = asked.results[0]
    assert shown.tool == "what_if"
    # the request for approval says in words what changes, and pins the computation it shows
    assert re.search(r"\d+ erections? slips?", asked.approval.change)
    assert re.search(r"\d+ work packages? moves? in all", asked.approval.change)
    assert set(asked.approval.pinned) == {"plan_version", "schedule_digest"}
    brain.decide(asked.thread_id, approved=True, by=by("planner.anna", asked))
    after = brain.ask("When will B012 be erected?").results[0]
    assert after.numbers["makespan_days"] == shown.numbers["makespan_days_after"]
    erected = {r["block"]: r["erection_day"] for r in shown.rows}
    assert after.numbers["erection_day"] == erected["B012"]
    # every work package starts where the approved what-if put it
    moved = {r["work_package"]: r["start_day"] for r in shown.breakdown}
    adopted = {r["code"]: r["start_day"] for r in after.rows if r.get("start_day") is not None}
    assert all(moved[c] == day for c, day in adopted.items() if c in moved)
    (adoption,) = brain.context.plan.planbook.adoptions()
    assert adoption.digest == asked.approval.pinned["schedule_digest"]


def test_a_change_computed_on_an_older_plan_is_refused(brain: Brain) -> None:
    first = brain.ask("Adopt into the plan: B002 is late by 4 days")
    second = brain.ask("Adopt into the plan: PL-1 is down for 2 days from day 3")
    brain.decide(first.thread_id, approved=True, by=by("planner.anna", first))
    done = brain.decide(second.thread_id, approved=True, by=by("planner.bob", second))
    assert "plan changed" in done.answer
    assert [e.code or e.resource for e in brain.context.plan.planbook.events()] == ["B002"]


def test_adoption_is_exactly_once_when_the_process_dies_after_the_write(
    brain: Brain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11 #2: the plan book write happens, then the act step dies; resuming adopts nothing twice."""
    from brain.planbook import PlanBook

    write = PlanBook.adopt_all
    crashes = []

    def write_then_die(self: PlanBook, *args: Any, **kwargs: Any) -> Any:
        adopted = write(self, *args, **kwargs)
        if not crashes:
            crashes.append(adopted)
            raise SystemExit("killed after the write")  # not an Exception: nothing in the graph catches it
        return adopted

    monkeypatch.setattr(PlanBook, "adopt_all", write_then_die)
    asked = brain.ask(ADOPT)
    with pytest.raises(SystemExit):
        brain.decide(asked.thread_id, approved=True, by=by("planner.anna", asked))
    assert len(brain.context.plan.planbook.adoptions()) == 1
    done = brain.resume(asked.thread_id)  # the act step runs again with the same approval key
    assert "adopted into the plan" in done.answer
    assert len(brain.context.plan.planbook.adoptions()) == 1 and len(crashes) == 1


def test_the_plan_book_adopts_a_key_once(tmp_path: Path) -> None:
    from brain.planbook import PlanBook, PlanEvent

    book = PlanBook(Settings(data_dir=tmp_path), "yard-x")
    event = PlanEvent(code="B002", days=4)
    first = book.adopt_all([event], key="approval-1", by=by("anna"), base_version=0)
    again = book.adopt_all([event], key="approval-1", by=by("anna"), base_version=0)
    assert again == first and book.version() == 1 and len(book.events()) == 1
