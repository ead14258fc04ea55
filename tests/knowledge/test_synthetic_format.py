"""The synthetic yard written in the open yard format passes its checks and imports as the same yard."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from knowledge.idindex import IdIndex
from knowledge.importer import ImportManifest, import_yard
from knowledge.synthetic import GeneratedYard, YardSpec, generate_yard
from knowledge.synthetic import yardformat as synthetic_format
from knowledge.synthetic.yardformat import FILES, node_codes, write_format
from knowledge.yarddir import write_yard
from knowledge.yardformat import validate_yard

SPEC = YardSpec(parts=8_000, seed=3)
WELDING = ("level", "joint_type", "process", "position", "access", "one_sided", "grade", "thickness_mm", "length_m")


@pytest.fixture(scope="module")
def generated() -> GeneratedYard:
    return generate_yard(SPEC)


@pytest.fixture(scope="module")
def written(generated: GeneratedYard, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_format(generated, tmp_path_factory.mktemp("format") / "yard")


@pytest.fixture(scope="module")
def imported(written: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ImportManifest]:
    store = tmp_path_factory.mktemp("store") / "yard"
    return store, import_yard(written, store)


def _codes(generated: GeneratedYard, ids: np.ndarray) -> list[str]:
    return list(node_codes(generated.layout, ids).to_pylist())


def _edges(generated: GeneratedYard) -> set[tuple[int, int]]:
    indptr, indices = generated.forward
    src = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    return set(zip(src.tolist(), indices.tolist(), strict=True))


def _parents(generated: GeneratedYard) -> dict[int, int]:
    """Each generated node's production parent, from the generator's own tables."""
    t = generated.tables
    links: dict[int, int] = {}
    for table, child, parent in (
        ("assemblies", "assembly_id", "block_id"),
        ("sub_assemblies", "sub_assembly_id", "assembly_id"),
        ("parts", "part_id", "sub_assembly_id"),
        ("joints", "joint_id", "owner_id"),
    ):
        links |= dict(zip(t[table][child].to_pylist(), t[table][parent].to_pylist(), strict=True))
    items = t["outfitting_items"]
    for item, block, stage in zip(*(items[c].to_pylist() for c in ("item_id", "block_id", "stage")), strict=True):
        if stage != "on-board":  # fitted after erection: done after its block, so not inside it
            links[item] = block
    return links


def test_the_written_yard_passes_every_check_with_the_models_unlocked(written: Path) -> None:
    assert sorted(p.name for p in written.iterdir()) == sorted(FILES)
    yard = validate_yard(written)
    assert "welding" in yard.unlocked["joint"]
    assert "outfitting" in yard.unlocked["outfitting_item"]
    assert "scheduling" in yard.unlocked["work_package"] and "scheduling" in yard.unlocked["resource"]
    assert list(yard.groups) == ["system"]


def test_the_ids_are_the_generators_codes(generated: GeneratedYard) -> None:
    layout = generated.layout
    starts = [int(s) for s in layout.kind_start]
    sample = sorted({s + d for s, e in zip(starts, starts[1:], strict=False) for d in (0, 1, (e - s) // 2, e - s - 1)})
    assert _codes(generated, np.array(sample[::-1])) == [layout.code_of(i) for i in sample[::-1]]


def test_the_import_holds_every_node_with_its_kind_and_parent(
    generated: GeneratedYard, imported: tuple[Path, ImportManifest]
) -> None:
    store, manifest = imported
    t = generated.tables
    extra = {"work_package": t["work_packages"].num_rows, "resource": t["resources"].num_rows}
    counts: dict[str, int] = {str(kind): n for kind, n in generated.layout.counts.items()} | extra
    assert manifest.num_nodes == generated.layout.num_nodes + sum(extra.values()) + t["systems"].num_rows
    assert {kind: manifest.counts[kind] for kind in counts} == counts
    assert manifest.counts["system"] == t["systems"].num_rows
    assert manifest.roles == {role: [role] for role in counts}
    index = IdIndex.open(store / "ids")
    kinds = np.load(store / "nodes" / "kind.npy")
    parent = np.load(store / "nodes" / "parent.npy")
    nodes = index.nodes_of(node_codes(generated.layout, np.arange(generated.layout.num_nodes)))
    assert (nodes >= 0).all()
    role = np.asarray(manifest.kinds)[kinds[nodes]]
    expected_role = np.repeat(list(generated.layout.counts), list(generated.layout.counts.values()))
    assert (role == expected_role).all()
    links = _parents(generated)
    expected_parent = [links.get(i, -1) for i in range(generated.layout.num_nodes)]
    got = parent[nodes]
    back = {int(n): i for i, n in enumerate(nodes.tolist())}
    assert [back[int(p)] if p >= 0 else -1 for p in got.tolist()] == expected_parent


def test_the_import_has_the_generated_edges_and_the_hierarchys_links(
    generated: GeneratedYard, written: Path, imported: tuple[Path, ImportManifest]
) -> None:
    store, manifest = imported
    index = IdIndex.open(store / "ids")
    layout = generated.layout
    links = set(_parents(generated).items())
    edges = _edges(generated)
    codes = _codes(generated, np.arange(layout.num_nodes))
    expected = {(codes[u], codes[v]) for u, v in edges | links}
    indptr = np.load(store / "graph" / "forward_indptr.npy")
    indices = np.load(store / "graph" / "forward_indices.npy")
    src = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    ids = index.ids_of(np.arange(manifest.num_nodes)).to_pylist()
    got = [(ids[u], ids[v]) for u, v in zip(src.tolist(), indices.tolist(), strict=True)]
    assert len(got) == len(set(got)) == manifest.num_edges  # no edge twice: the implied ones were left out
    assert set(got) == expected
    assert pq.read_metadata(written / "edges.parquet").num_rows == len(edges - links)


def test_each_joint_and_item_keeps_its_model_fields(
    generated: GeneratedYard, imported: tuple[Path, ImportManifest]
) -> None:
    store, _ = imported
    index = IdIndex.open(store / "ids")
    for role, table, key, fields in (
        ("joint", "joints", "joint_id", (*WELDING, "fit_up_gap_mm")),
        ("outfitting_item", "outfitting_items", "item_id", ("system", "length_m", "diameter_mm", "weight_t")),
    ):
        mine = generated.tables[table]
        got = pq.read_table(store / "roles" / f"{role}.parquet")
        got = got.take(pc.sort_indices(got.column("node")))
        nodes = index.nodes_of(node_codes(generated.layout, mine.column(key).to_numpy()))
        order = np.argsort(nodes)
        assert got.column("node").to_numpy().tolist() == nodes[order].tolist()
        for field in fields:
            expected = mine.column(field).combine_chunks()
            if pa.types.is_dictionary(expected.type):
                expected = expected.dictionary_decode()
            want = expected.take(pa.array(order)).cast(got.column(field).type)
            assert got.column(field).to_pylist() == want.to_pylist(), field
        # the work package as a reference: its code
        codes = generated.tables["work_packages"].column("code").to_pylist()
        want_wp = [codes[w] for w in mine.column("work_package_id").to_numpy()[order].tolist()]
        assert got.column("work_package").to_pylist() == want_wp


def test_items_are_grouped_by_system_and_the_actuals_are_kept(
    generated: GeneratedYard, imported: tuple[Path, ImportManifest]
) -> None:
    store, _ = imported
    index = IdIndex.open(store / "ids")
    items = generated.tables["outfitting_items"]
    nodes = index.nodes_of(node_codes(generated.layout, items.column("item_id").to_numpy()))
    system = np.load(store / "nodes" / "group-system.npy")
    assert index.ids_of(system[nodes]).to_pylist() == items.column("system").cast(pa.string()).to_pylist()
    actuals = pq.read_table(store / "actuals.parquet")
    t = generated.tables
    assert actuals.num_rows == sum(t[n].num_rows for n in ("blocks", "joints", "outfitting_items", "work_packages"))
    joints = index.nodes_of(node_codes(generated.layout, t["joints"].column("joint_id").to_numpy()))
    by_node = dict(zip(actuals.column("id_node").to_pylist(), actuals.column("actual_hours").to_pylist(), strict=True))
    assert [by_node[n] for n in joints.tolist()] == t["joints"].column("actual_hours").to_pylist()


def test_the_same_seed_gives_the_same_bytes_from_memory_or_from_a_store(
    generated: GeneratedYard, written: Path, tmp_path: Path
) -> None:
    again = write_format(generate_yard(SPEC), tmp_path / "again")
    store = tmp_path / "store"
    write_yard(generated, store)
    from_store = write_format(store, tmp_path / "from-store")
    for name in FILES:
        assert (again / name).read_bytes() == (written / name).read_bytes(), name
        assert (from_store / name).read_bytes() == (written / name).read_bytes(), name
    other = write_format(generate_yard(SPEC.model_copy(update={"seed": 4})), tmp_path / "other")
    assert (other / "nodes.parquet").read_bytes() != (written / "nodes.parquet").read_bytes()


def test_small_chunks_give_the_same_rows_in_row_groups_of_a_chunk(
    generated: GeneratedYard, written: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store"
    write_yard(generated, store)
    monkeypatch.setattr(synthetic_format, "CHUNK", 1_000)
    for source, out in ((generated, tmp_path / "memory"), (store, tmp_path / "store-format")):
        write_format(source, out)
        for name in FILES[1:]:
            assert pq.read_table(out / name).equals(pq.read_table(written / name)), name
        meta = pq.read_metadata(out / "nodes.parquet")
        sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        assert set(sizes[:-1]) == {1_000} and 0 < sizes[-1] <= 1_000


def test_an_existing_directory_is_kept_unless_overwritten(generated: GeneratedYard, tmp_path: Path) -> None:
    out = tmp_path / "yard"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    with pytest.raises(FileExistsError):
        write_format(generated, out)
    assert (out / "mine.txt").read_text() == "keep"
    write_format(generated, out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
