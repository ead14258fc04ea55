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
from knowledge.store import YardStore
from knowledge.synthetic import GeneratedYard, YardSpec, generate_yard
from knowledge.synthetic import yardformat as synthetic_format
from knowledge.synthetic.yardformat import FILES, node_codes, write_format
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


def _store_edges(store: Path) -> list[tuple[str, str]]:
    """Every edge of the imported store's graph, as (before, after) ids."""
    yard = YardStore.open(store)
    src, dst = yard.edge_arrays()
    ids = yard.ids_of(np.arange(yard.num_nodes))
    return [(ids[u], ids[v]) for u, v in zip(src.tolist(), dst.tolist(), strict=True)]


def _package_order(generated: GeneratedYard) -> set[tuple[str, str]]:
    """The work packages' order as the generator's own tables tell it, by codes.

    Each block's packages in the order of the trades (`trades.sequence`), and each block's erection package after
    the erection package of every block it rests on (a block -> erection joint -> the block the joint closes).
    """
    t = generated.tables
    trades = sorted(t["trades"].to_pylist(), key=lambda r: r["sequence"])
    erection = next(r["trade"] for r in trades if "block" in r["makes"].split(","))
    packages = {
        (r["block_id"], r["trade"]): r["code"]
        for r in t["work_packages"].select(["block_id", "trade", "code"]).to_pylist()
    }
    order: set[tuple[str, str]] = set()
    for block in range(generated.layout.counts["block"]):
        mine = [packages[(block, r["trade"])] for r in trades if (block, r["trade"]) in packages]
        order |= set(zip(mine, mine[1:], strict=False))
    joints = t["joints"].select(["joint_id", "owner_id", "level"]).to_pylist()
    closes = {j["joint_id"]: j["owner_id"] for j in joints if j["level"] == "erection"}
    for lower, joint in _edges(generated):
        if joint in closes and lower < generated.layout.counts["block"] and closes[joint] != lower:
            order.add((packages[(lower, erection)], packages[(closes[joint], erection)]))
    return order


def test_the_import_has_the_generated_edges_and_the_hierarchys_links(
    generated: GeneratedYard, written: Path, imported: tuple[Path, ImportManifest]
) -> None:
    store, manifest = imported
    layout = generated.layout
    links = set(_parents(generated).items())
    edges = _edges(generated)
    codes = _codes(generated, np.arange(layout.num_nodes))
    expected = {(codes[u], codes[v]) for u, v in edges | links}
    packages = set(generated.tables["work_packages"].column("code").to_pylist())
    got = _store_edges(store)
    assert len(got) == len(set(got)) == manifest.num_edges  # no edge twice: the implied ones were left out
    assert {(u, v) for u, v in got if u not in packages and v not in packages} == expected
    ordered = {(u, v) for u, v in got if u in packages and v in packages}
    assert len(got) == len(expected) + len(ordered)  # nothing joins a work package to a part, joint or item
    assert pq.read_metadata(written / "edges.parquet").num_rows == len(edges - links) + len(ordered)


def test_the_work_packages_are_ordered_by_trade_and_erection(
    generated: GeneratedYard, imported: tuple[Path, ImportManifest]
) -> None:
    store, _ = imported
    yard = YardStore.open(store)
    packages = yard.nodes_of_role("work_package")
    before, after = yard.edges_from(packages)
    inside = np.isin(after, packages)
    got = set(zip(yard.ids_of(before[inside]), yard.ids_of(after[inside]), strict=True))
    expected = _package_order(generated)
    assert got == expected
    erections = {(u, v) for u, v in expected if u.endswith("-ERE") and v.endswith("-ERE")}
    assert len(erections) >= generated.layout.counts["block"] - 1  # every block but the key block rests on one
    assert len(expected - erections) == 4 * generated.layout.counts["block"]  # PNL -> ASM -> OFB -> ERE -> OBD
    assert yard.topological_levels().max() > 0  # still a DAG with the packages' order in it


