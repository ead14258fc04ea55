"""Vectorised string kernels of the id index (engine internals of `knowledge.idindex`).

Strings travel as a byte blob and int64 offsets (`offsets[i]:offsets[i + 1]` is string i), the layout of an Arrow
string array, so a million ids cost a handful of numpy passes and no Python object each.

- `hash_strings` / `hash_bytes`: one 64-bit hash, vectorised and scalar, equal bit for bit. The string is read
  as little-endian 8-byte words (zero-padded) folded into a state seeded by the length: `h ^= word;
  h *= M; h ^= h >> 32`, then murmur3's finaliser. Words rather than bytes make the vectorised side ~8x cheaper
  than a byte polynomial; the shift after each multiply folds the high bits back, which a polynomial mod 2**64
  does not (there, ids differing by c in byte 7 and by 1 in byte 15 collide whenever c == P mod 256).
- `loose_blob`: the loose key's last step (leading zeros of digit runs and separators dropped) on bytes.
- `gather`: the bytes of chosen strings of a blob, as a new blob.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "SEPARATORS",
    "Blob",
    "gather",
    "hash_bytes",
    "hash_strings",
    "loose_blob",
    "pairs_equal",
    "ranges",
    "word_view",
    "words_equal",
]

Bytes = npt.NDArray[np.uint8]
Offsets = npt.NDArray[np.int64]
Blob = tuple[Bytes, Offsets]
"""A byte blob and the offsets of its strings (len n + 1, first 0 or any start, last the end)."""

_MASK = (1 << 64) - 1
_SEED = 0x9E3779B97F4A7C15
_LENGTH_MUL = 0xD6E8FEB86659FD93
_WORD_MUL = 0xA0761D6478BD642F
_FMIX1 = 0xFF51AFD7ED558CCD
_FMIX2 = 0xC4CEB9FE1A85EC53
_TAIL_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [_MASK], dtype=np.uint64)
"""Mask of the first k bytes of a little-endian word, k = 0..8."""

SEPARATORS = b" -_/.:\t\n\x0b\x0c\r"
"""Bytes the loose key drops: the separators people type between parts of an id, and any ASCII white space."""
_ZERO = ord("0")


_UNPACK = [struct.Struct(f"<{k}Q").unpack for k in range(33)]
_PADS = [bytes(k) for k in range(8)]


def hash_bytes(data: bytes) -> int:
    """The 64-bit hash of one string's bytes, equal to `hash_strings` on a blob holding it."""
    size = len(data)
    h = (size * _LENGTH_MUL + _SEED) & _MASK
    pad = -size % 8
    words = (size + pad) >> 3
    unpack = _UNPACK[words] if words < len(_UNPACK) else struct.Struct(f"<{words}Q").unpack
    for word in unpack(data + _PADS[pad] if pad else data):
        h = ((h ^ word) * _WORD_MUL) & _MASK
        h ^= h >> 32
    h ^= h >> 33
    h = (h * _FMIX1) & _MASK
    h ^= h >> 33
    h = (h * _FMIX2) & _MASK
    return h ^ (h >> 33)


def word_view(padded: Bytes) -> npt.NDArray[np.uint64]:
    """Element p is the little-endian 8-byte word of bytes p..p+7: an unaligned, overlapping view, no copy.

    `padded` must end with at least 7 bytes past the last string (the id index's blob ends with 8 zero bytes).
    """
    return np.ndarray((max(len(padded) - 7, 0),), dtype="<u8", buffer=padded, strides=(1,))


