"""Shipbrain's KServe model server (`adapters/serving/kserve_onnx.py`) reads binary tensor extension requests itself.

Its data plane keeps binary inputs as bytes (KServe 0.21's own turns them into Python lists, which costs more than
the model: `benchmarks/v2_throughput.py`), so it must also answer every malformed binary request as KServe answers a
bad request: 400 with what was wrong, never a 500, and the server keeps answering. Real server on loopback, raw HTTP.
"""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest

from adapters.serving.launch import RunningServer

pytest_plugins = ["tests.e2e.servers"]

FEATURES = np.arange(20, dtype=np.float32).reshape(2, 10)


def post_binary(server: RunningServer, header: object, tail: bytes) -> httpx.Response:
    head = json.dumps(header).encode()
    return httpx.post(
        f"{server.url}/v2/models/{server.model}/infer",
        content=head + tail,
        headers={"Inference-Header-Content-Length": str(len(head)), "Content-Type": "application/octet-stream"},
        timeout=30,
    )


def features(shape: list[int], size: int | None = None) -> dict[str, object]:
    parameters = {} if size is None else {"binary_data_size": size}
    return {"name": "features", "shape": shape, "datatype": "FP32", "parameters": parameters}


def test_a_binary_request_is_answered_as_the_same_request_in_json(kserve: RunningServer) -> None:
    url = f"{kserve.url}/v2/models/{kserve.model}/infer"
    as_json = httpx.post(
        url, json={"id": "j", "inputs": [features([2, 10]) | {"data": FEATURES.ravel().tolist()}]}, timeout=30
    )
    binary = post_binary(kserve, {"id": "b", "inputs": [features([2, 10], FEATURES.nbytes)]}, FEATURES.tobytes())
    assert as_json.status_code == binary.status_code == 200, (as_json.text, binary.text)
    assert binary.json()["id"] == "b"
    assert [output["data"] for output in binary.json()["outputs"]] == [
        output["data"] for output in as_json.json()["outputs"]
    ]


@pytest.mark.parametrize(
    ("header", "says"),
    [
        ({"id": "a", "inputs": "features"}, "Unrecognized request format"),
        ([{"name": "features"}], "Unrecognized request format"),
        ({"id": "a", "inputs": [{"name": "features", "shape": [2, 10]}]}, "Unrecognized request format"),
        ({"id": "a", "inputs": [features([2, 10])]}, "'features'"),
        ({"id": "a", "inputs": [features([2, 10], FEATURES.nbytes * 10)]}, "'features'"),
        ({"id": "a", "inputs": [features([2, 10], -4)]}, "'features'"),
        ({"id": "a", "inputs": [features([3, 10], FEATURES.nbytes)]}, "'features'"),
    ],
    ids=["inputs-not-a-list", "not-an-object", "no-datatype", "no-size", "size-past-end", "negative-size", "shape"],
)
def test_a_malformed_binary_request_is_a_400_naming_what_is_wrong(
    kserve: RunningServer, header: object, says: str
) -> None:
    response = post_binary(kserve, header, FEATURES.tobytes())
    assert response.status_code == 400, response.text
    assert says in response.json()["error"]
    healthy = post_binary(kserve, {"id": "ok", "inputs": [features([2, 10], FEATURES.nbytes)]}, FEATURES.tobytes())
    assert healthy.status_code == 200, healthy.text
