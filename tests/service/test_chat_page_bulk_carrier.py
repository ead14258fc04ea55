"""The chat page in a real browser on the bulk carrier: a yard with its own ids, kinds and column names.

The same page as `test_chat_page.py`, served over a Brain of the imported bulk carrier sample: a planner asks about
a block by the yard's own id (with a slash in it), sees the answer with the brain's own numbers, the table of that
yard's seams and a plot; a question naming an id of another yard is told what this yard's ids look like.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from brain.supervisor import Brain
from knowledge import Settings
from knowledge.documents import DEMO_CORPUS, DocumentStore
from tests.service.chat_page import MARKS, browse, screenshot, serve
from tests.service.chat_page import ask as _ask

RISK = "how risky is the welding in H1042/DB03?"

pytestmark = MARKS


@pytest.fixture(scope="module")
def brain(bulk_carrier: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Brain]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("chat-bulk"))
    with DocumentStore(settings) as store:
        store.ingest([DEMO_CORPUS])
    b = Brain(bulk_carrier, settings)
    yield b
    b.close()


@pytest.fixture
def page(brain: Brain) -> Iterator[Any]:
    with serve(brain) as site, browse(site) as tab:
        yield tab


def test_a_planner_asks_about_a_bulk_carrier_block_by_its_own_id(page: Any, brain: Brain) -> None:
    from playwright.sync_api import expect

    chat = page.locator("#shipbrain-chat")
    _ask(page, RISK)
    expect(page.locator("#shipbrain-sources")).to_contain_text("welding model", timeout=45_000)
    expected = brain.ask(RISK)  # the same question, asked of the brain directly
    result = expected.results[0]
    assert result.tool == "weld_risk"
    assert result.args["code"] == "H1042/DB03"
    expect(chat).to_contain_text(result.summary)
    expect(page.locator("#shipbrain-table")).to_contain_text(str(result.rows[0]["code"]))
    assert str(result.rows[0]["code"]).startswith("W")  # one of the yard's seams, as the yard names them
    expect(page.locator("#shipbrain-bars svg").first).to_be_visible()
    screenshot(page, "bulk-carrier-weld-risk")

    # the synthetic yard's block: this yard has no such id, and says what its own look like
    page.get_by_role("button", name="New conversation").click()
    _ask(page, "what must be done before block B012?")
    example = brain.names.example("block")
    assert example is not None and example.startswith("H1042/")
    expect(chat).to_contain_text(f"such as {example}")
    assert "Traceback" not in chat.inner_text()
