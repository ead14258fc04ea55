"""Open Inference Protocol v2 over HTTP: the REST API of NVIDIA Triton, KServe and Seldon MLServer.

One `infer()` is one `POST /v2/models/{name}[/versions/{v}]/infer` carrying every input tensor and a
request `id` (a uuid; an answer that echoes another id is refused). Tensors travel one of two ways:

- **JSON**: `data` flattened row-major in the JSON body. JSON has no NaN or infinity, and Triton and
  KServe refuse FP16 as JSON, so such an input is refused *before sending*, naming the input and
  the first element at fault (never a server error retried until the circuit breaker opens).
- **Binary tensor data extension** (Triton's `binary_tensor_data`, also read by KServe >= 0.14): a
  JSON header whose inputs carry `parameters.binary_data_size` instead of `data`, then each input's
  raw little-endian bytes in order; the `Inference-Header-Content-Length` header says where the JSON
  ends. Outputs are asked for as binary too (`binary_data: true`) and read back the same way. Any
  datatype, NaN and infinity included, goes through bit for bit.

`binary="auto"` (the default) uses the extension when the server says it has it: Triton lists
`binary_tensor_data` in its server metadata (`GET /v2`); KServe does not list it but reads it from
version 0.14 on, so a server named "kserve" at 0.14 or later counts too. Seldon MLServer (1.7) reads
the extension only in its gRPC API and its `mlserver infer` client, not over REST, and lists no
extension: it gets JSON. `binary=True` or `False` forces one way. When "auto" ends up with JSON
because the server gives no server metadata (`GET /v2` answers 4xx), a warning says so: JSON then
refuses NaN, ±inf and FP16, and FP64 toward Triton (which reads JSON numbers without full
precision, so a float64 may arrive one unit in the last place off) is refused too, naming the input.

What the client learns of the server it learns lazily, on the first `infer()` (or `served()`): one
best-effort pass (`discover()`) with the policy's short `connect_timeout_s` for every request, no
retries, the breaker untouched: the version the server runs, the largest batch it accepts (Triton's
model configuration `max_batch_size`, or a metadata parameter) and whether it reads binary tensors.
A pass that succeeds is kept for the transport's life; one that fails is not (the next call asks
again), and the call goes on as JSON, uncapped. `infer()` splits its rows into requests of at most
the server's `max_batch_size`, whoever built the transport.

Outputs come back reshaped by the `shape` the server reports. Calls go through a `CallGuard`
(retries, circuit breaker); the answer is validated with pydantic, so a malformed one is a
`ModelResponseError` that says what was wrong rather than a `KeyError`.
"""

from __future__ import annotations

import logging
import math
import re
import struct
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal
from urllib.parse import quote

import httpx
import numpy as np
import numpy.typing as npt
import pydantic
import pydantic_core

from adapters.errors import AdapterInputError, ModelCallError, ModelResponseError
from adapters.transports._resilience import CallGuard, http_errors, parse_body, parse_json, raise_for_status
from adapters.transports.base import CallPolicy, Tensors

__all__ = [
    "BinaryMode",
    "Datatype",
    "ModelMetadata",
    "ServedModel",
    "ServerMetadata",
    "TensorMetadata",
    "V2Transport",
]

Datatype = Literal[
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
    "BF16",
    "BYTES",
]
"""The protocol's tensor datatypes. BF16 has no numpy dtype: it can be described, not sent or read."""

BinaryMode = bool | Literal["auto"]
"""How tensors travel: True the binary tensor extension, False JSON, "auto" binary where the server has it."""

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
_log = logging.getLogger(__name__)
_HEADER_LENGTH: Final = "Inference-Header-Content-Length"
_BINARY_EXTENSION: Final = "binary_tensor_data"
_KSERVE_BINARY_SINCE: Final = (0, 14)
"""KServe reads the binary tensor extension from 0.14 (kserve/kserve#3685) without listing it in `GET /v2`."""


def _null_is_default(value: object) -> object:
    if value is None:
        raise pydantic_core.PydanticUseDefault
    return value


