"""Bad input gets a typed error that says what and where, and never a half-written store."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from knowledge import (
    GraphCycleError,
    InputError,
    InvalidYardSpecError,
    ManifestError,
    UnknownCodeError,
    YardDataError,
    YardIntegrityError,
    YardNotFoundError,
    YardSpec,
    YardStore,
    generate_store,
)
from knowledge.importer import store_digest
from knowledge.yarddir import file_sha256, read_import_manifest, verify_store
from tests.helpers.yards import copy_yard


@pytest.fixture
def yard(small_yard: Path) -> YardStore:
    return YardStore.open(small_yard)


def _rewrite_entry(store: Path, rel: str) -> None:
    """Record a changed file's new size and checksum in the store's manifest, as a careless tool would."""
    path = store / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["files"][rel] = {"bytes": (store / rel).stat().st_size, "sha256": file_sha256(store / rel)}
    path.write_text(json.dumps(manifest))


def _add_edge(store: Path, u: int, v: int) -> None:
    """Add edge u -> v to a store's CSR arrays (both directions) and its manifest: only the graph is wrong."""
    yard = YardStore.open(store)
    src, dst = yard.edge_arrays()
    src, dst = np.append(src, np.int32(u)), np.append(dst, np.int32(v))
    n = yard.num_nodes
    for name, (a, b) in {"forward": (src, dst), "reverse": (dst, src)}.items():
        order = np.argsort(a, kind="stable")
        indptr = np.zeros(n + 1, dtype=np.load(store / "graph" / f"{name}_indptr.npy").dtype)
        np.cumsum(np.bincount(a, minlength=n), out=indptr[1:])
        np.save(store / "graph" / f"{name}_indptr.npy", indptr)
        np.save(store / "graph" / f"{name}_indices.npy", b[order].astype(np.int32))
    del yard
    manifest = json.loads((store / "manifest.json").read_text())
    manifest["num_edges"] = len(src)
    (store / "manifest.json").write_text(json.dumps(manifest))
    for name in ("forward_indptr", "forward_indices", "reverse_indptr", "reverse_indices"):
        _rewrite_entry(store, f"graph/{name}.npy")


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("B999", "no node has the id 'B999'"),
        ("b001-a01", "did you mean 'B001-A01'"),
        ("B001-A01-S77", "no node has the id 'B001-A01-S77'"),
        ("J001-999999", "no node has the id 'J001-999999'"),
        ("j1-1", "did you mean 'J001-000001'"),
        ("hello", "ids are case-sensitive"),
    ],
)
def test_unknown_code_names_it_and_the_ids_close_to_it(yard: YardStore, code: str, says: str) -> None:
    with pytest.raises(UnknownCodeError) as info:
        yard.node_of(code)
    assert repr(code) in str(info.value)
    assert says in str(info.value)
    assert isinstance(info.value, InputError)
    again = pickle.loads(pickle.dumps(info.value))  # errors cross checkpoints
    assert str(again) == str(info.value)


def test_codes_round_trip_for_every_node(yard: YardStore) -> None:
    nodes = np.arange(yard.num_nodes, dtype=np.int32)
    codes = yard.codes_of(nodes)
    assert len(set(codes)) == yard.num_nodes
    np.testing.assert_array_equal(yard.nodes_of(codes), nodes)
    # forgiving of case and spaces where asked to be: the loose lookup
    assert yard.ids.loose(" b001-a01-s01-p0001 ") == [yard.node_of("B001-A01-S01-P0001")]
    with pytest.raises(UnknownCodeError):
        yard.nodes_of(["B001", "B999"])


