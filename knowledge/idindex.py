"""The yard's own ids on disk: id -> node and node -> id for tens of millions of nodes, memory-mapped.

A yard names its nodes with its own strings (`H1234/B12-A03 PL0042`, `SP-300-12"`, `船体-B12`): any UTF-8 string of
1 to 128 bytes without control characters, case-sensitive, unique. The store numbers nodes 0..n-1; this index
maps between the two, and finds ids the way people type them.

>>> import tempfile, pyarrow as pa
>>> from pathlib import Path
>>> from knowledge.idindex import IdIndex
>>> path = Path(tempfile.mkdtemp()) / "ids"
>>> index = IdIndex.build(pa.array(["B025", "B025-A01", 'SP-300-12"', "船体-B12"]), path)
>>> index = IdIndex.open(path)                   # milliseconds: nothing is read until asked
>>> index.node_of("B025-A01"), index.id_of(2)
(1, 'SP-300-12"')
>>> index.nodes_of(["船体-B12", "nope"]).tolist()  # vectorised: -1 where no id matches
[3, -1]
>>> index.loose("b-25"), index.loose("b25 a1")    # case, separators and leading zeros ignored
([0], [1])
>>> index.fuzzy("B52-A01", candidates=[0, 1])     # a typo (swapped digits), among chosen nodes
[(1, 0.8)]

On disk (a directory, written to a temporary sibling and renamed into place, so a failed build leaves nothing):

```
ids.bytes      the UTF-8 bytes of every id, concatenated in node order, then 8 zero bytes (to read ids by words)
offsets.npy    int64 (n + 1): node i's id is ids.bytes[offsets[i]:offsets[i + 1]]
heads.npy      int64 (n / 16 + 1): offsets[16 k], read into memory at open with lengths.npy
lengths.npy    uint8 (n): each id's length: with heads, node -> id reads ids.bytes only (one page, not two)
exact.npy      uint64 (n), sorted: (hash of the id >> node_bits) << node_bits | node
fence.npy      uint64 (n / 256 + 1): exact[256 k], read into memory at open: id -> node searches it, then reads
               the 2 KiB of exact.npy it points to with one pread (no page faults of a binary search over the map)
loose.npy      uint64 (n), sorted: the same for the id's loose key
index.json     format, count, bytes, node_bits, hash_bits
```

Each hash table is ONE sorted array whose low bits are the node, rather than sorted hashes beside an int32 order:
`np.sort` in place instead of an `argsort` and a permuted copy (3x faster here: 0.75 s against 2.2 s for 10M keys),
a third less disk and memory, and equal hashes come out in node order. The bits of hash given up (38 of 64 are left
at 48M nodes) only add a comparison now and then: every match is confirmed on the id's bytes, so hash collisions
cost time, never answers. The hash itself is in `knowledge._idhash` (8-byte words, vectorised and scalar alike).
Single lookups bisect a memoryview of the table (Python ints, no numpy call); many at once go through numpy.

The **loose key** is what people type: Unicode NFKC (full-width digits and letters to ASCII), lower case (plus
`ß` -> `ss`, `ς` -> `σ`), the leading zeros of each digit run dropped, then the separators (space `-` `_` `/` `.`
`:`) dropped: `J020-000088`, `j20-88` and `J20 88` share the key `j2088`. Several nodes may share a loose key;
`loose` returns them all, so an ambiguity is visible.
"""

from __future__ import annotations

import json
import mmap
import os
import re
import shutil
import tempfile
import threading
import weakref
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from knowledge._idhash import (
    SEPARATORS,
    Blob,
    Bytes,
    gather,
    hash_bytes,
    hash_strings,
    loose_blob,
    pairs_equal,
    word_view,
    words_equal,
)
from knowledge.errors import InputError, UnknownCodeError, YardIntegrityError, YardNotFoundError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "FORMAT",
    "MAX_ID_BYTES",
    "DuplicateIdError",
    "IdIndex",
    "IdProblem",
    "IdProblems",
    "InvalidIdError",
    "check_ids",
    "loose_key",
]

FORMAT = "shipbrain-idindex/3"
MAX_ID_BYTES = 128
"""The longest id, in UTF-8 bytes."""
CHUNK_IDS = 1 << 18
"""Ids hashed per step of a build: bounds its working memory (~40 MiB at 20-byte ids, ~300 MiB at 128)."""
REPORT_LIMIT = 20
"""How many bad or duplicate ids an error names (it counts them all)."""

