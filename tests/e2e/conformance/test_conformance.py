"""One suite over every Open Inference Protocol v2 server a yard runs: Seldon MLServer, NVIDIA Triton, KServe.

Each test takes the `server` fixture, parametrised over the three kinds (each started once per session on
127.0.0.1 from its own virtual environment by `adapters.serving.launch`; a missing environment fails the test
with the command that installs it). Shipbrain reaches the server the way a user configures it (a `v2` entry
in the adapter registry) or through `V2Transport` where the test must watch the requests. Nothing is mocked:
requests, answers and faults (a stopped server, a killed one) are real. The table of server x check is printed
at the end of the run (`conftest.py`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pytest

from adapters.errors import AdapterInputError, CircuitOpenError, ModelCallError, ModelResponseError
from adapters.registry import ModelConfig, Registry
from adapters.spec import Adapter
from adapters.transports import CallPolicy
from adapters.transports.inprocess import OnnxTransport
from adapters.transports.v2 import TensorMetadata, V2Transport
from adapters.welding import WeldingAdapter, encode_joints
from knowledge.store import YardStore
from tests.e2e.servers import ECHO_MODELS, WELDING_FEATURES, RunningServer, ServerKind, start_server

pytest_plugins = ["tests.e2e.servers"]

SERVERS: tuple[ServerKind, ...] = ("mlserver", "triton", "kserve")
FAST = CallPolicy(
    timeout_s=60.0,
    connect_timeout_s=1.0,
    max_attempts=3,
    backoff_initial_s=0.01,
    backoff_max_s=0.05,
    breaker_failures=2,
    breaker_reset_s=60.0,
)
"""Quick retries; a breaker that opens after two failed calls and stays open for the test."""
FAST_CONFIG: dict[str, float] = {
    "timeout_s": FAST.timeout_s,
    "connect_timeout_s": FAST.connect_timeout_s,
    "max_attempts": FAST.max_attempts,
    "backoff_initial_s": FAST.backoff_initial_s,
    "backoff_max_s": FAST.backoff_max_s,
    "breaker_failures": FAST.breaker_failures,
    "breaker_reset_s": FAST.breaker_reset_s,
}
"""`FAST` as an adapters.toml `policy` table."""


@pytest.fixture(scope="session", params=SERVERS)
def server(request: pytest.FixtureRequest) -> RunningServer:
    """The server under test: the session's `mlserver`, `triton` or `kserve` fixture."""
    running: RunningServer = request.getfixturevalue(request.param)
    return running


@pytest.fixture(scope="session")
def demo_joints(yard_factory: Callable[[int, int], Path]) -> pa.Table:
    """The demo yard's weld joints as the welding model's input rows (`brain._planner_fit.DEMO_YARD`)."""
    from brain._planner_fit import DEMO_YARD

    yard = YardStore.open(yard_factory(*DEMO_YARD))
    rows: pa.Table = WeldingAdapter.yard_rows(yard)
    return rows


@pytest.fixture(scope="session")
def in_process(welding_onnx: Path) -> Iterator[Adapter]:
    """The welding model run by onnxruntime in this process: what every server must agree with."""
    registry = Registry({"welding": ModelConfig(transport="onnx", path=welding_onnx)})
    try:
        yield registry.get("welding")
    finally:
        registry.close()


@pytest.fixture(scope="session")
def expected(in_process: Adapter, demo_joints: pa.Table) -> pa.Table:
    """In-process predictions over every joint of the demo yard."""
    return in_process.predict(demo_joints)


def remote(server: RunningServer, model: str | None = None) -> Registry:
    """A registry whose "welding" is `model` on `server`, configured as a user would in adapters.toml.

    No `batch_size`, no version: what the client needs of the server it must learn from the server.
    """
    entry = ModelConfig(transport="v2", url=server.url, remote_name=model or server.model, policy=FAST_CONFIG)
    return Registry({"welding": entry})


@dataclass
class Exchange:
    """One request the client sent and the answer it got (JSON parts only)."""

    method: str
    path: str
    request: dict[str, Any] | None
    status: int | None = None
    answer: dict[str, Any] | None = None


