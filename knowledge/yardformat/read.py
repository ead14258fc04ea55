"""Streaming a yard's tables with bounded memory: Parquet by batches, CSV by blocks.

Every batch carries its file and the 1-based row number of its first row, so a check over a batch can name the
file, row and column of each bad value. CSV columns are read as text (a CSV has no types; the checks convert
mapped fields themselves and name the rows that do not convert), with empty cells as empty strings.
"""

from __future__ import annotations

import csv
import io
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, TypeVar

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from knowledge.yardformat.errors import Problem

__all__ = [
    "BATCH_ROWS",
    "SUFFIXES",
    "Batch",
    "TableReadError",
    "find_table",
    "iter_batches",
    "prefetched",
    "table_columns",
]

BATCH_ROWS: Final = 1 << 20
"""Rows per batch by default (a Parquet row group smaller than this gives smaller batches)."""
_CSV_BLOCK_BYTES: Final = 32 << 20
SUFFIXES: Final = (".parquet", ".csv")
TableFormat = Literal["parquet", "csv"]


@dataclass(frozen=True)
class Batch:
    """A slice of a table and where it sits in its file."""

    file: str
    """The file's name relative to the yard directory."""
    first_row: int
    """1-based number of the batch's first row (the first row after a CSV header is row 1)."""
    data: pa.RecordBatch


class TableReadError(Exception):
    """A table cannot be read (not Parquet, a malformed CSV line, invalid UTF-8): `problem` says where."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(f"{problem.where()}: {problem.message}")


def find_table(directory: Path, name: str) -> Path | None:
    """The file of table `name`: `name` itself if it has a suffix, else `name.parquet` or `name.csv`.

    Raises:
        TableReadError: both `name.parquet` and `name.csv` exist (which one is meant is not clear).
    """
    if name.endswith(SUFFIXES):
        path = directory / name
        return path if path.is_file() else None
    found = [directory / f"{name}{suffix}" for suffix in SUFFIXES if (directory / f"{name}{suffix}").is_file()]
    if len(found) > 1:
        raise TableReadError(
            Problem("ambiguous table", found[0].name, None, None, f"both {name}.parquet and {name}.csv exist: keep one")
        )
    return found[0] if found else None


def _format(path: Path) -> TableFormat:
    return "csv" if path.suffix == ".csv" else "parquet"


def table_columns(path: Path) -> list[str]:
    """The column names of a table, read from the Parquet footer or the CSV header only."""
    try:
        if _format(path) == "parquet":
            return list(pq.read_schema(path).names)
        with path.open(encoding="utf-8", newline="") as handle:
            return next(csv.reader(handle), [])
    except (OSError, pa.ArrowException, UnicodeDecodeError, csv.Error) as exc:
        raise TableReadError(Problem("unreadable table", path.name, None, None, str(exc))) from None


def iter_batches(path: Path, columns: Sequence[str] | None = None, *, batch_rows: int = BATCH_ROWS) -> Iterator[Batch]:
    """The table's rows in batches of at most about `batch_rows` rows, only `columns` (all if None).

    Columns that are not in the file are not an error here: the batch lacks them (callers check columns first
    with `table_columns`). Dictionary-encoded Parquet columns come decoded, and text and bytes in one type whatever
    the writer chose: `large_string` (pandas 3's default `to_parquet`) and `string_view` as `string`,
    `large_binary` and `binary_view` as `binary`, so batches of different files concatenate.

    Raises:
        TableReadError: the file is not a readable table (naming the batch's first row for a CSV block).
    """
    names = table_columns(path)
    wanted = [c for c in (columns if columns is not None else names) if c in names]
    if _format(path) == "parquet":
        yield from _parquet_batches(path, wanted, batch_rows)
    else:
        yield from _csv_batches(path, names, wanted, batch_rows)


def _plain_type(kind: pa.DataType) -> pa.DataType | None:
    """The one type a batch's column of `kind` is read as, None when it is kept as it is."""
    if pa.types.is_dictionary(kind):
        return _plain_type(kind.value_type) or kind.value_type
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return pa.string()
    if pa.types.is_large_binary(kind) or pa.types.is_binary_view(kind):
        return pa.binary()
    return None


def _decoded(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Dictionary columns decoded, and large or view text and bytes as `string` and `binary` (see `iter_batches`).

    A batch's column holds at most `BATCH_ROWS` rows: more than 2 GiB of text in it (what `string` cannot hold) is
    reported by the caller as an unreadable table.
    """
    if not any(_plain_type(f.type) is not None for f in batch.schema):
        return batch
    arrays = []
    for column in batch.columns:
        plain = _plain_type(column.type)
        if pa.types.is_dictionary(column.type):
            column = column.dictionary_decode()
        arrays.append(column.cast(plain) if plain is not None and column.type != plain else column)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _parquet_batches(path: Path, columns: list[str], batch_rows: int) -> Iterator[Batch]:
    row = 1
    try:
        with pq.ParquetFile(path) as handle:
            for batch in handle.iter_batches(batch_size=batch_rows, columns=columns):
                yield Batch(path.name, row, _decoded(batch))
                row += batch.num_rows
    except (OSError, pa.ArrowException) as exc:
        raise TableReadError(Problem("unreadable table", path.name, row, None, str(exc))) from None


def _csv_batches(path: Path, names: list[str], columns: list[str], batch_rows: int) -> Iterator[Batch]:
    row = 1
    # text everywhere: type inference from the first block would fail, with no row, on a later one
    options = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in names}, include_columns=columns, strings_can_be_null=False
    )
    block = max(1 << 16, min(_CSV_BLOCK_BYTES, batch_rows * 64))
    try:
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=block), convert_options=options)
        for batch in reader:
            for offset in range(0, batch.num_rows, batch_rows):
                piece = batch.slice(offset, batch_rows)
                yield Batch(path.name, row, piece)
                row += piece.num_rows
    except (OSError, pa.ArrowException, io.UnsupportedOperation) as exc:
        message = str(exc).replace("CSV parse error: ", "")
        raise TableReadError(Problem("unreadable table", path.name, row, None, f"near this row: {message}")) from None


T = TypeVar("T")
_DONE: Final = object()


def prefetched(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """`items`, read ahead by a thread, at most `depth` waiting.

    Decoding the next batch (pyarrow lets go of the GIL) overlaps the work on this one. An exception in the reader
    comes out where its item would have.
    """
    waiting: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def read() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        waiting.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            waiting.put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            waiting.put(exc)

    reader = threading.Thread(target=read, name="yard-reader", daemon=True)
    reader.start()
    try:
        while True:
            item = waiting.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]  # an item of `items`
    finally:
        stop.set()
        while reader.is_alive():  # let a blocked reader finish its put
            try:
                waiting.get_nowait()
            except queue.Empty:
                reader.join(timeout=0.05)