_NullIsDefault: Final = pydantic.BeforeValidator(_null_is_default)
"""On an optional field: JSON `null` reads as the field's default (servers write null for "none", KServe's versions)."""


class TensorMetadata(pydantic.BaseModel):
    """One input or output as the server describes it."""

    model_config = pydantic.ConfigDict(frozen=True)

    name: str
    datatype: Datatype
    shape: list[int]
    """Dimensions; -1 is a variable one (usually the batch)."""


class ModelMetadata(pydantic.BaseModel):
    """`GET /v2/models/{name}`: what the server says the model is.

    `name` is required; the optional fields may be absent or null (KServe answers `"versions": null`), and read
    as empty.
    """

    model_config = pydantic.ConfigDict(frozen=True)

    name: str
    versions: Annotated[list[str], _NullIsDefault] = []
    platform: Annotated[str, _NullIsDefault] = ""
    inputs: Annotated[list[TensorMetadata], _NullIsDefault] = []
    outputs: Annotated[list[TensorMetadata], _NullIsDefault] = []
    parameters: Annotated[dict[str, pydantic.JsonValue], _NullIsDefault] = {}


class ServerMetadata(pydantic.BaseModel):
    """`GET /v2`: the server's name, version and protocol extensions (any of them may be missing)."""

    model_config = pydantic.ConfigDict(frozen=True)

    name: Annotated[str, _NullIsDefault] = ""
    version: Annotated[str, _NullIsDefault] = ""
    extensions: Annotated[list[str], _NullIsDefault] = []

    @property
    def binary(self) -> bool:
        """Whether the server reads and writes the binary tensor data extension over REST."""
        if _BINARY_EXTENSION in self.extensions:
            return True
        if self.name.lower() == "kserve":
            numbers = re.match(r"(\d+)\.(\d+)", self.version)
            return numbers is not None and (int(numbers[1]), int(numbers[2])) >= _KSERVE_BINARY_SINCE
        return False


@dataclass(frozen=True)
class ServedModel:
    """What a server says of one of its models, as far as it could be read (None: not published or unreachable)."""

    version: str | None
    """The version the server runs: the pinned one, else the latest of the metadata's `versions`."""
    max_batch_size: int | None
    """The largest batch the server accepts (Triton's model configuration `max_batch_size`, or a metadata
    parameter `max_batch_size`); None when the server publishes no limit."""
    binary: bool | None
    """Whether calls will use the binary tensor extension; None when the server could not be asked."""
    problem: str | None = None
    """Why nothing could be read (the server unreachable, or the model unknown to it)."""
    server: str = ""
    """The server's name from `GET /v2` ("triton", "kserve", "mlserver"), "" when it gives none."""


