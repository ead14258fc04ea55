"""The graph, welding, outfitting and predict tools and the lexicon on the bulk carrier sample.

A yard with other ids (`H1042/DB03`, `W-DB03-00017`), kinds (PANEL and CPANEL are its assemblies, PLATE and PROFILE
its parts, SEAM its joints), column names and units, without planned outfitting stages or planning norms. Every
number is recomputed here from the store (and the adapters run again over the same rows); a yard that lacks what a
tool needs is told which field or role to map.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from adapters.outfitting import OutfittingAdapter
from adapters.welding import WeldingAdapter
from brain.core import YardContext
from brain.lexicon import Lexicon
from brain.supervisor import Brain
from brain.tools import run_tool
from brain.tools.graph import KindCount
from knowledge import Settings
from knowledge.errors import MissingFieldError, UnknownCodeError
from knowledge.store import YardStore
from knowledge.yardformat.fields import ROLES
from tests.helpers.yards import bulk_carrier_edited

BLOCK = "H1042/DB03"
SEAM = "W-DB03-00017"
WORDS = {"assembly": "assemblies", "sub_assembly": "sub-assemblies", "outfitting_item": "outfitting items"}


@pytest.fixture(scope="module")
def ctx(bulk_carrier: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[YardContext]:
    context = YardContext.open(bulk_carrier, Settings(data_dir=tmp_path_factory.mktemp("bulk-tools")))
    yield context
    context.close()


def _by_role(yard: YardStore, nodes: np.ndarray) -> dict[str, int]:
    """How many of `nodes` play each role, counted here from their kinds and the yard's roles."""
    role_of = {kind: role for role, kinds in yard.roles.items() for kind in kinds}
    found = Counter(role_of.get(kind, kind) for kind in yard.kinds_of(nodes))
    return dict(found)


def test_what_must_be_done_before_a_block_is_counted_by_role(ctx: YardContext) -> None:
    yard = ctx.yard
    node = yard.node_of(BLOCK)
    before = yard.upstream([node])
    expected = _by_role(yard, before)
    result = run_tool(ctx, "upstream", {"code": "h1042/db3"})  # typed loosely
    assert result.numbers["nodes"] == len(before)
    assert {k: int(v) for k, v in result.numbers.items() if k != "nodes"} == expected
    assert result.summary.startswith(f"Must be done before {BLOCK}: ")
    assert f"({len(before):,} in all)" in result.summary
    assert f"{expected['assembly']:,} assemblies" in result.summary and "node" not in result.summary
    rows = {r.kind: r for r in result.rows_as(KindCount)}
    assert rows["assembly"].count == expected["assembly"]
    assert rows["part"].yard_kinds is not None and "PLATE" in rows["part"].yard_kinds  # the yard's own kinds
    blocks = yard.codes_of([n for n in before if yard.role_of(int(n)) == "block"])
    assert result.sources[-1] == f"blocks: {', '.join(blocks)}"


def test_what_waits_on_a_seam_and_what_a_block_holds(ctx: YardContext) -> None:
    yard = ctx.yard
    seam = yard.node_of(SEAM)
    after = yard.downstream([seam])
    waiting = run_tool(ctx, "downstream", {"code": SEAM})
    assert waiting.numbers["nodes"] == len(after)
    assert {k: int(v) for k, v in waiting.numbers.items() if k != "nodes"} == _by_role(yard, after)
    block = yard.node_of(BLOCK)
    items = yard.nodes_of_role("outfitting_item")
    on_board = items[(yard.block_of(items) == block) & (yard.ancestor_of(items, "block") != block)]
    assert len(on_board), "the sample fits items on board in this block"
    held = _by_role(yard, np.union1d(yard.members(block), on_board))  # and the items fitted on board in it
    looked = run_tool(ctx, "lookup", {"code": BLOCK})
    assert looked.numbers == {k: float(v) for k, v in held.items()}
    assert looked.numbers["joint"] == len(yard.members(block, kinds=["joint"]))
    assert looked.summary.startswith(f"{BLOCK} is a block (BLK) of ")
    for role in ("assembly", "joint"):
        assert f"{held[role]:,} {WORDS.get(role, role + 's')}" in looked.summary


