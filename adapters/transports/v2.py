"""Open Inference Protocol v2 over HTTP: the REST API of NVIDIA Triton, KServe and Seldon MLServer.

One `infer()` is one `POST /v2/models/{name}[/versions/{v}]/infer` carrying every input tensor as
JSON (`data` flattened row-major); outputs come back reshaped by the `shape` the server reports.
Calls go through a `CallGuard` (retries, circuit breaker); the answer is validated with pydantic,
so a malformed one is a `ModelResponseError` that says what was wrong rather than a `KeyError`.
Triton's binary-tensor extension is not used: JSON is what all three servers speak.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal
from urllib.parse import quote

import httpx
import numpy as np
import numpy.typing as npt
import pydantic
import pydantic_core

from adapters.errors import AdapterInputError, ModelResponseError
from adapters.transports._resilience import CallGuard, http_errors, parse_body, raise_for_status
from adapters.transports.base import CallPolicy, Tensors

__all__ = ["Datatype", "ModelMetadata", "TensorMetadata", "V2Transport"]

Datatype = Literal[
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES"
]

_TO_NUMPY: dict[Datatype, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
}
_FROM_NUMPY: dict[np.dtype[Any], Datatype] = {dtype: name for name, dtype in _TO_NUMPY.items()}
_DEFAULT_POLICY = CallPolicy()


class TensorMetadata(pydantic.BaseModel):
    """One input or output as the server describes it."""

    model_config = pydantic.ConfigDict(frozen=True)

    name: str
    datatype: Datatype
    shape: list[int]
    """Dimensions; -1 is a variable one (usually the batch)."""


class ModelMetadata(pydantic.BaseModel):
    """`GET /v2/models/{name}`: what the server says the model is."""

    model_config = pydantic.ConfigDict(frozen=True)

    name: str
    versions: list[str] = []
    platform: str = ""
    inputs: list[TensorMetadata] = []
    outputs: list[TensorMetadata] = []


class _OutputTensor(pydantic.BaseModel):
    name: str
    datatype: Datatype
    shape: list[int]
    # Elements are checked by numpy's conversion to the declared datatype: a typed list would
    # double the cost of decoding a million-element tensor.
    data: list[Any]


class _InferResponse(pydantic.BaseModel):
    model_name: str
    model_version: str | None = None
    id: str | None = None
    outputs: list[_OutputTensor]


class V2Transport:
    """Runs a model served over the Open Inference Protocol v2 REST API.

    Args:
        base_url: The server's root, e.g. "http://127.0.0.1:8080".
        model: The model's name on the server.
        version: A model version to pin; None lets the server choose.
        policy: Timeouts, retries and circuit breaking.
        output_names: Outputs to ask for and return; None returns every output the server sends.
        client: An httpx client to use (and not close); by default the transport owns a pooled one.
    """

    kind = "v2"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        version: str | None = None,
        policy: CallPolicy = _DEFAULT_POLICY,
        output_names: Sequence[str] | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.model, self.version, self.policy = model, version, policy
        self.output_names = tuple(output_names) if output_names is not None else None
        self.base_url = base_url.rstrip("/")
        model_path = f"/v2/models/{quote(model, safe='')}"
        if version is not None:
            model_path += f"/versions/{quote(version, safe='')}"
        self._model_url = self.base_url + model_path
        self._timeout = httpx.Timeout(policy.timeout_s, connect=policy.connect_timeout_s)
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=self._timeout, limits=httpx.Limits(max_keepalive_connections=8))
        self._guard = CallGuard(model, self.kind, policy)

    def infer(self, inputs: Tensors) -> dict[str, npt.NDArray[np.generic]]:
        """Run the model on a batch of named tensors.

        Args:
            inputs: Input tensors by name; numeric, bool or str arrays of any shape.

        Returns:
            Output tensors by name, shaped as the server reports them.

        Raises:
            AdapterInputError: An input's dtype has no v2 datatype.
            ModelCallError: (a subclass) naming this model, "v2" and what happened.
        """
        body: dict[str, Any] = {"inputs": [self._encode(name, array) for name, array in inputs.items()]}
        if self.output_names is not None:
            body["outputs"] = [{"name": name} for name in self.output_names]
        content = pydantic_core.to_json(body)
        return self._guard.call(lambda: self._post_infer(content))

    def metadata(self) -> ModelMetadata:
        """Fetch the model's metadata: name, versions, platform, inputs and outputs.

        Raises:
            ModelCallError: (a subclass) when the server cannot be reached or answers badly.
        """
        response = self._guard.call(lambda: self._request("GET", self._model_url))
        return parse_body(self.model, self.kind, ModelMetadata, response)

    def ready(self) -> bool:
        """Whether the server says the model is ready for inference; False if it cannot be reached."""
        return self._probe(self._model_url + "/ready")

    def live(self) -> bool:
        """Whether the server says it is live; False if it cannot be reached."""
        return self._probe(self.base_url + "/v2/health/live")

    def close(self) -> None:
        """Close the HTTP client if this transport created it."""
        if self._owns_client:
            self._client.close()

    def __repr__(self) -> str:
        return f"V2Transport({self.base_url!r}, {self.model!r}, version={self.version!r})"

    def _encode(self, name: str, array: npt.NDArray[np.generic]) -> dict[str, Any]:
        array = np.asarray(array)
        if array.dtype.kind in "USO":
            datatype: Datatype = "BYTES"
            data: list[Any] = [item.decode() if isinstance(item, bytes) else str(item) for item in array.ravel()]
        elif array.dtype in _FROM_NUMPY:
            datatype = _FROM_NUMPY[array.dtype]
            data = array.ravel().tolist()
            if array.dtype.kind == "f" and not np.isfinite(array).all():
                if np.isinf(array).any():
                    raise AdapterInputError(
                        f"model {self.model!r} over v2: input {name!r} holds ±inf, which JSON cannot carry"
                    )
                # JSON has no NaN: it travels as null, which MLServer (and numpy) read back as NaN.
                data = [None if value != value else value for value in data]
        else:
            raise AdapterInputError(
                f"model {self.model!r} over v2: input {name!r} has dtype {array.dtype}, which v2 cannot carry; "
                f"use bool, (u)int8-64, float16-64 or str"
            )
        return {"name": name, "shape": list(array.shape), "datatype": datatype, "data": data}

    def _request(self, method: str, url: str, content: bytes | None = None) -> httpx.Response:
        headers = {"content-type": "application/json"} if content is not None else None
        with http_errors(self.model, self.kind, url):
            response = self._client.request(method, url, content=content, headers=headers, timeout=self._timeout)
        raise_for_status(self.model, self.kind, response)
        return response

    def _post_infer(self, content: bytes) -> dict[str, npt.NDArray[np.generic]]:
        answer = self._request("POST", self._model_url + "/infer", content)
        response = parse_body(self.model, self.kind, _InferResponse, answer)
        received = {output.name: output for output in response.outputs}
        wanted = self.output_names if self.output_names is not None else tuple(received)
        missing = [name for name in wanted if name not in received]
        if missing:
            raise ModelResponseError(
                self.model, self.kind, f"the answer lacks output(s) {missing}; it has {sorted(received)}"
            )
        return {name: self._decode(received[name]) for name in wanted}

    def _decode(self, output: _OutputTensor) -> npt.NDArray[np.generic]:
        dtype = _TO_NUMPY.get(output.datatype, np.dtype(np.str_))
        try:
            flat = np.asarray(output.data, dtype=dtype)
            return flat.reshape(output.shape)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ModelResponseError(
                self.model,
                self.kind,
                f"output {output.name!r} ({output.datatype}, shape {output.shape}) has unusable data: {exc}",
            ) from exc

    def _probe(self, url: str) -> bool:
        try:
            return self._client.get(url, timeout=self._timeout).status_code == 200
        except httpx.HTTPError:
            return False