def _json_part(content: bytes, headers: httpx.Headers) -> dict[str, Any] | None:
    # With the binary tensor extension the JSON is the first Inference-Header-Content-Length bytes.
    length = headers.get("inference-header-content-length")
    part = content[: int(length)] if length is not None else content
    try:
        parsed = json.loads(part) if part else None
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


@dataclass
class Recorder:
    """An httpx client that records every request (even refused connections) and every answer."""

    exchanges: list[Exchange] = field(default_factory=list)
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(event_hooks={"request": [self._request], "response": [self._response]})

    def infer_calls(self) -> list[Exchange]:
        """The inference requests sent so far."""
        return [e for e in self.exchanges if e.method == "POST" and e.path.endswith("/infer")]

    def _request(self, request: httpx.Request) -> None:
        self.exchanges.append(Exchange(request.method, request.url.path, _json_part(request.content, request.headers)))

    def _response(self, response: httpx.Response) -> None:
        response.read()
        exchange = next(e for e in reversed(self.exchanges) if e.path == response.request.url.path)
        exchange.status, exchange.answer = response.status_code, _json_part(response.content, response.headers)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recording = Recorder()
    try:
        yield recording
    finally:
        recording.client.close()


def bits(column: pa.ChunkedArray | pa.Array) -> npt.NDArray[np.uint64]:
    """A float64 column's bit patterns: equal bits, equal numbers (NaN included)."""
    return np.asarray(column.to_numpy(), dtype=np.float64).view(np.uint64)


# Checks


def test_predictions(server: RunningServer, demo_joints: pa.Table, expected: pa.Table) -> None:
    """Every joint of the demo yard: the server's answers equal in-process ones to the bit."""
    registry = remote(server)
    try:
        got = registry.get("welding").predict(demo_joints)
    finally:
        registry.close()
    assert got.num_rows == demo_joints.num_rows == expected.num_rows > 100_000
    for column in ("hours", "defect_probability"):
        differ = np.flatnonzero(bits(got.column(column)) != bits(expected.column(column)))
        assert differ.size == 0, f"{column}: {differ.size} rows differ, first {differ[:5].tolist()}"
    assert np.ptp(got.column("hours").to_numpy()) > 0  # a real model: answers vary with the joint


def test_metadata(server: RunningServer) -> None:
    """Name, versions, inputs and outputs as the server describes the model; health endpoints."""
    transport = V2Transport(server.url, server.model, policy=FAST)
    try:
        assert transport.live() and transport.ready()
        metadata = transport.metadata()
    finally:
        transport.close()
    assert metadata.name == server.model
    assert metadata.versions == ([server.version] if server.version else [])
    assert metadata.inputs == [TensorMetadata(name="features", datatype="FP32", shape=[-1, WELDING_FEATURES])]
    assert [(o.name, o.datatype) for o in metadata.outputs] == [("hours", "FP32"), ("defect_probability", "FP32")]
    for output in metadata.outputs:  # one value a row: [-1], or Triton's [-1, 1]
        assert output.shape[0] == -1 and int(np.prod(output.shape[1:])) == 1


DATATYPE_SAMPLES: dict[str, npt.NDArray[Any]] = {
    "FP32": np.array([[1.5, -2.25e-8, 3.4e38], [0.0, -0.0, 1 / 3]], dtype=np.float32),
    "FP64": np.array([[0.1, 1e-300, -1.7976931348623157e308], [2.0**-1074, 1 / 3, 7.0]], dtype=np.float64),
    "INT64": np.array([[2**62 + 1, -(2**63), 2**63 - 1], [0, -3, 2**53 + 1]], dtype=np.int64),
    "BOOL": np.array([[True, False, True], [False, False, True]]),
    "BYTES": np.array([["weld", "grind", "fit"], ["päint", "", "B214-A07"]]),
    "FP16": np.array([[0.1, 65504.0, -2.0], [6.1e-5, 0.0, 1 / 3]], dtype=np.float16),
}


REFUSED = "refused before sending, naming the input (JSON cannot carry it)"
"""The table's note for a check passed by refusing what the server cannot be sent as JSON."""


