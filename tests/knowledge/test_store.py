"""An imported store answers graph questions in the yard's own ids and kinds: the bulk carrier sample, imported.

Each answer is checked against the yard's own tables read directly (its nodes' parents, its edges), not against
numbers written here.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from knowledge.errors import InputError, UnknownCodeError, YardIntegrityError
from knowledge.importer import import_yard
from knowledge.store import YardStore
from knowledge.yardformat import validate_yard
from tests.test_cli import run

Truth = tuple[pa.ChunkedArray, dict[str, str], list[tuple[str, str]]]
SAMPLE = Path(__file__).parents[2] / "knowledge" / "samples" / "bulk_carrier"


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bulk") / "store"
    import_yard(SAMPLE, out)
    return out


@pytest.fixture(scope="module")
def store(store_path: Path) -> YardStore:
    return YardStore.open(store_path)


@pytest.fixture(scope="module")
def truth() -> Truth:
    """The sample read straight from its files: every id, each one's parent, and the yard's edges."""
    yard = validate_yard(SAMPLE)
    ids = yard.ids
    parent = {str(ids[i]): str(ids[p]) for i, p in enumerate(yard.parent.tolist()) if p >= 0}
    edges = [(str(ids[b]), str(ids[a])) for b, a in zip(yard.before.tolist(), yard.after.tolist(), strict=True)]
    return ids, parent, edges


def test_every_id_comes_back_as_the_yard_wrote_it(store: YardStore, truth: Truth) -> None:
    ids, _, _ = truth
    assert store.num_nodes == len(ids)
    sample = [str(x) for x in ids.to_pylist()[::97]]
    assert [store.id_of(store.node_of(i)) for i in sample] == sample


def test_members_are_the_production_subtree(store: YardStore, truth: Truth) -> None:
    _, parent, _ = truth
    children: dict[str, list[str]] = defaultdict(list)
    for child, p in parent.items():
        children[p].append(child)
    block = store.nodes_of_kind("block")[3]
    expected: set[str] = set()
    todo = [store.id_of(int(block))]
    while todo:
        for child in children[todo.pop()]:
            expected.add(child)
            todo.append(child)
    assert set(store.ids_of(store.members(int(block)))) == expected
    plates = store.members(int(block), kinds=["PLATE"])
    assert set(store.kinds_of(plates)) == {"PLATE"} and len(plates) > 0
    parts = store.members(int(block), kinds=["part"])  # a role: every kind that plays it
    assert set(store.kinds_of(parts)) <= {"PLATE", "PROFILE"} and len(parts) > len(plates)


def test_what_comes_right_before_is_the_yards_edges_and_its_children(store: YardStore, truth: Truth) -> None:
    _, parent, edges = truth
    before: dict[str, set[str]] = defaultdict(set)
    for b, a in edges:
        before[a].add(b)
    for child, p in parent.items():
        before[p].add(child)  # a child is done before its parent
    for node in store.nodes_of_kind("block")[:10].tolist():
        name = store.id_of(node)
        assert set(store.ids_of(store.upstream([node], depth=1))) == before[name], name


def test_closures_are_consistent_both_ways(store: YardStore) -> None:
    block = int(store.nodes_of_kind("block")[-1])
    up = store.upstream([block])
    assert all(block in store.downstream([int(n)]).tolist() for n in up[:: max(1, len(up) // 20)])
    chain = store.shortest_path(int(up[0]), block) if len(up) else np.array([], dtype=np.int32)
    assert len(chain) >= 2 and chain[0] == up[0] and chain[-1] == block


def test_bad_input_is_one_clear_error(store: YardStore) -> None:
    with pytest.raises(UnknownCodeError, match="did you mean 'H1042/DB03'"):
        store.node_of("h1042/db3")
    with pytest.raises(InputError, match="no kind or role 'WELD'"):
        store.members(int(store.nodes_of_kind("block")[0]), kinds=["WELD"])
    with pytest.raises(InputError, match="out of range"):
        store.id_of(store.num_nodes)


def test_a_damaged_store_is_refused_at_open(tmp_path: Path, store_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(store_path, copy)
    pq.write_table(pa.table({"x": [1]}), copy / "edges.parquet")
    with pytest.raises(YardIntegrityError, match="edges.parquet"):
        YardStore.open(copy)


def test_yard_query_speaks_the_yards_ids(store_path: Path, tmp_path: Path) -> None:
    done = run(
        "yard", "query", str(store_path), "members", "H1042/DB03", "--kinds", "part", "--json", data_dir=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert '"by_kind"' in done.stdout and "H1042/DB03-P01 PL0001" in done.stdout
    done = run("yard", "query", str(store_path), "upstream", "h1042/db3", data_dir=tmp_path)
    assert done.returncode == 2 and "did you mean 'H1042/DB03'" in done.stderr
