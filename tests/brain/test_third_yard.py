"""The brain on a third, sparse yard (tests/helpers/third_yard.py): CSV only, ids with spaces, slashes and unicode,
German kinds; without work packages it says so, with packages that name no block it still finds their blocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from brain.core.context import YardContext
from brain.core.workpackages import WorkPackageIndex
from brain.supervisor import Brain
from brain.tools.base import run_tool
from knowledge import Settings
from knowledge.store import YardStore
from tests.helpers.third_yard import BLOCKS, TRADES, third_yard_store


@pytest.fixture(scope="module")
def sparse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return third_yard_store(tmp_path_factory.mktemp("third"))


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return third_yard_store(tmp_path_factory.mktemp("third-packages"), with_packages=True)


def test_packages_that_name_no_block_take_the_block_of_the_packages_next_to_them(packaged: Path) -> None:
    yard = YardStore.open(packaged)
    index = WorkPackageIndex(yard)
    assert "block" not in yard.fields("work_package")
    assert index.trades == list(TRADES)
    for block in BLOCKS:  # the cutting package no node names is the block's all the same
        rows = [index.row_of[f"ap {block} {trade}"] for trade in TRADES]
        assert [index.block_code(r) for r in rows] == [block] * len(TRADES)


def test_a_yard_without_work_packages_is_told_so_for_erections_and_what_ifs(sparse: Path, tmp_path: Path) -> None:
    ctx = YardContext(YardStore.open(sparse), Settings(data_dir=tmp_path))
    for name, args in (("erection_schedule", {"code": BLOCKS[1]}), ("what_if", {"code": BLOCKS[0], "days": 3})):
        with pytest.raises(Exception, match="has none: its yard.toml maps no kind onto the role work_package"):
            run_tool(ctx, name, args)


def test_a_block_erection_lists_all_its_packages_and_the_critical_path_repeats_no_step(
    packaged: Path, tmp_path: Path
) -> None:
    ctx = YardContext(YardStore.open(packaged), Settings(data_dir=tmp_path))
    result = run_tool(ctx, "erection_schedule", {"code": BLOCKS[0]})
    assert [r["code"] for r in result.rows] == [f"ap {BLOCKS[0]} {t}" for t in TRADES]
    path = next(s for s in result.sources if s.startswith("critical path: ")).removeprefix("critical path: ")
    steps = path.split(" -> ")
    assert len(steps) == len(set(steps)) >= 3 and "..." not in steps


def test_a_critical_path_asked_under_predicted_hours_needs_no_norms(packaged: Path, tmp_path: Path) -> None:
    brain = Brain(packaged, Settings(data_dir=tmp_path))
    answer = brain.ask(f"critical path to {BLOCKS[2]} under predicted hours")
    assert [r.tool for r in answer.results] == ["critical_path"]
    assert "predicted hours" in answer.answer and "norm_hours" not in answer.answer, answer.answer
    planned = brain.ask(f"critical path to {BLOCKS[2]}")  # planning norms the yard does not give: told which field
    assert "[columns.joint] norm_hours" in planned.answer, planned.answer


@pytest.mark.parametrize(
    ("question", "codes", "resource"),
    [
        # an id of four words, with unicode: the package, not the block whose id it holds
        ("predicted hours of ap 船体 B1 schweißen", ["ap 船体 B1 schweißen"], None),
        # resources named by ids with a space or a slash and no digit
        ("If halle 1 is down for 6 days from day 4, which erections slip?", [], "halle 1"),
        ("If dock/ä is down for 6 days from day 4, what slips?", [], "dock/ä"),
        ("when does 船体 B1 go into the dock?", ["船体 B1"], None),  # a plain word names no resource
    ],
)
def test_the_planner_finds_the_yards_long_and_unusual_ids(
    packaged: Path, question: str, codes: list[str], resource: str | None
) -> None:
    from brain.lexicon import Lexicon
    from brain.plan import extract_entities

    found = extract_entities(question, Lexicon.of(YardContext.open(packaged)))
    assert (found.codes, found.resource) == (codes, resource)
