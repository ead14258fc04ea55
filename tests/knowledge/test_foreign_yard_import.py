"""A yard nothing in Shipbrain knows (tests/helpers/foreign_yard.py, a small copy of a reviewer's own yard), imported.

Its node tables are Parquet as pandas writes them by default (pandas 3: `large_string` columns), mixed with CSV.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from knowledge.importer import import_yard
from knowledge.store import YardStore
from knowledge.yardformat.read import iter_batches
from tests.helpers.foreign_yard import BLOCKS, SYSTEMS, VALVES, write_foreign_yard


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_foreign_yard(tmp_path_factory.mktemp("foreign") / "yard")


def test_parquet_written_by_pandas_imports_beside_csv(source: Path, tmp_path: Path) -> None:
    # what pandas' own to_parquet writes (the node tables' text is large_string under pandas 3) is read as text
    written = pq.read_schema(source / "rumpfteile.parquet")
    large = [f.name for f in written if pa.types.is_large_string(f.type)]
    if not large:
        pytest.skip("this pandas writes plain string columns")
    manifest = import_yard(source, tmp_path / "store")
    store = YardStore.open(tmp_path / "store")
    assert manifest.counts["sektion"] == len(BLOCKS) and manifest.counts["naht"] == 36
    assert {store.kind_of(store.node_of(b)) for b in BLOCKS} == {"sektion"}
    assert store.kind_of(store.node_of(VALVES[0])) == "gerät" != store.kind_of(store.node_of("anl 4711"))
    zones = store.role_table("block", ["zone"]).column("zone")
    assert zones.type == pa.string() and "MVZ 2" in zones.to_pylist()


@pytest.mark.parametrize(
    "kind", [pa.large_string(), pa.string_view(), pa.dictionary(pa.int32(), pa.large_string())], ids=str
)
def test_every_batch_reads_text_as_string(tmp_path: Path, kind: pa.DataType) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(
        pa.table({"id": pa.array(["a", "b"]).cast(kind), "blob": pa.array([b"x", b"y"], pa.large_binary())}), path
    )
    (batch,) = (b.data for b in iter_batches(path))
    assert batch.schema.field("id").type == pa.string() and batch.column("id").to_pylist() == ["a", "b"]
    assert batch.schema.field("blob").type == pa.binary()


def test_the_grouping_hierarchy_is_written(source: Path, tmp_path: Path) -> None:
    import_yard(source, tmp_path / "store")
    store = YardStore.open(tmp_path / "store")
    group = np.load(tmp_path / "store" / "nodes" / "group-anlage.npy")
    assert store.id_of(int(group[store.node_of(VALVES[1])])) == SYSTEMS[0]


def test_members_of_a_system_are_what_it_groups(source: Path, tmp_path: Path) -> None:
    import pandas as pd

    from tests.test_cli import run

    import_yard(source, tmp_path / "store")
    store = YardStore.open(tmp_path / "store")
    items = pd.read_parquet(source / "ausruestung.parquet")
    grouped = set(items.loc[items["ANLAGE"] == SYSTEMS[0], "id"])
    assert store.hierarchies == ["anlage"] and len(grouped) == 20
    assert set(store.codes_of(store.group_members(store.node_of(SYSTEMS[0])))) == grouped
    assert not len(store.group_members(store.node_of(BLOCKS[0])))  # a block groups nothing: it holds
    done = run("yard", "query", str(tmp_path / "store"), "members", SYSTEMS[0], "--json", data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["count"] == 20 and found["by_kind"] == {"rohr": 18, "gerät": 2}


def test_an_items_zone_is_its_own_else_its_blocks(source: Path, tmp_path: Path) -> None:
    import pandas as pd

    from tests.helpers.foreign_yard import ZONES

    import_yard(source, tmp_path / "store")
    store = YardStore.open(tmp_path / "store")
    items = pd.read_parquet(source / "ausruestung.parquet")
    items = items[items["kind"] != "anlage"]
    assert items["ZONE"].isna().all()  # the yard leaves its items' zone empty: their blocks give it
    expected = {row.id: ZONES.get(row.SEKTION, "MVZ 3") for row in items.itertuples()}
    zones = store.zones_of_role("outfitting_item").to_pylist()
    assert dict(zip(store.codes_of(store.nodes_of_role("outfitting_item")), zones, strict=True)) == expected


def test_a_wrong_value_is_said_with_the_right_article(source: Path, tmp_path: Path) -> None:
    import shutil

    from knowledge.yardformat import YardImportError, validate_yard

    yard = tmp_path / "yard"
    shutil.copytree(source, yard)
    toml = (yard / "yard.toml").read_text(encoding="utf-8")
    (yard / "yard.toml").write_text(
        toml.replace(
            'block = "SEKTION"\n\n[columns.resource]', 'block = "SEKTION"\ncrew = "GEWERK"\n\n[columns.resource]'
        ),
        encoding="utf-8",
    )
    with pytest.raises(YardImportError) as error:
        validate_yard(yard)
    assert "'fertigung' is not an int, as work_package field 'crew' needs" in str(error.value)
    assert " a int" not in str(error.value)