def test_the_weld_risk_of_a_seam_by_its_own_id(ctx: YardContext) -> None:
    yard = ctx.yard
    seam = yard.node_of(SEAM)
    rows = WeldingAdapter.yard_rows(yard, [seam])
    predicted = ctx.registry.get("welding").predict(rows)
    facts = rows.to_pylist()[0]
    method = "MT" if facts["joint_type"] == "fillet" else ("UT" if facts["thickness_mm"] >= 8 else "RT")
    result = run_tool(ctx, "weld_risk", {"code": SEAM})
    (row,) = result.rows
    assert row["code"] == SEAM and row["method"] == method
    assert row["hours"] == pytest.approx(predicted.column("hours")[0].as_py(), abs=0.005)
    assert row["defect_probability"] == pytest.approx(predicted.column("defect_probability")[0].as_py(), abs=1e-4)
    joined = yard.codes_of(yard.predecessors(seam))  # the plates and profiles it joins
    assert result.summary.startswith(f"{SEAM} is a weld joint joining {' and '.join(joined)}")
    assert f"NDT by {method} (NDT-RULE-01)" in result.summary


def test_the_joints_of_a_plate_are_the_seams_that_join_it(ctx: YardContext) -> None:
    yard = ctx.yard
    plate = int(yard.predecessors(yard.node_of(SEAM))[0])
    before, after = yard.edge_arrays()
    seams = {int(j) for j in after[before == plate] if yard.role_of(int(j)) == "joint"}
    result = run_tool(ctx, "weld_risk", {"code": yard.code_of(plate)})
    assert {yard.node_of(str(r["code"])) for r in result.rows} == seams
    assert result.numbers["joints"] == len(seams)


def test_the_ndt_plan_of_a_block(ctx: YardContext) -> None:
    yard = ctx.yard
    joints = yard.members(yard.node_of(BLOCK), kinds=["joint"])
    rows = WeldingAdapter.yard_rows(yard, joints)
    risk = ctx.registry.get("welding").predict(rows).column("defect_probability").to_numpy()
    k = math.ceil(0.1 * len(joints))
    chosen = yard.codes_of(joints[np.argsort(-risk, kind="stable")[:k]])
    result = run_tool(ctx, "ndt_plan", {"code": BLOCK})
    assert result.numbers["joints"] == len(joints) and result.numbers["inspected"] == k
    assert [r["code"] for r in result.rows] == chosen
    assert f"inspect {k:,} of {len(joints):,} joints of {BLOCK}" in result.summary
    # the breakdown of the block's weld risk by assembly: the yard's panels, and the seams welded on the block
    weld = run_tool(ctx, "weld_risk", {"code": BLOCK})
    assemblies = set(yard.codes_of(yard.members(yard.node_of(BLOCK), kinds=["assembly"])))
    named = {str(r["assembly"]) for r in weld.breakdown}
    assert named - {"block joints"} <= assemblies and "block joints" in named
    assert sum(int(str(r["joints"])) for r in weld.breakdown) == len(joints)


def test_outfitting_of_a_block(ctx: YardContext) -> None:
    yard = ctx.yard
    block = yard.node_of(BLOCK)
    items = yard.nodes_of_role("outfitting_item")
    mine = items[yard.block_of(items) == block]  # inside the block, and fitted on board onto it
    predicted = ctx.registry.get("outfitting").predict(OutfittingAdapter.yard_rows(yard, mine))
    result = run_tool(ctx, "outfitting", {"code": BLOCK})
    assert result.numbers["items"] == len(mine)
    assert result.numbers["expected_reworks"] == pytest.approx(
        float(np.sum(predicted.column("rework_probability").to_numpy())), rel=1e-6
    )
    if "stage" in yard.fields("outfitting_item"):  # the plan's stages, where the yard gives them
        stages = predicted.column("stage").to_pylist()
        planned = yard.role_table("outfitting_item", ["stage"], nodes=mine).column("stage").to_pylist()
        differ = sum(a != b for a, b in zip(stages, planned, strict=True))
        assert result.numbers["stage_differs"] == differ
        assert f"{differ:,} differ from the plan's stage" in result.summary


