"""Id checks behind one small seam: bad ids, duplicates, and id -> node lookups.

Built on pyarrow's hash kernels for now; `knowledge.idindex` (the store's on-disk id index) replaces the lookup
once it exists, without the validator changing.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["MAX_ID_BYTES", "IdLookup", "bad_ids"]

MAX_ID_BYTES: Final = 128
_CONTROL: Final = r"\p{Cc}"


def bad_ids(ids: pa.Array) -> dict[str, npt.NDArray[np.bool_]]:
    """Masks of the ids that break the rules: empty (or null), longer than 128 bytes, with a control character."""
    length = pc.binary_length(ids)
    empty = np.asarray(pc.fill_null(pc.equal(length, 0), True).to_numpy(zero_copy_only=False), dtype=bool)
    long = np.asarray(pc.fill_null(pc.greater(length, MAX_ID_BYTES), False).to_numpy(zero_copy_only=False), dtype=bool)
    control = pc.fill_null(pc.match_substring_regex(ids, _CONTROL), False)
    return {"empty id": empty, "id too long": long, "control character in id": np.asarray(control, dtype=bool)}


class IdLookup:
    """Node numbers (positions in node order) of ids, with the duplicates among them."""

    def __init__(self, ids: pa.ChunkedArray) -> None:
        self._ids = pc.cast(ids, pa.large_string()).combine_chunks()
        first = pc.index_in(self._ids, value_set=self._ids).to_numpy(zero_copy_only=False)
        self._first = np.asarray(first, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._ids)

    def duplicates(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Nodes whose id an earlier node already has, and that earlier node (the first with the id)."""
        later = np.flatnonzero(self._first != np.arange(len(self._first)))
        return later, self._first[later]

    def nodes_of(self, values: pa.Array) -> npt.NDArray[np.int64]:
        """The node of each id in `values`, -1 where no node has it (nulls included)."""
        found = pc.index_in(pc.cast(values, pa.large_string()), value_set=self._ids)
        return np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)

    def id_of(self, node: int) -> str:
        """The id of one node."""
        return str(self._ids[node].as_py())
