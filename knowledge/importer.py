"""Import a yard in the open yard format into a store, and export a store back to the format.

`import_yard(src, out)` checks everything first (`knowledge.yardformat.validate_yard`: nothing is written when a
check fails), numbers the nodes so that every production subtree is one id range (`order_nodes`), and writes the
store to a temporary sibling of `out`, renamed into place at the end: a failed or killed import leaves nothing at
`out`. `export_yard(store, dst)` writes the format back; importing the export gives the same store
(`store_digest` of both is equal).

The store (format version 4):

```
out/
  manifest.json        what the store holds, with each file's size and SHA-256 (written last)
  yard.toml            the yard's spec as imported (roles, hierarchies, column mappings)
  ids/                 the id index: id <-> node, loose and fuzzy lookups (`knowledge.idindex`)
  nodes/kind.npy       int16 per node: index into the manifest's `kinds`
  nodes/parent.npy     int32 per node: production parent, -1 for a root (always a smaller node)
  nodes/end.npy        int32 per node: its subtree is [node, end[node])
  nodes/group-<h>.npy  int32 per node: parent in grouping hierarchy <h> (-1 for none)
  graph/*.npy          CSR forward and reverse over the yard's edges plus child -> parent
  edges.parquet        the yard's own edges (before, after node numbers), in the yard's order
  tables/<name>.parquet  each node table's rows with their node number, in the yard's row order
  roles/<role>.parquet   each role's fields (`knowledge.yardformat.fields`), converted to their units, by node
  calendar.parquet, actuals.parquet   when the yard has them, ids resolved to nodes
```

```python
from knowledge.importer import import_yard, export_yard

manifest = import_yard(Path("myyard"), Path(".shipbrain/yards/hull-1042"))
manifest.counts  # {'BLK': 72, 'PLATE': 41210, ...}
export_yard(Path(".shipbrain/yards/hull-1042"), Path("/tmp/hull-1042-export"))
```
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from knowledge._csr import build_csr
from knowledge.idindex import IdIndex
from knowledge.yarddir import (
    STORE_FORMAT_VERSION,
    ImportManifest,
    check_store_files,
    file_sha256,
    read_import_manifest,
    replace_directory,
)
from knowledge.yardformat import CheckedYard, order_nodes, validate_yard
from knowledge.yardformat.convert import convert
from knowledge.yardformat.fields import ACTUALS, FIELDS
from knowledge.yardformat.read import iter_batches

__all__ = [
    "IMPORT_STEPS",
    "STORE_FORMAT_VERSION",
    "ImportManifest",
    "check_store_files",
    "export_yard",
    "import_yard",
    "read_import_manifest",
    "store_digest",
]

_ROW_GROUP: Final = 1 << 17
_GRAPH_FILES: Final = ("forward_indptr", "forward_indices", "reverse_indptr", "reverse_indices")
Progress = Callable[[str], None]
IMPORT_STEPS: Final = (
    "checking the yard",
    "numbering the nodes",
    "writing the id index",
    "writing the graph",
    "writing the tables",
    "checksums",
)
"""The steps `import_yard` reports to its `progress`, in order."""


def import_yard(
    source: Path, out: Path, *, overwrite: bool = False, progress: Progress | None = None
) -> ImportManifest:
    """Check the yard at `source` and write its store to `out`.

    Raises:
        YardImportError: the yard fails a check (each problem names file, row and column); nothing is written.
        FileExistsError: `out` exists and `overwrite` is false.
    """
    step = progress or (lambda _what: None)
    source, out = Path(source), Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{str(out)!r} already exists; pass --force to replace it")
    step("checking the yard")
    yard = validate_yard(source)
    step("numbering the nodes")
    order = order_nodes(yard.parent, yard.kind, yard.before, yard.after)
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(f".{out.name}.importing-*"):  # what a killed import left: never the store
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.importing-", dir=out.parent))
    try:
        step("writing the id index")
        IdIndex.build(yard.ids.take(pa.array(order.old_of_new)), tmp / "ids")
        step("writing the graph")
        (tmp / "nodes").mkdir()
        np.save(tmp / "nodes" / "kind.npy", order.kind.astype(np.int16))
        np.save(tmp / "nodes" / "parent.npy", order.parent.astype(np.int32))
        np.save(tmp / "nodes" / "end.npy", order.end.astype(np.int32))
        for name, group in yard.groups.items():
            np.save(tmp / "nodes" / f"group-{name}.npy", order.renumber(group)[order.old_of_new])
        n = yard.num_nodes
        (tmp / "graph").mkdir()
        forward = build_csr(order.before, order.after, n)
        reverse = build_csr(order.after, order.before, n)
        for name, array in zip(_GRAPH_FILES, (*forward, *reverse), strict=True):
            np.save(tmp / "graph" / f"{name}.npy", array)
        own = len(yard.before)
        tables: dict[str, int] = {}
        edges = pa.table(
            {"before": pa.array(order.before[:own], pa.int32()), "after": pa.array(order.after[:own], pa.int32())}
        )
        pq.write_table(edges, tmp / "edges.parquet", compression="zstd", row_group_size=_ROW_GROUP)
        tables["edges"] = edges.num_rows
        step("writing the tables")
        tables |= _write_node_tables(yard, order.new_of_old, tmp)
        tables |= _write_role_tables(yard, order.new_of_old, tmp)
        tables |= _write_extra_tables(yard, tmp)
        shutil.copyfile(source / "yard.toml", tmp / "yard.toml")
        step("checksums")
        kinds = list(yard.spec.known_kinds)
        counts = np.bincount(order.kind, minlength=len(kinds))
        manifest = ImportManifest(
            name=yard.spec.name,
            day0=yard.spec.day0.isoformat(),
            kinds=kinds,
            roles={role: list(k) for role, k in yard.spec.roles.items()},
            counts={kind: int(c) for kind, c in zip(kinds, counts, strict=True)},
            num_nodes=n,
            num_edges=len(order.before),
            hierarchies=sorted(yard.groups),
            tables=tables,
            unlocked={role: list(consumers) for role, consumers in yard.unlocked.items()},
            files=_checksums(tmp),
        )
        (tmp / "manifest.json").write_text(manifest.model_dump_json(indent=2) + "\n")
        replace_directory(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _write_node_tables(yard: CheckedYard, new_of_old: npt.NDArray[np.int32], tmp: Path) -> dict[str, int]:
    """Each node table as the yard wrote it (every column, as read), with each row's node number first.

    Streamed batch by batch in the yard's row order (bounded memory at 48M nodes); an export writes that order back,
    so importing the export numbers every node the same and gives the same bytes.
    """
    (tmp / "tables").mkdir()
    rows: dict[str, int] = {}
    for nf in yard.node_files:
        name = nf.path.name.rsplit(".", 1)[0]
        path = tmp / "tables" / f"{name}.parquet"
        writer: pq.ParquetWriter | None = None
        start = nf.first_node
        try:
            for batch in iter_batches(nf.path):
                data = batch.data
                node = pa.array(new_of_old[start : start + data.num_rows], pa.int32())
                start += data.num_rows
                table = pa.Table.from_batches([data]).add_column(0, "node", node)
                if writer is None:
                    writer = pq.ParquetWriter(path, table.schema, compression="zstd")
                writer.write_table(table, row_group_size=_ROW_GROUP)
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            pq.write_table(pa.table({"node": pa.array([], pa.int32())}), path)
        rows[f"tables/{name}"] = nf.rows
    return rows


def _write_role_tables(yard: CheckedYard, new_of_old: npt.NDArray[np.int32], tmp: Path) -> dict[str, int]:
    """Per role, its nodes' fields converted to the brain's names and units, ordered by node.

    Each node file is read once, and only the columns some role maps. A reference (`work_package`, `resource`,
    `block`, ...) is stored as the node it names (int32, -1 for none): the brain joins on node numbers.
    """
    (tmp / "roles").mkdir()
    index = IdIndex.open(tmp / "ids")
    spec = yard.spec
    kind_index = {kind: i for i, kind in enumerate(spec.known_kinds)}
    codes = {role: np.array([kind_index[k] for k in kinds], dtype=np.int16) for role, kinds in spec.roles.items()}
    parts: dict[str, list[pa.Table]] = {role: [] for role in spec.roles}
    for nf in yard.node_files:
        plans = {
            role: [
                (f, s, s.column if s is not None else f.name)
                for f in FIELDS.get(role, ())
                for s in [spec.source(role, f.name)]
                if (s.column if s is not None else f.name) in nf.columns
            ]
            for role in spec.roles
        }
        kinds = yard.kind[nf.first_node : nf.first_node + nf.rows]
        present = [role for role in spec.roles if np.isin(kinds, codes[role]).any()]
        if not present:
            continue
        needed = sorted({column for role in present for _, _, column in plans[role]})
        start = nf.first_node
        batches = (b.data for b in iter_batches(nf.path, needed)) if needed else _row_counts(nf.rows)
        for batch in batches:
            count = batch.num_rows
            nodes_here = new_of_old[start : start + count]
            kinds_here = yard.kind[start : start + count]
            start += count
            for role in present:
                mine = np.isin(kinds_here, codes[role])
                if not mine.any():
                    continue
                keep = pa.array(mine)
                columns: dict[str, pa.Array] = {"node": pa.array(nodes_here[mine], pa.int32())}
                for f, s, column in plans[role]:
                    values = convert(batch.column(column).filter(keep), f, s).values
                    if f.type == "ref":
                        values = pa.array(index.nodes_of(values), pa.int32())
                    columns[f.name] = values
                parts[role].append(pa.table(columns))
    rows: dict[str, int] = {}
    for name, pieces in parts.items():
        if not pieces:
            continue
        table = pa.concat_tables(pieces, promote_options="default")
        table = table.take(pc.sort_indices(table.column("node")))
        pq.write_table(table, tmp / "roles" / f"{name}.parquet", compression="zstd", row_group_size=_ROW_GROUP)
        rows[f"roles/{name}"] = table.num_rows
    return rows


def _row_counts(total: int, step: int = 1 << 20) -> Iterator[pa.RecordBatch]:
    """Empty batches of a file's row counts: for a role whose rows map no column here (only their nodes)."""
    for lo in range(0, total, step):
        yield pa.RecordBatch.from_pydict({"_": pa.nulls(min(step, total - lo))})