@pytest.mark.parametrize("datatype", list(DATATYPE_SAMPLES))
def test_datatype(server: RunningServer, recorder: Recorder, datatype: str, request: pytest.FixtureRequest) -> None:
    """An echo model answers the tensor it was sent: same datatype, shape and values, to the bit.

    JSON has no FP16 on Triton and KServe: a client may instead refuse the tensor before sending, naming it.
    """
    sample = DATATYPE_SAMPLES[datatype]
    transport = V2Transport(server.url, ECHO_MODELS[datatype], policy=FAST, client=recorder.client)
    try:
        echoed = transport.infer({"x": sample})["y"]
    except AdapterInputError as refused:
        assert datatype == "FP16" and "'x'" in str(refused) and recorder.infer_calls() == [], refused
        request.node.user_properties.append(("note", REFUSED))
        return
    assert echoed.shape == sample.shape
    if datatype == "BYTES":
        assert [[str(v) for v in row] for row in echoed.tolist()] == sample.tolist()
    else:
        assert echoed.dtype == sample.dtype
        assert echoed.tobytes() == sample.tobytes()
    request = recorder.infer_calls()[0].request
    assert request is not None
    assert [(i["datatype"], i["shape"]) for i in request["inputs"]] == [(datatype, list(sample.shape))]


def test_nan(
    server: RunningServer,
    demo_joints: pa.Table,
    welding_onnx: Path,
    recorder: Recorder,
    request: pytest.FixtureRequest,
) -> None:
    """NaN in a float input: the answer equals in-process (NaN is "missing" to the trees), or the client refuses
    before sending, naming the input; either way the transport stays usable (no retries, no open breaker)."""
    batch = encode_joints(demo_joints.slice(0, 1000))
    batch[::7, 9] = np.nan  # fit-up gap not measured
    batch[::11, 7] = np.nan  # thickness unknown
    local = OnnxTransport("welding", welding_onnx).infer({"features": batch})
    transport = V2Transport(server.url, server.model, policy=FAST, client=recorder.client)
    for _ in range(FAST.breaker_failures + 1):
        try:
            got = transport.infer({"features": batch})
        except AdapterInputError as refused:
            assert "'features'" in str(refused) and recorder.infer_calls() == [], refused
            request.node.user_properties.append(("note", REFUSED))
            continue
        for name in ("hours", "defect_probability"):
            assert got[name].reshape(-1).tobytes() == np.asarray(local[name]).reshape(-1).tobytes()
    assert len(recorder.infer_calls()) in (0, FAST.breaker_failures + 1)  # each call sent once, never retried
    valid = encode_joints(demo_joints.slice(0, 5))
    assert transport.infer({"features": valid})["hours"].size == 5


def test_empty_input(server: RunningServer, demo_joints: pa.Table, recorder: Recorder) -> None:
    """No rows: zero rows back, and no inference request sent."""
    transport = V2Transport(server.url, server.model, policy=FAST, client=recorder.client)
    model = WeldingAdapter(transport, "1")
    got = model.predict(demo_joints.slice(0, 0))
    assert got.num_rows == 0 and set(got.column_names) >= {"hours", "defect_probability"}
    assert recorder.infer_calls() == []


def test_batch_limit(server: RunningServer, demo_joints: pa.Table, expected: pa.Table) -> None:
    """More rows than the server's model accepts in one batch: the client splits them, nothing is refused.

    Triton's `welding_b1024` refuses more than 1024 rows and publishes that in its model configuration;
    MLServer and KServe publish no limit (and no configuration endpoint), and the client must not need one.
    """
    model, limit = min(server.max_batch_sizes.items(), key=lambda item: item[1], default=(server.model, 0))
    rows = 3 * limit + 17 if limit else 5_000
    registry = remote(server, model)
    try:
        got = registry.get("welding").predict(demo_joints.slice(0, rows))
    finally:
        registry.close()
    assert got.num_rows == rows
    assert (bits(got.column("hours")) == bits(expected.column("hours").slice(0, rows))).all()


