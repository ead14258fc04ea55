"""V2Transport against answers no real server here gives: a wrong echoed id, a 500 that says the request could not be
parsed, broken binary answers, metadata with fields absent, KServe versions before the binary extension.

httpx.MockTransport answers, so each odd answer can be made exactly; what real servers answer (MLServer, Triton,
KServe) is in tests/e2e/test_transport_v2.py.
"""

from __future__ import annotations

import json
import logging
import tracemalloc
from pathlib import Path
from typing import Literal

import httpx
import numpy as np
import pytest

from adapters.errors import AdapterInputError, ModelResponseError, ModelUnavailableError
from adapters.registry import Registry
from adapters.serving.launch import free_port
from adapters.transports._resilience import raise_for_status
from adapters.transports.base import CallPolicy
from adapters.transports.v2 import ServerMetadata, V2Transport
from knowledge.settings import Settings

FAST = CallPolicy(max_attempts=3, backoff_initial_s=0.001, backoff_max_s=0.002, breaker_failures=2)
METADATA = {"name": "welding", "versions": ["1"], "platform": "onnxruntime_onnx"}


def transport_answering(
    answer: httpx.Response,
    *,
    binary: bool | Literal["auto"] = False,
    server: dict[str, object] | None = None,
    metadata: dict[str, object] | None = None,
    asked: list[httpx.Request] | None = None,
) -> tuple[V2Transport, list[httpx.Request]]:
    """A transport whose server answers `answer` to every inference request (they are listed in the second item).

    Its discovery requests (listed in `asked`, if given) get `metadata` (default: a model "welding", version "1") for
    the model, 404 for a model configuration, and `server` (404 when None) for `GET /v2`.
    """
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            seen.append(request)
            return answer
        if asked is not None:
            asked.append(request)
        if request.url.path == "/v2":
            return httpx.Response(200, json=server) if server is not None else httpx.Response(404, json={"error": "?"})
        if request.url.path.endswith("/config"):
            return httpx.Response(404, json={"error": "no such endpoint"})
        return httpx.Response(200, json=metadata or METADATA)

    client = httpx.Client(transport=httpx.MockTransport(handle))
    return V2Transport("http://v2.test", "welding", policy=FAST, client=client, binary=binary), seen


def test_an_answer_with_another_id_is_refused() -> None:
    """Finding 4: the answer must be to this request: an echoed id that is not the one sent is a terminal error."""
    answer = httpx.Response(200, json={"model_name": "welding", "id": "someone-else", "outputs": []})
    transport, seen = transport_answering(answer)
    with pytest.raises(ModelResponseError, match="the answer's id 'someone-else' is not the request's"):
        transport.infer({"x": np.zeros(2, np.float32)})
    assert len(seen) == 1
    assert len(json.loads(seen[0].content)["id"]) == 32


@pytest.mark.parametrize(
    "message",
    [
        "attempt to access JSON non-number as double",  # Triton, a NaN sent as JSON null
        "failed to parse the request JSON buffer: Invalid value.",
        "Unable to parse 'data': expected a number",
    ],
)
def test_a_500_that_cannot_parse_the_request_is_not_retried(message: str) -> None:
    """Finding 7 (and 2): sending the same request again gets the same 500: one attempt, and the breaker stays
    closed however often it comes."""
    transport, seen = transport_answering(httpx.Response(500, json={"error": message}))
    for call in range(1, FAST.breaker_failures + 2):
        with pytest.raises(ModelResponseError, match="HTTP 500"):
            transport.infer({"x": np.zeros(2, np.float32)})
        assert len(seen) == call


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (500, "CUDA out of memory"),
        (500, "could not parse the model's configuration"),  # review finding 8: not a request it cannot parse
        (500, "operation not supported by the backend right now"),
        (502, "upstream could not parse the answer"),
        (503, "loading"),
        (504, "timeout"),
    ],
)
def test_other_5xx_stay_retryable(status: int, message: str) -> None:
    request = httpx.Request("POST", "http://v2.test/v2/models/welding/infer")
    with pytest.raises(ModelUnavailableError):
        raise_for_status("welding", "v2", httpx.Response(status, json={"error": message}, request=request))


