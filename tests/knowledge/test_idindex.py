"""The on-disk id index: a yard's own ids to nodes and back, exact, loose and fuzzy."""

from __future__ import annotations

import doctest
import pickle
import random
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import knowledge.idindex
from knowledge.errors import InputError, UnknownCodeError, YardIntegrityError, YardNotFoundError
from knowledge.idindex import (
    MAX_ID_BYTES,
    DuplicateIdError,
    IdIndex,
    InvalidIdError,
    check_ids,
    loose_key,
)

YARD_IDS = [
    "H1234/B12-A03 PL0042",
    'SP-300-12"',
    "船体-B12",
    "Блок 7/секция 3",
    "B025",
    "B025-A01",
    "J020-000088",
    "it's 'quoted'",
    "a.b:c_d e",
    "ΣΥΣΤΗΜΑ-ς",
    "b025-a01",  # differs from "B025-A01" by case only: ids are case-sensitive
    "x" * MAX_ID_BYTES,
]


def random_ids(count: int, seed: int) -> list[str]:
    """Unique ids of 1 to ~40 characters from ASCII, separators, quotes and non-Latin letters."""
    rng = random.Random(seed)
    alphabet = "ABCXYZabcxyz0123456789 -_/.:\"'#船体Блокσς€"
    found: dict[str, None] = {}
    while len(found) < count:
        found["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))] = None
    return list(found)


@pytest.fixture
def index(tmp_path: Path) -> IdIndex:
    IdIndex.build(pa.array(YARD_IDS), tmp_path / "ids")
    return IdIndex.open(tmp_path / "ids")


def test_the_module_example_runs() -> None:
    assert doctest.testmod(knowledge.idindex, raise_on_error=True).attempted > 0


# ---- exact ----------------------------------------------------------------------------------------


def test_every_id_finds_its_node_and_back(index: IdIndex) -> None:
    assert len(index) == len(YARD_IDS)
    for node, yard_id in enumerate(YARD_IDS):
        assert index.node_of(yard_id) == node
        assert index.get(yard_id) == node
        assert yard_id in index
        assert index.id_of(node) == yard_id
    assert index.nodes_of(YARD_IDS).tolist() == list(range(len(YARD_IDS)))
    assert index.ids_of(np.arange(len(YARD_IDS))).to_pylist() == YARD_IDS
    assert index.ids_of([3, 0, 3]).to_pylist() == [YARD_IDS[3], YARD_IDS[0], YARD_IDS[3]]


def test_ids_are_case_sensitive_and_exact(index: IdIndex) -> None:
    assert index.node_of("B025-A01") != index.node_of("b025-a01")
    for near in ["b025", "B025 ", "B25", "船体B12", "", "x" * (MAX_ID_BYTES + 1), "\ud800"]:
        assert index.get(near) is None
        assert near not in index
    assert index.nodes_of(["B025", "nope", "", "B025-A01"]).tolist() == [4, -1, -1, 5]
    assert index.nodes_of(pa.array(["B025", None])).tolist() == [4, -1]


def test_an_unknown_id_says_what_is_close(index: IdIndex) -> None:
    with pytest.raises(UnknownCodeError, match=r"no node has the id 'j20-88'; did you mean 'J020-000088'\?"):
        index.node_of("j20-88")
    with pytest.raises(UnknownCodeError, match="case-sensitive"):
        index.node_of("nothing like it")


def test_nodes_out_of_range_are_refused(index: IdIndex) -> None:
    with pytest.raises(InputError, match="out of range"):
        index.id_of(len(YARD_IDS))
    with pytest.raises(InputError, match="out of range"):
        index.ids_of([0, -1])


def test_round_trip_of_100k_random_ids(tmp_path: Path) -> None:
    ids = random_ids(100_000, seed=7)
    index = IdIndex.build(pa.array(ids), tmp_path / "ids", chunk_ids=30_000)
    rng = np.random.default_rng(7)
    for node in rng.integers(0, len(ids), 2_000).tolist():
        assert index.node_of(index.id_of(node)) == node
    every = np.arange(len(ids))
    assert np.array_equal(index.nodes_of(index.ids_of(every)), every)
    assert index.ids_of(every).to_pylist() == ids
    shuffled = rng.permutation(len(ids))
    assert np.array_equal(index.nodes_of(pa.array(ids).take(pa.array(shuffled))), shuffled)


def test_streamed_chunked_and_sliced_inputs_build_the_same_index(tmp_path: Path) -> None:
    ids = random_ids(5_000, seed=3)
    whole = IdIndex.build(ids, tmp_path / "whole")
    batches = IdIndex.build((pa.array(ids[i : i + 700]) for i in range(0, len(ids), 700)), tmp_path / "batches")
    chunked = IdIndex.build(pa.chunked_array([ids[:10], ids[10:]]), tmp_path / "chunked", chunk_ids=999)
    sliced = IdIndex.build(pa.array(["drop me", *ids]).slice(1), tmp_path / "sliced")
    large = IdIndex.build(pa.array(ids, type=pa.large_string()), tmp_path / "large")
    for other in (batches, chunked, sliced, large):
        assert len(other) == len(ids)
        for name in ("ids.bytes", "offsets.npy", "exact.npy", "loose.npy", "index.json"):
            assert (other.path / name).read_bytes() == (whole.path / name).read_bytes(), name


# ---- collisions -----------------------------------------------------------------------------------


def test_hash_collisions_cost_time_not_answers(tmp_path: Path) -> None:
    ids = random_ids(3_000, seed=11)
    index = IdIndex.build(pa.array(ids), tmp_path / "ids", hash_bits=2)  # four hash values for 3,000 ids
    assert IdIndex.open(tmp_path / "ids")._hash_bits == 2
    for node in range(0, len(ids), 37):
        assert index.node_of(ids[node]) == node
    assert index.get("not an id") is None
    assert np.array_equal(index.nodes_of([*ids, "not an id"]), [*range(len(ids)), -1])
    for node in range(0, len(ids), 101):
        assert node in index.loose(ids[node])
        assert all(loose_key(index.id_of(n)) == loose_key(ids[node]) for n in index.loose(ids[node]))


def test_duplicates_are_found_among_colliding_hashes(tmp_path: Path) -> None:
    ids = [*random_ids(500, seed=5), "dup", "DUP"]
    ids.insert(300, ids[10])
    with pytest.raises(DuplicateIdError) as caught:
        IdIndex.build(pa.array(ids), tmp_path / "ids", hash_bits=1)
    assert caught.value.duplicates == ((ids[10], 10, 300),)
    assert caught.value.count == 1


# ---- duplicates and bad ids -----------------------------------------------------------------------


def test_duplicates_are_named_with_both_rows_and_counted(tmp_path: Path) -> None:
    base = [f"P{i:04d}" for i in range(100)]
    ids = base + base[:30] + ["p0000", "P0000"]  # 31 repeats; "p0000" differs by case
    with pytest.raises(DuplicateIdError) as caught:
        IdIndex.build(pa.array(ids), tmp_path / "ids")
    err = caught.value
    assert err.count == 31
    assert err.duplicates[:2] == (("P0000", 0, 100), ("P0001", 1, 101))
    assert len(err.duplicates) == 20
    assert "31 duplicate id(s): 'P0000' on rows 0 and 100" in str(err) and "and 11 more" in str(err)
    assert isinstance(err, InputError)
    assert not (tmp_path / "ids").exists() and list(tmp_path.iterdir()) == []  # a failed build leaves nothing
    again = pickle.loads(pickle.dumps(err))
    assert (again.duplicates, again.count, str(again)) == (err.duplicates, err.count, str(err))


def test_bad_ids_are_reported_by_row(tmp_path: Path) -> None:
    ids = ["ok", "", "x" * (MAX_ID_BYTES + 1), "船" * 43, "tab\there", "nul\x00", "del\x7f", "c1\x85", None, "fine"]
    ids += ["船" * 42, "x" * MAX_ID_BYTES]  # 126 and 128 bytes: fine
    problems = check_ids(pa.array(ids))
    assert problems.count == 8
    assert [(p.row, p.reason) for p in problems.first] == [
        (1, "empty"),
        (2, "longer than 128 bytes (129)"),
        (3, "longer than 128 bytes (129)"),
        (4, "control character U+0009"),
        (5, "control character U+0000"),
        (6, "control character U+007F"),
        (7, "control character U+0085"),
        (8, "missing"),
    ]
    with pytest.raises(InvalidIdError, match=r"8 invalid id\(s\): row 1 '': empty; row 2 'x") as caught:
        IdIndex.build(pa.array(ids), tmp_path / "ids")
    assert caught.value.problems == problems
    assert pickle.loads(pickle.dumps(caught.value)).problems == problems
    assert list(tmp_path.iterdir()) == []


def test_bad_ids_past_the_first_twenty_are_counted(tmp_path: Path) -> None:
    ids = ["ok"] * 5 + [f"bad\n{i}" for i in range(50)]
    problems = check_ids(ids)
    assert problems.count == 50
    assert [p.row for p in problems.first] == list(range(5, 25))
    with pytest.raises(InvalidIdError, match="and 30 more"):
        IdIndex.build(ids, tmp_path / "ids", chunk_ids=7)


def test_ids_must_be_strings_and_the_target_new(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="must be strings"):
        IdIndex.build(pa.array([1, 2]), tmp_path / "ids")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="not an empty directory"):
        IdIndex.build(["a"], tmp_path / "full")
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
    (tmp_path / "empty").mkdir()
    assert IdIndex.build(["a"], tmp_path / "empty").node_of("a") == 0


