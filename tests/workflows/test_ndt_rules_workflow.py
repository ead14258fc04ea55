"""The weld-inspection-plan workflow follows the yard's own NDT rules (`[ndt]` in its yard.toml) as the brain's NDT
tool does, and says where its rules come from: the yard's, or the built-in defaults (the corpus only when this data
dir holds those documents). On a yard nothing in Shipbrain knows (tests/helpers/foreign_yard.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from brain.tools.base import run_tool
from knowledge import Settings
from tests.helpers.foreign_yard import BLOCKS, foreign_yard_store
from workflows import WorkflowContext, run_workflow

OWN_RULES = """
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
def own_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return foreign_yard_store(tmp_path_factory.mktemp("ndt-own"), extra_toml=OWN_RULES)


@pytest.fixture(scope="module")
def own(own_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkflowContext]:
    store = own_store
    ctx = WorkflowContext.open(store, Settings(data_dir=tmp_path_factory.mktemp("ndt-own-data")))
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def built_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkflowContext]:
    store = foreign_yard_store(tmp_path_factory.mktemp("ndt-built-in"))
    ctx = WorkflowContext.open(store, Settings(data_dir=tmp_path_factory.mktemp("ndt-built-in-data")))
    yield ctx
    ctx.close()


def test_the_yards_own_rules_decide_methods_hours_full_extent_and_the_default_share(
    own: WorkflowContext, own_store: Path
) -> None:
    joints = pd.read_csv(own_store.parent / "yard" / "naehte.csv")
    mine = joints[joints["id"].str.startswith(f"naht {BLOCKS[0]} ")]
    plan = run_workflow("weld-inspection-plan", {"code": BLOCKS[0]}, own)
    assert plan.budget.share == 0.5 and plan.joints_inspected == -(-len(mine) // 2)
    assert plan.full_extent_joints == 0
    kinds = dict(zip(mine["id"], mine["NAHTART"], strict=True))
    for point in plan.inspection_points:  # under 30 mm: butts by RT at the yard's 2 h, fillets by MT at 0.5 h
        method = "RT" if kinds[point.code] == "stumpf" else "MT"
        assert (point.method, point.ndt_hours) == (method, 2.0 if method == "RT" else 0.5)
    assert any("the yard's NDT rules (QA-Handbuch 7.2)" in s for s in plan.sources), plan.sources
    assert not any("corpus" in s or "NDT-RULE" in s for s in plan.sources)
    # the brain's tool and the workflow give one plan
    tool = run_tool(own, "ndt_plan", {"code": BLOCKS[0]})
    assert [r["code"] for r in tool.rows] == [p.code for p in plan.inspection_points]


def test_what_the_request_states_wins_over_the_rules(own: WorkflowContext) -> None:
    plan = run_workflow(
        "weld-inspection-plan", {"code": BLOCKS[0], "budget": {"joints": 3}, "ndt_hours_per_joint": {"RT": 4.0}}, own
    )
    assert plan.joints_inspected == 3 and plan.budget.joints == 3
    assert {p.ndt_hours for p in plan.inspection_points if p.method == "RT"} <= {4.0}
    assert {p.ndt_hours for p in plan.inspection_points if p.method == "MT"} <= {0.5}


def test_without_rules_of_its_own_the_built_in_defaults_are_named_not_the_corpus(built_in: WorkflowContext) -> None:
    plan = run_workflow("weld-inspection-plan", {"code": BLOCKS[0]}, built_in)
    assert plan.budget.share == 0.1
    assert not any("knowledge/corpus" in s for s in plan.sources), plan.sources
    assert any("built-in default rules" in s for s in plan.sources)
