"""In-process transports: a Python callable, or an ONNX file run by onnxruntime."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from adapters.errors import AdapterConfigError, ModelResponseError
from adapters.transports.base import Tensors

__all__ = ["CallableTransport", "OnnxTransport"]

_MIN_SLICE_ROWS = 8_192
"""Smaller batches run on one thread: a thread hand-off costs more than it saves."""


class CallableTransport:
    """Runs a Python function of named tensors (for models that are plain Python, and for tests)."""

    kind = "callable"

    def __init__(self, model: str, fn: Callable[[Tensors], dict[str, npt.NDArray[np.generic]]]) -> None:
        self.model = model
        self.fn = fn

    def infer(self, inputs: Tensors) -> dict[str, npt.NDArray[np.generic]]:
        """Call the function."""
        return self.fn(inputs)

    def close(self) -> None:
        """Nothing to release."""


class OnnxTransport:
    """Runs an ONNX file with onnxruntime in this process, on `threads` cores.

    The session itself runs single-threaded; a batch is cut into `threads` row slices run at once
    (onnxruntime releases the GIL, and one session serves concurrent calls). So every row is
    computed the same way whatever the thread count, here or in a Ray worker: predictions are equal
    row for row, to the bit, across machines of any size (tree ensembles run multi-threaded sum their
    trees in an order that depends on the thread count).
    """

    kind = "onnx"

    def __init__(self, model: str, path: str | Path, *, threads: int | None = None) -> None:
        import onnxruntime as ort  # imported here: it costs 100+ ms that CLI start-up should not pay

        self.model = model
        self.path = Path(path)
        if not self.path.is_file():
            raise AdapterConfigError(f"model {model!r}: no ONNX file at {str(self.path)!r}")
        self.threads = threads or os.cpu_count() or 1
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # onnxruntime's shape warnings on tree ensembles are noise
        try:
            self._session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for a bad file
            raise AdapterConfigError(f"model {model!r}: cannot load {str(self.path)!r}: {exc}") from exc
        self._pool: ThreadPoolExecutor | None = None
        self.input_names = [i.name for i in self._session.get_inputs()]
        self.output_names = [o.name for o in self._session.get_outputs()]

    def infer(self, inputs: Tensors) -> dict[str, npt.NDArray[np.generic]]:
        """Run the session on the named inputs; returns every output."""
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise ModelResponseError(self.model, self.kind, f"missing input tensors {missing}")
        feed = {n: inputs[n] for n in self.input_names}
        rows = len(next(iter(feed.values()))) if feed else 0
        slices = min(self.threads, max(1, rows // _MIN_SLICE_ROWS))
        if slices == 1:
            results = self._run(feed)
        else:
            bounds = np.linspace(0, rows, slices + 1).astype(int)
            parts = [{n: t[a:b] for n, t in feed.items()} for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix=f"onnx-{self.model}")
            answers = list(self._pool.map(self._run, parts))
            results = [np.concatenate([a[i] for a in answers]) for i in range(len(self.output_names))]
        return {name: np.asarray(value) for name, value in zip(self.output_names, results, strict=True)}

    def _run(self, feed: dict[str, npt.NDArray[np.generic]]) -> list[Any]:
        try:
            return list(self._session.run(None, feed))
        except Exception as exc:  # a shape or type the graph rejects
            raise ModelResponseError(self.model, self.kind, f"onnxruntime rejected the inputs: {exc}") from exc

    def close(self) -> None:
        """Drop the session and its threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
        self._session = None
