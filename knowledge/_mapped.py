"""Memory-mapped arrays with page-cache advice (engine internals of `knowledge.store.YardStore`).

A cold query reads the graph from disk through page faults. The kernel's default readahead fetches
a window around every fault, which wastes most of it on point lookups (`indptr[node]`), so maps are
advised `MADV_RANDOM`; runs long enough to be worth it are then asked for in one go with
`MADV_WILLNEED` before they are read (`prefetch`), which keeps long scans sequential and fast.
"""

from __future__ import annotations

import mmap
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["forget", "open_mapped", "prefetch"]

_PAGE = mmap.PAGESIZE
_MIN_PREFETCH_BYTES = 256 * 1024
"""Shorter runs are left to page faults: an madvise call costs about as much as a few faults."""
_SEQUENTIAL_BYTES = 16 * 1024 * 1024
"""Longer ranges are read as a scan (MADV_SEQUENTIAL) rather than fetched up front (MADV_WILLNEED)."""
_MAPS: dict[int, tuple[mmap.mmap, int, int]] = {}
"""Data address of a mapped array -> (its map, byte offset of element 0 in the map, item size)."""


def open_mapped(path: Path) -> npt.NDArray[Any]:
    """Open a 1-d `.npy` file memory-mapped, advised for random access; a plain ndarray view."""
    mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    arr = np.asarray(mapped)  # a plain view: numpy.memmap's subclass overhead adds up in tight loops
    handle = getattr(mapped, "_mmap", None)
    if isinstance(handle, mmap.mmap) and arr.size:
        handle.madvise(mmap.MADV_RANDOM)
        _MAPS[arr.ctypes.data] = (handle, int(mapped.offset) % mmap.ALLOCATIONGRANULARITY, arr.itemsize)
    return arr


def prefetch(arr: npt.NDArray[Any], start: int = 0, stop: int | None = None) -> None:
    """Ask the kernel to read elements [start, stop) of a mapped array now, in one sequential pass."""
    entry = _MAPS.get(arr.ctypes.data) if arr.size else None
    if entry is None:
        return
    handle, base, size = entry
    stop = len(arr) if stop is None else stop
    if (stop - start) * size < _MIN_PREFETCH_BYTES:
        return
    lo = (base + start * size) // _PAGE * _PAGE
    length = base + stop * size - lo
    if length >= _SEQUENTIAL_BYTES:  # a long scan: let the kernel read ahead as far as it likes
        handle.madvise(mmap.MADV_SEQUENTIAL, lo, length)
    else:
        handle.madvise(mmap.MADV_WILLNEED, lo, length)


def forget(arrays: list[npt.NDArray[Any]]) -> None:
    """Drop the advice bookkeeping of arrays whose graph is gone."""
    for arr in arrays:
        if arr.size:
            _MAPS.pop(arr.ctypes.data, None)
