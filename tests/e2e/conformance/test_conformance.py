"""One suite over every Open Inference Protocol v2 server a yard runs: Seldon MLServer, NVIDIA Triton, KServe.

Each test takes the `server` fixture, parametrised over the three kinds (each started once per session on
127.0.0.1 from its own virtual environment by `adapters.serving.launch`; a missing environment fails the test
with the command that installs it). Shipbrain reaches the server the way a user configures it (a `v2` entry
in the adapter registry) or through `V2Transport` where the test must watch the requests. Nothing is mocked:
requests, answers and faults (a stopped server, a killed one) are real. The table of server x check is printed
at the end of the run (`conftest.py`).
"""

from __future__ import annotations

import dataclasses
import json
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
from adapters.transports.inprocess import OnnxTransport
from adapters.transports.v2 import BinaryMode, TensorMetadata, V2Transport
from adapters.welding import WeldingAdapter, encode_joints
from knowledge.settings import Settings
from knowledge.store import YardStore
from tests.e2e.servers import ECHO_MODELS, FAST, WELDING_FEATURES, RunningServer, ServerKind, start_server

pytest_plugins = ["tests.e2e.servers"]

SERVERS: tuple[ServerKind, ...] = ("mlserver", "triton", "kserve")
FAST_CONFIG: dict[str, float] = dataclasses.asdict(FAST)
"""`FAST` as an adapters.toml `policy` table."""


@pytest.fixture(scope="session", params=SERVERS)
def server(request: pytest.FixtureRequest) -> RunningServer:
    """The server under test: the session's `mlserver`, `triton` or `kserve` fixture."""
    running: RunningServer = request.getfixturevalue(request.param)
    return running


@pytest.fixture(scope="session")
def demo_joints(yard_factory: Callable[[int, int], Path]) -> pa.Table:
    """The demo yard's weld joints as the welding model's input rows: the yard `shipbrain demo` makes by default
    (the settings' default `demo_parts` and `demo_seed`)."""
    fields = Settings.model_fields
    parts, seed = fields["demo_parts"].default, fields["demo_seed"].default
    yard = YardStore.open(yard_factory(parts, seed))
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

    on_answer: list[Callable[[Exchange], None]] = field(default_factory=list)
    """Called with each inference request once its answer is read (in the calling thread, before the caller sees it)."""

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
        if exchange.method == "POST" and exchange.path.endswith("/infer"):
            for hook in self.on_answer:
                hook(exchange)


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
REFUSED_FP64 = "refused before sending, naming the input (Triton reads JSON numbers without full precision)"
"""The table's note for FP64 as JSON toward Triton: its parser (rapidjson, without kParseFullPrecisionFlag) may read a
float64 one unit in the last place off, so the client refuses rather than send it."""
REFUSED_BY_DESIGN: ServerKind = "mlserver"
"""The one server whose answers to NaN and FP16 may be a refusal with the default ("auto") wire: MLServer reads the
binary tensor extension over gRPC only, so NaN and FP16 can reach it only as JSON, which cannot carry them. Triton and
KServe read the extension: there a refusal would be a client bug, and fails the check."""


def expected_json_refusal(server: RunningServer, datatype: str) -> str | None:
    """Why the client must refuse `datatype` as JSON toward `server` (the table's note), or None: it must go."""
    if datatype == "FP16":
        return REFUSED
    if datatype == "FP64" and server.kind == "triton":
        return REFUSED_FP64
    return None