class _OutputTensor(pydantic.BaseModel):
    name: str
    datatype: Datatype
    shape: list[int]
    # Elements are checked by numpy's conversion to the declared datatype: a typed list would
    # double the cost of decoding a million-element tensor. None: the data is in the binary part.
    data: list[Any] | None = None
    parameters: dict[str, Any] | None = None


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
        version: A model version to pin (`/v2/models/{model}/versions/{version}/...`); None lets the server choose.
        policy: Timeouts, retries and circuit breaking.
        output_names: Outputs to ask for and return; None returns every output the server sends.
        client: An httpx client to use (and not close); by default the transport owns a pooled one.
        binary: True sends and reads tensors with the binary tensor data extension, False as JSON, "auto" (the
            default) binary when the server says it supports it (asked on the first call, see `served`), else JSON.
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
        binary: BinaryMode = "auto",
    ) -> None:
        if binary not in (True, False, "auto"):
            raise AdapterInputError(f'model {model!r} over v2: binary must be true, false or "auto", not {binary!r}')
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
        self.binary_mode: BinaryMode = binary
        self._binary: bool | None = binary if isinstance(binary, bool) else None
        self._served: ServedModel | None = None
        self._learning = threading.Lock()
        self._listeners: list[Callable[[ServedModel], None]] = []
        self._discovery_error: ModelCallError | None = None
        self._failed: ServedModel | None = None

    def infer(self, inputs: Tensors) -> dict[str, npt.NDArray[np.generic]]:
        """Run the model on a batch of named tensors.

        The first call asks the server what it runs (`served`). More rows (the inputs' first dimension) than the
        server's `max_batch_size` go as several requests of at most that many rows, their outputs joined in order;
        one failing fails the call (no partial output).

        Args:
            inputs: Input tensors by name; numeric, bool or str arrays of any shape.

        Returns:
            Output tensors by name, shaped as the server reports them.

        Raises:
            AdapterInputError: An input's dtype has no v2 datatype, or (sent as JSON) it is FP16 or holds NaN or
                ±inf; nothing was sent.
            ModelCallError: (a subclass) naming this model, "v2" and what happened.
        """
        served = self.served()
        limit = served.max_batch_size
        rows = _rows(inputs)
        if limit is None or rows is None or rows <= limit:
            return self._infer_one(inputs, served)
        pieces = [
            self._infer_one({name: array[start : start + limit] for name, array in inputs.items()}, served)
            for start in range(0, rows, limit)
        ]
        return {name: np.concatenate([piece[name] for piece in pieces]) for name in pieces[0]}

    def served(self, *, again: bool = True) -> ServedModel:
        """What the server says of the model, asked once it is needed (`discover`) and kept once it answered.

        A pass that failed is not kept: the next call (`infer`) asks again. Never raises; `problem` says what failed.

        Args:
            again: Whether to ask again after a failed pass; False gives that pass's answer (a reader of the spec,
                such as `Registry.spec`, need not wait for a server that just failed to answer).
        """
        if self._served is not None:
            return self._served
        with self._learning:  # one pass at a time: threads arriving together wait for its answer
            if self._served is None:
                if not again and self._failed is not None:
                    return self._failed
                found = self.discover()
                if found.problem is not None:
                    self._failed = found
                    return found
                if self._binary is None:
                    self._binary = bool(found.binary)
                self._served = found
                for listener in self._listeners:
                    listener(found)
            return self._served

    def on_served(self, listener: Callable[[ServedModel], None]) -> None:
        """Call `listener` once with what the server says of the model, when it is first learnt (at once if it is)."""
        self._listeners.append(listener)
        if self._served is not None:
            listener(self._served)

    def uses_binary(self) -> bool:
        """Whether tensors travel with the binary extension; in "auto" mode the server is asked (see `served`).

        Raises:
            ModelCallError: (a subclass) "auto", and the server could not be asked: the error of the request that
                failed (e.g. `ModelResponseError` for a model the server does not have).
        """
        if self._binary is None:
            self.served()
            if self._binary is None and self._discovery_error is not None:
                raise self._discovery_error
        return bool(self._binary)

    def metadata(self) -> ModelMetadata:
        """Fetch the model's metadata: name, versions, platform, inputs and outputs.

        Raises:
            ModelCallError: (a subclass) when the server cannot be reached or answers badly.
        """
        response = self._guard.call(lambda: self._request("GET", self._model_url))
        return parse_body(self.model, self.kind, ModelMetadata, response)

    def discover(self) -> ServedModel:
        """Ask the server, in one pass, what `served` keeps: the model's version, its batch limit, the server.

        Each request (model metadata, Triton's model configuration, `GET /v2`) is sent once, with the policy's
        `connect_timeout_s` as its whole timeout, outside the retries and the circuit breaker. The batch limit is
        Triton's configuration `max_batch_size` (0 there: no batch dimension, no limit), else a `max_batch_size`
        among the metadata's `parameters`, else None.

        Never raises: a server that cannot be reached, or does not know the model, gives a `ServedModel` of
        Nones and the reason in `problem`.
        """
        short = httpx.Timeout(self.policy.connect_timeout_s)
        try:
            metadata = parse_body(self.model, self.kind, ModelMetadata, self._request("GET", self._model_url, short))
            limit = _positive_int(metadata.parameters.get("max_batch_size"))
            config = self._model_config(short)
            if config is not None and "max_batch_size" in config:
                limit = _positive_int(config["max_batch_size"])
            server = self._server_metadata(short)
        except ModelCallError as exc:
            self._discovery_error = exc
            return ServedModel(version=self.version, max_batch_size=None, binary=self._binary, problem=exc.detail)
        binary = self._binary if self._binary is not None else server is not None and server.binary
        if server is None and self.binary_mode == "auto":
            _log.warning(
                "model %r over v2: %s gives no server metadata (GET /v2), so tensors go as JSON: NaN, ±inf and FP16 "
                "are refused before sending, and float64 may lose precision on a server that reads JSON numbers "
                "short (Triton); set binary = true in adapters.toml if the server reads the binary tensor extension",
                self.model,
                self.base_url,
            )
        return ServedModel(
            version=self.version or _latest(metadata.versions),
            max_batch_size=limit,
            binary=binary,
            server=server.name.lower() if server is not None else "",
        )

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
        return f"V2Transport({self.base_url!r}, {self.model!r}, version={self.version!r}, binary={self.binary_mode!r})"

    # Requests.

    def _infer_one(self, inputs: Tensors, served: ServedModel) -> dict[str, npt.NDArray[np.generic]]:
        request_id = uuid.uuid4().hex
        if self._binary:
            content, headers = self._binary_request(inputs, request_id)
        else:
            try:
                content = self._json_request(inputs, request_id, served.server)
            except AdapterInputError as refused:
                if served.problem is None:
                    raise
                raise AdapterInputError(
                    f"{refused} (the server could not be asked whether it reads binary tensors: {served.problem})"
                ) from None
            headers = {"content-type": "application/json"}
        # Triton gzips an answer whose request accepts it (httpx's default Accept-Encoding): time spent for nothing
        # on the loopback or a LAN.
        headers["accept-encoding"] = "identity"
        return self._guard.call(lambda: self._post_infer(content, headers, request_id))

    def _server_metadata(self, timeout: httpx.Timeout) -> ServerMetadata | None:
        try:
            response = self._request("GET", self.base_url + "/v2", timeout)
        except ModelResponseError:
            return None  # no server metadata (4xx): assume the core protocol only
        return parse_body(self.model, self.kind, ServerMetadata, response)

    def _model_config(self, timeout: httpx.Timeout) -> dict[str, Any] | None:
        try:
            response = self._request("GET", self._model_url + "/config", timeout)
        except ModelResponseError:
            return None  # 4xx or 501: this server publishes no model configuration
        try:
            config = pydantic_core.from_json(response.content)
        except ValueError:
            return None
        return config if isinstance(config, dict) else None

    def _outputs_wanted(self, body: dict[str, Any], binary: bool) -> None:
        if binary:
            # Every output as binary: per output where named (Triton and KServe read `binary_data` there), and
            # for the whole answer, which covers outputs not named.
            body["parameters"] = {"binary_data_output": True}
        if self.output_names is not None:
            body["outputs"] = [
                {"name": name, "parameters": {"binary_data": True}} if binary else {"name": name}
                for name in self.output_names
            ]

    def _json_request(self, inputs: Tensors, request_id: str, server: str = "") -> bytes:
        encoded = [self._encode(name, array, server) for name, array in inputs.items()]
        body: dict[str, Any] = {"id": request_id, "inputs": encoded}
        self._outputs_wanted(body, binary=False)
        return pydantic_core.to_json(body)

    def _binary_request(self, inputs: Tensors, request_id: str) -> tuple[bytes, dict[str, str]]:
        described, raw = [], []
        for name, array in inputs.items():
            tensor, data = self._encode_binary(name, array)
            described.append(tensor)
            raw.append(data)
        body: dict[str, Any] = {"id": request_id, "inputs": described}
        self._outputs_wanted(body, binary=True)
        header = pydantic_core.to_json(body)
        headers = {_HEADER_LENGTH: str(len(header)), "content-type": "application/octet-stream"}
        return b"".join([header, *raw]), headers

    def _encode(self, name: str, array: npt.NDArray[np.generic], server: str = "") -> dict[str, Any]:
        array = np.asarray(array)
        if array.dtype.kind in "USO":
            datatype: Datatype = "BYTES"
            data: list[Any] = [item.decode() if isinstance(item, bytes) else str(item) for item in array.ravel()]
        elif array.dtype in _FROM_NUMPY:
            datatype = _FROM_NUMPY[array.dtype]
            if datatype == "FP16":
                raise AdapterInputError(
                    f"model {self.model!r} over v2: input {name!r} is FP16, which v2 servers do not take as JSON "
                    f"(Triton and KServe refuse it); send it with the binary tensor extension (binary = true in "
                    f"adapters.toml, for a server that has it) or as float32"
                )
            if datatype == "FP64" and server == "triton":
                raise AdapterInputError(
                    f"model {self.model!r} over v2: input {name!r} is FP64, which Triton reads from JSON without full "
                    f"precision (a value may arrive one unit in the last place off); send it with the binary tensor "
                    f'extension (binary = true or "auto" in adapters.toml) or as float32'
                )
            if array.dtype.kind == "f" and not np.isfinite(array).all():
                raise AdapterInputError(f"model {self.model!r} over v2: {_non_finite(name, array)}")
            data = array.ravel().tolist()
        else:
            raise self._unsendable(name, array)
        return {"name": name, "shape": list(array.shape), "datatype": datatype, "data": data}

    def _encode_binary(self, name: str, array: npt.NDArray[np.generic]) -> tuple[dict[str, Any], bytes]:
        array = np.asarray(array)
        if array.dtype.kind in "USO":
            datatype: Datatype = "BYTES"
            items = [item if isinstance(item, bytes) else str(item).encode() for item in array.ravel()]
            data = b"".join(struct.pack("<I", len(item)) + item for item in items)
        elif array.dtype in _FROM_NUMPY:
            datatype = _FROM_NUMPY[array.dtype]
            data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
        else:
            raise self._unsendable(name, array)
        tensor = {
            "name": name,
            "shape": list(array.shape),
            "datatype": datatype,
            "parameters": {"binary_data_size": len(data)},
        }
        return tensor, data

    def _unsendable(self, name: str, array: npt.NDArray[np.generic]) -> AdapterInputError:
        return AdapterInputError(
            f"model {self.model!r} over v2: input {name!r} has dtype {array.dtype}, which v2 cannot carry; "
            f"use bool, (u)int8-64, float16-64 or str"
        )

    def _request(
        self,
        method: str,
        url: str,
        timeout: httpx.Timeout | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        with http_errors(self.model, self.kind, url):
            response = self._client.request(
                method, url, content=content, headers=headers, timeout=timeout or self._timeout
            )
        raise_for_status(self.model, self.kind, response)
        return response

    # Answers.

    def _post_infer(
        self, content: bytes, headers: dict[str, str], request_id: str
    ) -> dict[str, npt.NDArray[np.generic]]:
        url = self._model_url + "/infer"
        answer = self._request("POST", url, None, content, headers)
        body = answer.content
        length = answer.headers.get(_HEADER_LENGTH)
        if length is None:
            header, tail = body, memoryview(b"")
        else:
            if not length.isdigit() or int(length) > len(body):
                raise ModelResponseError(
                    self.model, self.kind, f"{_HEADER_LENGTH} {length!r} does not fit an answer of {len(body)} bytes"
                )
            header, tail = body[: int(length)], memoryview(body)[int(length) :]
        response = parse_json(self.model, self.kind, _InferResponse, header, url)
        if response.id is not None and response.id != request_id:
            raise ModelResponseError(
                self.model, self.kind, f"the answer's id {response.id!r} is not the request's {request_id!r}"
            )
        received = {output.name: output for output in response.outputs}
        decoded, offset = {}, 0
        for output in response.outputs:  # binary parts follow the JSON in the order of the outputs
            decoded[output.name], offset = self._decode(output, tail, offset)
        if offset != len(tail):
            raise ModelResponseError(
                self.model, self.kind, f"the answer has {len(tail) - offset} bytes after its outputs' binary data"
            )
        wanted = self.output_names if self.output_names is not None else tuple(received)
        missing = [name for name in wanted if name not in received]
        if missing:
            raise ModelResponseError(
                self.model, self.kind, f"the answer lacks output(s) {missing}; it has {sorted(received)}"
            )
        return {name: decoded[name] for name in wanted}

    def _decode(self, output: _OutputTensor, tail: memoryview, offset: int) -> tuple[npt.NDArray[np.generic], int]:
        where = f"output {output.name!r} ({output.datatype}, shape {output.shape})"
        if output.datatype == "BF16":
            raise ModelResponseError(self.model, self.kind, f"{where}: BF16 has no numpy dtype to read it into")
        size = (output.parameters or {}).get("binary_data_size")
        try:
            if size is not None:
                if not isinstance(size, int) or size < 0 or offset + size > len(tail):
                    raise ValueError(f"binary_data_size {size!r} but {len(tail) - offset} bytes are left")
                return self._from_bytes(output, tail[offset : offset + size]), offset + size
            if output.data is None:
                raise ValueError("neither `data` nor `parameters.binary_data_size`")
            dtype = _TO_NUMPY.get(output.datatype, np.dtype(np.str_))
            return np.asarray(output.data, dtype=dtype).reshape(output.shape), offset
        except (TypeError, ValueError, OverflowError, struct.error) as exc:
            raise ModelResponseError(self.model, self.kind, f"{where} has unusable data: {exc}") from exc

    @staticmethod
    def _from_bytes(output: _OutputTensor, raw: memoryview) -> npt.NDArray[np.generic]:
        """The tensor in `raw` (a slice of the answer's body) in an array of its own, copied once.

        Native byte order, writable, and no view of the body (which it would keep alive).
        """
        count = math.prod(output.shape)
        if output.datatype == "BYTES":
            items, at = [], 0
            while at < len(raw):
                (length,) = struct.unpack_from("<I", raw, at)
                items.append(str(raw[at + 4 : at + 4 + length], "utf-8"))
                at += 4 + length
            if at != len(raw) or len(items) != count:
                raise ValueError(f"{len(items)} strings in {len(raw)} bytes for {count} elements")
            return np.asarray(items, dtype=np.str_).reshape(output.shape)
        dtype = _TO_NUMPY[output.datatype]
        if len(raw) != count * dtype.itemsize:
            raise ValueError(f"{len(raw)} bytes for {count} elements of {dtype.itemsize} bytes")
        # A view of the little-endian bytes (no copy), then the one copy, into the native byte order.
        return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).reshape(output.shape).astype(dtype)

    def _probe(self, url: str) -> bool:
        try:
            return self._client.get(url, timeout=self._timeout).status_code == 200
        except httpx.HTTPError:
            return False


def _non_finite(name: str, array: npt.NDArray[np.generic]) -> str:
    """Which element of a float input JSON cannot carry, named by input, row and column."""
    at = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
    value = array[at]
    place = f"row {at[0]}, column {at[1]}" if len(at) == 2 else f"element {list(at)}" if at else "its only element"
    return (
        f"input {name!r} holds {value} at {place}, and JSON cannot carry NaN or ±inf; send it with the binary "
        f"tensor extension (binary = true in adapters.toml, for a server that has it) or replace it"
    )


def _rows(inputs: Tensors) -> int | None:
    """The inputs' common first dimension (their rows), None if they have none or disagree."""
    firsts = {np.shape(array)[0] if np.ndim(array) else None for array in inputs.values()}
    return firsts.pop() if len(firsts) == 1 else None


def _latest(versions: Sequence[str]) -> str | None:
    """The version a server runs when none is pinned: the highest number (Triton's default policy), else the last."""
    if not versions:
        return None
    numbered = [v for v in versions if v.isdigit()]
    return max(numbered, key=int) if numbered else versions[-1]


def _positive_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    return value if isinstance(value, int) and value > 0 else None
