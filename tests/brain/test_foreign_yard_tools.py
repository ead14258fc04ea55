"""The brain's tools on a yard nothing in Shipbrain knows (tests/helpers/foreign_yard.py): zones its blocks give, a
system hierarchy, its own NDT rules or none, ids that differ only by case, ids with hyphens, German kinds."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from brain.core.context import YardContext
from brain.supervisor import Brain
from brain.tools.base import run_tool
from knowledge import Settings
from knowledge.errors import InputError, UnknownCodeError
from knowledge.store import YardStore
from tests.helpers.foreign_yard import BLOCKS, SYSTEMS, VALVES, ZONES, foreign_yard_store

_OWN_RULES = """
[ndt]
source = "QA-Handbuch 7.2"
ut_min_thickness_mm = 30.0
full_extent_one_sided = false
full_extent_erection = false
full_extent_poor_access = false
full_extent_gap_mm = 50.0
full_extent_grades = []
hours_per_joint = { RT = 2.0 }
default_share = 0.5
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return foreign_yard_store(tmp_path_factory.mktemp("foreign"))


@pytest.fixture(scope="module")
def own_rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return foreign_yard_store(tmp_path_factory.mktemp("foreign-ndt"), extra_toml=_OWN_RULES)


@pytest.fixture
def ctx(store: Path, tmp_path: Path) -> YardContext:
    """The yard with an empty data dir: no documents."""
    return YardContext(YardStore.open(store), Settings(data_dir=tmp_path))


def _items(store: Path) -> pd.DataFrame:
    items = pd.read_parquet(store.parent / "yard" / "ausruestung.parquet")
    return items[items["kind"] != "anlage"]


def test_outfitting_by_zone_takes_the_blocks_zone_where_items_give_none(ctx: YardContext, store: Path) -> None:
    items = _items(store)
    in_zone = {r.id for r in items.itertuples() if ZONES.get(r.SEKTION, "MVZ 3") == "MVZ 2"}
    result = run_tool(ctx, "outfitting", {"zone": "mvz 2"})  # typed loosely: the yard's "MVZ 2"
    assert result.numbers["items"] == len(in_zone) == 14
    assert {r["code"] for r in result.rows} <= in_zone and result.summary.startswith("zone MVZ 2: 14 outfitting items")


def test_a_system_covers_the_items_it_groups(ctx: YardContext, store: Path) -> None:
    items = _items(store)
    grouped = set(items.loc[items["ANLAGE"] == SYSTEMS[0], "id"])
    result = run_tool(ctx, "outfitting", {"code": SYSTEMS[0]})
    assert result.numbers["items"] == len(grouped) == 20 and {r["code"] for r in result.rows} <= grouped
    said = run_tool(ctx, "lookup", {"code": SYSTEMS[0]}).summary
    assert said.startswith(f"{SYSTEMS[0]} is an anlage grouping 20 outfitting items"), said
    hours = run_tool(ctx, "predicted_hours", {"codes": [SYSTEMS[0]]})
    assert hours.rows[0]["items"] == 20


def test_how_risky_is_an_item_answers_its_rework_risk(store: Path, tmp_path: Path) -> None:
    brain = Brain(store, Settings(data_dir=tmp_path))
    try:
        for valve in VALVES:
            answer = brain.ask(f"how risky is {valve}?")
            (result,) = answer.results
            assert result.error is None, result.error
            assert result.tool == "outfitting" and result.rows[0]["code"] == valve
            assert "rework risk" in answer.answer and "no weld joints: its risk is" in answer.answer
    finally:
        brain.close()
    # the weld-risk tool itself hands over, for a system's items too
    ctx = YardContext(YardStore.open(store), Settings(data_dir=tmp_path))
    assert run_tool(ctx, "weld_risk", {"code": SYSTEMS[1]}).tool == "outfitting"


def test_an_id_of_several_case_variants_names_them(ctx: YardContext) -> None:
    with pytest.raises(UnknownCodeError, match=r"'VENTIL V-1' could be 'Ventil V-1' or 'ventil v-1'"):
        run_tool(ctx, "outfitting", {"code": "VENTIL V-1"})


