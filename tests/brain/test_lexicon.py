"""The lexicon finds what a question names by asking the yard, never by a pattern of what codes look like.

Two kinds of yard: a made-up vocabulary in another design system's style (ids with slashes, spaces, quotes and
non-Latin letters), and the generated demo yard opened through `YardContext`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from brain.core import YardContext
from brain.lexicon import Lexicon, loose_key, node_of, numbers_in
from knowledge.errors import UnknownCodeError
from knowledge.store import YardStore

# Another yard's ids: nothing like the demo yard's B012 / J012-000042.
OTHER_IDS = {
    "H1234/B12-A03 PL0042": "PLATE",
    'SP-300-12"': "SPOOL",
    "SEC-07": "BLK",
    "SEC-11": "BLK",
    "Блок-5": "BLK",
    "SEC-07/ASM-2": "ASSY",
    "SEC-11/ASM-2": "ASSY",
}
OTHER_ROLES = {"BLK": "block", "ASSY": "assembly"}


def _other_lexicon() -> Lexicon:
    def lookup(text: str) -> tuple[str, str] | None:
        kind = OTHER_IDS.get(text)
        return (text, OTHER_ROLES.get(kind, kind)) if kind is not None else None

    named: dict[str, list[str]] = {}
    for code, kind in OTHER_IDS.items():
        if kind in OTHER_ROLES:
            named.setdefault(OTHER_ROLES[kind], []).append(code)

    def children(code: str, role: str) -> Sequence[str]:
        return [c for c in named.get(role, []) if c.startswith(code + "/")]

    return Lexicon(
        lookup=lookup,
        named=named,
        resources={"BERTH A": "berth", "PANEL-LINE-2": "panel_line", "PANEL-LINE-3": "panel_line"},
        zones=["Engine Room Fwd", "ZONE-7"],
        children=children,
    )


def _texts(lex: Lexicon, question: str) -> list[str]:
    return [m.text for m in lex.codes(question)]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("how risky is H1234/B12-A03 PL0042?", ["H1234/B12-A03 PL0042"]),
        ('when is SP-300-12" fitted', ['SP-300-12"']),
        ("what holds up Блок-5?", ["Блок-5"]),
        ("is sec 7 late?", ["SEC-07"]),  # loose: case, separator and leading zero
        ("critical path into block 11", ["SEC-11"]),  # a role word and a number
        ("assembly 2 of block 11 hours", ["SEC-11/ASM-2"]),  # inside a parent
        ("SEC-07's erection and SEC-11's", ["SEC-07", "SEC-11"]),  # possessives, order kept
        ("SEC-O7 risk", ["SEC-07"]),  # a letter O typed for a zero
        ("give 40h to NDT, 12 % of it; 3 wks; 1.4x; FCAW-G; UT/RT", []),  # quantities and words are no codes
        ("is assembly 2 late", []),  # two yards' assemblies have the number 2: no guess
    ],
)
def test_codes_are_found_by_lookup_in_the_yards_own_vocabulary(question: str, expected: list[str]) -> None:
    assert _texts(_other_lexicon(), question) == expected


def test_ids_joined_in_one_word_are_read_one_by_one() -> None:
    found = [m.text for m in _other_lexicon().codes("compare SEC-07/SEC-11 and SEC-07,SEC-11")]
    assert found == ["SEC-07", "SEC-11"]


def test_a_mention_says_where_it_stands_and_how_it_was_found() -> None:
    question = "is sec 7 late? and (SEC-11)?"
    first, second = _other_lexicon().codes(question)
    assert (first.text, first.how, first.role) == ("SEC-07", "loose", "block")  # "sec 7" is "SEC-07" typed loosely
    assert question[second.start : second.end] == "SEC-11" and second.how == "exact"


@pytest.mark.parametrize(
    ("question", "resource"),
    [
        ("panel line 2 down for 3 days", "PANEL-LINE-2"),
        ("if pannel-line three breaks", "PANEL-LINE-3"),  # a letter typed twice still reads
        ("if panle-line three breaks", None),  # a spelling the yard's kind does not have
        ("panel line 3 days late", None),  # "3 days" is how long, not which line
        ("the berth is closed from day 4", "BERTH A"),  # the only one of its kind, said to be down
        ("block 7 goes into the berth on day 4", None),  # where a block goes names no resource
        ("PANEL-LINE-3 outage", "PANEL-LINE-3"),
    ],
)
def test_resources_are_the_yards_own_found_by_id_or_by_kind_and_number(question: str, resource: str | None) -> None:
    found = _other_lexicon().resource(question)
    assert (found.text if found else None) == resource


def test_zones_are_the_yards_own_names() -> None:
    lex = _other_lexicon()
    question = "outfitting risk in engine room fwd"
    found = lex.zone(question)  # a zone of several words, typed in another case
    assert found is not None and found.text == "Engine Room Fwd"
    assert question[found.start : found.end] == "engine room fwd"
    assert (z := lex.zone("items of zone-7?")) is not None and z.text == "ZONE-7"


def test_loose_keys_and_numbers() -> None:
    assert loose_key("J020-000088") == loose_key("j20 88") == loose_key("J20-88")
    assert loose_key("B025") != loose_key("B250")
    assert numbers_in("B012-A03") == (12, 3)


@pytest.fixture(scope="module")
def demo_lexicon(yard_factory: Callable[[int, int], Path]) -> Lexicon:
    return Lexicon.of(YardContext.open(yard_factory(20_000, 1)))


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("defect risk of joint j2-88", ["J002-000088"]),
        ("o2-15 rework probability", ["O002-00015"]),
        ("30 inspection hours on block 3, what do I test?", ["B003"]),
        ("how risky is joint 14 of block 2?", ["J002-000014"]),
        ("what is wp b2 ere", ["WP-B002-ERE"]),
        ("B0O2 late 4 days", ["B002"]),
        ("B002-A01 and B001", ["B002-A01", "B001"]),
    ],
)
def test_the_demo_yards_codes_as_people_type_them(demo_lexicon: Lexicon, question: str, expected: list[str]) -> None:
    assert _texts(demo_lexicon, question) == expected


def test_the_demo_yards_resources_by_kind_and_number(demo_lexicon: Lexicon) -> None:
    found = demo_lexicon.resource("panel line two down 3 wks from day 5")
    assert found is not None and found.text == demo_lexicon.resource("PL2 is down").text  # type: ignore[union-attr]


def test_a_code_the_demo_yard_lacks_is_named_as_such(demo_lexicon: Lexicon) -> None:
    (mention,) = demo_lexicon.codes("what must be done before b099? and 40h of NDT on it")
    assert (mention.text, mention.how) == ("B099", "unknown")  # reads like one of its blocks; 40h reads like none


def test_the_tools_find_a_code_as_typed_and_say_what_a_missing_one_reads_like(
    yard_factory: Callable[[int, int], Path],
) -> None:
    yard = YardStore.open(yard_factory(20_000, 1))
    assert yard.code_of(node_of(yard, "j2-41")) == "J002-000041"  # loose: case, separators, leading zeros
    assert yard.code_of(node_of(yard, "WP-B003-ASM")) == "WP-B003-ASM"
    with pytest.raises(UnknownCodeError, match=r"no block 'B999' in this yard; blocks run B001-B012"):
        node_of(yard, "B999")
    with pytest.raises(UnknownCodeError, match=r"no node has the id 'hello'"):
        node_of(yard, "hello")


@pytest.mark.parametrize(
    ("question", "resource"),
    [
        ("goliath crane 2 is down", "GC-2"),  # two cranes numbered 2: the words before the kind are the id's letters
        ("tower crane two breaks", "TC-2"),
        ("crane 2 is down", None),  # nothing says which
        ("if crane 2 is down", None),  # "if" is no qualifier
        ("the curved panel line is closed", "CPL-1"),  # a kind without a number, one of them curved
        ("the panel line is closed", None),
    ],
)
def test_a_resource_among_several_of_its_kind_by_the_words_said_before_it(question: str, resource: str | None) -> None:
    lex = Lexicon(
        lookup=lambda text: None,
        resources={"GC-2": "crane", "TC-2": "crane", "PL-1": "panel line", "CPL-1": "panel line"},
    )
    found = lex.resource(question)
    assert (found.text if found else None) == resource


def test_a_zone_with_its_number_in_words() -> None:
    lex = Lexicon(lookup=lambda text: None, zones=["HOLD 5", "ENGINE ROOM"])
    assert (z := lex.zone("outfitting in hold five")) is not None and z.text == "HOLD 5"


def test_a_code_of_the_demo_yard_without_the_prefix_all_its_packages_share(demo_lexicon: Lexicon) -> None:
    assert _texts(demo_lexicon, "hours of B002-ERE?") == ["WP-B002-ERE"]  # "WP-" left out
    assert _texts(demo_lexicon, "B002 and 40h on it") == ["B002"]  # a block stays a block