def test_outfitting_without_planned_stages_or_norms(tmp_path: Path) -> None:
    def keep(section: str, line: str) -> str | None:
        dropped = section == "[columns.outfitting_item]" and line.startswith(("stage", "norm_hours"))
        return None if dropped else line

    store = _reimported(tmp_path, keep)
    context = YardContext.open(store, Settings(data_dir=tmp_path / "data"))
    try:
        fields = context.yard.fields("outfitting_item")
        assert "stage" not in fields and "norm_hours" not in fields
        result = run_tool(context, "outfitting", {"code": BLOCK})
        assert result.numbers["items"] > 0
        assert "the yard gives no planned stages to compare" in result.summary
        assert "stage_differs" not in result.numbers and "expected_hours" not in result.numbers
        assert all("planned_stage" not in r and "expected_hours" not in r for r in result.rows)
        item = str(result.rows[0]["code"])
        one = run_tool(context, "outfitting", {"code": item})
        assert "the yard gives no planned stage to compare" in one.summary and "expected hours" not in one.summary
    finally:
        context.close()


def test_outfitting_of_a_zone(ctx: YardContext) -> None:
    yard = ctx.yard
    items = yard.nodes_of_role("outfitting_item")
    if "zone" in yard.fields("outfitting_item"):  # the items' own zones
        zones = yard.role_table("outfitting_item", ["zone"]).column("zone").to_pylist()
    else:  # their blocks'
        blocks = yard.role_table("block", ["zone"])
        of_block = dict(zip(blocks.column("node").to_pylist(), blocks.column("zone").to_pylist(), strict=True))
        zones = [of_block.get(b) for b in yard.block_of(items).tolist()]
    zone = str(zones[0])
    mine = [n for n, z in zip(items.tolist(), zones, strict=True) if z == zone]
    result = run_tool(ctx, "outfitting", {"zone": zone.lower()})  # as a person types it
    assert result.numbers["items"] == len(mine) > 0
    assert result.summary.startswith(f"zone {zone}: {len(mine):,} outfitting items")


def test_predict_over_a_block_scores_its_seams(ctx: YardContext) -> None:
    yard = ctx.yard
    joints = yard.members(yard.node_of(BLOCK), kinds=["joint"])
    result = run_tool(ctx, "predict", {"model": "welding", "code": BLOCK})
    assert result.numbers["rows"] == len(joints)
    assert f"over {len(joints):,} joints of {BLOCK}" in result.summary


def test_an_unknown_code_says_what_the_yard_has(ctx: YardContext) -> None:
    with pytest.raises(UnknownCodeError, match=r"no block 'H1042/DB99' in this yard; blocks run H1042/\w+-H1042/\w+"):
        run_tool(ctx, "upstream", {"code": "H1042/DB99"})