def test_501_is_terminal() -> None:
    request = httpx.Request("POST", "http://v2.test/v2/models/welding/versions/1/infer")
    answer = httpx.Response(501, json={"error": "Model versioning not supported yet."}, request=request)
    with pytest.raises(ModelResponseError, match="HTTP 501"):
        raise_for_status("welding", "v2", answer)


def binary_answer(header: dict[str, object], tail: bytes, length: int | None = None) -> httpx.Response:
    body = json.dumps(header).encode()
    headers = {"Inference-Header-Content-Length": str(len(body) if length is None else length)}
    return httpx.Response(200, content=body + tail, headers=headers)


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (
            binary_answer(
                {"model_name": "w", "outputs": [{"name": "y", "datatype": "FP32", "shape": [2], "parameters": {}}]},
                b"",
            ),
            "neither `data` nor `parameters.binary_data_size`",
        ),
        (
            binary_answer(
                {
                    "model_name": "w",
                    "outputs": [{"name": "y", "datatype": "FP32", "shape": [2], "parameters": {"binary_data_size": 8}}],
                },
                b"\x00" * 4,
            ),
            "binary_data_size 8 but 4 bytes are left",
        ),
        (
            binary_answer(
                {
                    "model_name": "w",
                    "outputs": [{"name": "y", "datatype": "FP32", "shape": [3], "parameters": {"binary_data_size": 8}}],
                },
                b"\x00" * 8,
            ),
            "8 bytes for 3 elements of 4 bytes",
        ),
        (
            binary_answer(
                {
                    "model_name": "w",
                    "outputs": [{"name": "y", "datatype": "FP32", "shape": [1], "parameters": {"binary_data_size": 4}}],
                },
                b"\x00" * 6,
            ),
            "2 bytes after its outputs' binary data",
        ),
        (binary_answer({"model_name": "w", "outputs": []}, b"", length=10_000), "does not fit an answer"),
    ],
    ids=["no-data", "short", "wrong-size", "trailing", "bad-header-length"],
)
def test_broken_binary_answers_say_what_was_wrong(answer: httpx.Response, problem: str) -> None:
    transport, seen = transport_answering(answer, binary=True)
    with pytest.raises(ModelResponseError) as caught:
        transport.infer({"x": np.zeros(2, np.float32)})
    assert problem in caught.value.detail
    assert len(seen) == 1


@pytest.mark.parametrize("datatype", ["FP32", "FP64", "INT64"])
def test_a_binary_output_is_read_with_one_copy_into_an_array_of_its_own(datatype: str) -> None:
    """Decoding a binary output copies its bytes once (it copied them twice: out of the body, then by astype), and the
    array is writable, in native byte order, and holds no view of the answer's body."""
    dtype = {"FP32": np.float32, "FP64": np.float64, "INT64": np.int64}[datatype]
    values = np.arange(2_000_000, dtype=np.dtype(dtype).newbyteorder("<")).reshape(-1, 2)
    output = {
        "name": "y",
        "datatype": datatype,
        "shape": list(values.shape),
        "parameters": {"binary_data_size": values.nbytes},
    }
    transport, _ = transport_answering(binary_answer({"model_name": "w", "outputs": [output]}, values.tobytes()))
    transport.served()  # discovery, outside what is measured
    tracemalloc.start()
    try:
        got = transport.infer({"x": np.zeros(2, np.float32)})["y"]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * values.nbytes  # one copy of the tensor (two before), plus a little
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative and got.shape == values.shape
    assert np.array_equal(got, values)
    assert got.flags.writeable and got.flags.owndata  # no view of the body
    got[0, 0] = 7  # the caller's to change


@pytest.mark.parametrize(
    "body",
    [
        {"name": "welding"},
        {"name": "welding", "versions": None, "platform": None, "inputs": None, "outputs": None, "parameters": None},
    ],
    ids=["absent", "null"],
)
def test_metadata_tolerates_absent_or_null_optional_fields(body: dict[str, object]) -> None:
    """Finding 1 (KServe answers `"versions": null`; the real server's answer is in the e2e tests)."""
    transport, _ = transport_answering(httpx.Response(200, json={}), metadata=body)
    metadata = transport.metadata()
    assert (metadata.versions, metadata.platform, metadata.inputs, metadata.parameters) == ([], "", [], {})