@pytest.mark.parametrize("wire", ["auto", "json"])
@pytest.mark.parametrize("datatype", list(DATATYPE_SAMPLES))
def test_datatype(
    server: RunningServer, recorder: Recorder, datatype: str, wire: str, request: pytest.FixtureRequest
) -> None:
    """An echo model answers the tensor it was sent: same datatype, shape and values, to the bit.

    "auto": the binary tensor extension where the server reads it (Triton, KServe), else JSON: only MLServer may
    refuse FP16, before sending, naming the input. "json" (binary = false): FP16 is refused on every server, and
    FP64 toward Triton (not bit-exact there); everything else must come back to the bit.
    """
    sample = DATATYPE_SAMPLES[datatype]
    binary: BinaryMode = "auto" if wire == "auto" else False
    transport = V2Transport(server.url, ECHO_MODELS[datatype], policy=FAST, client=recorder.client, binary=binary)
    if wire == "json":
        must_refuse = expected_json_refusal(server, datatype)
    else:
        must_refuse = REFUSED if datatype == "FP16" and server.kind == REFUSED_BY_DESIGN else None
    if must_refuse is not None:
        with pytest.raises(AdapterInputError) as refused:
            transport.infer({"x": sample})
        assert f"input 'x' is {datatype}" in str(refused.value) and recorder.infer_calls() == [], refused.value
        request.node.user_properties.append(("note", must_refuse))
        return
    echoed = transport.infer({"x": sample})["y"]
    assert echoed.shape == sample.shape
    if datatype == "BYTES":
        assert [[str(v) for v in row] for row in echoed.tolist()] == sample.tolist()
    else:
        assert echoed.dtype == sample.dtype
        assert echoed.tobytes() == sample.tobytes()
    sent = recorder.infer_calls()[0].request
    assert sent is not None
    assert [(i["datatype"], i["shape"]) for i in sent["inputs"]] == [(datatype, list(sample.shape))]
    assert all(("data" in i) is (wire == "json" or not transport.uses_binary()) for i in sent["inputs"])


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
    may_refuse = server.kind == REFUSED_BY_DESIGN
    for _ in range(FAST.breaker_failures + 1):
        try:
            got = transport.infer({"features": batch})
        except AdapterInputError as refused:
            assert may_refuse, f"{server.kind} reads the binary tensor extension; the client refused: {refused}"
            assert "'features'" in str(refused) and recorder.infer_calls() == [], refused
            request.node.user_properties.append(("note", REFUSED))
            continue
        for name in ("hours", "defect_probability"):
            assert got[name].reshape(-1).tobytes() == np.asarray(local[name]).reshape(-1).tobytes()
    assert len(recorder.infer_calls()) in (0, FAST.breaker_failures + 1)  # each call sent once, never retried
    valid = encode_joints(demo_joints.slice(0, 5))
    assert transport.infer({"features": valid})["hours"].size == 5


def test_empty_input(server: RunningServer, demo_joints: pa.Table, recorder: Recorder) -> None:
    """No rows: zero rows back with a scored batch's columns and types, and no inference request sent (PyTriton
    answers a [0, 10] tensor 400 or 500)."""
    transport = V2Transport(server.url, server.model, policy=FAST, client=recorder.client)
    model = WeldingAdapter(transport, "1")
    got = model.predict(demo_joints.slice(0, 0))
    assert isinstance(got, pa.Table) and got.num_rows == 0
    assert set(got.column_names) >= {"hours", "defect_probability"}
    assert recorder.infer_calls() == []
    assert got.schema == model.predict(demo_joints.slice(0, 3)).schema


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
    """The server dies (SIGKILL) while a large prediction is under way: an error, and no partial output.

    The kill is made by the client's own answer hook, on the 3rd answer, before the client sees it: it always lands
    mid-run (~90 requests of 2,048 rows), whatever the machine's speed.
    """
    transport = V2Transport(spare_server.url, spare_server.model, policy=FAST, client=recorder.client)
    model = WeldingAdapter(transport, "1", batch_size=2_048)
    requests = -(-demo_joints.num_rows // 2_048)
    answered: list[int] = []

    def kill_on_the_third(exchange: Exchange) -> None:
        answered.append(exchange.status or 0)
        if len(answered) == 3:
            spare_server.kill()

    recorder.on_answer.append(kill_on_the_third)
    with pytest.raises(ModelCallError) as caught:
        model.predict(demo_joints)  # no result: it raises
    assert not isinstance(caught.value, ModelResponseError), caught.value  # the server is gone, not the request
    assert answered[:3] == [200, 200, 200]
    assert 3 < len(recorder.infer_calls()) < requests // 2  # the retries of the next request(s), not the rest