def words_equal(
    a_words: npt.NDArray[np.uint64],
    a_starts: npt.NDArray[np.int64],
    b_words: npt.NDArray[np.uint64],
    b_starts: npt.NDArray[np.int64],
    lengths: npt.NDArray[np.int64],
) -> npt.NDArray[np.bool_]:
    """Whether the `lengths[k]` bytes at `a_starts[k]` equal those at `b_starts[k]`, compared 8 bytes at a time.

    `a_words` and `b_words` are `word_view`s. A round per word, longest first, like `hash_strings`: ids of a few
    dozen bytes cost three word comparisons each rather than a byte array of their total length.
    """
    equal = np.ones(len(lengths), dtype=bool)
    if not len(lengths):
        return equal
    words = (lengths + 7) // 8
    longest = int(words.max())
    order = np.argsort((longest - words).astype(np.int16 if longest < 1 << 15 else np.int64), kind="stable")
    active = np.cumsum(np.bincount(words, minlength=longest + 1)[::-1])[::-1]
    a, b, left = a_starts[order], b_starts[order], lengths[order]
    same = np.ones(len(order), dtype=bool)
    for k in range(longest):
        n = int(active[k + 1])
        differ = a_words[a[:n] + 8 * k] ^ b_words[b[:n] + 8 * k]
        differ &= _TAIL_MASKS[np.minimum(left[:n] - 8 * k, 8)]
        same[:n] &= differ == 0
    equal[order] = same
    return equal


def hash_strings(data: Bytes, offsets: Offsets) -> npt.NDArray[np.uint64]:
    """The 64-bit hash of every string of a blob (`hash_bytes` of each), with no Python loop per string.

    Strings are visited longest first, so the k-th word round works on a prefix of them (those with more than k
    words) with no mask: a handful of rounds for ids of a few dozen bytes.
    """
    count = len(offsets) - 1
    if count <= 0:
        return np.empty(0, dtype=np.uint64)
    starts = offsets[:-1]
    lengths = np.diff(offsets)
    h = lengths.astype(np.uint64)
    h *= np.uint64(_LENGTH_MUL)
    h += np.uint64(_SEED)
    words = (lengths + 7) // 8
    longest = int(words.max())
    if longest:
        base = int(starts[0])
        used = data[base : int(offsets[-1])]
        padded = np.zeros(len(used) + 8, dtype=np.uint8)
        padded[: len(used)] = used
        # element p is the little-endian word of bytes p..p+7 (an unaligned, overlapping view)
        word_at = np.ndarray((len(used) + 1,), dtype="<u8", buffer=padded, strides=(1,))
        key = (longest - words).astype(np.int16 if longest < 1 << 15 else np.int64)
        order = np.argsort(key, kind="stable")  # longest first; a radix sort for int16
        active = np.cumsum(np.bincount(words, minlength=longest + 1)[::-1])[::-1]  # active[k] = #(words >= k)
        s = starts[order] - base
        left = lengths[order]
        state = h[order]
        for k in range(longest):
            n = int(active[k + 1])
            word = word_at[s[:n] + 8 * k]
            word &= _TAIL_MASKS[np.minimum(left[:n] - 8 * k, 8)]
            part = state[:n]
            part ^= word
            part *= np.uint64(_WORD_MUL)
            part ^= part >> np.uint64(32)
        h[order] = state
    h ^= h >> np.uint64(33)
    h *= np.uint64(_FMIX1)
    h ^= h >> np.uint64(33)
    h *= np.uint64(_FMIX2)
    h ^= h >> np.uint64(33)
    return h


