"""Id checks behind one small seam: bad ids, duplicates, and id -> node lookups.

The id rule is `knowledge.idindex.check_ids`'s. The lookup is an in-memory open-addressing table over a 128-bit
key of each id (two polars string hashes with different seeds, computed in native code at about 12 ns per id),
built once and probed batch by batch: a yard's 250 million references (parents, edge ends, work packages) cost
one hash each and one or two random reads, never a rebuild. pyarrow's `index_in` rebuilt its hash table of every
id on each call (a 25M-part yard spent about 4 of its 5 checking minutes there), and the on-disk `IdIndex`
answers a bulk lookup by binary search (1 us per id at 48M ids): both measured slower than this for a whole yard.
Two distinct ids with the same 128-bit key (odds about n^2 / 2^129) would make one shadow the other: they are
caught when the table is built, compared by their bytes, and refused rather than mixed up.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from knowledge.idindex import MAX_ID_BYTES, check_ids

__all__ = ["IdLookup", "bad_ids"]


def bad_ids(ids: pa.Array, limit: int) -> tuple[int, list[tuple[int, str]]]:
    """How many ids break the rules, and the first `limit` of them as (position, message).

    The rule (missing, empty, > 128 bytes, control characters) has its one home in `knowledge.idindex.check_ids`.
    """
    found = check_ids(ids, limit=limit)
    shown = [(p.row, f"id {_short(p.yard_id)} is {p.reason}: {_RULE}") for p in found.first]
    return found.count, shown


_RULE: Final = f"an id is 1 to {MAX_ID_BYTES} bytes of UTF-8 without control characters"
_SEEDS: Final = (0x5EED_0001, 0x5EED_0002)
_STEP: Final = 1 << 22
"""Ids hashed or probed per step: bounds the temporaries."""


def _short(text: str | None) -> str:
    if text is None:
        return "(none)"
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _keys(values: pa.Array | pa.ChunkedArray) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """The two 64-bit hashes of every string (a null hashes too: callers mask nulls)."""
    series = pl.Series(values)
    return (
        series.hash(seed=_SEEDS[0]).to_numpy().astype(np.uint64, copy=False),
        series.hash(seed=_SEEDS[1]).to_numpy().astype(np.uint64, copy=False),
    )


class IdLookup:
    """Node numbers (positions in node order) of ids, with the duplicates among them.

    The table holds one 64-bit entry a slot, `(low & prefix) << node_bits | (node + 1)` (0 for empty), at the
    slot the top bits of the low hash pick, probed linearly; the high hash of each node is kept beside it, so a
    probe reads one entry and, for a hit, one high hash.
    """

    def __init__(self, ids: pa.ChunkedArray) -> None:
        self._ids = ids
        n = len(ids)
        self._bits = max(4, (2 * max(n, 1) - 1).bit_length())  # at most half full: one or two reads a probe
        self._shift = np.uint64(64 - self._bits)
        self._slots = (1 << self._bits) - 1
        self._node_bits = np.uint64(max(1, n.bit_length()))
        self._node_mask = np.uint64((1 << int(self._node_bits)) - 1)
        self._prefix = np.uint64((1 << (64 - int(self._node_bits))) - 1)
        self._table = np.zeros(1 << self._bits, dtype=np.uint64)
        self._high = np.empty(n, dtype=np.uint64)
        later: list[npt.NDArray[np.int64]] = []
        earlier: list[npt.NDArray[np.int64]] = []
        for lo in range(0, n, _STEP):
            low, high = _keys(ids.slice(lo, _STEP))
            self._high[lo : lo + len(high)] = high
            twin, first = self._insert(low, np.arange(lo, lo + len(low), dtype=np.int64))
            later.append(twin)
            earlier.append(first)
        self._later, self._earlier = self._checked_twins(later, earlier)

    def _insert(
        self, low: npt.NDArray[np.uint64], nodes: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Linear probing, vectorised, a round at a time; the nodes whose key is already in, and whose it is.

        Each round, a pending id whose slot is taken by its own key is a duplicate of that slot's node (it is not
        inserted), a slot taken by another key sends it on, and a free slot is claimed; when several ids claim one
        slot the smallest node wins and the others look at it again next round. Copies of an id walk the same
        slots, so the first copy is always the one in the table.
        """
        slot = (low >> self._shift).astype(np.int64)
        want = ((low & self._prefix) << self._node_bits) | (nodes.astype(np.uint64) + np.uint64(1))
        twins: list[npt.NDArray[np.int64]] = []
        firsts: list[npt.NDArray[np.int64]] = []
        while len(nodes):
            entry = self._table[slot]
            taken = entry != 0
            same = taken & ((entry >> self._node_bits) == (want >> self._node_bits))
            if same.any():
                there = (entry[same] & self._node_mask).astype(np.int64) - 1
                really = self._high[there] == self._high[nodes[same]]
                twins.append(nodes[same][really])
                firsts.append(there[really])
                same[np.flatnonzero(same)[~really]] = False
            free = ~taken
            claim = slot[free]
            self._table[claim[::-1]] = want[free][::-1]  # the last write wins: the smallest node
            won = np.zeros(len(nodes), dtype=bool)
            won[free] = self._table[claim] == want[free]
            moved = taken & ~same
            slot[moved] = (slot[moved] + 1) & self._slots
            pending = ~(won | same)
            low, want, nodes, slot = low[pending], want[pending], nodes[pending], slot[pending]
        empty = np.empty(0, dtype=np.int64)
        return (np.concatenate(twins) if twins else empty), (np.concatenate(firsts) if firsts else empty)

    def _checked_twins(
        self, later: list[npt.NDArray[np.int64]], earlier: list[npt.NDArray[np.int64]]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The duplicates in node order, their bytes compared: equal keys with different bytes are refused."""
        twin = np.concatenate(later) if later else np.empty(0, dtype=np.int64)
        first = np.concatenate(earlier) if earlier else np.empty(0, dtype=np.int64)
        order = np.argsort(twin, kind="stable")
        twin, first = twin[order], first[order]
        if len(twin):
            a = self._ids.take(pa.array(twin))
            b = self._ids.take(pa.array(first))
            equal = np.asarray(pc.equal(a, b).to_numpy(zero_copy_only=False), dtype=bool)
            if not equal.all():  # a 128-bit collision, which no lookup could tell apart
                i = int(np.flatnonzero(~equal)[0])
                raise RuntimeError(f"ids {a[i].as_py()!r} and {b[i].as_py()!r} share a 128-bit key")
        return twin, first

    def _probe(self, low: npt.NDArray[np.uint64], high: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
        """The node with each key (-1 for none)."""
        found = np.full(len(low), -1, dtype=np.int64)
        active = np.arange(len(low))
        slot = (low >> self._shift).astype(np.int64)
        prefix = low & self._prefix
        while len(active):
            entry = self._table[slot]
            taken = entry != 0
            hit = taken & ((entry >> self._node_bits) == prefix)
            if hit.any():
                node = (entry[hit] & self._node_mask).astype(np.int64) - 1
                really = self._high[node] == high[hit]
                found[active[hit][really]] = node[really]
                hit[np.flatnonzero(hit)[~really]] = False
            go = taken & ~hit
            active, slot, prefix, high = active[go], (slot[go] + 1) & self._slots, prefix[go], high[go]
        return found

    def __len__(self) -> int:
        return len(self._ids)

    def duplicates(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Nodes whose id an earlier node already has, and that earlier node (the first with the id)."""
        return self._later, self._earlier

    def release(self) -> None:
        """Free the table (lookups end here); `id_of` still answers."""
        self._table = np.zeros(1, dtype=np.uint64)
        self._high = np.empty(0, dtype=np.uint64)

    def nodes_of(self, values: pa.Array) -> npt.NDArray[np.int64]:
        """The node of each id in `values`, -1 where no node has it (nulls included)."""
        found = np.full(len(values), -1, dtype=np.int64)
        for lo in range(0, len(values), _STEP):
            part = values.slice(lo, _STEP)
            low, high = _keys(part)
            nodes = self._probe(low, high)
            if part.null_count:
                nodes[~np.asarray(part.is_valid().to_numpy(zero_copy_only=False), dtype=bool)] = -1
            found[lo : lo + len(part)] = nodes
        return found

    def id_of(self, node: int) -> str:
        """The id of one node."""
        return str(self._ids[node].as_py())
