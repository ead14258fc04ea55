"""No adoption without a decision record: the plan book, the tools and `Brain.decide` take the approver's key id
and the digest of what they were shown, never a bare name (review of 2026-12-02, findings 1, 2 and 14)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from brain.errors import PlanChangedError, UnknownThreadError
from brain.planbook import Approver, PlanBook, PlanEvent, deciding
from brain.supervisor import Brain
from brain.tools import pin_change, run_tool
from knowledge import InputError, Settings

ADOPT = "Adopt into the plan: B002 is late by 4 days"


@pytest.fixture
def brain(small_yard: Path, tmp_path: Path) -> Iterator[Brain]:
    b = Brain(small_yard, Settings(data_dir=tmp_path))
    yield b
    b.close()


def test_the_plan_book_adopts_only_with_a_decision_record(tmp_path: Path) -> None:
    book = PlanBook(Settings(data_dir=tmp_path), "yard-x")
    event = PlanEvent(code="B002", days=4)
    with pytest.raises(InputError, match="decision record"):
        book.adopt_all([event], key="k1", by="the CEO")
    with deciding(Approver("anna", "key_anna")), pytest.raises(InputError, match="decision record"):
        book.adopt_all([event], key="k1", by="the CEO")  # another name than the decision's
    assert book.adoptions() == []
    with pytest.raises(PlanChangedError, match="not the one approved"):
        book.adopt_all([event], key="k1", by=Approver("anna", "key_anna", "0" * 64), schedule='{"tasks": []}')
    adopted = book.adopt_all([event], key="k1", by=Approver("anna", "key_anna"))
    assert (adopted.adopted_by, adopted.adopted_by_key) == ("anna", "key_anna")
    assert book.entries()[0]["adopted_by_key"] == "key_anna"


def test_a_plan_changing_tool_called_with_a_name_alone_adopts_nothing(brain: Brain) -> None:
    """What a plug-in calling the tool (or the plan) with a made-up name gets: a refusal, nothing adopted."""
    args = {"code": "B002", "days": 4}
    pinned = {**args, **pin_change(brain.context, "adopt_plan", args)}
    with pytest.raises(InputError, match="decision record"):
        run_tool(brain.context, "adopt_plan", pinned, approved_by="the CEO", key="forged:1")
    assert brain.context.plan.planbook.adoptions() == []
    with deciding(Approver("anna", "key_anna", str(pinned["schedule_digest"]))):
        done = run_tool(brain.context, "adopt_plan", pinned, approved_by="anna", key="approval:1")
    assert done.error is None and brain.context.plan.planbook.adoptions()[0].adopted_by_key == "key_anna"


def test_a_decision_names_the_change_it_decides(brain: Brain) -> None:
    asked = brain.ask(ADOPT)
    assert asked.approval is not None
    digest = asked.approval.digest
    assert digest == asked.approval.pinned["schedule_digest"]
    with pytest.raises(InputError, match="digest"):
        brain.decide(asked.thread_id, approved=True, by=Approver("anna", "key_anna"))
    with pytest.raises(PlanChangedError, match=f"waits on digest {digest}"):
        brain.decide(asked.thread_id, approved=True, by=Approver("anna", "key_anna", "a" * 64))
    with pytest.raises(InputError, match="control character"):
        brain.decide(asked.thread_id, approved=False, by=Approver("anna", "key_anna"), note="x\x00y")
    assert brain.pending(asked.thread_id) is not None and brain.context.plan.planbook.adoptions() == []
    done = brain.decide(asked.thread_id, approved=True, by=Approver("anna", "key_anna", digest))
    assert done.approval is not None and (done.approval.outcome, done.approval.by_key) == ("adopted", "key_anna")


def test_a_thread_is_continued_only_by_its_owner(brain: Brain) -> None:
    """Finding 1: `shipbrain ask --thread X` continued any key's thread."""
    mine = brain.ask("What is B001?", owner="key_anna").thread_id
    with pytest.raises(UnknownThreadError, match="continued there, with its key"):
        brain.ask("and B002?", thread_id=mine)  # the local CLI: no key
    with pytest.raises(UnknownThreadError):
        brain.ask("and B002?", thread_id=mine, owner="key_bob")
    assert brain.ask("and B002?", thread_id=mine, owner="key_anna").status == "answered"
    local = brain.ask("What is B001?").thread_id  # a thread of the local CLI stays the local CLI's
    assert brain.ask("and B002?", thread_id=local).status == "answered"
