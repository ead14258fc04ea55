"""`in_flight`: a v2 model's `predict` keeps that many batches in flight, in order, and fails whole on one failed batch.

Against the session's real MLServer, through a `FaultProxy` that holds each inference request a moment (so calls
overlap when the client sends them at once, and later batches can be answered before earlier ones), counts how many
are held at once, and can refuse the n-th one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from adapters.errors import ModelResponseError
from adapters.registry import V2_IN_FLIGHT, ModelConfig, Registry
from adapters.spec import Adapter, ModelAdapter
from benchmarks._weld_joints import weld_joints
from tests.e2e.servers import FaultProxy, MLServer

pytest_plugins = ["tests.e2e.servers"]

BATCH = 500
BATCHES = 8


class HoldingProxy(FaultProxy):
    """A `FaultProxy` that holds every request: an odd-numbered one `hold_s`, an even one a third of that (so later
    batches overtake earlier ones). `peak` is how many it held at the same moment; the `refuse_nth` request since
    `reset()` is answered `refuse_status` at once."""

    def __init__(self, upstream: str, hold_s: float = 0.45) -> None:
        super().__init__(upstream)
        self.hold_s = hold_s
        self.refuse_nth: int | None = None
        self.refuse_status = 400
        self.peak = 0
        self._active = 0
        self._count_lock = threading.Lock()

    def reset(self) -> None:
        with self._count_lock:
            self.hits, self.peak, self._active = 0, 0, 0

    def _next_action(self) -> int | None:
        with self._count_lock:
            self.hits += 1
            nth = self.hits
            self._active += 1
            self.peak = max(self.peak, self._active)
        try:
            if nth == self.refuse_nth:
                return self.refuse_status
            time.sleep(self.hold_s if nth % 2 == 1 else self.hold_s / 3)  # the next batch overtakes an odd one
            return None
        finally:
            with self._count_lock:
                self._active -= 1


@pytest.fixture
def proxy(mlserver: MLServer) -> Iterator[HoldingProxy]:
    holding = HoldingProxy(mlserver.url)
    try:
        yield holding
    finally:
        holding.stop()


def remote(url: str, in_flight: int | None) -> Registry:
    """A registry whose welding model is on the server at `url`, as adapters.toml would configure it."""
    entry = ModelConfig(
        transport="v2",
        url=url,
        batch_size=BATCH,
        in_flight=in_flight,
        policy={"max_attempts": 1, "breaker_failures": 5, "timeout_s": 30},
    )
    return Registry({"welding": entry})


@pytest.fixture(scope="module")
def rows() -> pa.Table:
    return weld_joints(BATCH * BATCHES - 123, seed=7)  # a short last batch


@pytest.fixture(scope="module")
def expected(welding_onnx: Path, rows: pa.Table) -> pa.Table:
    registry = Registry({"welding": ModelConfig(transport="onnx", path=welding_onnx)})
    try:
        return registry.get("welding").predict(rows)
    finally:
        registry.close()


def predict_through(proxy: HoldingProxy, in_flight: int | None, rows: pa.Table) -> tuple[Adapter, pa.Table]:
    registry = remote(proxy.url, in_flight)
    model = registry.get("welding")
    model.predict(rows.slice(0, 1))  # the client asks the server what it serves: not counted below
    proxy.reset()
    try:
        return model, model.predict(rows)
    finally:
        registry.close()


@pytest.mark.parametrize("in_flight", [1, 3])
def test_in_flight_batches_overlap_and_keep_the_input_order(
    proxy: HoldingProxy, rows: pa.Table, expected: pa.Table, in_flight: int
) -> None:
    model, got = predict_through(proxy, in_flight, rows)
    assert isinstance(model, ModelAdapter) and model.spec.in_flight == in_flight
    assert proxy.hits == BATCHES  # one request a batch
    assert proxy.peak == in_flight  # that many held at once, never more
    # Odd-numbered requests were held longer: later batches were answered first, yet every row is where it was sent.
    assert got.equals(expected)


def test_v2_models_keep_two_in_flight_by_default(proxy: HoldingProxy, rows: pa.Table, expected: pa.Table) -> None:
    model, got = predict_through(proxy, None, rows)
    assert isinstance(model, ModelAdapter) and model.spec.in_flight == V2_IN_FLIGHT == 2
    assert proxy.peak == 2
    assert got.equals(expected)


def test_an_in_process_model_sends_one_batch_at_a_time(welding_onnx: Path) -> None:
    registry = Registry({"welding": ModelConfig(transport="onnx", path=welding_onnx)})
    try:
        model = registry.get("welding")
        assert isinstance(model, ModelAdapter) and model.spec.in_flight == 1
    finally:
        registry.close()


@pytest.mark.parametrize("failing", [1, 3, BATCHES])
def test_one_failed_batch_fails_the_whole_predict(
    proxy: HoldingProxy, rows: pa.Table, expected: pa.Table, failing: int
) -> None:
    registry = remote(proxy.url, 3)
    model = registry.get("welding")
    model.predict(rows.slice(0, 1))  # the client asks the server what it serves: not counted below
    proxy.reset()
    proxy.refuse_nth = failing
    try:
        with pytest.raises(ModelResponseError, match="400"):
            model.predict(rows)
        sent = proxy.hits
        time.sleep(2 * proxy.hold_s)
        assert proxy.hits == sent  # nothing was still being sent after predict raised
        if failing < BATCHES:
            assert sent < BATCHES  # batches after the failure were not sent
        # The model is not broken by it: the next call scores every row, in order.
        proxy.refuse_nth = None
        assert model.predict(rows).equals(expected)
    finally:
        registry.close()
