"""Webhook delivery from the outbox, signed the Standard Webhooks way.

A run's webhook row is written in the same transaction that ends the run (`Store.finish`), so a webhook exists
if and only if the run ended. The dispatcher sends due rows with the headers `webhook-id` (the row's id: the same
on every retry, the receiver's dedup key), `webhook-timestamp` (this attempt's time) and `webhook-signature`
(`v1,` + base64 HMAC-SHA256 of `id.timestamp.body`). A 2xx answer marks the row delivered; anything else (an
error status, a refused connection, a timeout) schedules another attempt after 1, 2, 4, ... seconds (capped,
with jitter), kept in the database so retries survive a restart. Delivery is at least once: a receiver that
answers after the service died mid-request gets the same `webhook-id` again.

Before each attempt the URL's host is resolved and checked (`workflows.service.destinations`), and the request goes
to the address checked, never to a second resolution of the name. Logs and the stored error show the URL without
its user info or query (`redact_url`).

The body is `{"type": "run.completed" | "run.failed" | "run.rejected", "timestamp": ..., "data": <the run>}`.

Deliveries run on a pool of `workers` threads, at most `per_destination` at once to one destination (a URL's
scheme, host and port as written), so a receiver that hangs holds at most that many workers, each for one
attempt's timeout, and every other destination's webhooks go on meanwhile. The outbox is read skipping the
destinations that are full, so however many webhooks wait for a hanging receiver, the others are found. A run
has one webhook, so nothing is reordered within a run; webhooks of different runs were never ordered.

A webhook whose attempts reach `webhook_max_attempts` is given up: logged as an error, kept in the outbox with its
last error, and its state (`webhook_status`) reads `given_up`.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Final, Literal
from urllib.parse import urlsplit

import httpx
from sqlalchemy import ColumnElement, and_, not_, or_, select, update
from standardwebhooks import Webhook

from workflows.service._tables import OUTBOX
from workflows.service.destinations import Destination, DestinationError, Destinations, redact_url
from workflows.service.models import RunView
from workflows.service.settings import ServiceSettings
from workflows.service.store import OutboxRow, RunRecord, Store, now

__all__ = [
    "PER_DESTINATION",
    "WORKERS",
    "Dispatcher",
    "WebhookStatus",
    "destination_of",
    "webhook_body",
    "webhook_status",
]

log = logging.getLogger(__name__)

WORKERS: Final = 16
"""Deliveries at once, per service process."""
PER_DESTINATION: Final = 2
"""Deliveries at once to one destination: what a hanging receiver may hold of `WORKERS`."""

WebhookStatus = Literal["pending", "delivered", "given_up"]
"""A webhook's state: still to be (re)tried, taken by its receiver (2xx), or given up after its last attempt."""


def webhook_status(row: OutboxRow, max_attempts: int) -> WebhookStatus:
    """Where a webhook stands, with `max_attempts` (the service's `webhook_max_attempts`) its attempts at most."""
    if row.delivered_at is not None:
        return "delivered"
    return "given_up" if row.attempts >= max_attempts else "pending"


