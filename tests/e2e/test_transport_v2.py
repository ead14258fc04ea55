"""V2Transport against a real Seldon MLServer on 127.0.0.1 serving the welding model.

Faults come from a real proxy in front of MLServer (`tests/e2e/servers.py`) or from a port with
nothing listening; MLServer itself is never patched. Needs `.venv-mlserver`: run
`bash tests/e2e/install_mlserver.sh` once.
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import onnxruntime as ort
import pytest

from adapters.errors import (
    AdapterInputError,
    CircuitOpenError,
    ModelResponseError,
    ModelTimeoutError,
    ModelUnavailableError,
)
from adapters.transports import CallPolicy, Transport
from adapters.transports.v2 import BinaryMode, TensorMetadata, V2Transport
from tests.e2e.servers import ECHO_MODELS, FAST, WELDING_FEATURES, FaultProxy, MLServer, RunningServer, free_port

# The fixtures (mlserver, fault_proxy, welding_onnx) live in servers.py; importing them by name
# would trip ruff's F811 on every test that takes one.
pytest_plugins = ["tests.e2e.servers"]


class RequestCounter:
    """Counts the inference requests an httpx client sends, including those whose connection is refused; lists
    every request's URL (the transport's questions about the server too)."""

    def __init__(self) -> None:
        self.count = 0
        self.urls: list[str] = []

    def __call__(self, request: httpx.Request) -> None:
        self.count += request.method == "POST" and request.url.path.endswith("/infer")
        self.urls.append(str(request.url))


@pytest.fixture
def counted() -> Iterator[tuple[httpx.Client, RequestCounter]]:
    counter = RequestCounter()
    with httpx.Client(event_hooks={"request": [counter]}) as client:
        yield client, counter


def features(rows: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 30.0, size=(rows, WELDING_FEATURES)).astype(np.float32)


def test_is_a_transport(mlserver: MLServer) -> None:
    transport = V2Transport(mlserver.url, mlserver.model)
    try:
        assert isinstance(transport, Transport)
        assert transport.kind == "v2"
    finally:
        transport.close()


def test_metadata_and_health(mlserver: MLServer) -> None:
    with_closing = V2Transport(mlserver.url, mlserver.model, policy=FAST)
    try:
        assert with_closing.live()
        assert with_closing.ready()
        metadata = with_closing.metadata()
    finally:
        with_closing.close()
    assert metadata.name == "welding"
    assert metadata.platform == "onnxruntime"
    assert metadata.inputs == [TensorMetadata(name="features", datatype="FP32", shape=[-1, WELDING_FEATURES])]
    assert metadata.outputs == [
        TensorMetadata(name="hours", datatype="FP32", shape=[-1]),
        TensorMetadata(name="defect_probability", datatype="FP32", shape=[-1]),
    ]


@pytest.mark.parametrize("rows", [1, 100_000])
def test_infer_matches_onnxruntime_row_for_row(mlserver: MLServer, welding_onnx: Path, rows: int) -> None:
    batch = features(rows)
    local = ort.InferenceSession(str(welding_onnx), providers=["CPUExecutionProvider"])
    expected_hours, expected_probability = local.run(["hours", "defect_probability"], {"features": batch})
    transport = V2Transport(mlserver.url, mlserver.model, policy=FAST)
    try:
        outputs = transport.infer({"features": batch})
    finally:
        transport.close()
    assert set(outputs) == {"hours", "defect_probability"}
    assert outputs["hours"].shape == (rows,) and outputs["hours"].dtype == np.float32
    # Same graph on both sides; tree ensembles sum their trees in a thread-dependent order, so float32
    # results may differ in the last bits (2e-6 relative seen here), no more.
    np.testing.assert_allclose(outputs["hours"], expected_hours, rtol=1e-5)
    np.testing.assert_allclose(outputs["defect_probability"], expected_probability, rtol=1e-5, atol=1e-7)
    assert np.ptp(outputs["hours"]) > 0 if rows > 1 else True  # a real model: answers vary with the joint


def test_output_names_selects_outputs(mlserver: MLServer) -> None:
    transport = V2Transport(mlserver.url, mlserver.model, policy=FAST, output_names=["hours"])
    try:
        outputs = transport.infer({"features": features(3)})
    finally:
        transport.close()
    assert list(outputs) == ["hours"]


def test_unknown_model_is_a_clear_terminal_error(
    mlserver: MLServer, counted: tuple[httpx.Client, RequestCounter]
) -> None:
    client, counter = counted
    transport = V2Transport(mlserver.url, "no-such-model", policy=FAST, client=client)
    assert not transport.ready()
    with pytest.raises(ModelResponseError) as caught:
        transport.infer({"features": features(2)})
    assert caught.value.model == "no-such-model" and caught.value.transport == "v2"
    assert "HTTP 404" in caught.value.detail and "not found" in caught.value.detail
    assert counter.count == 1


@pytest.mark.parametrize(
    ("tensors", "reason"),
    [
        ({"feature": np.zeros((2, WELDING_FEATURES), np.float32)}, "unknown input 'feature'"),
        ({"features": np.zeros((2, WELDING_FEATURES - 1), np.float32)}, "does not fit the model"),
        ({"features": np.zeros((2, WELDING_FEATURES), np.float64)}, "does not fit the model"),
    ],
    ids=["wrong-name", "wrong-shape", "wrong-datatype"],
)
def test_bad_request_is_not_retried(
    mlserver: MLServer, counted: tuple[httpx.Client, RequestCounter], tensors: dict[str, np.ndarray], reason: str
) -> None:
    client, counter = counted
    transport = V2Transport(mlserver.url, mlserver.model, policy=FAST, client=client, binary=False)
    with pytest.raises(ModelResponseError) as caught:
        transport.infer(tensors)
    assert "HTTP 400" in caught.value.detail and reason in caught.value.detail
    assert counter.count == 1
    # The server answered: a caller's mistake must not push the breaker towards open.
    for _ in range(FAST.breaker_failures):
        with pytest.raises(ModelResponseError):
            transport.infer(tensors)
    assert transport.infer({"features": features(1)})["hours"].shape == (1,)


def test_down_server_retries_then_opens_the_circuit(counted: tuple[httpx.Client, RequestCounter]) -> None:
    client, counter = counted
    transport = V2Transport(f"http://127.0.0.1:{free_port()}", "welding", policy=FAST, client=client)
    for call in range(1, FAST.breaker_failures + 1):
        with pytest.raises(ModelUnavailableError) as caught:
            transport.infer({"features": features(1)})
        assert counter.count == call * FAST.max_attempts
        assert caught.value.model == "welding" and caught.value.transport == "v2"
        assert "ConnectError" in caught.value.detail and f"after {FAST.max_attempts} attempts" in caught.value.detail
    started = time.monotonic()
    with pytest.raises(CircuitOpenError) as opened:
        transport.infer({"features": features(1)})
    assert time.monotonic() - started < 0.5
    assert counter.count == FAST.breaker_failures * FAST.max_attempts  # refused without a request
    assert "circuit open until" in opened.value.detail and "ConnectError" in opened.value.detail
    assert not transport.ready() and not transport.live()


def learnt(transport: V2Transport, proxy: FaultProxy) -> None:
    """Let `transport` learn what the server runs (before a fault is injected), and count the proxy's hits afresh."""
    assert transport.served().problem is None
    proxy.hits = 0