_HEADER_BYTES = 128
_PAD = 8
_HEAD_BITS = 4
_HEAD_MASK = (1 << _HEAD_BITS) - 1
_FENCE = 256
_CONTROL = np.zeros(256, dtype=bool)
_CONTROL[:0x20] = True
_CONTROL[0x7F] = True
_FILES = (
    "ids.bytes",
    "offsets.npy",
    "heads.npy",
    "lengths.npy",
    "exact.npy",
    "fence.npy",
    "loose.npy",
    "index.json",
)


# ---- errors ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdProblem:
    """One id that cannot be a yard's id."""

    row: int
    """Position in the input (0-based; the node it would have been)."""
    reason: str
    """`missing`, `empty`, `longer than 128 bytes (N)` or `control character U+XXXX`."""
    yard_id: str | None
    """The id as read (None when missing)."""

    def __str__(self) -> str:
        shown = "" if self.yard_id is None else f" {_short(self.yard_id)!r}"
        return f"row {self.row}{shown}: {self.reason}"


@dataclass(frozen=True)
class IdProblems:
    """The bad ids of an input: how many, and the first few in row order."""

    count: int
    first: tuple[IdProblem, ...]


class InvalidIdError(InputError):
    """Ids that are missing, empty, longer than 128 bytes or hold control characters (the first 20 and the count)."""

    def __init__(self, problems: IdProblems) -> None:
        self.problems = problems
        more = f" and {problems.count - len(problems.first)} more" if problems.count > len(problems.first) else ""
        super().__init__(
            f"{problems.count} invalid id(s): " + "; ".join(map(str, problems.first)) + more + ". "
            f"An id is 1 to {MAX_ID_BYTES} bytes of UTF-8 without control characters; fix these rows in the source"
        )

    def __reduce__(self) -> tuple[type[InvalidIdError], tuple[IdProblems]]:
        return (type(self), (self.problems,))


class DuplicateIdError(InputError):
    """The same id on two rows (the first 20 repeats and their count); ids must be unique, case counts."""

    def __init__(self, duplicates: tuple[tuple[str, int, int], ...], count: int) -> None:
        self.duplicates = duplicates
        """(id, row of its first occurrence, row that repeats it), in the order of the repeating rows."""
        self.count = count
        """How many rows repeat an id of an earlier row."""
        shown = "; ".join(f"{_short(i)!r} on rows {a} and {b}" for i, a, b in duplicates)
        more = f" and {count - len(duplicates)} more" if count > len(duplicates) else ""
        super().__init__(f"{count} duplicate id(s): {shown}{more}. Ids must be unique (case counts); rename or drop")

    def __reduce__(self) -> tuple[type[DuplicateIdError], tuple[tuple[tuple[str, int, int], ...], int]]:
        return (type(self), (self.duplicates, self.count))


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- arrow <-> blobs -------------------------------------------------------------------------------


def _as_string_array(ids: Any) -> pa.Array:
    import pyarrow as pa

    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks() if ids.num_chunks != 1 else ids.chunk(0)
    if not isinstance(ids, pa.Array):
        ids = pa.array(list(ids), type=pa.string())
    if pa.types.is_dictionary(ids.type) or pa.types.is_string_view(ids.type):
        ids = ids.cast(pa.large_string())
    if not (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)):
        raise InputError(f"ids must be strings (UTF-8), got an array of {ids.type}")
    return ids