def test_the_lexicon_reads_the_yards_own_ids_resources_and_zones(ctx: YardContext) -> None:
    lex = Lexicon.of(ctx)
    assert [m.text for m in lex.codes("how risky is w-db3-17 and what holds up h1042/db03?")] == [SEAM, BLOCK]
    assert {m.role for m in lex.codes(f"{SEAM} and {BLOCK}")} == {"joint", "block"}
    panel = ctx.yard.members(ctx.yard.node_of(BLOCK), kinds=["assembly"])[0]
    code = ctx.yard.code_of(int(panel))
    number = int(code.rsplit("P", 1)[-1])
    assert [m.text for m in lex.codes(f"risk of panel {number} of {BLOCK}")] == [code]  # the yard's kind word
    resources = ctx.yard.nodes_of_role("resource")
    kinds = ctx.yard.role_table("resource", ["resource_kind"]).column("resource_kind").to_pylist()
    assert lex.resources == dict(zip(ctx.yard.codes_of(resources), kinds, strict=True))
    line = lex.resource("panel line 2 is down for 3 days")
    assert line is not None and lex.resources[line.text] == "panel line"
    # two panel lines numbered 1 (PL-1 and the curved CPL-1): the one whose letters are the kind's own initials,
    # and the other when the question says which
    found = lex.resource("panel line 1 is down")
    assert found is not None and found.text == "PL-1"
    curved = lex.resource("curved panel line 1 is down")
    assert curved is not None and curved.text == "CPL-1"
    room = lex.zone("outfitting of the engine room?")  # a zone of two words, in lower case
    assert room is not None and room.text == "ENGINE ROOM"
    tables = [ctx.yard.role_table(role, ["zone"]).column("zone") for role in ("block", "outfitting_item")]
    assert set(lex.zones) == {str(z) for column in tables for z in column.to_pylist() if z}
    assert lex.codes("is H1042/DB99 late?")[0].how == "unknown"  # reads like a block the yard has not


def test_the_brain_answers_on_the_bulk_carrier(ctx: YardContext, bulk_carrier: Path, settings: Settings) -> None:
    brain = Brain(bulk_carrier, settings)
    try:
        answer = brain.ask(f"What must be done before {BLOCK}?")
        assert [r.tool for r in answer.results] == ["upstream"], answer.plan.reason
        assert answer.results[0].numbers["nodes"] == len(ctx.yard.upstream([ctx.yard.node_of(BLOCK)]))
        assert "in all)" in answer.answer
    finally:
        brain.close()


def _reimported(root: Path, edit: Callable[[str, str], str | None]) -> Path:
    """The bulk carrier imported again, each yard.toml line as `edit(section, line)` gives it (None: left out)."""
    return bulk_carrier_edited(root, edit)


def test_a_yard_without_zones_is_told_which_field_to_map(tmp_path: Path) -> None:
    def edit(section: str, line: str) -> str | None:
        return None if section.startswith("[columns.") and line.startswith("zone") else line

    store = _reimported(tmp_path, edit)
    context = YardContext.open(store, Settings(data_dir=tmp_path / "data"))
    try:
        with pytest.raises(
            MissingFieldError, match=r"outfitting by zone needs the block field\(s\) zone.*\[columns\.block\] zone = "
        ):
            run_tool(context, "outfitting", {"zone": "AFT BODY"})
        assert run_tool(context, "outfitting", {"code": BLOCK}).numbers["items"] > 0  # the rest still answers
    finally:
        context.close()


def test_a_yard_without_outfitting_items_says_so(tmp_path: Path, settings: Settings) -> None:
    def edit(section: str, line: str) -> str | None:
        if section == "[columns.outfitting_item]" or line.startswith("outfitting_item ="):
            return None
        if line.startswith("kinds ="):  # the item kinds stay nodes, of no role
            return 'kinds = ["SYS", "PIPELINE", "SPOOL", "TRAY", "DUCT", "EQUIP"]'
        return line

    store = _reimported(tmp_path, edit)
    assert "outfitting_item" not in YardStore.open(store).roles and "outfitting_item" in ROLES
    context = YardContext.open(store, Settings(data_dir=tmp_path / "data"))
    try:
        for args in ({"code": BLOCK}, {"zone": "AFT BODY"}):
            with pytest.raises(
                MissingFieldError, match=r"needs the yard's outfitting items, and this yard .* has none"
            ):
                run_tool(context, "outfitting", args)
        assert run_tool(context, "weld_risk", {"code": BLOCK}).numbers["joints"] > 0
    finally:
        context.close()
    brain = Brain(store, settings)  # the answer is the message: which role, and how to map it
    try:
        answer = brain.ask(f"What is the outfitting rework risk of {BLOCK}?")
        assert answer.results and answer.results[0].tool == "outfitting", answer.plan.reason
        assert "has none" in answer.answer and "[roles] outfitting_item" in answer.answer
    finally:
        brain.close()
