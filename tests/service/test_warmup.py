"""The service answers at once and warms the yard in the background; after a restart it reads what it kept.

Issue 11, item 10: the first schedule question after a start predicted every joint and solved CP-SAT (90 s at 25M
parts). The service's one yard context (the brain's and the workflows') is warmed when it starts, and the
predictions and the base schedule are read from the yard's cache after a restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI

from tests.service.conftest import Api
from workflows.service.app import ServiceState


def _state(api: Api) -> ServiceState:
    app = api.client.app
    assert isinstance(app, FastAPI)
    state: ServiceState = app.state.service
    return state


def _wait_warm(api: Api, timeout: float = 180.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        health = api.client.get("/healthz").json()
        if health["warm_up"]["state"] in ("ready", "failed"):
            return dict(health["warm_up"])
        assert time.monotonic() < deadline, health
        time.sleep(0.1)


def test_the_service_answers_at_once_and_warms_the_yard_in_the_background(make_api: Callable[..., Api]) -> None:
    seen: list[tuple[str, int, int]] = []
    api = make_api(warm=True, warm_progress=lambda *step: seen.append(step))
    first = api.client.get("/healthz")
    assert first.status_code == 200 and first.json()["status"] == "ok"
    assert first.json()["warm_up"]["state"] in ("warming", "ready")
    assert api.get("/v1/workflows", scope="run").status_code == 200  # answers while warming
    warm = _wait_warm(api)
    assert warm["state"] == "ready" and warm["error"] is None, warm
    assert (warm["step"], warm["done"], warm["total"]) == ("done", 3, 3)
    assert [s for s, _, _ in seen] == ["welding predictions", "outfitting predictions", "adopted schedule", "done"]
    state = _state(api)
    assert state.brain.context is state.ctx  # one context: warming it serves the brain and the workflows
    for model in ("welding", "outfitting"):
        assert state.ctx.cached_predictions(model) is not None
    kept = sorted(p.name.split("-")[0] + "-" + p.name.split("-")[1] for p in state.ctx.cache.dir.iterdir())
    assert "predictions-welding" in kept and "predictions-outfitting" in kept and "schedule-base" in kept


def test_after_a_restart_the_first_schedule_question_reads_what_was_kept(
    make_api: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make_api(warm=True)
    assert _wait_warm(first)["state"] == "ready"
    first.close()

    import adapters.scheduling
    from adapters.executor import BatchExecutor

    def no_solve(*_: object, **__: object) -> None:
        raise AssertionError("CP-SAT solved again after a restart")

    def no_predictions(*_: object, **__: object) -> None:
        raise AssertionError("the yard predicted again after a restart")

    monkeypatch.setattr(adapters.scheduling, "solve", no_solve)
    monkeypatch.setattr(BatchExecutor, "run", no_predictions)
    second = make_api(warm=True)
    warm = _wait_warm(second)
    assert warm["state"] == "ready", warm
    answer = second.post("/v1/ask", {"question": "When will B004 be erected?"}, scope="ask")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["results"] and body["results"][0]["tool"] == "erection_schedule"
    assert not body["results"][0]["error"], body["results"][0]["error"]
    assert "B004" in body["answer"]


def test_without_warming_health_is_as_before(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    state = _state(api)
    assert state.warmup is None and state.brain.context is state.ctx