def _write_extra_tables(yard: CheckedYard, tmp: Path) -> dict[str, int]:
    """The calendar and the actuals, their ids resolved to nodes through the store's own index."""
    from knowledge.yardformat.read import find_table, table_columns

    index = IdIndex.open(tmp / "ids")
    rows: dict[str, int] = {}
    for name, configured in (("calendar", yard.spec.tables.calendar), ("actuals", yard.spec.tables.actuals)):
        path = find_table(yard.directory, configured or name)
        if path is None:
            continue
        batches = [b.data for b in iter_batches(path)]
        if batches:
            table = pa.Table.from_batches(batches)
        else:  # a table with a header and no rows (a yard that works every day has an empty calendar)
            table = pa.table({column: pa.array([], pa.string()) for column in table_columns(path)})
        for column in ("id", "resource"):
            if column in table.column_names:
                ids = table.column(column)
                nodes = index.nodes_of(ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids)
                table = table.append_column(f"{column}_node", pa.array(nodes, pa.int32()))
        pq.write_table(table, tmp / f"{name}.parquet", compression="zstd")
        rows[name] = table.num_rows
        if name == "actuals":
            canonical = _canonical_actuals(yard, table)
            pq.write_table(canonical, tmp / "roles" / "actuals.parquet", compression="zstd")
            rows["roles/actuals"] = canonical.num_rows
    return rows