def test_slow_server_times_out(fault_proxy: FaultProxy) -> None:
    fault_proxy.delay_s = 5.0
    policy = CallPolicy(timeout_s=0.3, connect_timeout_s=1.0, max_attempts=2, backoff_initial_s=0.01)
    transport = V2Transport(fault_proxy.url, "welding", policy=policy, binary=False)
    try:
        with pytest.raises(ModelTimeoutError) as caught:
            transport.infer({"features": features(1)})
    finally:
        transport.close()
    assert "no answer" in caught.value.detail and caught.value.transport == "v2"
    # One question about the server (no answer within connect_timeout_s: not retried), then the two attempts.
    assert fault_proxy.hits == 1 + 2


@dataclass
class Proxied:
    """A `FaultProxy` in front of a real server, and the way tensors travel to that server."""

    proxy: FaultProxy
    server: RunningServer
    binary: bool
    """MLServer gets JSON, Triton the binary tensor extension (the proxy passes its header on, both ways)."""

    def transport(self) -> V2Transport:
        """A transport through the proxy ("auto": it learns through the proxy what the server reads), hits reset."""
        transport = V2Transport(self.proxy.url, self.server.model, policy=FAST)
        learnt(transport, self.proxy)
        assert transport.uses_binary() is self.binary
        return transport

    def direct(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """What the server answers without the proxy."""
        transport = V2Transport(self.server.url, self.server.model, policy=FAST, binary=self.binary)
        try:
            return transport.infer(inputs)
        finally:
            transport.close()


@pytest.fixture(params=[("mlserver", False), ("triton", True)], ids=["mlserver-json", "triton-binary"])
def proxied(request: pytest.FixtureRequest) -> Iterator[Proxied]:
    kind, binary = request.param
    server: RunningServer = request.getfixturevalue(kind)
    proxy = FaultProxy(server.url)
    try:
        yield Proxied(proxy, server, binary)
    finally:
        proxy.stop()


def test_500_twice_then_ok_succeeds_after_retries(proxied: Proxied) -> None:
    transport = proxied.transport()
    proxied.proxy.fail_next(2, status=500)
    inputs = {"features": features(4)}
    try:
        outputs = transport.infer(inputs)
    finally:
        transport.close()
    assert proxied.proxy.hits == 3
    expected = proxied.direct(inputs)
    assert outputs.keys() == expected.keys() and outputs["hours"].size == 4
    assert all(outputs[name].tobytes() == expected[name].tobytes() for name in expected)


def test_500_always_names_model_transport_and_status(proxied: Proxied) -> None:
    transport = proxied.transport()
    proxied.proxy.fail_always(status=500)
    try:
        with pytest.raises(ModelUnavailableError) as caught:
            transport.infer({"features": features(1)})
    finally:
        transport.close()
    error = caught.value
    assert (error.model, error.transport) == ("welding", "v2")
    assert "HTTP 500" in error.detail and "injected fault" in error.detail
    assert str(error).startswith("model 'welding' over v2: ")
    assert proxied.proxy.hits == FAST.max_attempts


def test_malformed_answer_is_a_response_error(proxied: Proxied) -> None:
    transport = proxied.transport()
    proxied.proxy.fail_next(1, status=200)  # the proxy's 200 carries {"error": ...}, not outputs
    try:
        with pytest.raises(ModelResponseError) as caught:
            transport.infer({"features": features(1)})
    finally:
        transport.close()
    assert "malformed answer" in caught.value.detail and "model_name" in caught.value.detail
    assert proxied.proxy.hits == 1


# Wire format, without a server: httpx's MockTransport answers, so every datatype can be checked. The echo speaks
# both ways: JSON, and the binary tensor data extension (its binary parts are sent back as they came).


def echo_server(sent: list[dict[str, Any]], extensions: list[str]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2":
            return httpx.Response(200, json={"name": "echo", "version": "1", "extensions": extensions})
        if request.method == "GET":  # the model's metadata; it publishes no configuration
            found = not request.url.path.endswith("/config")
            return httpx.Response(200, json={"name": "echo"}) if found else httpx.Response(404, json={"error": "?"})
        length = request.headers.get("inference-header-content-length")
        header = json.loads(request.content[: int(length)] if length else request.content)
        sent.append(header)
        tail = request.content[int(length) :] if length else b""
        outputs, parts = [], []
        for tensor in header["inputs"]:
            output = {key: tensor[key] for key in ("name", "datatype", "shape")}
            if "data" in tensor:
                output["data"] = tensor["data"]
            else:
                size = tensor["parameters"]["binary_data_size"]
                parts.append(tail[:size])
                tail = tail[size:]
                output["parameters"] = {"binary_data_size": size}
            outputs.append(output)
        body = json.dumps({"model_name": "echo", "id": header.get("id"), "outputs": outputs}).encode()
        headers = {"inference-header-content-length": str(len(body))} if parts else {}
        return httpx.Response(200, content=body + b"".join(parts), headers=headers)

    return httpx.MockTransport(handle)


def mock_v2(binary: BinaryMode = False, extensions: tuple[str, ...] = ()) -> tuple[V2Transport, list[dict[str, Any]]]:
    sent: list[dict[str, Any]] = []
    client = httpx.Client(transport=echo_server(sent, list(extensions)))
    return V2Transport("http://v2.test", "echo", policy=FAST, client=client, binary=binary), sent


DATATYPES = [
    (np.array([[True, False]]), "BOOL"),
    *[
        (np.arange(6, dtype=dtype).reshape(2, 3), name)
        for dtype, name in [
            (np.uint8, "UINT8"),
            (np.uint16, "UINT16"),
            (np.uint32, "UINT32"),
            (np.uint64, "UINT64"),
            (np.int8, "INT8"),
            (np.int16, "INT16"),
            (np.int32, "INT32"),
            (np.int64, "INT64"),
            (np.float32, "FP32"),
            (np.float64, "FP64"),
        ]
    ],
    (np.array([["weld", "grind"], ["fit", "paint"]]), "BYTES"),
]
ONLY_BINARY = [
    (np.arange(6, dtype=np.float16).reshape(2, 3), "FP16"),
    (np.array([np.nan, 1.5], dtype=np.float32), "FP32"),
    (np.array([[np.inf, -np.inf]], dtype=np.float64), "FP64"),
]


@pytest.mark.parametrize(
    ("array", "datatype", "binary"),
    [(array, datatype, False) for array, datatype in DATATYPES]
    + [(array, datatype, True) for array, datatype in DATATYPES + ONLY_BINARY],
    ids=lambda value: ("binary" if value else "json") if isinstance(value, bool) else None,
)
def test_datatypes_round_trip(array: np.ndarray, datatype: str, binary: bool) -> None:
    transport, sent = mock_v2(binary)
    output = transport.infer({"x": array})["x"]
    assert sent[0]["inputs"][0]["datatype"] == datatype
    assert sent[0]["inputs"][0]["shape"] == list(array.shape)
    if binary:
        assert "data" not in sent[0]["inputs"][0] and sent[0]["parameters"] == {"binary_data_output": True}
    else:
        assert len(sent[0]["inputs"][0]["data"]) == array.size  # flattened row-major
    assert output.shape == array.shape
    if datatype != "BYTES":
        assert output.dtype == array.dtype
    np.testing.assert_array_equal(output, array)


@pytest.mark.parametrize(("array", "datatype"), ONLY_BINARY)
def test_json_refuses_what_it_cannot_carry(array: np.ndarray, datatype: str) -> None:
    """Issue 14, findings 2 and 3: NaN, ±inf and FP16 are refused before sending, naming the input and where."""
    transport, sent = mock_v2(binary=False)
    with pytest.raises(AdapterInputError) as caught:
        transport.infer({"features": array})
    assert "input 'features'" in str(caught.value) and "binary" in str(caught.value)
    assert ("FP16" in str(caught.value)) if datatype == "FP16" else ("NaN or ±inf" in str(caught.value))
    assert sent == []


def test_binary_bytes_are_the_extensions_layout() -> None:
    """The binary parts as the extension lays them out: raw little-endian elements row-major, BOOL one byte each,
    BYTES a 4-byte little-endian length before each element; the JSON header's length in the HTTP header."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"model_name": "echo", "outputs": []})

    client = httpx.Client(transport=httpx.MockTransport(handle))
    transport = V2Transport("http://v2.test", "echo", policy=FAST, client=client, binary=True)
    transport.infer(
        {
            "f": np.array([[1.5, np.nan]], dtype=np.float32),
            "b": np.array([True, False]),
            "s": np.array(["weld", "fit"]),
        }
    )
    (sent,) = [request for request in seen if request.method == "POST"]
    length = int(sent.headers["Inference-Header-Content-Length"])
    header, tail = json.loads(sent.content[:length]), sent.content[length:]
    expected = [
        struct.pack("<2f", 1.5, float("nan")),
        b"\x01\x00",
        struct.pack("<I", 4) + b"weld" + struct.pack("<I", 3) + b"fit",
    ]
    assert [t["parameters"]["binary_data_size"] for t in header["inputs"]] == [len(part) for part in expected]
    assert tail == b"".join(expected)


@pytest.mark.parametrize(
    ("extensions", "binary"), [((), False), (("binary_tensor_data",), True)], ids=["no-extension", "triton-like"]
)
def test_auto_asks_the_server_once(extensions: tuple[str, ...], binary: bool) -> None:
    transport, sent = mock_v2("auto", extensions)
    for _ in range(2):
        transport.infer({"x": np.zeros((2, 3), np.float32)})
    assert transport.uses_binary() is binary
    assert all(("data" not in s["inputs"][0]) is binary for s in sent)


@pytest.mark.parametrize(
    ("array", "reason"), [(np.array([1 + 2j]), "complex128"), (np.array([1.0, np.inf]), "±inf")], ids=["complex", "inf"]
)
def test_unsendable_input_is_the_callers_mistake(array: np.ndarray, reason: str) -> None:
    transport, sent = mock_v2()
    with pytest.raises(AdapterInputError, match=reason):
        transport.infer({"x": array})
    assert sent == []


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (
            {"model_name": "echo", "outputs": [{"name": "hours", "datatype": "FP32", "shape": [3], "data": [1, 2]}]},
            "cannot reshape",
        ),
        (
            {"model_name": "echo", "outputs": [{"name": "hours", "datatype": "INT8", "shape": [1], "data": [300]}]},
            "unusable data",
        ),
        (
            {"model_name": "echo", "outputs": [{"name": "hours", "datatype": "FP128", "shape": [1], "data": [1]}]},
            "outputs.0.datatype",
        ),
        (
            {"model_name": "echo", "outputs": [{"name": "other", "datatype": "FP32", "shape": [1], "data": [1]}]},
            "lacks output(s) ['hours']",
        ),
        ({"outputs": []}, "model_name: Field required"),
    ],
    ids=["wrong-size", "overflow", "unknown-datatype", "missing-output", "missing-field"],
)
def test_malformed_answers_say_what_was_wrong(answer: dict[str, Any], problem: str) -> None:
    transport = V2Transport(
        "http://v2.test",
        "welding",
        policy=FAST,
        output_names=["hours"],
        client=httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200, json=answer))),
    )
    with pytest.raises(ModelResponseError) as caught:
        transport.infer({"features": features(1)})
    assert problem in caught.value.detail


def test_version_is_in_the_path() -> None:
    paths: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return httpx.Response(200, json={"model_name": "welding", "model_version": "3", "outputs": []})

    client = httpx.Client(transport=httpx.MockTransport(handle))
    V2Transport("http://v2.test/", "welding", version="3", policy=FAST, client=client, binary=False).infer({})
    assert paths[-1] == "/v2/models/welding/versions/3/infer"
    assert all(path.startswith("/v2/models/welding/versions/3") for path in paths if path != "/v2")


# Issue 14's findings against the real MLServer (each fails on the code before the fix).


def test_nan_is_refused_before_sending_not_sent_as_null(
    mlserver: MLServer, counted: tuple[httpx.Client, RequestCounter]
) -> None:
    """Finding 2: MLServer lists no binary extension, so "auto" speaks JSON, which cannot carry NaN: the input is
    refused before any infer request, naming the input, row and column (Triton would answer 500 and the retries
    would open the breaker), and the breaker stays closed."""
    client, counter = counted
    transport = V2Transport(mlserver.url, mlserver.model, policy=FAST, client=client)
    assert not transport.uses_binary()
    counter.count = 0
    batch = features(4)
    batch[2, 9] = np.nan
    for _ in range(FAST.breaker_failures + 1):
        with pytest.raises(AdapterInputError) as caught:
            transport.infer({"features": batch})
    assert "input 'features' holds nan at row 2, column 9" in str(caught.value)
    assert counter.count == 0
    assert transport.infer({"features": features(2)})["hours"].shape == (2,)


def test_fp16_is_refused_before_sending_as_json(
    mlserver: MLServer, counted: tuple[httpx.Client, RequestCounter]
) -> None:
    """Finding 3: FP16 as JSON (refused by Triton and KServe) is refused here, naming the input, without a call."""
    client, counter = counted
    transport = V2Transport(mlserver.url, mlserver.model, policy=FAST, client=client)
    with pytest.raises(AdapterInputError, match="input 'features' is FP16"):
        transport.infer({"features": features(2).astype(np.float16)})
    assert counter.count == 0 and counter.urls  # the server was asked what it reads, nothing sent to infer


def test_request_id_is_sent_and_the_echo_checked(mlserver: MLServer) -> None:
    """Finding 4: every call sends its own uuid `id`; MLServer echoes it, and the transport checks the echo."""
    bodies: list[dict[str, Any]] = []
    echoed: list[str] = []

    def on_response(response: httpx.Response) -> None:
        if response.request.url.path.endswith("/infer"):
            bodies.append(json.loads(response.request.content))
            echoed.append(json.loads(response.read())["id"])

    with httpx.Client(event_hooks={"response": [on_response]}) as client:
        transport = V2Transport(mlserver.url, mlserver.model, policy=FAST, client=client)
        transport.infer({"features": features(1)})
        transport.infer({"features": features(1)})
    ids = [body["id"] for body in bodies]
    assert len(set(ids)) == 2 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert echoed == ids


def test_501_is_not_retried_nor_counted_by_the_breaker(proxied: Proxied) -> None:
    """Finding 7: 501 (KServe's "Model versioning not supported yet") is terminal: one request per call, and the
    breaker stays closed however often it comes."""
    transport = proxied.transport()
    proxied.proxy.fail_always(status=501)
    try:
        for call in range(1, FAST.breaker_failures + 2):
            with pytest.raises(ModelResponseError) as caught:
                transport.infer({"features": features(1)})
            assert "HTTP 501" in caught.value.detail and proxied.proxy.hits == call
        proxied.proxy.fail_next(0)
        assert transport.infer({"features": features(1)})["hours"].size == 1
    finally:
        transport.close()


def test_a_pinned_version_is_in_every_path(mlserver: MLServer) -> None:
    """Finding 7: the configured version reaches the server (MLServer serves this model unversioned, so it says
    the version is not found: the request named it)."""
    from adapters.registry import ModelConfig, Registry

    config = ModelConfig(transport="v2", url=mlserver.url, server_version="7", policy={"max_attempts": 1})
    registry = Registry({"welding": config})
    try:
        adapter = registry.get("welding")
        assert adapter.spec.version == "7" and registry.versions("welding") == ("7",)
        with pytest.raises(ModelResponseError) as caught:
            adapter.transport.infer({"features": features(1)})  # type: ignore[attr-defined]  # a ModelAdapter
    finally:
        registry.close()
    assert "/v2/models/welding/versions/7/infer" in caught.value.detail and "HTTP 404" in caught.value.detail


# The same findings on NVIDIA Triton (PyTriton 0.7.0, Triton 2.51.0) and KServe 0.21.0 (fixtures in servers.py).


def in_process(welding_onnx: Path, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # as the servers run it: the trees are summed in one order, so bit for bit
    local = ort.InferenceSession(str(welding_onnx), options, providers=["CPUExecutionProvider"])
    hours, probability = local.run(["hours", "defect_probability"], {"features": batch})
    return np.asarray(hours).reshape(-1), np.asarray(probability).reshape(-1)


def test_kserve_metadata_with_null_versions(kserve: RunningServer) -> None:
    """Finding 1: KServe answers `"versions": null`; the metadata reads it as no versions, the rest as sent."""
    raw = httpx.get(f"{kserve.url}/v2/models/{kserve.model}").json()
    assert raw["versions"] is None  # what the client must tolerate
    transport = V2Transport(kserve.url, kserve.model, policy=FAST)
    try:
        metadata = transport.metadata()
    finally:
        transport.close()
    assert metadata.name == "welding" and metadata.versions == []
    assert metadata.inputs == [TensorMetadata(name="features", datatype="FP32", shape=[-1, WELDING_FEATURES])]


@pytest.mark.parametrize("server", ["triton", "kserve"])
def test_nan_goes_through_the_binary_extension(
    server: str, request: pytest.FixtureRequest, welding_onnx: Path, counted: tuple[httpx.Client, RequestCounter]
) -> None:
    """Finding 2: "auto" finds the binary extension on Triton (listed) and KServe (>= 0.14), so NaN reaches the
    model as NaN and the answer is in-process's bit for bit; Triton answered the JSON null with 500, retried
    until the breaker opened."""
    running: RunningServer = request.getfixturevalue(server)
    client, counter = counted
    batch = features(64)
    batch[::7, 9] = np.nan  # fit-up gap not measured
    transport = V2Transport(running.url, running.model, policy=FAST, client=client)
    assert transport.uses_binary()
    outputs = transport.infer({"features": batch})
    hours, probability = in_process(welding_onnx, batch)
    np.testing.assert_array_equal(outputs["hours"].reshape(-1), hours)
    np.testing.assert_array_equal(outputs["defect_probability"].reshape(-1), probability)
    assert counter.count == 1 and counter.urls[-1].endswith("/infer")  # asked the server once, then one infer


@pytest.mark.parametrize("server", ["triton", "kserve"])
@pytest.mark.parametrize(
    ("datatype", "array"),
    [
        ("FP16", np.array([[1.5, np.nan], [-np.inf, 65504.0]], dtype=np.float16)),
        ("FP32", np.array([[np.nan, np.inf, -1.25]], dtype=np.float32)),
        ("BOOL", np.array([[True, False, True]])),
        ("BYTES", np.array([["weld", "fit-up", ""]])),
    ],
)
def test_datatypes_through_the_binary_extension(
    server: str, datatype: str, array: np.ndarray, request: pytest.FixtureRequest
) -> None:
    """Finding 3: FP16 (refused as JSON by both) and NaN/±inf, BOOL and BYTES come back from the echo models bit
    for bit."""
    running: RunningServer = request.getfixturevalue(server)
    transport = V2Transport(running.url, ECHO_MODELS[datatype], policy=FAST)
    try:
        output = transport.infer({"x": array})["y"]
    finally:
        transport.close()
    assert output.shape == array.shape
    if datatype == "BYTES":
        assert output.tolist() == array.tolist()
    else:
        assert output.dtype == array.dtype and output.tobytes() == array.tobytes()


def test_kserve_echoes_the_request_id(kserve: RunningServer) -> None:
    """Finding 4: the KServe model echoes the request id (its answer model requires one: without an id every call
    failed with 500); the id sent comes back."""
    sent: list[str] = []
    echoed: list[str] = []

    def on_response(response: httpx.Response) -> None:
        if response.request.url.path.endswith("/infer"):
            response.read()
            length = int(response.headers.get("inference-header-content-length", len(response.content)))
            echoed.append(json.loads(response.content[:length])["id"])
            request_length = int(response.request.headers["inference-header-content-length"])
            sent.append(json.loads(response.request.content[:request_length])["id"])

    with httpx.Client(event_hooks={"response": [on_response]}) as client:
        transport = V2Transport(kserve.url, kserve.model, policy=FAST, client=client)
        assert transport.infer({"features": features(3)})["hours"].shape == (3,)
    assert len(sent) == 1 and echoed == sent


def test_batch_is_capped_at_tritons_max_batch_size(triton: RunningServer, welding_onnx: Path) -> None:
    """Finding 6: a model configured `max_batch_size: 1024` on Triton: the registry's adapter batches 1,024 rows
    (the default 262,144 was refused with 400 "batch-size must be <= 1024") and shows the server's version."""
    from adapters.registry import ModelConfig, Registry

    limited = next(name for name, limit in triton.max_batch_sizes.items() if limit == 1024)
    registry = Registry({"welding": ModelConfig(transport="v2", url=triton.url, remote_name=limited)})
    try:
        adapter = registry.get("welding")
        spec = registry.spec("welding")  # the version unknown from config: the server is asked
        assert spec.batch_size == 1024 and spec.server_max_batch == 1024 and adapter.spec == spec
        assert spec.version == "1" and registry.versions("welding") == ("1",)
        batch = features(2500)
        outputs = adapter.transport.infer({"features": batch[:1024]})  # type: ignore[attr-defined]  # a ModelAdapter
        assert outputs["hours"].shape[0] == 1024
        configured = Registry(
            {"welding": ModelConfig(transport="v2", url=triton.url, remote_name=limited, batch_size=500)}
        )
        assert configured.spec("welding").batch_size == 500  # min(configured, server's)
        configured.close()
    finally:
        registry.close()


def test_triton_runs_the_pinned_version(triton: RunningServer, counted: tuple[httpx.Client, RequestCounter]) -> None:
    """Finding 7: the configured version is the one asked for, and Triton answers it."""
    client, counter = counted
    transport = V2Transport(triton.url, triton.model, version="1", policy=FAST, client=client)
    assert transport.infer({"features": features(2)})["hours"].shape[0] == 2
    assert counter.urls[-1].endswith(f"/v2/models/{triton.model}/versions/1/infer")
    assert transport.discover().version == "1"


def test_kserve_501_is_terminal(kserve: RunningServer, counted: tuple[httpx.Client, RequestCounter]) -> None:
    """Finding 7: KServe answers a pinned version 501 "Model versioning not supported yet": one request per call,
    never retried, and the breaker stays closed however often it comes."""
    client, counter = counted
    transport = V2Transport(kserve.url, kserve.model, version="1", policy=FAST, client=client, binary=False)
    for call in range(1, FAST.breaker_failures + 2):
        with pytest.raises(ModelResponseError) as caught:
            transport.infer({"features": features(1)})
        assert "HTTP 501" in caught.value.detail and "versioning not supported" in caught.value.detail
        assert counter.count == call


def test_models_list_and_describe_show_the_servers_version_and_batch(triton: RunningServer, tmp_path: Path) -> None:
    """Findings 6 and 7, as a user sees them: `models list` shows Triton's version ("1", not "unknown") and the
    batch its `max_batch_size` set; `models describe` says the same."""
    import os
    import subprocess
    import sys

    limited = next(name for name, limit in triton.max_batch_sizes.items() if limit == 1024)
    (tmp_path / "adapters.toml").write_text(
        f'[models.welding]\ntransport = "v2"\nurl = "{triton.url}"\nremote_name = "{limited}"\n'
    )
    shipbrain = str(Path(sys.executable).parent / "shipbrain")
    env = {**os.environ, "SHIPBRAIN_DATA_DIR": str(tmp_path), "COLUMNS": "200"}

    def run(*args: str) -> str:
        done = subprocess.run([shipbrain, "models", *args], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    listed = {row["name"]: row for row in json.loads(run("list", "--json"))}
    welding = listed["welding"]
    assert (welding["version"], welding["versions"], welding["transport"]) == ("1", ["1"], "v2")
    assert (welding["batch_size"], welding["server_max_batch"]) == (1024, 1024)
    assert listed["outfitting"]["server_max_batch"] is None
    assert "1,024 (server max)" in run("list")
    assert "welding 1 (welding, owner: welding engineering, transport: v2, batch: 1,024 (server max))" in " ".join(
        run("describe", "welding").split()
    )


# The review of issue 14's fixes: what the client learns of a server, it learns when it calls, not when it is built.


@pytest.fixture(scope="module")
def joints(small_yard: Path, welding_onnx: Path) -> tuple[Any, Any]:
    """2,500 weld joints of the test yard as the welding model's input rows, and their in-process predictions."""
    from adapters.registry import ModelConfig, Registry
    from adapters.welding import WeldingAdapter
    from knowledge.store import YardStore

    rows = WeldingAdapter.yard_rows(YardStore.open(small_yard)).slice(0, 2_500)
    local = Registry({"welding": ModelConfig(transport="onnx", path=welding_onnx)})
    try:
        return rows, local.get("welding").predict(rows)
    finally:
        local.close()


def limited_model(triton: RunningServer) -> str:
    return next(name for name, limit in triton.max_batch_sizes.items() if limit == 1024)


def test_a_triton_not_up_when_the_registry_is_built_still_caps_the_batch(
    triton: RunningServer, joints: tuple[Any, Any]
) -> None:
    """Review finding 1: the server answers 503 while the registry builds the model (a `serve` warming before
    Triton is up); once it is up, the first prediction learns its `max_batch_size` 1024 and splits 2,500 rows (the
    failure was kept for the process's life: every call sent 2,500 rows and got 400), and the version shown is the
    server's "1", not "unknown"."""
    from adapters.registry import ModelConfig, Registry

    rows, expected = joints
    proxy = FaultProxy(triton.url)
    proxy.fail_always(503)
    policy = {"connect_timeout_s": 1.0, "max_attempts": 1}
    entry = ModelConfig(transport="v2", url=proxy.url, remote_name=limited_model(triton), policy=policy)
    registry = Registry({"welding": entry})
    try:
        model = registry.get("welding")
        assert registry.spec("welding").version == "unknown"  # asked, and it could not say
        proxy.fail_next(0)  # Triton is up
        got = model.predict(rows)
        assert model.transport.uses_binary()  # type: ignore[attr-defined]  # a ModelAdapter over V2Transport
        assert got.column("hours").to_numpy().tobytes() == expected.column("hours").to_numpy().tobytes()
        spec = registry.spec("welding")
        assert (spec.version, spec.batch_size, spec.server_max_batch) == ("1", 1024, 1024)
    finally:
        registry.close()
        proxy.stop()


def test_a_slow_server_costs_the_build_nothing_and_discovery_its_short_timeout(fault_proxy: FaultProxy) -> None:
    """Review finding 1: a server that accepts and never answers: building the model sends nothing (it took the whole
    read timeout, and `ask` four of them through the retries), and asking what it runs gives up after the policy's
    `connect_timeout_s`, once, without retries."""
    from adapters.registry import ModelConfig, Registry

    fault_proxy.delay_s = 30.0
    policy = {"timeout_s": 20.0, "connect_timeout_s": 0.5, "max_attempts": 4}
    registry = Registry({"welding": ModelConfig(transport="v2", url=fault_proxy.url, policy=policy)})
    try:
        started = time.monotonic()
        model = registry.get("welding")
        assert time.monotonic() - started < 0.5 and fault_proxy.hits == 0
        started = time.monotonic()
        served = model.transport.served()  # type: ignore[attr-defined]  # a ModelAdapter over V2Transport
        assert time.monotonic() - started < 3.0 and fault_proxy.hits == 1
        assert served.problem is not None and "no answer" in served.problem
    finally:
        registry.close()


def test_an_adapter_built_without_the_registry_is_split_at_the_servers_limit(
    triton: RunningServer, joints: tuple[Any, Any]
) -> None:
    """Review finding 1: an adapter made in code (or by a `factory =`) with the default batch of 262,144 rows: the
    transport splits its 2,500 rows at Triton's 1,024 (it sent them in one request, refused with 400)."""
    from adapters.welding import WeldingAdapter

    rows, expected = joints
    model = WeldingAdapter(V2Transport(triton.url, limited_model(triton), policy=FAST), "1")
    try:
        got = model.predict(rows)
    finally:
        model.close()
    assert got.column("defect_probability").to_numpy().tobytes() == (
        expected.column("defect_probability").to_numpy().tobytes()
    )


def test_a_version_label_is_not_pinned_on_the_server(kserve: RunningServer, tmp_path: Path) -> None:
    """Review finding 3: `[models.welding.versions.2024]` is a label: KServe (no versions) serves it (it was pinned
    as /versions/2024 and answered 501); `server_version` is what pins."""
    from adapters.registry import Registry, build_transport
    from knowledge.settings import Settings

    (tmp_path / "adapters.toml").write_text(
        f'[models.welding]\ntransport = "v2"\nurl = "{kserve.url}"\nremote_name = "{kserve.model}"\n'
        "[models.welding.versions.2024]\nbatch_size = 1000\n"
    )
    registry = Registry.load(Settings(data_dir=tmp_path), versions={"welding": "2024"})
    try:
        model = registry.get("welding")
        assert model.spec.version == "2024" and model.transport.version is None  # type: ignore[attr-defined]
        assert model.transport.infer({"features": features(3)})["hours"].size == 3  # type: ignore[attr-defined]
        pinned = registry.configs["welding"].model_copy(update={"server_version": "1"})
        assert build_transport("welding", pinned).version == "1"  # type: ignore[attr-defined]
    finally:
        registry.close()


def test_tritons_answers_are_not_gzipped(triton: RunningServer) -> None:
    """Review finding 4: Triton gzips an answer whose request accepts it (httpx accepts gzip by default)."""
    encodings: list[str | None] = []

    def seen(response: httpx.Response) -> None:
        if response.request.url.path.endswith("/infer"):
            encodings.append(response.headers.get("content-encoding"))

    with httpx.Client(event_hooks={"response": [seen]}) as client:
        for binary in (True, False):
            transport = V2Transport(triton.url, triton.model, policy=FAST, client=client, binary=binary)
            assert transport.infer({"features": features(2_000)})["hours"].size == 2_000
    assert encodings == [None, None]
