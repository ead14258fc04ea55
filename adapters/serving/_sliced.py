"""An ONNX session that uses every core a server gives it and still answers each row as in-process does, to the bit.

onnxruntime's own intra-op threads change a tree ensemble's answers (its trees are summed in an order that depends on
the thread count: defect probabilities differ in the 7th digit), so the session runs single-threaded and a batch is
cut into up to `threads` row slices run at once (onnxruntime releases the GIL, and one session serves concurrent calls).
Shipbrain's in-process `OnnxTransport` runs this same session, so a server and in-process slice alike. Each row is
computed the same way whatever the thread count.

Needs only numpy and onnxruntime: it runs inside the servers' own environments (`pytriton_onnx`, `kserve_onnx`,
`mlserver_onnx` use it), with the repository root on PYTHONPATH.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

__all__ = ["MIN_SLICE_ROWS", "SlicedSession", "default_threads"]

MIN_SLICE_ROWS = 8_192
"""Smaller batches run on one thread: a thread hand-off costs more than it saves (as in-process)."""


def default_threads() -> int:
    """Every core this process may run on."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class SlicedSession:
    """A single-threaded onnxruntime session over `path`, run on up to `threads` row slices of a batch at once."""

    def __init__(self, path: str | Path, threads: int | None = None, *, name: str = "onnx-slice") -> None:
        self.threads = threads or default_threads()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one row is computed as in-process computes it: equal to the bit
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix=name) if self.threads > 1 else None

    def get_inputs(self) -> Any:
        """The graph's inputs (onnxruntime's `NodeArg`s)."""
        return self.session.get_inputs()

    def get_outputs(self) -> Any:
        """The graph's outputs (onnxruntime's `NodeArg`s)."""
        return self.session.get_outputs()

    def run(self, names: list[str] | None, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """`InferenceSession.run`, with the batch's rows cut into slices run on the threads."""
        rows = len(next(iter(feeds.values()))) if feeds else 0
        slices = min(self.threads, max(1, rows // MIN_SLICE_ROWS))
        if slices == 1 or self._pool is None:
            return [np.asarray(value) for value in self.session.run(names, feeds)]
        bounds = np.linspace(0, rows, slices + 1).astype(int)
        parts = [{n: t[a:b] for n, t in feeds.items()} for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        answers = list(self._pool.map(lambda part: self.session.run(names, part), parts))
        return [np.concatenate([np.asarray(answer[i]) for answer in answers]) for i in range(len(answers[0]))]

    def close(self) -> None:
        """Let the slice threads go (calls under way finish)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