def test_missing_directory_and_manifest(tmp_path: Path) -> None:
    with pytest.raises(YardNotFoundError, match="no yard directory at"):
        read_import_manifest(tmp_path / "nowhere")
    with pytest.raises(YardDataError):
        YardStore.open(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(YardNotFoundError, match="holds no imported yard"):
        read_import_manifest(tmp_path / "empty")
    with pytest.raises(YardDataError, match="no imported yard"):
        YardStore.open(tmp_path / "empty")


def test_truncated_or_missing_file_is_caught_at_open(small_yard: Path, tmp_path: Path) -> None:
    store = copy_yard(small_yard, tmp_path / "y")
    data = (store / "graph" / "forward_indices.npy").read_bytes()
    (store / "graph" / "forward_indices.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(YardIntegrityError, match="wrong size: \\['graph/forward_indices.npy'\\]"):
        YardStore.open(store)
    (store / "graph" / "forward_indices.npy").write_bytes(data)
    YardStore.open(store)
    (store / "roles" / "joint.parquet").unlink()
    with pytest.raises(YardIntegrityError, match="'roles/joint.parquet'"):
        YardStore.open(store)


def test_checksum_mismatch_is_caught_by_the_full_check(small_yard: Path, tmp_path: Path) -> None:
    store = copy_yard(small_yard, tmp_path / "y")
    path = store / "roles" / "part.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte flipped
    path.write_bytes(bytes(data))
    YardStore.open(store)  # the quick check reads sizes only
    with pytest.raises(YardIntegrityError, match="fail their SHA-256 checksum.*'roles/part.parquet'"):
        verify_store(store)


def test_manifest_of_another_format_version(small_yard: Path, tmp_path: Path) -> None:
    store = copy_yard(small_yard, tmp_path / "y")
    manifest = json.loads((store / "manifest.json").read_text())
    manifest["format_version"] = 3
    (store / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match="format version 3 .*this Shipbrain reads imported stores \\(version 5\\)"):
        read_import_manifest(store)
    with pytest.raises(YardDataError):
        YardStore.open(store)
    (store / "manifest.json").write_text("{not json")
    with pytest.raises(ManifestError, match="not an imported yard's manifest"):
        read_import_manifest(store)
    del manifest["format_version"]
    del manifest["counts"]
    (store / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match="counts"):
        read_import_manifest(store)


def test_array_of_the_wrong_dtype(small_yard: Path, tmp_path: Path) -> None:
    """A careless tool rewrote an array with another dtype of the same size, and its manifest entry with it."""
    store = copy_yard(small_yard, tmp_path / "y")
    indices = np.load(store / "graph" / "reverse_indices.npy")
    np.save(store / "graph" / "reverse_indices.npy", indices.astype(np.float32))
    _rewrite_entry(store, "graph/reverse_indices.npy")
    with pytest.raises(YardIntegrityError, match="reverse_indices"):
        YardStore.open(store)


def test_edge_file_with_a_cycle(small_yard: Path, tmp_path: Path) -> None:
    store = copy_yard(small_yard, tmp_path / "y")
    yard = YardStore.open(store)
    block, part = yard.node_of("B003"), yard.node_of("B003-A01-S01-P0001")
    del yard
    _add_edge(store, block, part)  # the block before its own part: a cycle
    verify_store(store)  # every file is as its manifest says: only the graph is wrong
    with pytest.raises(GraphCycleError, match="cycle"):
        YardStore.open(store).topological_levels()


@pytest.mark.parametrize("parts", [4_999, 25_000_001, -5])
def test_parts_out_of_range(parts: int) -> None:
    with pytest.raises(InvalidYardSpecError, match=r"parts=.*parts run 5,000-25,000,000"):
        YardSpec.checked(parts=parts, seed=0)


@pytest.mark.parametrize(
    "where", ["knowledge.synthetic.yardformat._write_edges", "knowledge.importer._write_node_tables"]
)
def test_an_interrupted_generate_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """Interrupted while writing the open format, or while importing it: neither the store nor a temporary folder."""

    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(where, interrupt)
    with pytest.raises(KeyboardInterrupt):
        generate_store(YardSpec(parts=5_000, seed=1), tmp_path / "yard")
    assert list(tmp_path.iterdir()) == []
    kept = tmp_path / "format"
    with pytest.raises(KeyboardInterrupt):
        generate_store(YardSpec(parts=5_000, seed=1), tmp_path / "yard", open_format=kept)
    assert not (tmp_path / "yard").exists()
    assert [p.name for p in tmp_path.iterdir()] == (["format"] if "importer" in where else [])


def test_overwrite_replaces_whole_and_refuses_without_it(tmp_path: Path) -> None:
    out = tmp_path / "yard"
    first = store_digest(generate_store(YardSpec(parts=5_000, seed=1), out))
    with pytest.raises(FileExistsError, match="pass --force"):
        generate_store(YardSpec(parts=5_000, seed=2), out)
    assert store_digest(out) == first
    generate_store(YardSpec(parts=5_000, seed=2), out, overwrite=True)
    assert store_digest(out) != first
    assert "seed 2" in YardStore.open(out).name and verify_store(out).num_nodes > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["yard"]
    with pytest.raises(InputError, match="cannot share one directory"):
        generate_store(YardSpec(parts=5_000, seed=2), out, open_format=out, overwrite=True)
    with pytest.raises(InputError, match="nothing to write"):
        generate_store(YardSpec(parts=5_000, seed=2), None)