def test_wrong_model_name(server: RunningServer, recorder: Recorder) -> None:
    """A model the server does not have: a terminal error naming it, sent once, not retried."""
    transport = V2Transport(server.url, "no-such-model", policy=FAST, client=recorder.client)
    assert not transport.ready()
    with pytest.raises(ModelResponseError) as caught:
        transport.infer({"features": np.zeros((2, WELDING_FEATURES), np.float32)})
    assert caught.value.model == "no-such-model" and caught.value.transport == "v2"
    assert "no-such-model" in caught.value.detail
    assert len(recorder.infer_calls()) <= 1  # refused before sending, or sent once


def test_request_id(server: RunningServer, recorder: Recorder) -> None:
    """The client sends a request id and the server's answer carries it back."""
    transport = V2Transport(server.url, server.model, policy=FAST, client=recorder.client)
    transport.infer({"features": np.ones((3, WELDING_FEATURES), np.float32)})
    (call,) = recorder.infer_calls()
    assert call.request is not None and call.answer is not None
    assert isinstance(call.request.get("id"), str) and call.request["id"]
    assert call.answer.get("id") == call.request["id"]


def test_pinned_version(server: RunningServer, recorder: Recorder) -> None:
    """Version "1" pinned: served where the server has versions; where it has none (KServe answers 501), a
    terminal error sent once, and never one that opens the circuit breaker."""
    transport = V2Transport(server.url, server.model, version="1", policy=FAST, client=recorder.client)
    batch = {"features": np.ones((2, WELDING_FEATURES), np.float32)}
    if server.version is not None:
        assert transport.infer(batch)["hours"].size == 2
        (call,) = recorder.infer_calls()
        assert call.path.endswith("/versions/1/infer") and call.answer is not None
        assert call.answer.get("model_version") == "1"
        return
    for attempt in range(1, FAST.breaker_failures + 2):
        with pytest.raises(ModelResponseError) as caught:
            transport.infer(batch)
        assert "501" in caught.value.detail and not isinstance(caught.value, CircuitOpenError)
        assert len(recorder.infer_calls()) == attempt


@pytest.fixture
def spare_server(server: RunningServer, welding_onnx: Path, tmp_path: Path) -> Iterator[RunningServer]:
    """A second server of the same kind, serving only the welding model, that a test may stop or kill."""
    spare = start_server(server.kind, welding_onnx, tmp_path / server.kind, echo=False, limited_batch=None)
    try:
        yield spare
    finally:
        spare.stop()


def test_stopped_server(spare_server: RunningServer, demo_joints: pa.Table) -> None:
    """A server that was stopped: a clear error naming the model and the transport, after the retries."""
    registry = remote(spare_server)
    try:
        model = registry.get("welding")
        assert model.predict(demo_joints.slice(0, 10)).num_rows == 10
        spare_server.stop()
        with pytest.raises(ModelCallError) as caught:
            model.predict(demo_joints.slice(0, 10))
    finally:
        registry.close()
    assert not isinstance(caught.value, ModelResponseError)  # the server is gone: not the request's fault
    assert str(caught.value).startswith("model 'welding' over v2: ")
    assert "Connect" in caught.value.detail


def test_killed_mid_run(spare_server: RunningServer, demo_joints: pa.Table, recorder: Recorder) -> None:
    """The server dies (SIGKILL) while a large prediction is under way: an error, and no partial output."""
    transport = V2Transport(spare_server.url, spare_server.model, policy=FAST, client=recorder.client)
    model = WeldingAdapter(transport, "1", batch_size=2_048)  # ~90 requests for the demo yard
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["result"] = model.predict(demo_joints)
        except Exception as exc:  # the test asserts what it was
            outcome["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 60
    while len(recorder.infer_calls()) < 3 and worker.is_alive() and time.monotonic() < deadline:
        time.sleep(0.005)
    answered_before_kill = sum(call.status == 200 for call in recorder.infer_calls())
    spare_server.kill()
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert answered_before_kill >= 1, "the run never got going: no batch was answered before the kill"
    assert "result" not in outcome, "a prediction came back although the server died mid-run"
    error = outcome.get("error")
    assert isinstance(error, ModelCallError) and not isinstance(error, ModelResponseError), error
    assert 3 <= len(recorder.infer_calls()) < demo_joints.num_rows // 2_048
