"""What the check keeps of a role's rows for the importer: read-order nodes and converted fields, piece by piece.

In memory for a small yard; in Arrow IPC files under a spill directory for a large one (a 25M-part yard's fields
are several GiB: written as they are checked and memory-mapped back, the import's memory stays bounded).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

__all__ = ["KeptRows", "RoleRows"]

_NODE: Final = "__node"


@dataclass
class RoleRows:
    """One batch's rows of one role: their read-order node numbers and their fields as checked and converted.

    A reference field (`ref`) holds read-order node numbers (int32, -1 for none); the importer renumbers them.
    """

    nodes: npt.NDArray[np.int32]
    columns: dict[str, pa.Array] = field(default_factory=dict)


class KeptRows:
    """A role's rows, in the order they were checked."""

    def __init__(self, name: str, spill: Path | None) -> None:
        self.name = name
        self.rows = 0
        self.types: dict[str, pa.DataType] = {}
        """Each field seen, with its type (the first piece's that has it)."""
        self._spill = spill
        self._memory: list[RoleRows] = []
        self._files: list[Path] = []
        self._writer: pa.ipc.RecordBatchFileWriter | None = None
        self._schema: pa.Schema | None = None

    def add(self, rows: RoleRows) -> None:
        self.rows += len(rows.nodes)
        for name, values in rows.columns.items():
            self.types.setdefault(name, values.type)
        if self._spill is None:
            self._memory.append(rows)
            return
        batch = pa.RecordBatch.from_pydict({_NODE: pa.array(rows.nodes, pa.int32()), **rows.columns})
        if self._writer is None or self._schema is None or not self._schema.equals(batch.schema):
            self.close()
            path = self._spill / f"{self.name}-{len(self._files)}.arrow"
            self._writer = pa.ipc.new_file(path, batch.schema)
            self._schema = batch.schema
            self._files.append(path)
        self._writer.write_batch(batch)

    def close(self) -> None:
        """Finish the spill file being written (the pieces are readable once closed)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def pieces(self) -> Iterator[RoleRows]:
        """The rows piece by piece, in order (spilled pieces memory-mapped, not read into memory)."""
        yield from self._memory
        for path in self._files:
            reader = pa.ipc.open_file(pa.memory_map(str(path)))
            for i in range(reader.num_record_batches):
                batch = reader.get_batch(i)
                columns = {name: batch.column(name) for name in batch.schema.names if name != _NODE}
                yield RoleRows(batch.column(_NODE).to_numpy(), columns)

    def nodes(self) -> npt.NDArray[np.int32]:
        """Every row's read-order node, in order."""
        parts = [p.nodes for p in self.pieces()]
        return np.concatenate(parts).astype(np.int32) if parts else np.empty(0, dtype=np.int32)
