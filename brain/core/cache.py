"""What is costly to compute from a yard, kept on disk: the models' predictions and the adopted plan's schedules.

Files live under `DATA_DIR/cache/<yard>-<digest>/`, where the digest is that of the yard's manifest (every
file's checksum), so a yard regenerated or re-imported gets a fresh folder. A file's name carries what it
depends on besides the yard: a model's identity (name, version, configuration), a schedule's inputs.
Writes are atomic (a temporary file renamed into place), so a process killed mid-write leaves no half file;
tables are Arrow IPC files, memory-mapped on read (predictions for 22.5M joints open in milliseconds).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    import numpy.typing as npt

    from adapters.registry import Registry
    from knowledge.settings import Settings
    from knowledge.store import YardStore

__all__ = ["YardCache", "digest_of", "model_identity", "take_rows"]


def digest_of(*parts: str) -> str:
    """A short, stable digest of some strings."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:20]


def model_identity(registry: Registry, name: str) -> str:
    """What a model's predictions depend on, as a digest.

    Its name, version, configuration and (for a file) the file's size and modification time: a new model version,
    another file or another server gets other cache entries.
    """
    spec = registry.spec(name)
    config = registry.configs.get(name)
    parts = [name, spec.version, config.model_dump_json() if config is not None else "plug-in"]
    if config is not None and config.path is not None:
        path = config.resolved_path()
        if path.exists():
            stat = path.stat()
            parts.append(f"{stat.st_size}:{stat.st_mtime_ns}")
    return digest_of(*parts)


class YardCache:
    """Files computed from one yard."""

    def __init__(self, settings: Settings, yard: YardStore) -> None:
        manifest = (yard.path / "manifest.json").read_bytes()
        self.dir = Path(settings.data_dir) / "cache" / f"{yard.path.name}-{hashlib.sha256(manifest).hexdigest()[:16]}"

    def _path(self, name: str, suffix: str) -> Path:
        return self.dir / f"{name}{suffix}"

    def table(self, name: str) -> pa.Table | None:
        """A cached table, memory-mapped, or None."""
        path = self._path(name, ".arrow")
        if not path.exists():
            return None
        with pa.memory_map(str(path)) as source:
            return pa.ipc.open_file(source).read_all()

    def put_table(self, name: str, table: pa.Table) -> None:
        """Keep a table (atomically)."""

        def write(handle: str) -> None:
            with pa.OSFile(handle, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)

        self._atomic(self._path(name, ".arrow"), write)

    def array(self, name: str) -> npt.NDArray[Any] | None:
        """A cached numpy array, memory-mapped read-only, or None."""
        import numpy as np

        path = self._path(name, ".npy")
        return np.load(path, mmap_mode="r", allow_pickle=False) if path.exists() else None

    def put_array(self, name: str, array: npt.NDArray[Any]) -> None:
        """Keep a numpy array (atomically)."""
        import numpy as np

        def write(handle: str) -> None:
            with open(handle, "wb") as f:
                np.save(f, array, allow_pickle=False)

        self._atomic(self._path(name, ".npy"), write)

    def text(self, name: str) -> str | None:
        """A cached text (JSON), or None."""
        path = self._path(name, ".json")
        return path.read_text() if path.exists() else None

    def put_text(self, name: str, text: str) -> None:
        """Keep a text (atomically)."""
        self._atomic(self._path(name, ".json"), lambda handle: Path(handle).write_text(text))

    def _atomic(self, path: Path, write: object) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=f".{path.name}.", suffix=".partial")
        os.close(fd)
        try:
            assert callable(write)
            write(tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def describe(self) -> dict[str, object]:
        """What the cache holds: file names and sizes (for `yard info` and tests)."""
        if not self.dir.exists():
            return {"dir": str(self.dir), "files": {}}
        files = {p.name: p.stat().st_size for p in sorted(self.dir.iterdir()) if not p.name.startswith(".")}
        return {"dir": str(self.dir), "files": json.loads(json.dumps(files))}


def take_rows(table: pa.Table, rows: npt.ArrayLike) -> pa.Table:
    """`table.take(rows)`, record batch by record batch: the same rows, for a big memory-mapped table of many batches.

    pyarrow's `take` joins each column's chunks first: the kept predictions' whole 22.5M-row columns, read from disk
    on a restarted service's first question (0.8 s); here only the batches holding the rows are touched.
    """
    wanted = np.asarray(rows, dtype=np.int64)
    order = np.argsort(wanted, kind="stable")
    ordered = wanted[order]
    batches = table.to_batches()
    offsets = np.cumsum([0, *(b.num_rows for b in batches)])
    if len(ordered) and (ordered[0] < 0 or ordered[-1] >= offsets[-1]):
        raise IndexError(f"rows {ordered[0]}-{ordered[-1]} of a table of {offsets[-1]:,}")
    which = np.searchsorted(offsets, ordered, side="right") - 1
    pieces = []
    for k in np.unique(which).tolist():
        lo, hi = np.searchsorted(which, [k, k + 1])
        pieces.append(batches[k].take(pa.array(ordered[lo:hi] - offsets[k])))
    taken = pa.Table.from_batches(pieces, schema=table.schema)
    if np.any(order[1:] < order[:-1]):  # the rows were not ascending: put them back in the order asked
        taken = taken.take(pa.array(np.argsort(order, kind="stable")))
    return taken