def test_metadata_still_requires_the_name() -> None:
    transport, _ = transport_answering(httpx.Response(200, json={}), metadata={"versions": ["1"]})
    with pytest.raises(ModelResponseError, match="name: Field required"):
        transport.metadata()
    transport, _ = transport_answering(httpx.Response(200, json={}), metadata={"name": None})
    with pytest.raises(ModelResponseError, match="name: Input should be a valid string"):
        transport.metadata()  # null is a default only where there is one


@pytest.mark.parametrize(
    ("server", "binary"),
    [
        ({"name": "triton", "version": "2.51.0", "extensions": ["binary_tensor_data"]}, True),
        ({"name": "kserve", "version": "0.21.0", "extensions": ["model_repository_extension"]}, True),
        ({"name": "kserve", "version": "0.14.0", "extensions": None}, True),
        ({"name": "kserve", "version": "0.13.1", "extensions": ["model_repository_extension"]}, False),
        ({"name": "mlserver", "version": "1.7.1", "extensions": []}, False),
        ({}, False),
        ({"name": None, "version": None, "extensions": None}, False),
    ],
)
def test_which_servers_get_the_binary_extension(server: dict[str, object], binary: bool) -> None:
    assert ServerMetadata.model_validate(server).binary is binary


def test_a_server_without_server_metadata_gets_json_and_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """Finding 5 of the review: "auto" falling back to JSON because `GET /v2` answers 4xx says so (JSON refuses NaN
    and FP16, and loses float64 precision on Triton)."""
    transport, _ = transport_answering(httpx.Response(404, json={"error": "not found"}), binary="auto")
    with caplog.at_level(logging.WARNING, logger="adapters.transports.v2"):
        assert transport.uses_binary() is False
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "gives no server metadata (GET /v2), so tensors go as JSON" in warning.getMessage()


