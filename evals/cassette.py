"""Record and replay of model calls, so a replayed run is deterministic.

A cassette is a directory of Arrow IPC files, one per model call:
`<model>/<version>/<sha256 of the input rows>.arrow`. The key hashes the rows' Arrow IPC stream (schema and
values), so the same rows always find the same output, whichever case asked. `CassetteRegistry` wraps an
`adapters.registry.Registry`: every adapter it hands out records its outputs (`mode="record"`) or answers
from the cassette without calling the model (`mode="replay"`; a miss is a `ReplayMissError`).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from adapters.registry import Registry
from adapters.spec import Adapter, AdapterSpec
from evals.errors import ReplayMissError

__all__ = ["CassetteAdapter", "CassetteRegistry", "rows_key"]


def rows_key(batch: pa.RecordBatch | pa.Table) -> str:
    """SHA-256 of the rows' Arrow IPC stream."""
    table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table.combine_chunks())
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


class CassetteAdapter:
    """An adapter whose outputs are recorded to, or replayed from, a cassette."""

    def __init__(self, inner: Adapter | None, spec: AdapterSpec, root: Path, mode: Literal["record", "replay"]) -> None:
        self.inner = inner
        self.spec = spec
        self.root = root / spec.name / spec.version
        self.mode = mode
        self.calls = 0
        self.hits = 0

    def predict(self, batch: pa.RecordBatch | pa.Table, **_: Any) -> pa.Table:
        """The model's output for these rows: from the cassette when replaying, else from the model (recorded)."""
        key = rows_key(batch)
        path = self.root / f"{key}.arrow"
        self.calls += 1
        if self.mode == "replay":
            if not path.is_file():
                raise ReplayMissError(
                    f"the cassette {str(self.root)!r} holds no {self.spec.name} {self.spec.version} output for "
                    f"{batch.num_rows} rows (key {key[:12]}); run once without --replay to record it"
                )
            self.hits += 1
            with pa.memory_map(str(path)) as source:
                return pa.ipc.open_file(source).read_all()
        assert self.inner is not None
        table = self.inner.predict(batch)
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".partial")
        with os.fdopen(fd, "wb") as f, pa.ipc.new_file(f, table.schema) as writer:
            writer.write_table(table)
        os.replace(tmp, path)  # concurrent cases recording the same rows write identical files
        return table

    def close(self) -> None:
        """Close the wrapped model, if any."""
        if self.inner is not None:
            self.inner.close()


class CassetteRegistry(Registry):
    """A registry whose adapters record to, or replay from, a cassette directory."""

    def __init__(self, inner: Registry, root: Path, mode: Literal["record", "replay"]) -> None:
        super().__init__(inner.configs, inner.plugins)
        self.inner = inner
        self.root = root
        self.mode = mode
        self._wrapped: dict[str, CassetteAdapter] = {}

    def get(self, name: str) -> Adapter:
        """The named model, wrapped (replay still builds it for its spec, but never calls it)."""
        if name not in self._wrapped:
            adapter = self.inner.get(name)
            inner = adapter if self.mode == "record" else None
            self._wrapped[name] = CassetteAdapter(inner, adapter.spec, self.root, self.mode)
        return self._wrapped[name]

    def versions_used(self) -> dict[str, str]:
        """Model name -> version of every model this run called."""
        return {name: a.spec.version for name, a in sorted(self._wrapped.items())}

    def close(self) -> None:
        """Close the wrapped registry's models."""
        self.inner.close()
        self._wrapped.clear()