# ---- loose and fuzzy ------------------------------------------------------------------------------


def test_loose_keys_ignore_case_separators_and_leading_zeros() -> None:
    assert {loose_key(t) for t in ["J020-000088", "j20-88", "J20 88", "j_020/088", "J20.88", "J20:88"]} == {"j2088"}
    assert {loose_key(t) for t in ["B025", "b25", "B-25", "B 0025"]} == {"b25"}
    assert loose_key("B0") == "b0" and loose_key("B-00") == "b0" and loose_key("B100") == "b100"
    assert loose_key("ＢＬＯＣＫ０２５") == "block25"  # full-width (NFKC)
    assert loose_key("Straße") == loose_key("STRASSE")
    assert loose_key("ΣΥΣΤΗΜΑΣ") == loose_key("συστημας")


def test_loose_finds_every_node_that_shares_the_key(index: IdIndex) -> None:
    assert index.loose("j20 88") == [6]
    assert index.loose("b-25") == [4]
    assert index.loose("B25 A1") == [5, 10]  # "B025-A01" and "b025-a01": the ambiguity shows
    assert index.loose("h1234 b12 a3 pl42") == [0]
    assert index.loose("船体 b12") == [2]
    assert index.loose("блок 7 секция 3") == [3]
    assert index.loose("nothing") == []


