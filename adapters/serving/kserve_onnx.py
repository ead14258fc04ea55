"""KServe's Python model server serving one ONNX file with onnxruntime (a custom `kserve.Model`), plus echo models.

Run inside `.venv-kserve` (made by `bash tests/e2e/install_kserve.sh`) with the repository root on PYTHONPATH;
`adapters.serving.launch` does both:

```
python -m adapters.serving.kserve_onnx --onnx adapters/models/welding.onnx --http_port 8080 \
    --model_name welding --model_version 1 --echo
```

The model keeps the ONNX graph's input and output names and shapes, and its metadata lists them. `--model_version`
is the `model_version` its answers carry; KServe itself serves no version paths (it answers 501 "Model
versioning not supported yet" to `/v2/models/NAME/versions/V/...`) and reports `"versions": null`. Answers
echo the request's `id`, as a KServe model that ties answers to requests does (KServe requires an id in
every answer). `--echo` also serves `echo_fp32`, `echo_fp64`, `echo_int64`, `echo_bool`, `echo_bytes` and
`echo_fp16`: each returns its input `x` as output `y`. `--threads N` (default: every core) is how many cores the model
uses: onnxruntime's session runs single-threaded and each batch is cut into up to N row slices run at once, as
Shipbrain's in-process transport does (`adapters.serving._sliced`), so answers equal in-process ones to the bit; it
runs off the event loop, which meanwhile reads the next request. Binary tensor extension inputs stay binary
(`BinaryInputsDataPlane`): KServe 0.21's own REST decoding turns each one into a Python list and back, which costs
more than the model (1.5 s of a 262,144-row batch of 10 FP32 features on this machine's core, where onnxruntime
takes ~0.5 s). The server listens on 127.0.0.1 only
(KServe's REST server binds 0.0.0.0 unless told otherwise: `_loopback_only`) and without gRPC. The flags are
spelt as KServe's own (`--http_port`, `--model_name`), which its module also reads from the command line.

This module runs only inside that environment; nothing in Shipbrain imports it.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

import kserve
import numpy as np
import orjson
import uvicorn
from kserve.constants.constants import INFERENCE_CONTENT_LENGTH_HEADER
from kserve.errors import InvalidInput
from kserve.protocol.dataplane import DataPlane
from kserve.protocol.infer_type import InferInput, InferOutput, InferRequest, InferResponse, RequestedOutput
from kserve.utils.numpy_codec import from_np_dtype

from adapters.serving._onnx_v2 import V2Tensor, v2_metadata
from adapters.serving._sliced import SlicedSession, default_threads

__all__ = ["ECHO_DATATYPES", "BinaryInputsDataPlane", "EchoModel", "OnnxModel", "main"]

ECHO_DATATYPES = ("FP32", "FP64", "INT64", "BOOL", "BYTES", "FP16")
"""The echo models' datatypes: `echo_fp32` answers FP32, and so on."""


def _array(tensor: InferInput) -> np.ndarray:
    try:
        return np.asarray(tensor.as_numpy())
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"input {tensor.name!r} cannot be decoded: {exc}") from exc


class OnnxModel(kserve.Model):  # type: ignore[misc]  # kserve is untyped outside its own venv
    """Serves an ONNX file; answers carry `version` as their `model_version`."""

    def __init__(self, name: str, onnx_path: Path, version: str | None, threads: int | None = None) -> None:
        super().__init__(name)
        self.onnx_path, self.version, self.threads = onnx_path, version, threads or default_threads()
        self.load()

    def load(self) -> bool:
        """Open the ONNX file: a single-threaded session run on up to `threads` row slices at once."""
        self._session = SlicedSession(self.onnx_path, self.threads)
        print(f"onnx model: {self.threads} thread(s), row slices on a single-threaded session", flush=True)
        self._input_names = [node.name for node in self._session.get_inputs()]
        self._output_names = [node.name for node in self._session.get_outputs()]
        self.ready = True
        return True

    def get_input_types(self) -> list[V2Tensor]:
        """The graph's inputs, for the metadata endpoint."""
        return [v2_metadata(node) for node in self._session.get_inputs()]

    def get_output_types(self) -> list[V2Tensor]:
        """The graph's outputs, for the metadata endpoint."""
        return [v2_metadata(node) for node in self._session.get_outputs()]

    async def predict(self, payload: InferRequest, headers: dict[str, str] | None = None) -> InferResponse:
        """Run the graph on the request's tensors; every output, or those the request names."""
        feeds = {tensor.name: _array(tensor) for tensor in payload.inputs}
        unknown = sorted(set(feeds) - set(self._input_names))
        missing = sorted(set(self._input_names) - set(feeds))
        if unknown or missing:
            raise InvalidInput(f"inputs {sorted(feeds)} do not fit the model's {self._input_names}")
        wanted = [output.name for output in payload.request_outputs] if payload.request_outputs else None
        names = wanted or self._output_names
        try:
            # Off the event loop: onnxruntime releases the GIL, and the loop reads the next request meanwhile.
            results = await asyncio.to_thread(self._session.run, names, feeds)
        except Exception as exc:  # onnxruntime's own untyped errors: the request does not fit the graph
            raise InvalidInput(f"the request does not fit the model: {exc}") from exc
        outputs = [_output(name, np.asarray(value), payload) for name, value in zip(names, results, strict=True)]
        return _response(payload, self.name, outputs, self.version)