def _canonical_actuals(yard: CheckedYard, table: pa.Table) -> pa.Table:
    """The actuals in the brain's names and units (`FIELDS["actuals"]`), by node: what the models train on."""
    columns: dict[str, pa.Array] = {"node": table.column("id_node").combine_chunks()}
    for f in FIELDS[ACTUALS]:
        source = yard.spec.source(ACTUALS, f.name)
        column = source.column if source is not None else f.name
        if column in table.column_names:
            columns[f.name] = convert(table.column(column).combine_chunks(), f, source).values
    out = pa.table(columns)
    return out.take(pc.sort_indices(out.column("node")))


def _checksums(root: Path) -> dict[str, dict[str, int | str]]:
    found: dict[str, dict[str, int | str]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            found[path.relative_to(root).as_posix()] = {"bytes": path.stat().st_size, "sha256": file_sha256(path)}
    return found


def store_digest(store: Path) -> str:
    """One digest of what a store holds (its files' checksums), to compare two stores.

    `yard.toml` is left out: an export names as Parquet the tables the yard gave as CSV.
    """
    files = {k: v for k, v in read_import_manifest(store).files.items() if k != "yard.toml"}
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def export_yard(store: Path, dst: Path, *, overwrite: bool = False) -> Path:
    """Write an imported store back in the open yard format: `yard.toml`, the node tables, the edges, the rest.

    Node tables come back in node order with the yard's own columns (the ids, kinds and parents as ids); importing
    the export gives the same store.

    Raises:
        YardDataError: `store` is no imported yard.
        FileExistsError: `dst` exists and `overwrite` is false.
    """
    store, dst = Path(store), Path(dst)
    read_import_manifest(store)
    if dst.exists() and not overwrite:
        raise FileExistsError(f"{str(dst)!r} already exists; pass --force to replace it")
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.exporting-", dir=dst.parent))
    try:
        index = IdIndex.open(store / "ids")
        for rel in sorted((store / "tables").glob("*.parquet")):
            pq.write_table(pq.read_table(rel).drop_columns(["node"]), tmp / rel.name, compression="zstd")
        edges = pq.read_table(store / "edges.parquet")
        out_edges = pa.table(
            {
                "before": index.ids_of(edges.column("before").to_numpy()),
                "after": index.ids_of(edges.column("after").to_numpy()),
            }
        )
        pq.write_table(out_edges, tmp / "edges.parquet", compression="zstd")
        for name in ("calendar", "actuals"):
            if (store / f"{name}.parquet").exists():
                table = pq.read_table(store / f"{name}.parquet")
                drop = [c for c in table.column_names if c.endswith("_node")]
                pq.write_table(table.drop_columns(drop), tmp / f"{name}.parquet", compression="zstd")
        # every table comes back as Parquet: a file the spec names as CSV is named as Parquet
        spec = (store / "yard.toml").read_text(encoding="utf-8")
        (tmp / "yard.toml").write_text(spec.replace('.csv"', '.parquet"'), encoding="utf-8")
        replace_directory(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dst
