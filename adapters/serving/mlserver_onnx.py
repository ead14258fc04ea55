"""A Seldon MLServer runtime that serves one ONNX file with onnxruntime.

model-settings.json:

```json
{"name": "welding", "implementation": "adapters.serving.mlserver_onnx.OnnxRuntime",
 "parameters": {"uri": "./welding.onnx", "extra": {"threads": 2}}}
```

`parameters.extra.threads` (default: every core) is how many cores the model uses: onnxruntime's session runs
single-threaded and each batch is cut into up to that many row slices run at once, as Shipbrain's in-process
transport does (`adapters.serving._sliced`), so answers equal in-process ones to the bit.

MLServer must be able to import this module: start it with the repository root on PYTHONPATH.
Inputs and outputs keep the ONNX graph's names and shapes; when model-settings.json declares no
`inputs`/`outputs`, the metadata endpoint reports the graph's own. Requests that do not fit the
graph (an unknown or missing input, a wrong shape or datatype) are answered 400 with the reason.

This module runs only inside MLServer's virtual environment; nothing in Shipbrain imports it.
"""

from __future__ import annotations

import asyncio

import numpy as np
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.errors import InferenceError
from mlserver.types import InferenceRequest, InferenceResponse, MetadataTensor, ResponseOutput
from mlserver.utils import get_model_uri
from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument

from adapters.serving._onnx_v2 import v2_metadata
from adapters.serving._sliced import SlicedSession, default_threads

__all__ = ["OnnxRuntime"]


class OnnxRuntime(MLModel):  # type: ignore[misc]  # mlserver is untyped outside its own venv
    """Serves the ONNX file named by the model settings' `parameters.uri`."""

    async def load(self) -> bool:
        """Open the ONNX file and publish its inputs and outputs as the model's metadata."""
        path = await get_model_uri(self.settings)
        extra = (self.settings.parameters.extra if self.settings.parameters else None) or {}
        self._session = SlicedSession(path, int(extra.get("threads") or default_threads()))
        print(f"onnx model: {self._session.threads} thread(s), row slices on a single-threaded session", flush=True)
        self._input_names = [node.name for node in self._session.get_inputs()]
        self._output_names = [node.name for node in self._session.get_outputs()]
        if not self.settings.inputs:
            self.inputs = [MetadataTensor(**v2_metadata(node)) for node in self._session.get_inputs()]
        if not self.settings.outputs:
            self.outputs = [MetadataTensor(**v2_metadata(node)) for node in self._session.get_outputs()]
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        """Run the graph on the request's tensors and return every output (or the requested ones).

        Raises:
            InferenceError: (HTTP 400) the request does not fit the graph.
        """
        feeds = self._feeds(payload)
        wanted = [output.name for output in payload.outputs] if payload.outputs else self._output_names
        unknown = sorted(set(wanted) - set(self._output_names))
        if unknown:
            raise InferenceError(f"unknown output(s) {unknown}; the model has {self._output_names}")
        try:
            # In a thread: onnxruntime releases the GIL, and the event loop keeps answering health checks.
            results = await asyncio.to_thread(self._session.run, wanted, feeds)
        except (InvalidArgument, ValueError) as exc:
            raise InferenceError(f"the request does not fit the model: {exc}") from exc
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            id=payload.id,
            outputs=[self._encode(name, np.asarray(value)) for name, value in zip(wanted, results, strict=True)],
        )

    def _feeds(self, payload: InferenceRequest) -> dict[str, np.ndarray]:
        feeds: dict[str, np.ndarray] = {}
        for request_input in payload.inputs:
            if request_input.name not in self._input_names:
                raise InferenceError(f"unknown input {request_input.name!r}; the model takes {self._input_names}")
            try:
                feeds[request_input.name] = NumpyCodec.decode_input(request_input)
            except (TypeError, ValueError) as exc:
                raise InferenceError(f"input {request_input.name!r} cannot be decoded: {exc}") from exc
        missing = sorted(set(self._input_names) - set(feeds))
        if missing:
            raise InferenceError(f"missing input(s) {missing}; the model takes {self._input_names}")
        return feeds

    @staticmethod
    def _encode(name: str, value: np.ndarray) -> ResponseOutput:
        output: ResponseOutput = NumpyCodec.encode_output(name, value)
        # NumpyCodec pads 1-D shapes to [N, 1] (its tabular convention); report the graph's true shape.
        output.shape = list(value.shape)
        return output
