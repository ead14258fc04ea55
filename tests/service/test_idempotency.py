"""Idempotency-Key: one run per key and API key, whatever the retries; another body under the key is refused."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx

from tests.service.conftest import Api


def test_the_same_key_and_body_give_the_same_run(api: Api) -> None:
    body = {"input": {"tag": "x"}}
    first = api.run(body, **{"Idempotency-Key": "order-1"})
    assert first.status_code == 202 and "idempotent-replayed" not in first.headers
    assert "idempotency-key-expires" in first.headers
    again = api.run({"input": {"tag": "x"}}, **{"Idempotency-Key": "order-1"})
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["run_id"] == first.json()["run_id"] and again.headers["location"] == first.headers["location"]
    assert len(api.store.runs()) == 1


def test_the_same_key_with_another_body_is_422(api: Api) -> None:
    api.run({"input": {"tag": "x"}}, **{"Idempotency-Key": "order-2"})
    other = api.run({"input": {"tag": "y"}}, **{"Idempotency-Key": "order-2"})
    assert other.status_code == 422
    assert other.json()["error"]["type"] == "idempotency_key_reused"
    elsewhere = api.run(
        {"input": {"block": "B002", "reports": []}}, workflow="block-readiness", **{"Idempotency-Key": "order-2"}
    )
    assert elsewhere.status_code == 422
    assert len(api.store.runs()) == 1


def test_keys_belong_to_one_api_key(api: Api) -> None:
    a = api.run({"input": {}}, **{"Idempotency-Key": "shared"})
    b = api.client.post(
        "/v1/workflows/test-sleep/runs", json={"input": {}}, headers={**api.auth("run"), "Idempotency-Key": "shared"}
    )
    assert a.status_code == b.status_code == 202 and a.json()["run_id"] != b.json()["run_id"]


def test_a_bad_key_is_refused(api: Api) -> None:
    bad = api.run({"input": {}}, **{"Idempotency-Key": "x" * 300})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "header.Idempotency-Key"


def test_an_expired_key_names_a_new_run(api: Api) -> None:
    first = api.run({"input": {}}, **{"Idempotency-Key": "old"}).json()
    assert api.store.expire_idempotency_keys(timedelta(seconds=-1)) == 1
    again = api.run({"input": {}}, **{"Idempotency-Key": "old"})
    assert again.status_code == 202 and again.json()["run_id"] != first["run_id"]


def test_concurrent_duplicates_make_one_run(api: Api) -> None:
    barrier = threading.Barrier(8)

    def submit(_: int) -> httpx.Response:
        barrier.wait()
        return api.run({"input": {"tag": "c"}}, **{"Idempotency-Key": "race"})

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(submit, range(8)))
    codes = Counter(r.status_code for r in responses)
    assert set(codes) <= {200, 202, 409} and codes[202] == 1, codes
    assert len({r.json()["run_id"] for r in responses if r.status_code != 409}) == 1
    assert all(r.json()["error"]["type"] == "idempotency_key_in_flight" for r in responses if r.status_code == 409)
    assert len(api.store.runs()) == 1


def test_nothing_is_lost_under_retries(api: Api) -> None:
    """1,000 operations, each retried at random (sometimes at once, sometimes later) from 6 threads."""
    keys = [f"op-{k:04d}" for k in range(1000)]
    rng = random.Random(1)
    attempts = [k for k in keys for _ in range(rng.randint(1, 3))]
    rng.shuffle(attempts)
    seen: dict[str, set[str]] = defaultdict(set)
    lock = threading.Lock()

    def submit(key: str) -> None:
        for _ in range(50):  # a client retries 409 and transport errors
            response = api.run({"input": {"tag": key}}, **{"Idempotency-Key": key})
            if response.status_code in (200, 202):
                with lock:
                    seen[key].add(response.json()["run_id"])
                return
            assert response.status_code == 409, response.text
            time.sleep(0.01)
        raise AssertionError(f"{key} never got through")

    started = time.monotonic()
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(submit, attempts))
    assert all(len(seen[k]) == 1 for k in keys) and len(seen) == 1000
    deadline = time.monotonic() + 60
    while len(api.store.runs("completed")) < 1000:
        assert time.monotonic() < deadline, f"{len(api.store.runs('completed'))} of 1000 completed"
        time.sleep(0.2)
    runs = api.store.runs()
    assert len(runs) == 1000
    by_key: dict[Any, list[str]] = defaultdict(list)
    for run in runs:
        by_key[run.idempotency_key].append(run.run_id)
        assert run.status == "completed" and run.result == {
            "tag": run.idempotency_key,
            "steps": 1,
            "nodes": run.result["nodes"],
        }
    assert all(len(v) == 1 and {v[0]} == seen[k] for k, v in by_key.items())
    audit = Counter((a.action, a.target) for a in api.store.audit_entries() if a.action.startswith("run."))
    assert all(audit[("run.create", r.run_id)] == 1 and audit[("run.complete", r.run_id)] == 1 for r in runs)
    print(f"1,000 operations, {len(attempts)} submissions: {time.monotonic() - started:.1f} s")
