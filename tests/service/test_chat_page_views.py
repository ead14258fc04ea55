"""The chat page's tables, charts and approvals read right in a real browser (issue 11, "the page").

Each test asks what a planner asked when the page let them down, on a yard of 19 blocks, and checks what they
see: every column of a table whole (sideways scrolling only when the window is too narrow), headings instead of
"1 2 3", bar labels that do not overlap, small counts next to large ones visible, answers in items by kind rather
than "nodes", Gantt rows in the order the work happens, and a plan change in words whose decision lands under the
question it decides. Screenshots: tests/artifacts/chat-page/ (tests/service/chat_page.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from brain.supervisor import Brain
from knowledge import Settings
from tests.service.chat_page import MARKS, Site, ask, browse, screenshot

pytestmark = MARKS

RISK = "How risky is the welding in B002?"
WHEN = "When will B004 be erected?"
OUTAGE = "If panel line 1 is down for 6 days from day 4, which erections slip?"
BEFORE = "What must be done before B019?"
UNKNOWN = "What must be done before B999?"
ADOPT = "adopt into the plan: B002 is late by 4 days"
ORDER = "\u200b"  # the page's invisible order marks in chart labels (workflows/service/chat.py, _ORDER)

# Every heading and the cells of the rows on screen: their text, whether the text is cut inside its cell, and
# where the cell is against the table's scrolling viewport.
TABLE = """() => {
  const view = document.querySelector('#shipbrain-table .virtual-table-viewport');
  const box = view.getBoundingClientRect();
  const cells = [...document.querySelectorAll(
    '#shipbrain-table th[role=columnheader], #shipbrain-table [role=gridcell]')];
  return {
    viewport: {client: view.clientWidth, scroll: view.scrollWidth, overflow: getComputedStyle(view).overflowX,
               left: box.left, right: box.right},
    cells: cells.map(c => {
      const span = c.querySelector('span') || c;
      const r = c.getBoundingClientRect();
      return {text: c.innerText.trim(), left: r.left, right: r.right, cut: span.scrollWidth > span.clientWidth + 1};
    }),
  };
}"""
# Whether a cell's text is cut inside it.
CUT = "c => { const s = c.querySelector('span') || c; return s.scrollWidth > s.clientWidth + 1; }"
# The tick labels of one axis of a chart ("X" or "Y"), as drawn: text and box on screen.
AXIS = """([id, axis]) => {
  const svg = document.querySelector('#' + id + ' svg');
  if (!svg) return null;
  const group = [...svg.querySelectorAll('g[aria-roledescription="axis"]')]
    .find(g => (g.getAttribute('aria-label') || '').startsWith(axis + '-axis'));
  if (!group) return null;
  return [...group.querySelectorAll('g.role-axis-label text')].map(t => {
    const r = t.getBoundingClientRect();
    return {text: t.textContent, left: r.left, right: r.right, top: r.top, bottom: r.bottom};
  });
}"""
# The bars of the bar charts on screen: what each says (Vega's aria-label) and how tall it is drawn.
BARS = """() => [...document.querySelectorAll('#shipbrain-bars svg, #shipbrain-bars-2 svg')].flatMap(
  svg => [...svg.querySelectorAll('g.mark-rect path')].map(
    p => ({label: p.getAttribute('aria-label'), height: p.getBoundingClientRect().height})))"""


@pytest.fixture(scope="module")
def yard(yard_factory: Callable[[int, int], Path]) -> Path:
    return yard_factory(60_000, 1)  # 19 blocks: a panel line outage slips all of them


@pytest.fixture(scope="module")
def brain(yard: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Brain]:
    b = Brain(yard, Settings(data_dir=tmp_path_factory.mktemp("chat-views")))
    yield b
    b.close()


@pytest.fixture
def page(site: Site, browser: Any) -> Iterator[Any]:
    with browse(site, browser=browser) as tab:
        yield tab


def _table(page: Any, first_cell: str) -> dict[str, Any]:
    from playwright.sync_api import expect

    expect(page.locator("#shipbrain-table [role=gridcell]").first).to_have_text(first_cell)
    table: dict[str, Any] = page.evaluate(TABLE)
    return table


def _axis(page: Any, chart: str, axis: str, count: int) -> list[dict[str, Any]]:
    """The chart's tick labels on one axis once it has drawn `count` of them."""
    page.wait_for_function(f"() => ({AXIS})(['{chart}', '{axis}'])?.length === {count}")
    labels: list[dict[str, Any]] = page.evaluate(AXIS, [chart, axis])
    return labels