def _blob(arr: pa.Array) -> Blob:
    """The data buffer and offsets (int64, into that buffer) of a string or large_string array, no copy of data."""
    import pyarrow as pa

    _, off_buf, data_buf = arr.buffers()
    wide = pa.types.is_large_string(arr.type)
    if len(arr) == 0:
        return np.empty(0, dtype=np.uint8), np.zeros(1, dtype=np.int64)
    raw = np.frombuffer(off_buf, dtype=np.int64 if wide else np.int32)
    offsets: npt.NDArray[np.int64] = raw[arr.offset : arr.offset + len(arr) + 1].astype(np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.empty(0, dtype=np.uint8)
    return data, offsets


def _to_arrow(blob: Blob) -> pa.Array:
    import pyarrow as pa

    data, offsets = blob
    rel = offsets - offsets[0]
    wide = int(rel[-1]) >= 1 << 31
    return pa.Array.from_buffers(
        pa.large_string() if wide else pa.string(),
        len(offsets) - 1,
        [None, pa.py_buffer(rel.astype(np.int64 if wide else np.int32)), pa.py_buffer(np.ascontiguousarray(data))],
    )


def _chunks(ids: Any, size: int) -> Iterator[pa.Array]:
    import pyarrow as pa

    if isinstance(ids, pa.ChunkedArray):
        parts: Iterable[Any] = ids.chunks
    elif isinstance(ids, pa.Array) or (isinstance(ids, Sequence) and (not ids or isinstance(ids[0], str))):
        parts = [ids]
    else:  # an iterable of arrays: a table read in batches
        parts = ids
    for part in parts:
        arr = _as_string_array(part)
        for start in range(0, len(arr), size):
            yield arr.slice(start, size)


def _lowered(arr: pa.Array) -> pa.Array:
    import pyarrow.compute as pc

    if pc.all(pc.string_is_ascii(arr)).as_py() is not False:
        return pc.ascii_lower(arr)
    lowered = pc.utf8_lower(pc.utf8_normalize(arr, form="NFKC"))
    return pc.replace_substring(pc.replace_substring(lowered, "ß", "ss"), "ς", "σ")


def _loose_blob(arr: pa.Array) -> Blob:
    return loose_blob(*_blob(_lowered(arr)))


_LOOSE_ZEROS = re.compile(r"(^|[^0-9])0+([0-9])")
_LOOSE_SEPARATORS = re.compile("[" + re.escape(SEPARATORS.decode()) + "]+")


def _loose_bytes(text: str) -> bytes:
    """The loose key of one text, as bytes.

    ASCII goes through `re` (the same rule as `loose_blob`, ~50x faster for one text); anything else through the
    vectorised path, so that Unicode lowering and normalisation are pyarrow's for the index and the query alike.
    """
    if text.isascii():
        return _LOOSE_SEPARATORS.sub("", _LOOSE_ZEROS.sub(r"\1\2", text.lower())).encode()
    import pyarrow as pa

    data, offsets = _loose_blob(pa.array([text], type=pa.string()))
    return data[offsets[0] : offsets[1]].tobytes()


def loose_key(text: str) -> str:
    """The loose key of a text, as the index keys ids: "J020-000088" and "j20 88" both give "j2088"."""
    return _loose_bytes(text).decode()


# ---- validation ------------------------------------------------------------------------------------


def _problems_of(arr: pa.Array, blob: Blob, first_row: int, limit: int) -> tuple[int, list[IdProblem]]:
    """Bad rows of one chunk: their count and the first `limit`, vectorised."""
    data, offsets = blob
    lengths = np.diff(offsets)
    missing = np.zeros(len(arr), dtype=bool)
    if arr.null_count:
        missing = ~np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    bad = missing | (lengths == 0) | (lengths > MAX_ID_BYTES)
    b = data[int(offsets[0]) : int(offsets[-1])]
    control = _CONTROL[b]
    control[:-1] |= (b[:-1] == 0xC2) & (b[1:] >= 0x80) & (b[1:] <= 0x9F)  # C1 controls U+0080-U+009F
    at = np.flatnonzero(control)
    control_rows = np.zeros(len(arr), dtype=bool)
    if len(at):
        control_rows[np.searchsorted(offsets - offsets[0], at, side="right") - 1] = True
    bad |= control_rows
    rows = np.flatnonzero(bad)
    found: list[IdProblem] = []
    for row in rows[:limit].tolist():
        text = None if missing[row] else arr[row].as_py()
        if text is None:
            reason = "missing"
        elif not text:
            reason = "empty"
        elif lengths[row] > MAX_ID_BYTES:
            reason = f"longer than {MAX_ID_BYTES} bytes ({int(lengths[row])})"
        else:
            char = next(c for c in text if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F)
            reason = f"control character U+{ord(char):04X}"
        found.append(IdProblem(first_row + row, reason, text))
    return len(rows), found


def check_ids(ids: Any, *, limit: int = REPORT_LIMIT) -> IdProblems:
    """The ids that cannot be a yard's (missing, empty, > 128 bytes, control characters): count and first `limit`.

    `ids`: a pyarrow string array (chunked or not), an iterable of them, or a sequence of str. Vectorised, chunked.
    """
    count, row = 0, 0
    first: list[IdProblem] = []
    for chunk in _chunks(ids, CHUNK_IDS):
        n, found = _problems_of(chunk, _blob(chunk), row, limit - len(first))
        count += n
        first += found
        row += len(chunk)
    return IdProblems(count, tuple(first))


# ---- the index -------------------------------------------------------------------------------------


def _npy_header(descr: str, length: int) -> bytes:
    body = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({length},), }}"
    head = b"\x93NUMPY\x01\x00" + (_HEADER_BYTES - 10).to_bytes(2, "little")
    return head + body.ljust(_HEADER_BYTES - 11).encode() + b"\n"