class EchoModel(kserve.Model):  # type: ignore[misc]  # kserve is untyped outside its own venv
    """Returns its input `x` as output `y`, same datatype and shape."""

    def __init__(self, name: str, datatype: str) -> None:
        super().__init__(name)
        self.datatype = datatype
        self.ready = True

    def get_input_types(self) -> list[dict[str, Any]]:
        """One input `x` of this model's datatype."""
        return [{"name": "x", "datatype": self.datatype, "shape": [-1, -1]}]

    def get_output_types(self) -> list[dict[str, Any]]:
        """One output `y` of this model's datatype."""
        return [{"name": "y", "datatype": self.datatype, "shape": [-1, -1]}]

    async def predict(self, payload: InferRequest, headers: dict[str, str] | None = None) -> InferResponse:
        """Answer `x` as `y`."""
        tensor = next((tensor for tensor in payload.inputs if tensor.name == "x"), None)
        if tensor is None or tensor.datatype != self.datatype:
            raise InvalidInput(f"{self.name} takes one input 'x' of {self.datatype}")
        return _response(payload, self.name, [_output("y", _array(tensor), payload)])


def _output(name: str, array: np.ndarray, payload: InferRequest) -> InferOutput:
    # JSON unless the request asked for the binary tensor extension (KServe reads that from the request).
    output = InferOutput(name=name, shape=list(array.shape), datatype=from_np_dtype(array.dtype))
    output.set_data_from_numpy(array, binary_data=payload.use_binary_outputs)
    return output


def _response(
    payload: InferRequest, name: str, outputs: list[InferOutput], version: str | None = None
) -> InferResponse:
    # The request's id, as is: KServe's answer model requires one, so a request without an id fails here
    # (KServe's own `get_predict_response` makes one up instead; a model that ties answers to requests does not).
    return InferResponse(
        response_id=payload.id,
        model_name=name,
        model_version=version,
        infer_outputs=outputs,
        use_binary_outputs=payload.use_binary_outputs,
        requested_outputs=payload.request_outputs,
    )


class BinaryInputsDataPlane(DataPlane):  # type: ignore[misc]  # kserve is untyped outside its own venv
    """KServe's data plane, except that a binary tensor extension request's inputs stay binary.

    KServe's `InferRequest.from_bytes` reads each binary input and then converts it to a list of Python numbers
    (`set_data_from_numpy(..., binary_data=False)`), which `as_numpy()` turns back into an array. Here the bytes are
    kept as the input's raw data, as KServe's gRPC path keeps them, and `as_numpy()` reads them with
    `np.frombuffer`; everything else (JSON requests, errors, the answer) is KServe's own.
    """

    def decode_inference_request(self, body: Any, headers: dict[str, str], model_name: str) -> InferRequest:
        """The request a binary body holds, its binary inputs as raw bytes; any other body as KServe decodes it."""
        json_length = headers.get(INFERENCE_CONTENT_LENGTH_HEADER)
        if not isinstance(body, bytes) or json_length is None:
            return super().decode_inference_request(body, headers, model_name)
        try:
            length = int(json_length)
            header = orjson.loads(body[:length])
            inputs, start = [], length
            for tensor in header["inputs"]:
                infer_input = InferInput(tensor["name"], tensor["shape"], tensor["datatype"], tensor.get("parameters"))
                size = (tensor.get("parameters") or {}).get("binary_data_size")
                if "data" in tensor:
                    if infer_input.datatype == "FP16":  # as KServe's own decoding: FP16 only as binary
                        raise InvalidInput(f"input {infer_input.name!r}: FP16 data only through the binary extension")
                    infer_input.data = tensor["data"]
                elif isinstance(size, int) and 0 <= size <= len(body) - start:
                    infer_input._raw_data, start = body[start : start + size], start + size
                else:
                    raise InvalidInput(f"input {infer_input.name!r}: no `data` and no `binary_data_size` that fits")
                inputs.append(infer_input)
            outputs = [RequestedOutput(out["name"], out.get("parameters")) for out in header.get("outputs") or []]
        except InvalidInput:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:  # orjson's errors are ValueErrors
            raise InvalidInput(f"Unrecognized request format: {exc!r}") from exc
        return InferRequest(
            model_name=model_name,
            infer_inputs=inputs,
            request_id=header.get("id"),
            parameters=header.get("parameters"),
            request_outputs=outputs or None,
        )


def main(argv: list[str] | None = None) -> None:
    """Serve the models until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onnx", type=Path, required=True, help="the ONNX file to serve")
    parser.add_argument("--model_name", default="welding", help="its name on the server")
    parser.add_argument("--model_version", default=None, help="the model_version its answers carry")
    parser.add_argument("--echo", action="store_true", help="also serve the echo_* models")
    parser.add_argument("--http_port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=None, help="cores the model uses (default: every core)")
    args = parser.parse_args(argv)

    models: list[kserve.Model] = [OnnxModel(args.model_name, args.onnx, args.model_version, args.threads)]
    if args.echo:
        models += [EchoModel(f"echo_{datatype.lower()}", datatype) for datatype in ECHO_DATATYPES]
    _loopback_only()
    server = kserve.ModelServer(http_port=args.http_port, workers=1, enable_grpc=False, grace_period=5)
    server.dataplane = BinaryInputsDataPlane(model_registry=server.registered_models)
    server.start(models)


def _loopback_only() -> None:
    """Make KServe's REST server listen on 127.0.0.1: it passes host "0.0.0.0" to `uvicorn.Config` itself."""

    class LoopbackConfig(uvicorn.Config):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["host"] = "127.0.0.1"
            super().__init__(*args, **kwargs)

    uvicorn.Config = LoopbackConfig  # type: ignore[misc]  # the module's class is replaced on purpose


if __name__ == "__main__":
    main()