def test_each_hull_node_names_the_package_that_makes_it(
    generated: GeneratedYard, imported: tuple[Path, ImportManifest]
) -> None:
    store, _ = imported
    yard = YardStore.open(store)
    makes = {k: r["trade"] for r in generated.tables["trades"].to_pylist() for k in r["makes"].split(",") if k}
    assert set(makes) == {"block", "assembly", "sub_assembly", "part"}
    for role, trade in makes.items():
        table = yard.role_table(role, ["work_package"])
        nodes = table.column("node").to_numpy()
        blocks = yard.ids_of(yard.block_of(nodes))
        assert yard.ids_of(table.column("work_package").to_numpy()) == [f"WP-{b}-{trade}" for b in blocks], role


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
        # the work package as a reference: the node of its code
        codes = generated.tables["work_packages"].column("code").to_pylist()
        want_wp = [codes[w] for w in mine.column("work_package_id").to_numpy()[order].tolist()]
        assert index.ids_of(got.column("work_package").to_numpy()).to_pylist() == want_wp


def test_items_are_grouped_by_system_and_the_actuals_are_kept(
    generated: GeneratedYard, imported: tuple[Path, ImportManifest]
) -> None:
    store, _ = imported
    index = IdIndex.open(store / "ids")
    items = generated.tables["outfitting_items"]
    nodes = index.nodes_of(node_codes(generated.layout, items.column("item_id").to_numpy()))
    system = np.load(store / "nodes" / "group-system.npy")
    assert index.ids_of(system[nodes]).to_pylist() == items.column("system").cast(pa.string()).to_pylist()
    actuals = pq.read_table(store / "roles" / "actuals.parquet")
    t = generated.tables
    assert actuals.num_rows == sum(t[n].num_rows for n in ("blocks", "joints", "outfitting_items", "work_packages"))
    joints = index.nodes_of(node_codes(generated.layout, t["joints"].column("joint_id").to_numpy()))
    by_node = dict(zip(actuals.column("node").to_pylist(), actuals.column("hours").to_pylist(), strict=True))
    assert [by_node[n] for n in joints.tolist()] == t["joints"].column("actual_hours").to_pylist()


def test_the_ground_truth_and_each_items_stage_and_block_come_through(
    generated: GeneratedYard, imported: tuple[Path, ImportManifest]
) -> None:
    store, _ = imported
    yard = YardStore.open(store)
    t = generated.tables
    joints = yard.nodes_of(node_codes(generated.layout, t["joints"].column("joint_id").to_numpy()).to_pylist())
    actuals = yard.actuals(["hours", "expected_hours", "defect_logit"])
    assert actuals is not None
    row = {n: i for i, n in enumerate(actuals.column("node").to_pylist())}
    rows = [row[n] for n in joints.tolist()]
    for field in ("expected_hours", "defect_logit"):  # what only a simulated yard knows: its ground truth
        got = actuals.column(field).take(pa.array(rows)).to_numpy()
        np.testing.assert_allclose(got, t["ground_truth"].column(field).to_numpy(), rtol=1e-6)
    items = t["outfitting_items"]
    nodes = yard.nodes_of(node_codes(generated.layout, items.column("item_id").to_numpy()).to_pylist())
    stage = yard.role_table("outfitting_item", ["stage"], nodes).column("stage").to_pylist()
    order = np.argsort(nodes)
    assert stage == items.column("stage").cast(pa.string()).take(pa.array(order)).to_pylist()
    blocks = _codes(generated, items.column("block_id").to_numpy())
    assert yard.ids_of(yard.block_of(nodes)) == blocks  # on-board items too: production roots, by their field
    on_board = np.asarray(items.column("stage").cast(pa.string()).to_pylist()) == "on-board"
    assert on_board.any() and all(yard.parent_of(int(n)) is None for n in nodes[on_board])


def test_the_same_seed_gives_the_same_bytes(generated: GeneratedYard, written: Path, tmp_path: Path) -> None:
    again = write_format(generate_yard(SPEC), tmp_path / "again")
    for name in FILES:
        assert (again / name).read_bytes() == (written / name).read_bytes(), name
    other = write_format(generate_yard(SPEC.model_copy(update={"seed": 4})), tmp_path / "other")
    assert (other / "nodes.parquet").read_bytes() != (written / "nodes.parquet").read_bytes()


def test_small_chunks_give_the_same_rows_in_row_groups_of_a_chunk(
    generated: GeneratedYard, written: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(synthetic_format, "CHUNK", 1_000)
    out = write_format(generated, tmp_path / "memory")
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