def _map_npy(path: Path, dtype: Literal["<i8", "<u8"], length: int) -> tuple[npt.NDArray[Any], memoryview[int]]:
    """A 1-d `.npy` file memory-mapped (advised for random access): as an array, and as a memoryview of Python ints.

    The memoryview serves single lookups: `bisect` and indexing on it cost a fraction of numpy's per-call overhead.
    """
    if not path.is_file():
        raise YardIntegrityError(f"the id index file {str(path)!r} is missing; rebuild the index (re-import the yard)")
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, found = read(f)
            start = f.tell()
            size = os.fstat(f.fileno()).st_size
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size > start else None
    except (OSError, ValueError) as err:
        raise YardIntegrityError(f"the id index file {str(path)!r} is unreadable ({err}); rebuild the index") from err
    expected = np.dtype(dtype)
    if found != expected or shape != (length,) or fortran or size != start + length * expected.itemsize:
        raise YardIntegrityError(
            f"the id index file {str(path)!r} holds {shape} {found}, not ({length},) {expected}; rebuild the index"
        )
    code: Literal["q", "Q"] = "q" if dtype == "<i8" else "Q"
    if mapped is None:
        return np.empty(0, dtype=expected), memoryview(b"").cast(code)
    mapped.madvise(mmap.MADV_RANDOM)
    return np.frombuffer(mapped, dtype=expected, offset=start), memoryview(mapped)[start:].cast(code)


def _read_npy(path: Path, dtype: Literal["<i8", "<u8", "|u1"], length: int) -> npt.NDArray[Any]:
    """A small 1-d `.npy` file read into memory, its dtype and length checked."""
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise YardIntegrityError(
            f"the id index file {str(path)!r} is missing; rebuild the index (re-import the yard)"
        ) from None
    except (OSError, ValueError) as err:
        raise YardIntegrityError(f"the id index file {str(path)!r} is unreadable ({err}); rebuild the index") from err
    if array.dtype != np.dtype(dtype) or array.shape != (length,):
        raise YardIntegrityError(
            f"the id index file {str(path)!r} holds {array.shape} {array.dtype}, not ({length},) {np.dtype(dtype)}; "
            "rebuild the index"
        )
    return array


def _sorted_keys(hashes: npt.NDArray[np.uint64], shift: int, node_bits: int) -> npt.NDArray[np.uint64]:
    """(hash >> shift) << node_bits | node, sorted; in place over `hashes`, a block of nodes at a time."""
    step = 1 << 22
    for start in range(0, len(hashes), step):
        part = hashes[start : start + step]
        part >>= np.uint64(shift)
        part <<= np.uint64(node_bits)
        part |= np.arange(start, start + len(part), dtype=np.uint64)
    hashes.sort()
    return hashes