def _overlapping(labels: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Pairs of labels whose boxes overlap (by more than half a pixel)."""
    out = []
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            across = min(a["right"], b["right"]) - max(a["left"], b["left"])
            down = min(a["bottom"], b["bottom"]) - max(a["top"], b["top"])
            if across > 0.5 and down > 0.5:
                out.append((a["text"], b["text"]))
    return out


def test_every_column_of_a_table_is_seen_whole(page: Any, brain: Brain) -> None:
    """Was: the weld-risk table cut at "restricte", the schedule's at "resou", in a narrow side panel."""

    for question, name in ((RISK, "table-weld-risk"), (WHEN, "table-schedule")):
        result = brain.ask(question).results[0]
        ask(page, question)
        table = _table(page, str(result.rows[0][result.columns[0].name]))
        headings = [c["text"] for c in table["cells"][: len(result.columns)]]
        assert headings == [c.heading for c in result.columns]
        view = table["viewport"]
        assert view["scroll"] <= view["client"] + 1, f"{question}: the table needs scrolling at 1500 px: {view}"
        outside = [c["text"] for c in table["cells"] if c["right"] > view["right"] + 1 or c["cut"]]
        assert outside == [], f"{question}: cells cut off or off screen: {outside}"
        screenshot(page, name)

    # a window too narrow for every column: each heading and cell is whole once scrolled to (sideways if need be)
    page.set_viewport_size({"width": 760, "height": 1300})
    result = brain.ask(RISK).results[0]
    ask(page, RISK)
    _table(page, str(result.rows[0]["code"]))
    view = page.locator("#shipbrain-table .virtual-table-viewport")
    assert view.evaluate("v => getComputedStyle(v).overflowX") in ("auto", "scroll")
    cells = page.locator("#shipbrain-table th[role=columnheader], #shipbrain-table [role=gridcell]")
    for i in range(min(cells.count(), 3 * len(result.columns))):  # the headings and the first two rows
        cell = cells.nth(i)
        cell.scroll_into_view_if_needed()
        box, port = cell.bounding_box(), view.bounding_box()
        assert box is not None and port is not None
        assert port["x"] - 1 <= box["x"] and box["x"] + box["width"] <= port["x"] + port["width"] + 1, (i, box, port)
        assert cell.evaluate(CUT) is False, f"cell {i} ({cell.inner_text()!r}) is cut"
    screenshot(page, "table-narrow-window")


def test_no_rows_shows_the_headings_or_says_so_never_1_2_3(page: Any, brain: Brain) -> None:
    """Was: an empty table headed "1 2 3" (Gradio's placeholder) before the first question and after a failure."""
    from playwright.sync_api import expect

    placeholder = re.compile(r"^\s*1\s+2\s+3\s*$")
    table, note = page.locator("#shipbrain-table"), page.locator("#shipbrain-table-note")

    def no_placeholder() -> None:
        if table.is_visible():
            headings = table.locator("th[role=columnheader]").all_inner_texts()
            assert not placeholder.match(" ".join(headings)), headings

    no_placeholder()  # nothing asked yet
    ask(page, UNKNOWN)
    expect(note).to_contain_text("No rows: upstream(code='B999') failed")
    no_placeholder()
    screenshot(page, "no-rows-failed")

    joint = brain.yard.codes_of(brain.yard.nodes_of_role("joint")[:1])[0]
    result = brain.ask(f"What is {joint}?").results[0]
    assert result.tool == "lookup" and result.rows == []
    ask(page, f"What is {joint}?")
    expect(note).to_contain_text(f"No rows: lookup(code='{joint}') found none")
    expect(table.locator("th[role=columnheader]")).to_contain_text([c.heading for c in result.columns])
    assert table.locator("[role=gridcell]").count() == 0
    screenshot(page, "no-rows-headings")

    page.get_by_role("button", name="New conversation").click()
    expect(table).to_be_hidden()
    expect(note).to_have_text("")


def test_slip_by_block_labels_do_not_overlap(page: Any, brain: Brain) -> None:
    """Was: the labels of "slip by block" on top of each other once a what-if slips many blocks."""
    from playwright.sync_api import expect

    slips = brain.ask(OUTAGE).results[-1]
    assert slips.tool == "what_if" and len(slips.rows) >= 15, "the outage should slip most blocks"
    ask(page, OUTAGE)
    expect(page.locator("#shipbrain-chat")).to_contain_text(slips.summary)
    labels = _axis(page, "shipbrain-bars", "X", len(slips.rows))
    assert sorted(x["text"] for x in labels) == sorted(str(r["block"]) for r in slips.rows)
    assert _overlapping(labels) == [], "bar labels overlap"
    screenshot(page, "what-if-slip-labels")


def test_gantt_rows_follow_the_order_of_the_work(page: Any, brain: Brain) -> None:
    """Was: Gantt rows sorted by name (WP-B004-ASM, -ERE, -OBD, -OFB, -PNL) instead of when the work happens."""
    from playwright.sync_api import expect

    schedule = brain.ask(WHEN).results[0]
    packages = [r for r in schedule.rows if r.get("start_day") is not None and r.get("finish_day") is not None]
    ask(page, WHEN)
    expect(page.locator("#shipbrain-chat")).to_contain_text(schedule.summary)
    order = [str(r["code"]) for r in sorted(packages, key=lambda r: int(str(r["start_day"])))]  # ties: the tool's order
    drawn = [x["text"].replace(ORDER, "") for x in _axis(page, "shipbrain-gantt", "Y", len(order))]
    assert drawn == order, "work packages should read in the order the work happens"
    assert drawn != sorted(drawn), "this block's work order is not alphabetical: the test would prove nothing"
    screenshot(page, "schedule-gantt")

    # a what-if's erections, before -> after: the earliest erection (before the change) on top
    slips = brain.ask(OUTAGE).results[-1]
    ask(page, OUTAGE)
    expect(page.locator("#shipbrain-chat")).to_contain_text(slips.summary)
    order = [str(r["block"]) for r in sorted(slips.rows, key=lambda r: int(str(r["erection_day_was"])))]
    drawn = [x["text"].replace(ORDER, "") for x in _axis(page, "shipbrain-gantt", "Y", len(order))]
    assert drawn == order and drawn != sorted(drawn)
    screenshot(page, "what-if-gantt")


def test_graph_answers_count_items_by_kind_not_nodes(page: Any, brain: Brain) -> None:
    """Was: "38,759 nodes must be done before B019, among them 5 blocks"."""
    from playwright.sync_api import expect

    result = brain.ask(BEFORE).results[0]
    counts = {str(r["kind"]): int(str(r["count"])) for r in result.rows}
    ask(page, BEFORE)
    chat = page.locator("#shipbrain-chat")
    expect(chat).to_contain_text(f"({sum(counts.values()):,} in all)")
    for kind, plural in (("block", "blocks"), ("assembly", "assemblies"), ("part", "parts"), ("joint", "joints")):
        expect(chat).to_contain_text(f"{counts[kind]:,} {plural}")
    assert "node" not in chat.inner_text().lower()
    screenshot(page, "upstream-in-words")


def test_small_counts_show_next_to_large_ones(page: Any, brain: Brain) -> None:
    """Was: the upstream chart drew 5 blocks as nothing next to 18,000 parts (one linear scale)."""
    result = brain.ask(BEFORE).results[0]
    counts = {str(r["kind"]): int(str(r["count"])) for r in result.rows}
    assert max(counts.values()) > 1000 * min(counts.values()), "the counts should span scales"
    ask(page, BEFORE)
    page.wait_for_function(f"() => ({BARS})().length === {len(counts)}")
    bars = page.evaluate(BARS)
    drawn = {re.sub(r"^kind: (.*); count: .*$", r"\1", b["label"]): b["height"] for b in bars}
    assert set(drawn) == set(counts)
    assert min(drawn.values()) >= 4, f"bars too short to see: {drawn}"
    screenshot(page, "upstream-by-kind")


def test_a_pending_plan_change_says_in_words_what_will_change(page: Any, brain: Brain) -> None:
    """Was: "Waiting for your approval", the change itself folded away under that title."""
    from playwright.sync_api import expect

    change = brain.ask(ADOPT).approval
    assert change is not None and change.decision == "pending"
    ask(page, ADOPT)
    expect(page.locator("#shipbrain-approve")).to_be_visible()
    chat = page.locator("#shipbrain-chat")
    expect(chat.get_by_text(change.change).first).to_be_visible()  # in the conversation itself, not folded away
    expect(chat).to_contain_text("Waiting for your approval")
    expect(page.locator("#shipbrain-gantt svg").first).to_be_visible()
    screenshot(page, "approval-in-words")


def test_a_decision_lands_under_the_question_it_decides(page: Any, brain: Brain) -> None:
    """Was: the approval's result appended to the bubble of a question asked after it."""
    from playwright.sync_api import expect

    chat = page.locator("#shipbrain-chat")
    ask(page, ADOPT)
    expect(page.locator("#shipbrain-approve")).to_be_visible()
    ask(page, WHEN)  # the thread waits for the decision: this question is refused, after the request
    expect(chat).to_contain_text("approve or reject it first")
    page.locator("#shipbrain-approve").click()  # as the signed-in key: no name to type
    expect(chat).to_contain_text("adopted into the plan: B002 late by 4 days")
    text = chat.inner_text()
    asked, adopted, later = (
        text.index(ADOPT),
        text.index("adopted into the plan: B002 late by 4 days"),
        text.rindex(WHEN),
    )
    assert asked < adopted < later, "the decision's result belongs under the question it decides"
    assert [(e.code, e.days) for e in brain.context.plan.planbook.events()] == [("B002", 4)]
    screenshot(page, "approval-decided")