def destination_of(url: str) -> str:
    """The destination a webhook URL names, as written: its scheme and network location (`https://host:8443`)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    return f"{parts.scheme}://{parts.netloc}"


def _to(destination: str) -> ColumnElement[bool]:
    """The outbox rows whose URL goes to `destination` (`destination_of` their URL is it)."""
    url = OUTBOX.c.url
    return or_(url == destination, *(url.startswith(destination + end, autoescape=True) for end in "/?#"))


def webhook_body(run: RunRecord) -> str:
    """The JSON body of the webhook for a run that ended."""
    payload: dict[str, object] = {
        "type": f"run.{run.status}",
        "timestamp": (run.finished_at or now()).isoformat(),
        "data": RunView.of(run).model_dump(mode="json"),
    }
    return json.dumps(payload, separators=(",", ":"))


class Dispatcher:
    """A thread that finds due webhooks in the outbox, and a pool of threads that delivers them.

    Args:
        store: the outbox's store.
        secret: the Standard Webhooks secret (`whsec_...`).
        service: timeouts, attempts, backoff and polling interval.
        transport: an httpx transport to send through (tests inject one).
        destinations: where webhooks may go [default: `service`'s allow-list, the system's resolver].
        workers: deliveries at once.
        per_destination: deliveries at once to one destination (`destination_of`).
    """

    def __init__(
        self,
        store: Store,
        secret: str,
        service: ServiceSettings,
        transport: httpx.BaseTransport | None = None,
        destinations: Destinations | None = None,
        *,
        workers: int = WORKERS,
        per_destination: int = PER_DESTINATION,
    ) -> None:
        self.store = store
        self.destinations = destinations or Destinations(
            service.webhook_allow, allow_public=service.webhook_allow_public
        )
        self.signer = Webhook(secret)
        self.service = service
        limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
        self._client = httpx.Client(
            timeout=service.webhook_timeout_s, transport=transport, follow_redirects=False, limits=limits
        )
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.workers, self.per_destination = workers, per_destination
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="shipbrain-webhook")
        self._lock = threading.Condition()
        self._busy: dict[str, int] = {}
        """Deliveries under way, by destination."""
        self._running = 0

    def start(self) -> None:
        """Start delivering in a background thread."""
        self._thread = threading.Thread(target=self._loop, name="shipbrain-webhooks", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look at the outbox now (a run just ended)."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the threads (deliveries under way get up to `timeout` seconds) and close the HTTP client."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            self._lock.wait_for(lambda: self._running == 0, timeout)
        self._client.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.dispatch()
            except Exception:  # the database may be briefly unavailable; the loop must survive it
                log.exception("webhook dispatch failed; trying again")
            self._wake.wait(self.service.poll_s)

    def dispatch(self, skip: Iterable[str] = ()) -> dict[str, Future[bool]]:
        """Start due webhooks on the free workers, at most `per_destination` to a destination.

        Returns the started deliveries by webhook id (each future: whether it was delivered). `skip`: webhook ids not
        to start (attempted already by the caller).
        """
        started: dict[str, Future[bool]] = {}
        skipped = set(skip)
        with self._lock:
            free = self.workers - self._running
            full = [d for d, n in self._busy.items() if n >= self.per_destination]
        if free <= 0 or self._stop.is_set():
            return started
        for row in self._due(full, limit=4 * free + len(skipped)):
            destination = destination_of(row.url)
            with self._lock:
                if self._running >= self.workers:
                    break
                if row.webhook_id in skipped or self._busy.get(destination, 0) >= self.per_destination:
                    continue
                self._busy[destination] = self._busy.get(destination, 0) + 1
                self._running += 1
            claimed = self._claim(row)
            if claimed is None:  # another process took it
                self._done(destination)
                continue
            try:
                started[row.webhook_id] = self._pool.submit(self._attempt, claimed, destination)
            except RuntimeError:  # the pool is shut down: stopping
                self._done(destination)
                break
        return started

    def deliver_due(self) -> int:
        """Attempt every due webhook once, as the background thread does, and wait for them.

        Returns how many were delivered.
        """
        attempted: set[str] = set()
        delivered = 0
        while not self._stop.is_set():
            futures = self.dispatch(skip=attempted)
            if not futures:
                with self._lock:
                    if self._running == 0:
                        break
                    self._lock.wait(0.05)  # a destination is full: another round when one of its webhooks is done
                continue
            delivered += sum(future.result() for future in futures.values())
            attempted |= futures.keys()
        return delivered

    def _attempt(self, row: OutboxRow, destination: str) -> bool:
        try:
            return self.deliver(row)
        except Exception:  # the store failed to record it: the claim runs out and it is tried again
            log.exception("webhook %s: recording the attempt failed", row.webhook_id)
            return False
        finally:
            self._done(destination)
            self._wake.set()  # a place is free: look at the outbox again

    def _done(self, destination: str) -> None:
        with self._lock:
            left = self._busy.get(destination, 0) - 1
            if left > 0:
                self._busy[destination] = left
            else:
                self._busy.pop(destination, None)
            self._running -= 1
            self._lock.notify_all()

    def _due(self, full: list[str], limit: int) -> list[OutboxRow]:
        """Due webhooks, oldest first, none to a destination in `full`.

        So the webhooks waiting for a hanging receiver do not hide the others.
        """
        due = and_(
            OUTBOX.c.delivered_at.is_(None),
            OUTBOX.c.next_attempt_at <= now(),
            OUTBOX.c.attempts < self.service.webhook_max_attempts,
            *(not_(_to(d)) for d in full),
        )
        query = select(OUTBOX).where(due).order_by(OUTBOX.c.next_attempt_at).limit(limit)
        with self.store.engine.connect() as conn:
            return [Store._outbox(r._mapping) for r in conn.execute(query)]

    def _claim(self, row: OutboxRow) -> OutboxRow | None:
        """Claim a due webhook for `claim`: the row with its claim's end as `next_attempt_at`, or None (taken).

        A conditional update, as `Store.due_webhooks` claims: of two processes reaching it at once, one gets it.
        """
        at = now()
        until: datetime = at + self.claim
        still_due = and_(
            OUTBOX.c.webhook_id == row.webhook_id, OUTBOX.c.delivered_at.is_(None), OUTBOX.c.next_attempt_at <= at
        )
        with self.store.engine.begin() as conn:
            done = conn.execute(update(OUTBOX).where(still_due).values(next_attempt_at=until))
        return replace(row, next_attempt_at=until) if done.rowcount == 1 else None

    @property
    def claim(self) -> timedelta:
        """How long a webhook being delivered stays this process's, 30 s at least.

        Past what one attempt may take: three times the timeout, which httpx applies to connecting, sending and
        reading each.
        """
        return timedelta(seconds=max(30.0, 3 * self.service.webhook_timeout_s))

    def deliver(self, row: OutboxRow) -> bool:
        """One signed attempt at a webhook (claimed by `due_webhooks`); records the outcome."""
        at = now()
        headers = {
            "content-type": "application/json",
            "webhook-id": row.webhook_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": self.signer.sign(row.webhook_id, at, row.body),
            "user-agent": "shipbrain-webhooks/1",
        }
        error: str | None = None
        try:
            target = self.destinations.check(row.url)
            response = self._client.send(self._request(row.url, target, row.body, headers))
            response.close()
            if not 200 <= response.status_code < 300:
                error = f"HTTP {response.status_code}"
        except DestinationError as exc:
            error = f"refused: {exc}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}".replace(row.url, redact_url(row.url))
        backoff = min(self.service.webhook_max_backoff_s, 2.0**row.attempts) * random.uniform(0.8, 1.2)
        self.store.webhook_attempted(
            row.webhook_id, delivered=error is None, error=error, retry_in_s=backoff, claimed=row.next_attempt_at
        )
        if error is not None:
            shown, attempts = redact_url(row.url), row.attempts + 1
            if attempts >= self.service.webhook_max_attempts:
                log.error("webhook %s to %s given up after %d attempts: %s", row.webhook_id, shown, attempts, error)
            else:
                log.warning("webhook %s to %s failed (attempt %d): %s", row.webhook_id, shown, attempts, error)
        return error is None

    def _request(self, url: str, target: Destination, body: str, headers: dict[str, str]) -> httpx.Request:
        """A POST to `url` that connects to `target.address` (the one checked), naming the host as `url` does."""
        parsed = httpx.URL(url)
        https = parsed.scheme == "https" and parsed.host != target.address
        return self._client.build_request(
            "POST",
            parsed.copy_with(host=target.address),
            content=body.encode(),
            headers={**headers, "host": parsed.netloc.decode("ascii")},
            extensions={"sni_hostname": parsed.host} if https else {},
        )