def test_a_question_naming_several_case_variants_is_told_them(store: Path, tmp_path: Path) -> None:
    brain = Brain(store, Settings(data_dir=tmp_path))
    try:
        answer = brain.ask("how risky is VENTIL V-1?")
    finally:
        brain.close()
    assert "'VENTIL V-1' could be 'Ventil V-1' or 'ventil v-1'" in answer.answer, answer.answer


def test_ranges_of_ids_with_hyphens_are_said_from_to(ctx: YardContext) -> None:
    first, last = sorted(BLOCKS)[0], sorted(BLOCKS)[-1]
    with pytest.raises(
        UnknownCodeError, match=rf"no block 'sec-99.bb' in this yard; blocks run from {first} to {last}$"
    ):
        run_tool(ctx, "upstream", {"code": "sec-99.bb"})


def test_the_yards_own_kinds_get_no_english_plural(ctx: YardContext) -> None:
    part = f"{BLOCKS[0]}/u01/p-000001"
    result = run_tool(ctx, "downstream", {"code": part})
    assert "2 of kind rumpf" in result.summary and "rumpfs" not in result.summary, result.summary
    with pytest.raises(InputError, match=f"^{SYSTEMS[0]} is of kind anlage with no weld joints"):
        run_tool(ctx, "ndt_plan", {"code": SYSTEMS[0]})


def test_without_rules_of_its_own_the_built_in_defaults_are_named_and_no_corpus_cited(ctx: YardContext) -> None:
    result = run_tool(ctx, "ndt_plan", {"code": BLOCKS[0]})
    assert "yard's rules" not in result.summary
    if result.numbers["full_extent_joints"]:
        assert "the built-in default rules (NDT-RULE-02, -04, -05) inspect" in result.summary
    assert not any("knowledge/corpus" in s for s in result.sources), result.sources
    assert any("built-in default rules" in s for s in result.sources)


def test_the_corpus_is_cited_where_the_document_store_holds_it(store: Path, settings: Settings) -> None:
    ctx = YardContext(YardStore.open(store), settings)  # the demo corpus indexed (tests/brain/conftest.py)
    result = run_tool(ctx, "ndt_plan", {"code": BLOCKS[0]})
    assert any(s.startswith("knowledge/corpus: NDT-RULE-01") for s in result.sources), result.sources


def test_a_yards_own_ndt_rules_decide_methods_full_extent_hours_and_the_default_share(
    own_rules: Path, tmp_path: Path
) -> None:
    joints = pd.read_csv(own_rules.parent / "yard" / "naehte.csv")
    mine = joints[joints["id"].str.startswith(f"naht {BLOCKS[0]} ")]
    ctx = YardContext(YardStore.open(own_rules), Settings(data_dir=tmp_path))
    result = run_tool(ctx, "ndt_plan", {"code": BLOCKS[0]})
    # thinner than 30 mm: every butt by RT (2 h each, the yard's hours), fillets by MT; nothing in full
    assert result.numbers["inspected"] == len(mine) // 2 and result.numbers["full_extent_joints"] == 0
    by_code = {r["code"]: r for r in result.rows}
    for row in mine.itertuples():
        if row.id in by_code:
            method = "RT" if row.NAHTART == "stumpf" else "MT"
            assert by_code[row.id]["method"] == method
            assert by_code[row.id]["ndt_hours"] == (2.0 if method == "RT" else 0.5)
            assert "full_extent_rule" not in by_code[row.id]
    assert "default 50 %" in result.summary
    assert any("the yard's NDT rules (QA-Handbuch 7.2)" in s for s in result.sources), result.sources
    assert not any("corpus" in s or "NDT-RULE" in s for s in result.sources)
    joint = str(mine[mine["NAHTART"] == "stumpf"]["id"].iloc[0])
    said = run_tool(ctx, "weld_risk", {"code": joint}).summary
    assert "NDT by RT by the yard's NDT rules (QA-Handbuch 7.2)" in said and "NDT-RULE" not in said


def test_the_erection_of_what_belongs_to_no_block_says_its_kind_with_its_article(ctx: YardContext) -> None:
    with pytest.raises(InputError, match=f"^{SYSTEMS[0]} is an anlage that belongs to no block of this yard$"):
        run_tool(ctx, "erection_schedule", {"code": SYSTEMS[0]})
