"""V2Transport against answers no real server here gives: a wrong echoed id, a 500 that says the request could not be
parsed, broken binary answers, metadata with fields absent, KServe versions before the binary extension.

httpx.MockTransport answers, so each odd answer can be made exactly; what real servers answer (MLServer, Triton,
KServe) is in tests/e2e/test_transport_v2.py.
"""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest

from adapters.errors import ModelResponseError, ModelUnavailableError
from adapters.transports._resilience import raise_for_status
from adapters.transports.base import CallPolicy
from adapters.transports.v2 import ServerMetadata, V2Transport

FAST = CallPolicy(max_attempts=3, backoff_initial_s=0.001, backoff_max_s=0.002, breaker_failures=2)


def transport_answering(answer: httpx.Response, *, binary: bool = False) -> tuple[V2Transport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer

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
    [(500, "CUDA out of memory"), (502, "upstream could not parse the answer"), (503, "loading"), (504, "timeout")],
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
    transport, _ = transport_answering(httpx.Response(200, json=body))
    metadata = transport.metadata()
    assert (metadata.versions, metadata.platform, metadata.inputs, metadata.parameters) == ([], "", [], {})


def test_metadata_still_requires_the_name() -> None:
    transport, _ = transport_answering(httpx.Response(200, json={"versions": ["1"]}))
    with pytest.raises(ModelResponseError, match="name: Field required"):
        transport.metadata()


@pytest.mark.parametrize(
    ("server", "binary"),
    [
        ({"name": "triton", "version": "2.51.0", "extensions": ["binary_tensor_data"]}, True),
        ({"name": "kserve", "version": "0.21.0", "extensions": ["model_repository_extension"]}, True),
        ({"name": "kserve", "version": "0.14.0", "extensions": None}, True),
        ({"name": "kserve", "version": "0.13.1", "extensions": ["model_repository_extension"]}, False),
        ({"name": "mlserver", "version": "1.7.1", "extensions": []}, False),
        ({}, False),
    ],
)
def test_which_servers_get_the_binary_extension(server: dict[str, object], binary: bool) -> None:
    assert ServerMetadata.model_validate(server).binary is binary


def test_a_server_without_server_metadata_gets_json() -> None:
    transport, seen = transport_answering(httpx.Response(404, json={"error": "not found"}), binary=False)
    auto = V2Transport("http://v2.test", "welding", policy=FAST, client=transport._client)
    assert auto.uses_binary() is False and seen[-1].url.path == "/v2"


def test_discover_never_raises_and_leaves_the_breaker_alone() -> None:
    transport, seen = transport_answering(httpx.Response(503, json={"error": "loading"}), binary=False)
    for _ in range(FAST.breaker_failures + 1):
        served = transport.discover()
        assert served.version is None and served.max_batch_size is None and "HTTP 503" in (served.problem or "")
    assert len(seen) == FAST.breaker_failures + 1  # one attempt each, no retries
    with pytest.raises(ModelUnavailableError):  # not CircuitOpenError: discovery did not count
        transport.infer({"x": np.zeros(1, np.float32)})