def test_fuzzy_ranks_close_ids_among_candidates(index: IdIndex) -> None:
    blocks = [4, 5, 6, 10]
    assert index.fuzzy("B052-A01", blocks, limit=2)[0] == (5, 0.8)  # "b52a1" vs "b25a1": one swap
    assert [n for n, _ in index.fuzzy("b25a1", blocks)][:2] == [5, 10]  # ties: lower node first
    assert index.fuzzy("B025", blocks, limit=1) == [(4, 1.0)]
    assert index.fuzzy("J2O88", blocks, min_score=0.5) == [(6, 0.8)]  # letter O typed for zero
    assert index.fuzzy("zzzzzz", blocks) == []
    assert index.fuzzy("B025", []) == []
    assert all(node in blocks for node, _ in index.fuzzy("H1234/B12", blocks, min_score=0.0))


# ---- empty and damaged ----------------------------------------------------------------------------


def test_an_empty_index_answers_nothing(tmp_path: Path) -> None:
    IdIndex.build(pa.array([], type=pa.string()), tmp_path / "ids")
    index = IdIndex.open(tmp_path / "ids")
    assert len(index) == 0
    assert index.get("a") is None
    assert index.nodes_of(["a"]).tolist() == [-1]
    assert index.nodes_of([]).tolist() == []
    assert index.ids_of([]).to_pylist() == []
    assert index.loose("a") == []
    assert index.fuzzy("a", []) == []
    with pytest.raises(UnknownCodeError):
        index.node_of("a")


def test_a_missing_or_damaged_index_is_refused(tmp_path: Path) -> None:
    with pytest.raises(YardNotFoundError):
        IdIndex.open(tmp_path / "nowhere")
    IdIndex.build(["a", "b"], tmp_path / "ids")
    with open(tmp_path / "ids" / "ids.bytes", "ab") as f:
        f.write(b"c")
    with pytest.raises(YardIntegrityError, match="inconsistent"):
        IdIndex.open(tmp_path / "ids")
    (tmp_path / "ids" / "exact.npy").unlink()
    with pytest.raises(YardIntegrityError, match="missing"):
        IdIndex.open(tmp_path / "ids")


def test_loose_finds_ids_as_people_retype_them(tmp_path: Path) -> None:
    ids = random_ids(4_000, seed=9)
    index = IdIndex.build(pa.array(ids), tmp_path / "ids")
    rng = random.Random(9)
    for node in range(0, len(ids), 7):
        typed = ids[node].swapcase()
        typed = re.sub(r"(?<![0-9])([0-9])", lambda m: "0" * rng.randint(0, 2) + m.group(1), typed)  # zero-pad runs
        typed = re.sub(r"[ \-_/.:]", lambda _: rng.choice(" -_/.:"), typed)
        assert node in index.loose(typed), (ids[node], typed)


def test_an_interrupted_build_leaves_nothing(tmp_path: Path) -> None:
    def batches() -> Iterator[pa.Array]:
        yield pa.array(["a", "b"])
        yield pa.array(["c"])
        raise OSError("the source went away")

    with pytest.raises(OSError, match="went away"):
        IdIndex.build(batches(), tmp_path / "ids", chunk_ids=1)
    assert list(tmp_path.iterdir()) == []
