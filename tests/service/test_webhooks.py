"""Webhooks: written with the run's end, signed the Standard Webhooks way, retried with the same id until taken."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from standardwebhooks import Webhook

from tests.service.conftest import SECRET, Api
from tests.service.receiver import Receiver, running_receiver


def _wait_for(receiver: Receiver, count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while len(receiver.deliveries) < count:
        assert time.monotonic() < deadline, f"{len(receiver.deliveries)} of {count} webhooks arrived"
        time.sleep(0.05)


def test_a_completed_run_posts_a_signed_webhook(api: Api) -> None:
    with running_receiver() as receiver:
        run = api.run({"input": {"tag": "hook"}, "webhook_url": receiver.url}).json()
        assert run["webhook_url"] == receiver.url
        _wait_for(receiver, 1)
        time.sleep(0.3)
    assert len(receiver.deliveries) == 1
    delivery = receiver.deliveries[0]
    payload = Webhook(SECRET).verify(delivery.body, delivery.headers)
    assert payload["type"] == "run.completed" and payload["data"]["run_id"] == run["run_id"]
    assert payload["data"]["result"]["tag"] == "hook"
    assert delivery.headers["webhook-signature"].startswith("v1,")
    row = api.store.webhooks(run["run_id"])[0]
    assert row.webhook_id == delivery.headers["webhook-id"] and row.delivered_at is not None and row.attempts == 1


def test_a_tampered_webhook_does_not_verify(api: Api) -> None:
    with running_receiver() as receiver:
        api.run({"input": {}, "webhook_url": receiver.url})
        _wait_for(receiver, 1)
    delivery = receiver.deliveries[0]
    body = json.loads(delivery.body)
    body["data"]["status"] = "failed"
    try:
        Webhook(SECRET).verify(json.dumps(body), delivery.headers)
    except Exception as exc:
        assert "signature" in str(exc).lower()
    else:
        raise AssertionError("a changed body verified")


def test_a_failed_delivery_is_retried_with_the_same_webhook_id(api: Api) -> None:
    with running_receiver(fail_first=2) as receiver:
        run = api.run({"input": {}, "webhook_url": receiver.url}).json()
        _wait_for(receiver, 3, timeout=30)
    ids = receiver.ids()
    assert len(ids) == 3 and len(set(ids)) == 1
    for delivery in receiver.deliveries:
        Webhook(SECRET).verify(delivery.body, delivery.headers)
    assert len({d.body for d in receiver.deliveries}) == 1
    row = api.store.webhooks(run["run_id"])[0]
    assert row.attempts == 3 and row.delivered_at is not None and row.last_error is None


def test_failed_and_rejected_runs_post_their_webhooks_too(make_api: Callable[..., Api]) -> None:
    api = make_api()
    with running_receiver() as receiver:
        api.run({"input": {"refuse": True}, "webhook_url": receiver.url})
        _wait_for(receiver, 1)
    assert json.loads(receiver.deliveries[0].body)["type"] == "run.failed"


def test_a_run_without_a_webhook_writes_none(api: Api) -> None:
    run = api.wait(api.run({"input": {}}).json()["run_id"])
    assert run["webhook_url"] is None and api.store.webhooks(run["run_id"]) == []
