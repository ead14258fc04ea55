"""V2Transport against a real Seldon MLServer on 127.0.0.1 serving the welding model.

Faults come from a real proxy in front of MLServer (`tests/e2e/servers.py`) or from a port with
nothing listening; MLServer itself is never patched. Needs `.venv-mlserver`: run
`bash tests/e2e/install_mlserver.sh` once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
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
from adapters.transports.v2 import TensorMetadata, V2Transport
from tests.e2e.servers import WELDING_FEATURES, FaultProxy, MLServer, free_port

# The fixtures (mlserver, fault_proxy, welding_onnx) live in servers.py; importing them by name
# would trip ruff's F811 on every test that takes one.
pytest_plugins = ["tests.e2e.servers"]

# Tiny backoff so retry tests take milliseconds; a breaker that stays open for the whole test.
FAST = CallPolicy(
    timeout_s=10.0,
    connect_timeout_s=1.0,
    max_attempts=3,
    backoff_initial_s=0.01,
    backoff_max_s=0.05,
    breaker_failures=2,
    breaker_reset_s=60.0,
)


class RequestCounter:
    """Counts the requests an httpx client sends, including those whose connection is refused."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, request: httpx.Request) -> None:
        self.count += 1


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
    counter.count = 0
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
    transport = V2Transport(mlserver.url, mlserver.model, policy=FAST, client=client)
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


def test_slow_server_times_out(fault_proxy: FaultProxy) -> None:
    fault_proxy.delay_s = 5.0
    policy = CallPolicy(timeout_s=0.3, connect_timeout_s=1.0, max_attempts=2, backoff_initial_s=0.01)
    transport = V2Transport(fault_proxy.url, "welding", policy=policy)
    try:
        with pytest.raises(ModelTimeoutError) as caught:
            transport.infer({"features": features(1)})
    finally:
        transport.close()
    assert "no answer" in caught.value.detail and caught.value.transport == "v2"
    assert fault_proxy.hits == 2


def test_500_twice_then_ok_succeeds_after_retries(fault_proxy: FaultProxy) -> None:
    fault_proxy.fail_next(2, status=500)
    transport = V2Transport(fault_proxy.url, "welding", policy=FAST)
    try:
        outputs = transport.infer({"features": features(4)})
    finally:
        transport.close()
    assert outputs["hours"].shape == (4,)
    assert fault_proxy.hits == 3


def test_500_always_names_model_transport_and_status(fault_proxy: FaultProxy) -> None:
    fault_proxy.fail_always(status=500)
    transport = V2Transport(fault_proxy.url, "welding", policy=FAST)
    try:
        with pytest.raises(ModelUnavailableError) as caught:
            transport.infer({"features": features(1)})
    finally:
        transport.close()
    error = caught.value
    assert (error.model, error.transport) == ("welding", "v2")
    assert "HTTP 500" in error.detail and "injected fault" in error.detail
    assert str(error).startswith("model 'welding' over v2: ")
    assert fault_proxy.hits == FAST.max_attempts


def test_malformed_answer_is_a_response_error(fault_proxy: FaultProxy) -> None:
    fault_proxy.fail_next(1, status=200)  # the proxy's 200 carries {"error": ...}, not outputs
    transport = V2Transport(fault_proxy.url, "welding", policy=FAST)
    try:
        with pytest.raises(ModelResponseError) as caught:
            transport.infer({"features": features(1)})
    finally:
        transport.close()
    assert "malformed answer" in caught.value.detail and "model_name" in caught.value.detail
    assert fault_proxy.hits == 1


# Wire format, without a server: httpx's MockTransport answers, so every datatype can be checked.


def mock_v2(answer: Callable[[dict[str, Any]], httpx.Response]) -> tuple[V2Transport, list[dict[str, Any]]]:
    sent: list[dict[str, Any]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return answer(sent[-1])

    client = httpx.Client(transport=httpx.MockTransport(handle))
    return V2Transport("http://v2.test", "echo", policy=FAST, client=client), sent


def echo(body: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"model_name": "echo", "outputs": body["inputs"]})


@pytest.mark.parametrize(
    ("array", "datatype"),
    [
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
                (np.float16, "FP16"),
                (np.float32, "FP32"),
                (np.float64, "FP64"),
            ]
        ],
        (np.array([np.nan, 1.5], dtype=np.float32), "FP32"),
        (np.array([["weld", "grind"], ["fit", "paint"]]), "BYTES"),
    ],
)
def test_datatypes_round_trip(array: np.ndarray, datatype: str) -> None:
    transport, sent = mock_v2(echo)
    output = transport.infer({"x": array})["x"]
    assert sent[0]["inputs"][0]["datatype"] == datatype
    assert sent[0]["inputs"][0]["shape"] == list(array.shape)
    assert len(sent[0]["inputs"][0]["data"]) == array.size  # flattened row-major
    assert output.shape == array.shape
    if datatype != "BYTES":
        assert output.dtype == array.dtype
    np.testing.assert_array_equal(output, array)


@pytest.mark.parametrize(
    ("array", "reason"), [(np.array([1 + 2j]), "complex128"), (np.array([1.0, np.inf]), "±inf")], ids=["complex", "inf"]
)
def test_unsendable_input_is_the_callers_mistake(array: np.ndarray, reason: str) -> None:
    transport, sent = mock_v2(echo)
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
    V2Transport("http://v2.test/", "welding", version="3", policy=FAST, client=client).infer({})
    assert paths == ["/v2/models/welding/versions/3/infer"]