def test_discover_never_raises_and_leaves_the_breaker_alone() -> None:
    seen: list[httpx.Request] = []

    def loading(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(503, json={"error": "loading"})

    client = httpx.Client(transport=httpx.MockTransport(loading))
    transport = V2Transport("http://v2.test", "welding", policy=FAST, client=client, binary=False)
    for _ in range(FAST.breaker_failures + 1):
        served = transport.discover()
        assert served.version is None and served.max_batch_size is None and "HTTP 503" in (served.problem or "")
    assert len(seen) == FAST.breaker_failures + 1  # one request a pass: it stops at the first failure, no retries
    with pytest.raises(ModelUnavailableError):  # not CircuitOpenError: discovery did not count
        transport.infer({"x": np.zeros(1, np.float32)})


def echo(request: httpx.Request) -> httpx.Response:
    """An echo model's answer: output "y" is input "x" (JSON), with the request's id."""
    body = json.loads(request.content)
    (tensor,) = body["inputs"]
    output = {"name": "y", "datatype": tensor["datatype"], "shape": tensor["shape"], "data": tensor["data"]}
    return httpx.Response(200, json={"model_name": "welding", "id": body["id"], "outputs": [output]})


def test_what_the_server_runs_is_learnt_on_the_first_call_and_a_failure_is_not_kept() -> None:
    """Review finding 1: nothing is asked when the transport is made; the first call asks (each request once, with
    the short connect timeout); a failed pass is asked again on the next call, and once the server has said its
    `max_batch_size` every call is split into requests of at most that many rows, outputs joined in order."""
    infers: list[httpx.Request] = []
    asked: list[httpx.Request] = []
    loading = [True]

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            infers.append(request)
            return echo(request)
        asked.append(request)
        if loading[0]:
            return httpx.Response(503, json={"error": "loading"})
        if request.url.path.endswith("/config") or request.url.path == "/v2":
            return httpx.Response(404, json={"error": "no such endpoint"})
        return httpx.Response(200, json={**METADATA, "parameters": {"max_batch_size": 4}})

    client = httpx.Client(transport=httpx.MockTransport(handle))
    transport = V2Transport("http://v2.test", "welding", policy=FAST, client=client)
    assert asked == []
    rows = np.arange(20, dtype=np.float32).reshape(10, 2)
    assert transport.infer({"x": rows})["y"].tobytes() == rows.tobytes()  # the server could not say: one request
    assert [len(json.loads(r.content)["inputs"][0]["data"]) for r in infers] == [20]
    assert len(asked) == 1 and asked[0].extensions["timeout"]["read"] == FAST.connect_timeout_s
    assert infers[0].extensions["timeout"]["read"] == FAST.timeout_s
    assert transport.served(again=False).problem is not None and len(asked) == 1  # a reader does not ask again

    loading[0] = False
    infers.clear()
    assert transport.infer({"x": rows})["y"].tobytes() == rows.tobytes()
    assert [json.loads(r.content)["inputs"][0]["shape"] for r in infers] == [[4, 2], [4, 2], [2, 2]]
    assert transport.served().max_batch_size == 4 and transport.served().version == "1"
    before = len(asked)
    transport.infer({"x": rows})
    assert len(asked) == before  # kept: not asked again


def test_a_failed_piece_fails_the_whole_call() -> None:
    """Split over the server's limit, one refused request is the call's error: no partial output."""
    posts: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            posts.append(request)
            return echo(request) if len(posts) != 2 else httpx.Response(400, json={"error": "refused"})
        if request.url.path == "/v2":
            return httpx.Response(200, json={"name": "mock"})
        return httpx.Response(200, json={**METADATA, "parameters": {"max_batch_size": 3}})

    transport = V2Transport(
        "http://v2.test", "welding", policy=FAST, client=httpx.Client(transport=httpx.MockTransport(handle))
    )
    with pytest.raises(ModelResponseError, match="HTTP 400"):
        transport.infer({"x": np.ones((7, 1), np.float32)})
    assert len(posts) == 2


def test_infer_asks_for_an_answer_not_gzipped() -> None:
    """Review finding 4: Triton gzips any answer whose request accepts it; infer requests accept only identity."""
    transport, infers = transport_answering(httpx.Response(200, json={"model_name": "welding", "outputs": []}))
    transport.infer({"x": np.zeros((1, 1), np.float32)})
    (request,) = infers
    assert request.headers["accept-encoding"] == "identity"


@pytest.mark.parametrize(("server", "refused"), [("triton", True), ("mlserver", False)])
def test_json_refuses_float64_toward_triton(server: str, refused: bool) -> None:
    """Review finding 5: Triton reads JSON numbers without full precision, so FP64 as JSON (binary = false) is refused
    before sending, naming the input; a server that reads them exactly gets them."""
    infers: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            infers.append(request)
            return echo(request)
        if request.url.path == "/v2":
            return httpx.Response(200, json={"name": server, "version": "1", "extensions": []})
        return httpx.Response(200, json=METADATA)

    client = httpx.Client(transport=httpx.MockTransport(handle))
    transport = V2Transport("http://v2.test", "welding", policy=FAST, client=client, binary=False)
    sample = np.array([[0.1, 1 / 3]], dtype=np.float64)
    if refused:
        with pytest.raises(AdapterInputError, match="input 'x' is FP64, which Triton reads from JSON without full"):
            transport.infer({"x": sample})
        assert infers == []
    else:
        assert transport.infer({"x": sample})["y"].tobytes() == sample.tobytes()


def test_switching_versions_and_back_pins_nothing_the_server_was_asked(tmp_path: Path) -> None:
    """Review finding 3: the default version's label came from its server (down here: "unknown"); switching to
    version 2 and back wrote it into the entry, which then pinned `/versions/unknown`. A label is never sent."""
    down = f"http://127.0.0.1:{free_port()}"
    (tmp_path / "adapters.toml").write_text(
        f'[models.welding]\ntransport = "v2"\nurl = "{down}"\n'
        "policy = { connect_timeout_s = 0.5, max_attempts = 1 }\n"
        '[models.welding.versions.2]\nremote_name = "welding-2"\n'
    )
    registry = Registry.load(Settings(data_dir=tmp_path))
    assert registry.versions("welding") == ("unknown", "2")
    two = registry.with_versions({"welding": "2"})
    assert two.get("welding").transport.version is None  # type: ignore[attr-defined]  # "2" is a label
    back = two.with_versions({"welding": "unknown"})
    assert back.configs["welding"].version is None
    assert back.get("welding").transport.version is None  # type: ignore[attr-defined]
