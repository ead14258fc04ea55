"""In-process transports: a Python callable, or an ONNX file run by onnxruntime."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from adapters.errors import AdapterConfigError, ModelResponseError
from adapters.transports.base import Tensors

__all__ = ["CallableTransport", "OnnxTransport"]


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
    (`adapters.serving._sliced.SlicedSession`, the same session the model servers' scripts run). So every row is
    computed the same way whatever the thread count, here or in a Ray worker: predictions are equal
    row for row, to the bit, across machines of any size (tree ensembles run multi-threaded sum their
    trees in an order that depends on the thread count).
    """

    kind = "onnx"

    def __init__(self, model: str, path: str | Path, *, threads: int | None = None) -> None:
        # imported here: onnxruntime costs 100+ ms that CLI start-up should not pay
        from adapters.serving._sliced import SlicedSession

        self.model = model
        self.path = Path(path)
        if not self.path.is_file():
            raise AdapterConfigError(f"model {model!r}: no ONNX file at {str(self.path)!r}")
        self.threads = threads or os.cpu_count() or 1
        try:
            self._session: SlicedSession | None = SlicedSession(self.path, self.threads, name=f"onnx-{model}")
        except Exception as exc:  # onnxruntime raises its own untyped errors for a bad file
            raise AdapterConfigError(f"model {model!r}: cannot load {str(self.path)!r}: {exc}") from exc
        self.input_names = [i.name for i in self._session.get_inputs()]
        self.output_names = [o.name for o in self._session.get_outputs()]

    def infer(self, inputs: Tensors) -> dict[str, npt.NDArray[np.generic]]:
        """Run the session on the named inputs; returns every output."""
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise ModelResponseError(self.model, self.kind, f"missing input tensors {missing}")
        if self._session is None:
            raise ModelResponseError(self.model, self.kind, "the transport is closed")
        try:
            results = self._session.run(None, {n: inputs[n] for n in self.input_names})
        except Exception as exc:  # a shape or type the graph rejects
            raise ModelResponseError(self.model, self.kind, f"onnxruntime rejected the inputs: {exc}") from exc
        return dict(zip(self.output_names, results, strict=True))

    def close(self) -> None:
        """Drop the session and its threads."""
        if self._session is not None:
            self._session.close()
        self._session = None
