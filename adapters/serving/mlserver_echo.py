"""A Seldon MLServer runtime that answers its input `x` as output `y`: datatype round trips over the wire.

model-settings.json declares the one datatype the model takes (the server's metadata shows it):

```json
{"name": "echo_fp16", "implementation": "adapters.serving.mlserver_echo.Echo",
 "inputs": [{"name": "x", "datatype": "FP16", "shape": [-1, -1]}]}
```

The data is passed back as the server parsed it, not decoded and encoded again, so what comes back is what
the client sent as MLServer read it. A request of another datatype, or without `x`, is answered 400.

This module runs only inside MLServer's virtual environment; nothing in Shipbrain imports it.
"""

from __future__ import annotations

from mlserver import MLModel
from mlserver.errors import InferenceError
from mlserver.types import InferenceRequest, InferenceResponse, ResponseOutput

__all__ = ["Echo"]


class Echo(MLModel):  # type: ignore[misc]  # mlserver is untyped outside its own venv
    """Answers input `x` as output `y`, same datatype, shape and data."""

    async def load(self) -> bool:
        """Nothing to load."""
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        """Echo `x` as `y`.

        Raises:
            InferenceError: (HTTP 400) no `x`, or `x` of a datatype the model does not declare.
        """
        declared = {tensor.datatype for tensor in self.settings.inputs or []}
        tensor = next((tensor for tensor in payload.inputs if tensor.name == "x"), None)
        if tensor is None or (declared and tensor.datatype not in declared):
            raise InferenceError(f"{self.name} takes one input 'x' of {sorted(declared)}")
        output = ResponseOutput(name="y", shape=tensor.shape, datatype=tensor.datatype, data=tensor.data)
        return InferenceResponse(model_name=self.name, model_version=self.version, id=payload.id, outputs=[output])