def loose_blob(data: Bytes, offsets: Offsets) -> Blob:
    """Drop the leading zeros of every digit run and every separator, string by string (bytes already lowered).

    A `0` is dropped when a digit follows it in the same string and every digit before it in its run is a `0`
    (`J020-000088` -> `J20-88`; a lone `0` stays); then `SEPARATORS` go (`J2088`). Zeros go first, so the
    separators still split digit runs.
    """
    count = len(offsets) - 1
    lo, hi = (int(offsets[0]), int(offsets[-1])) if count > 0 else (0, 0)
    b = data[lo:hi]
    rel = offsets - lo
    nbytes = len(b)
    if nbytes == 0:
        return b.copy(), np.zeros(max(count, 0) + 1, dtype=np.int64)
    lengths = np.diff(rel)
    nonempty = lengths > 0
    first = np.zeros(nbytes, dtype=bool)
    first[rel[:-1][nonempty]] = True
    last = np.zeros(nbytes, dtype=bool)
    last[rel[1:][nonempty] - 1] = True
    # comparisons, not a lookup table: several times faster on bytes
    is_zero = b == _ZERO
    is_digit = (b - np.uint8(_ZERO)) < 10
    # a run of zeros leads when it starts its string or follows a non-digit; the verdict at the run's start is
    # carried along the run by doubling steps (log2 of the longest run: 2-3 steps for ids of a few dozen bytes)
    lead = is_zero & first
    lead[1:] |= is_zero[1:] & ~is_digit[:-1]
    carry = is_zero & ~first  # position p continues the zero run of p - 1
    step = 1
    while step < nbytes and carry.any():
        lead[step:] |= carry[step:] & lead[:-step]
        carry[step:] &= carry[:-step]
        carry[:step] = False
        step *= 2
    digit_next = np.zeros(nbytes, dtype=bool)
    digit_next[:-1] = is_digit[1:]
    drop = lead & digit_next & ~last
    for separator in SEPARATORS[:6]:
        drop |= b == separator
    drop |= (b - np.uint8(9)) < 5  # \t \n \v \f \r
    keep = ~drop
    kept = np.zeros(nbytes + 1, dtype=np.int32 if nbytes < 1 << 31 else np.int64)
    np.cumsum(keep, out=kept[1:])
    return np.compress(keep, b), kept[rel].astype(np.int64)


def ranges(starts: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64]) -> npt.NDArray[np.signedinteger[Any]]:
    """`concatenate([arange(s, s + n) for s, n in zip(starts, lengths)])`, as one cumulative sum (no `np.repeat`).

    int32 when every value fits (half the memory to fill), else int64.
    """
    nonempty = lengths > 0
    s, n = starts[nonempty], lengths[nonempty]
    total = int(n.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    out: npt.NDArray[np.signedinteger[Any]] = np.ones(
        total, dtype=np.int32 if int((s + n).max()) < 1 << 31 else np.int64
    )
    out[0] = s[0]
    out[np.cumsum(n[:-1])] = s[1:] - (s[:-1] + n[:-1] - 1)  # each segment's first jumps from the previous's last
    return np.cumsum(out, out=out)


def gather(data: Bytes, offsets: Offsets, rows: npt.NDArray[np.integer[Any]]) -> Blob:
    """The strings `rows` of a blob, in that order, as a new blob."""
    starts = offsets[rows]
    lengths = offsets[rows + 1] - starts
    out_offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out_offsets[1:])
    if out_offsets[-1] == 0:
        return np.empty(0, dtype=np.uint8), out_offsets
    return np.asarray(data[ranges(starts, lengths)], dtype=np.uint8), out_offsets


def pairs_equal(
    a: Blob, a_rows: npt.NDArray[np.integer[Any]], b: Blob, b_rows: npt.NDArray[np.integer[Any]]
) -> npt.NDArray[np.bool_]:
    """Whether string `a_rows[k]` of blob a equals string `b_rows[k]` of blob b, for every k (vectorised)."""
    a_data, a_off = a
    b_data, b_off = b
    a_start, b_start = a_off[a_rows], b_off[b_rows]
    length = a_off[a_rows + 1] - a_start
    equal = length == b_off[b_rows + 1] - b_start
    pairs = np.flatnonzero(equal & (length > 0))
    if len(pairs):
        n = length[pairs]
        differs = np.flatnonzero(a_data[ranges(a_start[pairs], n)] != b_data[ranges(b_start[pairs], n)])
        if len(differs):
            firsts = np.cumsum(n) - n
            equal[pairs[np.searchsorted(firsts, differs, side="right") - 1]] = False
    return equal
