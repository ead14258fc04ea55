"""Webhooks to one receiver do not wait on another's (review of 2026-12-02, finding 10).

Was: one dispatcher thread delivered every webhook in turn, so a receiver that hung held up everyone's webhooks for
`webhook_timeout_s` (10 s) per attempt; and a webhook given up after its last attempt was visible nowhere but the
outbox table. Now deliveries run on a pool, at most `per_destination` at once to one destination, the outbox is read
past the destinations that are full, and a given-up webhook is logged as an error and reads `given_up`. Real parts:
the service's app with its workers, webhooks over real HTTP to receivers on loopback.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.service.conftest import Api, service_settings
from tests.service.receiver import running_receiver
from workflows.service.webhooks import PER_DESTINATION, destination_of, webhook_status


@contextmanager
def hanging_receiver() -> Iterator[tuple[str, dict[str, int], threading.Event]]:
    """A receiver that takes each webhook and answers only when released: its URL, its counts, its release."""
    counts = {"arrived": 0, "at_once": 0, "most_at_once": 0}
    lock, release = threading.Lock(), threading.Event()

    class Hanging(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            with lock:
                counts["arrived"] += 1
                counts["at_once"] += 1
                counts["most_at_once"] = max(counts["most_at_once"], counts["at_once"])
            release.wait(30)
            with lock:
                counts["at_once"] -= 1
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hanging)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", counts, release
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def test_a_hanging_receiver_does_not_delay_another_destinations_webhook(make_api: Callable[..., Api]) -> None:
    api = make_api(service=service_settings(webhook_timeout_s=8.0))
    with hanging_receiver() as (hanging_url, counts, release), running_receiver() as fast:
        for k in range(5):  # more than one destination may hold: they queue behind each other, not before others
            api.run({"input": {"tag": f"slow-{k}"}, "webhook_url": hanging_url})
        deadline = time.monotonic() + 20
        while counts["arrived"] < PER_DESTINATION:
            assert time.monotonic() < deadline, counts
            time.sleep(0.02)
        run = api.run({"input": {"tag": "fast"}, "webhook_url": fast.url}).json()
        ended = api.wait(run["run_id"])
        waited = time.monotonic()
        while not fast.deliveries:
            # before: behind five attempts of 8 s each
            assert time.monotonic() - waited < 3.0, "the other destination's webhook waited for the hanging one"
            time.sleep(0.02)
        assert ended["status"] == "completed"
        assert counts["most_at_once"] == PER_DESTINATION, counts  # the hanging one holds two workers, no more
        release.set()
        deadline = time.monotonic() + 30
        while counts["arrived"] < 5 or any(r.delivered_at is None for r in api.store.webhooks()):
            assert time.monotonic() < deadline, (counts, api.store.webhooks())
            time.sleep(0.05)
    assert all(r.attempts == 1 for r in api.store.webhooks()), "a webhook was sent twice"


def test_a_given_up_webhook_is_logged_and_reads_given_up(
    make_api: Callable[..., Api], caplog: pytest.LogCaptureFixture
) -> None:
    api = make_api(service=service_settings(webhook_max_attempts=2, webhook_max_backoff_s=1.0))
    with (
        caplog.at_level(logging.WARNING, logger="workflows.service.webhooks"),
        running_receiver(fail_first=100) as receiver,
    ):
        run = api.wait(api.run({"input": {}, "webhook_url": receiver.url}).json()["run_id"])
        deadline = time.monotonic() + 20
        while (row := api.store.webhooks(run["run_id"])[0]).attempts < 2:
            assert time.monotonic() < deadline, row
            assert webhook_status(row, 2) == "pending"
            time.sleep(0.05)
        time.sleep(2.0)  # past the next backoff: no third attempt
    (row,) = api.store.webhooks(run["run_id"])
    assert len(receiver.deliveries) == 2 and row.attempts == 2 and row.last_error == "HTTP 500"
    assert webhook_status(row, 2) == "given_up"
    given_up = [r for r in caplog.records if "given up" in r.getMessage()]
    assert len(given_up) == 1 and given_up[0].levelno == logging.ERROR
    assert row.webhook_id in given_up[0].getMessage() and "after 2 attempts: HTTP 500" in given_up[0].getMessage()
    # and the MES sees it on the run
    shown = api.get(f"/v1/runs/{run['run_id']}").json()["webhook"]
    assert shown["status"] == "given_up" and shown["attempts"] == 2 and shown["last_error"] == "HTTP 500"
    assert shown["next_attempt_at"] is None and shown["delivered_at"] is None


def test_a_destination_is_its_scheme_host_and_port() -> None:
    assert destination_of("https://hooks.example.com:8443/a/b?x=1") == "https://hooks.example.com:8443"
    assert destination_of("http://127.0.0.1:9/hook") != destination_of("http://127.0.0.1:10/hook")
    assert destination_of("http://h.example/hook") == destination_of("http://h.example?x")


def test_a_delivered_webhook_reads_delivered_on_its_run(make_api: Callable[..., Api]) -> None:
    api = make_api()
    with running_receiver() as receiver:
        run = api.wait(api.run({"input": {}, "webhook_url": receiver.url}).json()["run_id"])
        deadline = time.monotonic() + 20
        while (shown := api.get(f"/v1/runs/{run['run_id']}").json()["webhook"]) is None or shown["status"] == "pending":
            assert time.monotonic() < deadline, shown
            time.sleep(0.05)
    assert shown["status"] == "delivered" and shown["attempts"] == 1 and shown["delivered_at"] is not None
    assert api.get(f"/v1/runs/{api.wait(api.run({'input': {}}).json()['run_id'])['run_id']}").json()["webhook"] is None