class IdIndex:
    """A yard's ids, memory-mapped: exact, loose and fuzzy lookup, one id or millions at once."""

    def __init__(self, path: Path, meta: dict[str, Any]) -> None:
        self.path = path
        self._count = int(meta["count"])
        self._node_bits = int(meta["node_bits"])
        self._hash_bits = int(meta["hash_bits"])
        self._shift = 64 - self._hash_bits
        self._node_mask = (1 << self._node_bits) - 1
        self._offsets, self._offset_at = _map_npy(path / "offsets.npy", "<i8", self._count + 1)
        # node -> id from memory (1.5 bytes a node): heads of 16 ids and each id's length; only the bytes are mapped
        heads = _read_npy(path / "heads.npy", "<i8", (self._count >> _HEAD_BITS) + 1)
        self._heads = memoryview(heads.tobytes()).cast("q")
        self._lengths = _read_npy(path / "lengths.npy", "|u1", self._count).tobytes()
        self._exact, self._exact_at = _map_npy(path / "exact.npy", "<u8", self._count)
        fence = _read_npy(path / "fence.npy", "<u8", -(-self._count // _FENCE))
        self._fence = memoryview(fence.tobytes()).cast("Q")
        self._exact_fd = os.open(path / "exact.npy", os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        weakref.finalize(self, os.close, self._exact_fd)
        self._exact_start = os.fstat(self._exact_fd).st_size - 8 * self._count
        self._loose, self._loose_at = _map_npy(path / "loose.npy", "<u8", self._count)
        blob_path = path / "ids.bytes"
        size = blob_path.stat().st_size if blob_path.is_file() else -1
        if size != self._offset_at[-1] + _PAD:
            raise YardIntegrityError(
                f"the id index at {str(path)!r} is inconsistent (ids.bytes holds {size} bytes, its offsets end at "
                f"{self._offset_at[-1]}); rebuild it"
            )
        with open(blob_path, "rb") as f:
            self._bytes = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        self._bytes.madvise(mmap.MADV_RANDOM)
        # one id is read with pread, not through the map: a first touch of a mapped page costs a page fault (3-4 us
        # on this machine), a pread of a cached page a system call (under 1 us)
        self._fd = os.open(blob_path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        weakref.finalize(self, os.close, self._fd)
        self._data = np.frombuffer(self._bytes, dtype=np.uint8)
        self._words = word_view(self._data)

    # -- building and opening --

    @classmethod
    def open(cls, path: str | Path) -> IdIndex:
        """Open an index written by `build` (memory-mapped: milliseconds, whatever its size)."""
        path = Path(path)
        try:
            meta = json.loads((path / "index.json").read_text())
        except FileNotFoundError:
            raise YardNotFoundError(f"no id index at {str(path)!r} (no index.json); build it first") from None
        except (OSError, ValueError) as err:
            raise YardIntegrityError(f"the id index at {str(path)!r} has an unreadable index.json ({err})") from err
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            found = meta.get("format") if isinstance(meta, dict) else None
            raise YardIntegrityError(f"{str(path)!r} holds id index format {found!r}, not {FORMAT!r}; rebuild it")
        return cls(path, meta)

    @classmethod
    def build(
        cls, ids: Any, path: str | Path, *, hash_bits: int = 64, chunk_ids: int = CHUNK_IDS, workers: int = 2
    ) -> IdIndex:
        """Write the index of `ids` (node i has id `ids[i]`) to the directory `path`, and open it.

        Args:
            ids: a pyarrow string array (chunked or not, string or large_string), an iterable of such arrays (to
                stream a large table in batches), or a sequence of str.
            path: a directory that does not exist yet (or is empty). Files are written to a temporary sibling
                renamed into place at the end, so a failed build leaves nothing there.
            hash_bits: bits of hash kept per id, at most 64 - node bits. Fewer only force collisions (for tests).
            chunk_ids: ids per step; bounds the build's working memory.
            workers: threads that validate and hash chunks (numpy and pyarrow release the GIL).

        Raises:
            InvalidIdError: ids missing, empty, longer than 128 bytes or with control characters (all rows read).
            DuplicateIdError: an id on two rows.
        """
        path = Path(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise InputError(f"{str(path)!r} exists and is not an empty directory; the id index needs a new one")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        try:
            meta = _write(ids, tmp, hash_bits=hash_bits, chunk_ids=chunk_ids, workers=workers)
            if path.exists():
                path.rmdir()
            os.replace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls(path, meta)

    # -- exact lookups --

    def __len__(self) -> int:
        return self._count

    def __contains__(self, yard_id: object) -> bool:
        return isinstance(yard_id, str) and self.get(yard_id) is not None

    def get(self, yard_id: str) -> int | None:
        """The node of an id, or None."""
        try:
            key = yard_id.encode()
        except UnicodeEncodeError:  # lone surrogates: no id has them
            return None
        if not 0 < len(key) <= MAX_ID_BYTES:
            return None
        h = hash_bytes(key) >> self._shift
        mask, bits = self._node_mask, self._node_bits
        target = h << bits
        # the fence (in memory) brackets the first entry >= target within 256 entries: one pread of them
        fence = bisect_left(self._fence, target)
        lo = (fence - 1) * _FENCE if fence else 0
        n = min(_FENCE + 1, self._count - lo)
        if n <= 0:
            return None
        chunk = memoryview(os.pread(self._exact_fd, 8 * n, self._exact_start + 8 * lo)).cast("Q")
        i = bisect_left(chunk, target)
        while lo + i < self._count:
            entry = chunk[i] if i < n else self._exact_at[lo + i]  # a run of equal hashes past the chunk: rare
            if entry >> bits != h:
                return None
            node = entry & mask
            if self._id_bytes(node) == key:
                return node
            i += 1
        return None

    def node_of(self, yard_id: str) -> int:
        """The node of an id; `UnknownCodeError` (saying which ids are close in loose form) when there is none."""
        node = self.get(yard_id)
        if node is not None:
            return node
        near = [self.id_of(n) for n in self.loose(yard_id)[:3]] if yard_id.isprintable() else []
        hint = f"; did you mean {' or '.join(map(repr, near))}?" if near else "; ids are case-sensitive"
        raise UnknownCodeError(yard_id, f"no node has the id {yard_id!r}{hint}")

    def id_of(self, node: int) -> str:
        """The id of a node."""
        if not 0 <= node < self._count:
            raise InputError(f"node {node} is out of range: this index has nodes 0 to {self._count - 1}")
        return self._id_bytes(node).decode()

    def _id_bytes(self, node: int) -> bytes:
        first = node & ~_HEAD_MASK
        start = self._heads[node >> _HEAD_BITS] + sum(self._lengths[first:node])
        return os.pread(self._fd, self._lengths[node], start)

    def nodes_of(self, ids: Any) -> npt.NDArray[np.int32]:
        """The node of each id (-1 where none), vectorised: a pyarrow string array or a sequence of str."""
        arr = _as_string_array(ids)
        query = _blob(arr)
        found = self._find(query, hash_strings(*query))
        if arr.null_count:
            found[~np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)] = -1
        return found

    def ids_of(self, nodes: npt.ArrayLike) -> pa.Array:
        """The ids of nodes, in their order, as a pyarrow string array (vectorised)."""
        return _to_arrow(self._blob_of(self._check_nodes(nodes)))

    # -- loose and fuzzy lookups --

    def loose(self, text: str) -> list[int]:
        """Every node whose id has the loose key of `text` (case, separators, leading zeros ignored), in node order."""
        query = _loose_bytes(text)
        low = (hash_bytes(query) >> self._shift) << self._node_bits
        view, mask = self._loose_at, self._node_mask
        nodes = sorted(entry & mask for entry in view[bisect_left(view, low) : bisect_right(view, low | mask)])
        if len(nodes) <= 16:  # nearly always one: confirm it in Python
            return [node for node in nodes if _loose_bytes(self.id_of(node)) == query]
        candidates = np.asarray(nodes, dtype=np.int64)
        keys = _loose_blob(self.ids_of(candidates))
        text_key: Blob = (np.frombuffer(query, dtype=np.uint8), np.array([0, len(query)], dtype=np.int64))
        same = pairs_equal(keys, np.arange(len(nodes)), text_key, np.zeros(len(nodes), dtype=np.int64))
        return candidates[same].tolist()

    def fuzzy(
        self, text: str, candidates: npt.ArrayLike, limit: int = 5, *, min_score: float = 0.5
    ) -> list[tuple[int, float]]:
        """The candidates whose ids are closest to `text` despite typos: (node, score), best first.

        For a small set of nodes (blocks, assemblies, work packages: thousands, not millions). The score is
        1 - (optimal string alignment distance / longer length) between loose keys, so a swapped pair of
        characters costs one edit; 1.0 is a loose match. Ties go to the lower node.
        """
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        nodes = self._check_nodes(candidates)
        if not len(nodes) or limit <= 0:
            return []
        data, offsets = _loose_blob(self.ids_of(nodes))
        raw = data.tobytes()
        keys = [raw[a:b].decode() for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)]
        found = process.extract(
            loose_key(text), keys, scorer=OSA.normalized_similarity, limit=None, score_cutoff=min_score
        )
        ranked = sorted((-score, int(nodes[i])) for _, score, i in found)
        best: dict[int, float] = {}
        for score, node in ranked:
            best.setdefault(node, -score)
        return list(best.items())[:limit]

    # -- internals --

    def _check_nodes(self, nodes: npt.ArrayLike) -> npt.NDArray[np.int64]:
        arr = np.asarray(nodes, dtype=np.int64).ravel()
        if len(arr) and (int(arr.min()) < 0 or int(arr.max()) >= self._count):
            bad = int(arr[(arr < 0) | (arr >= self._count)][0])
            raise InputError(f"node {bad} is out of range: this index has nodes 0 to {self._count - 1}")
        return arr

    def _blob_of(self, nodes: npt.NDArray[np.int64]) -> Blob:
        return gather(self._data, self._offsets, nodes)

    def _find(self, query: Blob, hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.int32]:
        """Node of each query string (-1 where none), candidates confirmed on their bytes, vectorised."""
        table = self._exact
        count = len(hashes)
        found = np.full(count, -1, dtype=np.int32)
        if not count or not self._count:
            return found
        prefix = hashes >> np.uint64(self._shift)
        order = np.argsort(prefix)  # sorted keys make searchsorted walk the table in order: ~4x faster
        lo = np.empty(count, dtype=np.int64)
        lo[order] = np.searchsorted(table, prefix[order] << np.uint64(self._node_bits))
        # candidates: the entries from lo on with the same hash (one, nearly always), a round per extra entry
        which_parts, node_parts = [], []
        active = np.arange(count)
        at = lo
        while len(active):
            inside = at < self._count
            active, at = active[inside], at[inside]
            entry = table[at]
            same = (entry >> np.uint64(self._node_bits)) == prefix[active]
            active, at = active[same], at[same]
            which_parts.append(active)
            node_parts.append((entry[same] & np.uint64(self._node_mask)).astype(np.int64))
            at = at + 1
        which, nodes = np.concatenate(which_parts), np.concatenate(node_parts)
        data, offsets = query
        length = offsets[which + 1] - offsets[which]
        start = self._offsets[nodes]
        ok = np.flatnonzero((length > 0) & (length == self._offsets[nodes + 1] - start))
        if len(ok):
            padded = np.zeros(int(offsets[-1] - offsets[0]) + _PAD, dtype=np.uint8)
            padded[:-_PAD] = data[int(offsets[0]) : int(offsets[-1])]
            which, nodes = which[ok], nodes[ok]
            same = words_equal(word_view(padded), offsets[which] - offsets[0], self._words, start[ok], length[ok])
            found[which[same]] = nodes[same]
        return found


@dataclass
class _Prepared:
    """One chunk of a build, made ready on a worker thread."""

    data: Bytes
    offsets: npt.NDArray[np.int64]
    bad: int
    problems: list[IdProblem]
    exact: npt.NDArray[np.uint64] | None
    loose: npt.NDArray[np.uint64] | None


def _prepare(chunk: pa.Array, first_row: int, failed: threading.Event) -> _Prepared:
    data, offsets = _blob(chunk)
    bad, problems = _problems_of(chunk, (data, offsets), first_row, REPORT_LIMIT)
    if bad:
        failed.set()
    if failed.is_set():  # keep reading, to count every bad row, but hash nothing more
        return _Prepared(data, offsets, bad, problems, None, None)
    return _Prepared(data, offsets, bad, problems, hash_strings(data, offsets), hash_strings(*_loose_blob(chunk)))


def _write(ids: Any, out: Path, *, hash_bits: int, chunk_ids: int, workers: int) -> dict[str, Any]:
    """Write the index files into `out`; the metadata written to index.json.

    Chunks are validated and hashed on `workers` threads (numpy and pyarrow release the GIL), a few ahead of the
    writer, in order. Hashes go to scratch files as they come, so the build holds one table's keys at a time.
    """
    bad_count = 0
    bad_first: list[IdProblem] = []
    count = written = 0
    failed = threading.Event()
    with (
        open(out / "ids.bytes", "wb") as blob_file,
        open(out / "offsets.npy", "wb") as offsets_file,
        open(out / "exact.scratch", "wb") as exact_file,
        open(out / "loose.scratch", "wb") as loose_file,
        ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="idindex") as pool,
    ):
        offsets_file.write(_npy_header("<i8", 0))
        offsets_file.write(np.zeros(1, dtype="<i8").tobytes())
        pending: deque[Future[_Prepared]] = deque()

        def take_one() -> None:
            nonlocal bad_count, written
            done = pending.popleft().result()
            bad_count += done.bad
            bad_first.extend(done.problems[: REPORT_LIMIT - len(bad_first)])
            if bad_count or done.exact is None or done.loose is None:
                return
            exact_file.write(done.exact.tobytes())
            loose_file.write(done.loose.tobytes())
            lo, hi = int(done.offsets[0]), int(done.offsets[-1])
            blob_file.write(done.data[lo:hi].tobytes())
            offsets_file.write((done.offsets[1:] - lo + written).astype("<i8").tobytes())
            written += hi - lo

        for chunk in _chunks(ids, chunk_ids):
            pending.append(pool.submit(_prepare, chunk, count, failed))
            count += len(chunk)
            if len(pending) > 2 * workers:
                take_one()
        while pending:
            take_one()
        if bad_count:
            raise InvalidIdError(IdProblems(bad_count, tuple(bad_first)))
        if count >= 1 << 31:
            raise InputError(f"{count:,} ids: an id index holds at most {(1 << 31) - 1:,} (nodes are int32)")
        blob_file.write(bytes(_PAD))
        offsets_file.seek(0)
        offsets_file.write(_npy_header("<i8", count + 1))
    node_bits = max(1, (count - 1).bit_length())
    kept = max(1, min(hash_bits, 64 - node_bits))
    for name in ("exact", "loose"):
        scratch = out / f"{name}.scratch"
        keys = _sorted_keys(np.fromfile(scratch, dtype=np.uint64), 64 - kept, node_bits)
        scratch.unlink()
        if name == "exact":
            _check_duplicates(keys, node_bits, out)
            np.save(out / "fence.npy", np.ascontiguousarray(keys[::_FENCE]))
        np.save(out / f"{name}.npy", keys)
        del keys
    offsets = np.load(out / "offsets.npy", mmap_mode="r")
    np.save(out / "heads.npy", np.ascontiguousarray(offsets[:: 1 << _HEAD_BITS][: (count >> _HEAD_BITS) + 1]))
    np.save(out / "lengths.npy", np.diff(offsets).astype(np.uint8))  # ids are at most 128 bytes
    del offsets
    meta = {"format": FORMAT, "count": count, "bytes": written, "node_bits": node_bits, "hash_bits": kept}
    (out / "index.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def _check_duplicates(keys: npt.NDArray[np.uint64], node_bits: int, out: Path) -> None:
    """Raise DuplicateIdError for ids on two rows: equal hashes first, then their bytes (sorted by pyarrow)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(keys) < 2:
        return
    bits = np.uint64(node_bits)
    step, last = 1 << 22, len(keys) - 1
    ties = [  # positions i with hash(i) == hash(i + 1), a block at a time (no full-size temporaries)
        a + np.flatnonzero((keys[a + 1 : min(a + step, last) + 1] >> bits) == (keys[a : min(a + step, last)] >> bits))
        for a in range(0, last, step)
    ]
    tied = np.concatenate(ties)
    if not len(tied):
        return
    in_run = np.unique(np.concatenate((tied, tied + 1)))
    nodes = (keys[in_run] & np.uint64((1 << node_bits) - 1)).astype(np.int64)
    offsets = np.load(out / "offsets.npy", mmap_mode="r")
    blob = gather(np.memmap(out / "ids.bytes", dtype=np.uint8, mode="r"), np.asarray(offsets), nodes)
    table = pa.table({"hash": keys[in_run] >> bits, "id": _to_arrow(blob), "node": nodes})
    table = table.take(pc.sort_indices(table, [("hash", "ascending"), ("id", "ascending"), ("node", "ascending")]))
    h = table["hash"].to_numpy()
    node = table["node"].to_numpy()
    same_id = pc.equal(table["id"][1:], table["id"][:-1]).to_numpy(zero_copy_only=False)
    repeat = np.zeros(len(h), dtype=bool)
    repeat[1:] = (h[1:] == h[:-1]) & same_id
    if not repeat.any():
        return
    first_of_group = np.maximum.accumulate(np.where(repeat, 0, np.arange(len(h))))
    rows = np.flatnonzero(repeat)
    rows = rows[np.argsort(node[rows], kind="stable")]
    shown = rows[:REPORT_LIMIT]
    ids = table["id"].take(pa.array(shown)).to_pylist()
    duplicates = tuple(
        (text, int(node[first_of_group[r]]), int(node[r])) for text, r in zip(ids, shown.tolist(), strict=True)
    )
    raise DuplicateIdError(duplicates, len(rows))
