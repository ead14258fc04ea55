"""Bad input gets a typed error that says what and where, and never a half-written yard."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from knowledge import (
    FORMAT_VERSION,
    GraphCycleError,
    InputError,
    InvalidYardSpecError,
    ManifestError,
    PartGraph,
    SubgraphTooLargeError,
    UnknownCodeError,
    YardIntegrityError,
    YardNotFoundError,
    YardSpec,
    generate_yard,
    write_yard,
)
from tests.helpers.yards import copy_yard, rewrite_manifest_entry, save_graph_with_extra_edge


@pytest.fixture
def graph(small_yard: Path) -> PartGraph:
    return PartGraph.open(small_yard)


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("B999", "blocks run B001-B012"),
        ("B001-A99", "B001 has A01-A"),
        ("B001-A01-S77", "B001-A01 has S01-S"),
        ("B001-A01-S01-P9999", "B001-A01-S01 has P0001-P"),
        ("J001-999999", "block B001 has J001-000001-J001-"),
        ("O002-99999", "block B002 has O002-00001-O002-"),
        ("hello", "is not a yard code"),
        ("B1-A1-X3", "is not a yard code"),
    ],
)
def test_unknown_code_names_it_and_the_valid_range(graph: PartGraph, code: str, says: str) -> None:
    with pytest.raises(UnknownCodeError) as info:
        graph.id_of(code)
    assert repr(code) in str(info.value)
    assert says in str(info.value)
    assert isinstance(info.value, InputError)
    again = pickle.loads(pickle.dumps(info.value))  # errors cross checkpoints
    assert str(again) == str(info.value)


def test_codes_round_trip_for_every_node(graph: PartGraph) -> None:
    ids = np.arange(graph.num_nodes, dtype=np.int32)
    codes = graph.codes_of(ids)
    assert len(set(codes)) == graph.num_nodes
    np.testing.assert_array_equal(graph.ids_of(codes), ids)
    assert graph.id_of(" b001-a01-s01-p0001 ") == graph.id_of("B001-A01-S01-P0001")  # forgiving of case and spaces


def test_bad_ids_and_arguments(graph: PartGraph) -> None:
    with pytest.raises(UnknownCodeError, match="ids run 0-"):
        graph.upstream([graph.num_nodes])
    with pytest.raises(UnknownCodeError):
        graph.code_of(-1)
    with pytest.raises(InputError, match="must be integers"):
        graph.upstream(["B001"])
    with pytest.raises(InputError, match="unknown node kind 'weld'"):
        graph.upstream([0], kinds=["weld"])  # type: ignore[list-item]
    with pytest.raises(InputError, match="depth must be 0 or more"):
        graph.downstream([0], depth=-1)
    with pytest.raises(InputError, match="one value per node"):
        graph.critical_path(np.ones(3))
    with pytest.raises(InputError, match="non-negative"):
        graph.critical_path(np.full(graph.num_nodes, -1.0))
    with pytest.raises(InputError, match="cannot roll up to 'ship'"):
        graph.rollup(np.ones(graph.num_nodes), to="ship")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="only blocks, assemblies and sub-assemblies have members"):
        graph.members(graph.id_of("B001-A01-S01-P0001"))


def test_subgraph_over_its_limit_is_refused(graph: PartGraph) -> None:
    block = graph.id_of("B001")
    with pytest.raises(SubgraphTooLargeError, match="over its limit of 100"):
        graph.subgraph(graph.upstream([block]), limit=100)


def test_missing_directory_and_manifest(tmp_path: Path) -> None:
    with pytest.raises(YardNotFoundError, match="no yard directory at"):
        PartGraph.open(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(YardNotFoundError, match="has no manifest.json"):
        PartGraph.open(tmp_path / "empty")


def test_truncated_file_is_caught_by_the_quick_check(small_yard: Path, tmp_path: Path) -> None:
    yard = copy_yard(small_yard, tmp_path / "y")
    data = (yard / "graph" / "forward_indices.npy").read_bytes()
    (yard / "graph" / "forward_indices.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(YardIntegrityError, match="'graph/forward_indices.npy'.*truncated"):
        PartGraph.open(yard)
    (yard / "graph" / "forward_indices.npy").write_bytes(data)
    (yard / "joints.parquet").unlink()
    with pytest.raises(YardIntegrityError, match="missing 'joints.parquet'"):
        PartGraph.open(yard)


def test_checksum_mismatch_is_caught_by_the_full_check(small_yard: Path, tmp_path: Path) -> None:
    yard = copy_yard(small_yard, tmp_path / "y")
    path = yard / "parts.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte flipped
    path.write_bytes(bytes(data))
    PartGraph.open(yard)  # the quick check reads sizes only
    with pytest.raises(YardIntegrityError, match="'parts.parquet'.*fails its SHA-256 checksum"):
        PartGraph.open(yard, verify="full")


def test_manifest_of_another_format_version(small_yard: Path, tmp_path: Path) -> None:
    yard = copy_yard(small_yard, tmp_path / "y")
    manifest = json.loads((yard / "manifest.json").read_text())
    manifest["format_version"] = 99
    (yard / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match=f"format version 99; this Shipbrain reads version {FORMAT_VERSION}"):
        PartGraph.open(yard)
    (yard / "manifest.json").write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON"):
        PartGraph.open(yard)
    del manifest["format_version"]
    del manifest["counts"]
    (yard / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match="field 'format_version'"):
        PartGraph.open(yard)


def test_array_of_the_wrong_dtype(small_yard: Path, tmp_path: Path) -> None:
    yard = copy_yard(small_yard, tmp_path / "y")
    indices = np.load(yard / "graph" / "reverse_indices.npy")
    np.save(yard / "graph" / "reverse_indices.npy", indices.astype(np.float32))
    rewrite_manifest_entry(yard, "graph/reverse_indices.npy")
    with pytest.raises(YardIntegrityError, match="holds float32.*expected a 1-d array of int32/int64"):
        PartGraph.open(yard)


def test_edge_file_with_a_cycle(small_yard: Path, tmp_path: Path) -> None:
    yard = copy_yard(small_yard, tmp_path / "y")
    g = PartGraph.open(yard)
    block, part = g.id_of("B003"), g.id_of("B003-A01-S01-P0001")
    save_graph_with_extra_edge(yard, block, part)  # the block before its own part: a cycle
    with pytest.raises(GraphCycleError, match="the part graph has a cycle"):
        PartGraph.open(yard, verify="full")
    with pytest.raises(GraphCycleError):
        PartGraph.open(yard).topological_levels()


@pytest.mark.parametrize("parts", [4_999, 25_000_001, -5])
def test_parts_out_of_range(parts: int) -> None:
    with pytest.raises(InvalidYardSpecError, match=r"parts=.*parts run 5,000-25,000,000"):
        YardSpec.checked(parts=parts, seed=0)


def test_interrupted_write_leaves_no_yard_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    yard = generate_yard(YardSpec(parts=5_000, seed=1))
    calls = {"n": 0}
    real_save = np.save

    def save_then_interrupt(*args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        real_save(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(np, "save", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_yard(yard, tmp_path / "yard")
    assert list(tmp_path.iterdir()) == []  # neither the yard nor its temporary directory


def test_overwrite_replaces_whole_and_refuses_without_it(tmp_path: Path) -> None:
    out = tmp_path / "yard"
    first = write_yard(generate_yard(YardSpec(parts=5_000, seed=1)), out)
    with pytest.raises(FileExistsError, match="pass --force"):
        write_yard(generate_yard(YardSpec(parts=5_000, seed=2)), out)
    second = write_yard(generate_yard(YardSpec(parts=5_000, seed=2)), out, overwrite=True)
    assert second != first
    assert PartGraph.open(out, verify="full").manifest.seed == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["yard"]
