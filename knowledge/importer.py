"""Import a yard in the open yard format into a store, and export a store back to the format.

`import_yard(src, out)` checks everything first (`knowledge.yardformat.validate_yard`: nothing is written when a
check fails), numbers the nodes so that every production subtree is one id range (`order_nodes`), and writes the
store to a temporary sibling of `out`, renamed into place at the end: a failed or killed import leaves nothing at
`out`. `export_yard(store, dst)` writes the format back; importing the export gives the same store
(`store_digest` of both is equal).

The store (format version 5):

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
  tables/<name>.parquet  every table of the yard as given (Parquet copied byte for byte, CSV as Parquet text)
  roles/<role>.parquet   each role's fields (`knowledge.yardformat.fields`), converted to their units, by node;
                         roles/actuals.parquet the actuals likewise
  calendar.parquet     when the yard has one, resource ids resolved to nodes
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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
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
from knowledge.yardformat import CheckedYard, NodeOrder, order_nodes, validate_yard
from knowledge.yardformat._kept import KeptRows, RoleRows
from knowledge.yardformat.fields import ACTUALS, FIELDS
from knowledge.yardformat.read import find_table, iter_batches, table_columns

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
_NONE: Final = np.empty(0, dtype=np.int32)
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
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(f".{out.name}.importing-*"):  # what a killed import left: never the store
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.importing-", dir=out.parent))
    try:
        step("checking the yard")
        (tmp / ".spill").mkdir()
        yard = validate_yard(source, spill=tmp / ".spill")
        step("numbering the nodes")
        order = order_nodes(yard.parent, yard.kind, yard.before, yard.after)
        new_of_old = order.new_of_old
        yard_edges = len(yard.before)
        # what is done with is let go as the import goes on: at 48M nodes each array is 190 MiB or more
        yard = replace(yard, parent=_NONE, before=_NONE, after=_NONE)
        step("writing the id index")
        IdIndex.build(yard.ids.take(pa.array(order.old_of_new)), tmp / "ids")
        yard = replace(yard, ids=pa.chunked_array([], pa.string()))
        step("writing the graph")
        n, num_edges = yard.num_nodes, len(order.before)
        counts = np.bincount(order.kind, minlength=len(yard.spec.known_kinds))
        _write_graph(yard, order, tmp)
        del order
        step("writing the tables")
        tables = _write_node_tables(yard, tmp) | {"edges": yard_edges}
        tables |= _write_role_tables(yard, new_of_old, tmp)
        tables |= _write_calendar(yard, tmp)
        shutil.rmtree(tmp / ".spill")
        shutil.copyfile(source / "yard.toml", tmp / "yard.toml")
        step("checksums")
        kinds = list(yard.spec.known_kinds)
        manifest = ImportManifest(
            name=yard.spec.name,
            day0=yard.spec.day0.isoformat(),
            kinds=kinds,
            roles={role: list(k) for role, k in yard.spec.roles.items()},
            counts={kind: int(c) for kind, c in zip(kinds, counts, strict=True)},
            num_nodes=n,
            num_edges=num_edges,
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


def _write_graph(yard: CheckedYard, order: NodeOrder, tmp: Path) -> None:
    """The node arrays (kind, production parent, subtree end, grouping parents) and the CSR graph, both ways."""
    (tmp / "nodes").mkdir()
    np.save(tmp / "nodes" / "kind.npy", order.kind.astype(np.int16))
    np.save(tmp / "nodes" / "parent.npy", order.parent.astype(np.int32))
    np.save(tmp / "nodes" / "end.npy", order.end.astype(np.int32))
    for name, group in yard.groups.items():
        np.save(tmp / "nodes" / f"group-{name}.npy", order.renumber(group)[order.old_of_new])
    (tmp / "graph").mkdir()
    n = yard.num_nodes
    for names, (src, dst) in zip(
        (_GRAPH_FILES[:2], _GRAPH_FILES[2:]), ((order.before, order.after), (order.after, order.before)), strict=True
    ):
        for name, array in zip(names, build_csr(src, dst, n), strict=True):
            np.save(tmp / "graph" / f"{name}.npy", array)


def _write_node_tables(yard: CheckedYard, tmp: Path) -> dict[str, int]:
    """Every table of the yard as it gave it, in `tables/`: what an export gives back.

    A Parquet table is copied byte for byte (no decoding, whatever its size); a CSV table is stored as Parquet with
    its columns as read (text), streamed batch by batch. Row r of a node table is node `new_of_old[first + r]`,
    which the store needs nowhere: the brain reads the role tables, these are kept for the round trip.
    """
    (tmp / "tables").mkdir()
    rows: dict[str, int] = {}
    counts = {nf.path: nf.rows for nf in yard.node_files}
    for path in (*(nf.path for nf in yard.node_files), *yard.edge_files, *yard.other_files):
        name = path.name.rsplit(".", 1)[0]
        target = tmp / "tables" / f"{name}.parquet"
        if path.suffix == ".parquet":
            shutil.copyfile(path, target)
            count = pq.ParquetFile(target).metadata.num_rows
        else:
            count = _csv_to_parquet(path, target)
        rows[f"tables/{name}"] = counts.get(path, count)
    return rows


def _csv_to_parquet(path: Path, target: Path) -> int:
    writer: pq.ParquetWriter | None = None
    count = 0
    try:
        for batch in iter_batches(path):
            if writer is None:
                writer = pq.ParquetWriter(target, batch.data.schema, compression="zstd")
            writer.write_batch(batch.data, row_group_size=_ROW_GROUP)
            count += batch.data.num_rows
    finally:
        if writer is not None:
            writer.close()
    if writer is None:  # a header and no rows
        columns = table_columns(path)
        pq.write_table(pa.table({c: pa.array([], pa.string()) for c in columns}), target)
    return count


def _write_role_tables(yard: CheckedYard, new_of_old: npt.NDArray[np.int32], tmp: Path) -> dict[str, int]:
    """Per role, its nodes' fields in the brain's names and units (as `validate_yard` converted them), by node.

    A reference (`work_package`, `resource`, `block`, ...) is stored as the node it names (int32, -1 for none):
    the brain joins on node numbers.
    """
    (tmp / "roles").mkdir()
    jobs = [(role, kept, FIELDS.get(role, ())) for role, kept in yard.roles.items()]
    if yard.actuals is not None:
        jobs.append((ACTUALS, yard.actuals, FIELDS[ACTUALS]))
    jobs.sort(key=lambda job: -job[1].rows)  # the largest first: two writers finish about together
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="role-table") as pool:  # Parquet encodes without the GIL
        done = [
            pool.submit(
                _write_kept,
                kept,
                [f.name for f in fields],
                {f.name for f in fields if f.type == "ref"},
                new_of_old,
                tmp / "roles" / f"{role}.parquet",
            )
            for role, kept, fields in jobs
        ]
        for future in done:
            future.result()
    return {f"roles/{role}": kept.rows for role, kept, _ in sorted(jobs, key=lambda job: job[0])}


def _write_kept(
    kept: KeptRows, order: list[str], refs: set[str], new_of_old: npt.NDArray[np.int32], path: Path
) -> None:
    """A role's rows as the store reads them: `node` (renumbered) first, then its fields in `order`, by node.

    Row groups of `_ROW_GROUP` rows with `node` statistics (the store picks row groups by them); dictionary pages
    only for text (a process or a grade: a few distinct words): measured on a 900,000-row joint table, 0.7 s and
    14 MiB against 1.8 s and 23 MiB with the defaults. Rows already in node order (a yard exported depth first, as
    the synthetic one is) are streamed piece by piece; others are sorted, one role in memory at a time.
    """
    names = [name for name in order if name in kept.types]
    fields = [pa.field(n, pa.int32() if n in refs else kept.types[n]) for n in names]
    schema = pa.schema([pa.field("node", pa.int32()), *fields])
    node = new_of_old[kept.nodes()]
    text = [f.name for f in fields if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]

    def table_of(piece: RoleRows, nodes: npt.NDArray[np.int32]) -> pa.Table:
        columns: list[pa.Array] = [pa.array(nodes, pa.int32())]
        for f in fields:
            values = piece.columns.get(f.name)
            if values is None:
                columns.append(pa.nulls(len(nodes), f.type))
            elif f.name in refs:
                old = values.to_numpy(zero_copy_only=False)
                columns.append(pa.array(np.where(old >= 0, new_of_old[np.maximum(old, 0)], -1).astype(np.int32)))
            else:
                columns.append(values)
        return pa.Table.from_arrays(columns, schema=schema)

    in_order = len(node) < 2 or bool(np.all(node[1:] > node[:-1]))
    with pq.ParquetWriter(path, schema, compression="zstd", use_dictionary=text, write_statistics=["node"]) as writer:
        at = 0
        pieces: list[pa.Table] = []
        for piece in kept.pieces():
            table = table_of(piece, node[at : at + len(piece.nodes)])
            at += len(piece.nodes)
            if in_order:
                writer.write_table(table, row_group_size=_ROW_GROUP)
            else:
                pieces.append(table)
        if not in_order:
            whole = pa.concat_tables(pieces)
            pieces.clear()
            writer.write_table(whole.take(pa.array(np.argsort(node, kind="stable"))), row_group_size=_ROW_GROUP)


def _write_calendar(yard: CheckedYard, tmp: Path) -> dict[str, int]:
    """The calendar, its resource ids resolved to nodes through the store's own index (a small table)."""
    path = find_table(yard.directory, yard.spec.tables.calendar or "calendar")
    if path is None:
        return {}
    index = IdIndex.open(tmp / "ids")
    batches = [b.data for b in iter_batches(path)]
    if batches:
        table = pa.Table.from_batches(batches)
    else:  # a table with a header and no rows (a yard that works every day has an empty calendar)
        table = pa.table({column: pa.array([], pa.string()) for column in table_columns(path)})
    if "resource" in table.column_names:
        ids = table.column("resource").combine_chunks()
        table = table.append_column("resource_node", pa.array(index.nodes_of(ids), pa.int32()))
    pq.write_table(table, tmp / "calendar.parquet", compression="zstd")
    return {"calendar": table.num_rows}


def _checksums(root: Path) -> dict[str, dict[str, int | str]]:
    """Size and SHA-256 of every file, two files at a time (hashlib lets go of the GIL on large reads)."""
    paths = [path for path in sorted(root.rglob("*")) if path.is_file()]
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="checksum") as pool:
        digests = list(pool.map(file_sha256, paths))
    return {
        path.relative_to(root).as_posix(): {"bytes": path.stat().st_size, "sha256": digest}
        for path, digest in zip(paths, digests, strict=True)
    }


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
        for path in sorted((store / "tables").glob("*.parquet")):
            shutil.copyfile(path, tmp / path.name)
        # every table comes back as Parquet: a file the spec names as CSV is named as Parquet
        spec = (store / "yard.toml").read_text(encoding="utf-8")
        (tmp / "yard.toml").write_text(spec.replace('.csv"', '.parquet"'), encoding="utf-8")
        replace_directory(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dst
