"""In-process transports: a Python callable, or an ONNX file run by onnxruntime."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

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

    onnxruntime releases the GIL while it runs, so one session serves several Python threads.
    """

    kind = "onnx"

    def __init__(self, model: str, path: str | Path, *, threads: int | None = None) -> None:
        import onnxruntime as ort  # imported here: it costs 100+ ms that CLI start-up should not pay

        self.model = model
        self.path = Path(path)
        if not self.path.is_file():
            raise AdapterConfigError(f"model {model!r}: no ONNX file at {str(self.path)!r}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # onnxruntime's shape warnings on tree ensembles are noise
        try:
            self._session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for a bad file
            raise AdapterConfigError(f"model {model!r}: cannot load {str(self.path)!r}: {exc}") from exc
        self.input_names = [i.name for i in self._session.get_inputs()]
        self.output_names = [o.name for o in self._session.get_outputs()]

    def infer(self, inputs: Tensors) -> dict[str, npt.NDArray[np.generic]]:
        """Run the session on the named inputs; returns every output."""
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise ModelResponseError(self.model, self.kind, f"missing input tensors {missing}")
        try:
            results: list[Any] = self._session.run(None, {n: inputs[n] for n in self.input_names})
        except Exception as exc:  # a shape or type the graph rejects
            raise ModelResponseError(self.model, self.kind, f"onnxruntime rejected the inputs: {exc}") from exc
        return {name: np.asarray(value) for name, value in zip(self.output_names, results, strict=True)}

    def close(self) -> None:
        """Drop the session."""
        self._session = None
