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
"""

from __future__ import annotations

import json
import logging
import random
import threading
from datetime import timedelta

import httpx
from standardwebhooks import Webhook

from workflows.service.destinations import Destination, DestinationError, Destinations, redact_url
from workflows.service.models import RunView
from workflows.service.settings import ServiceSettings
from workflows.service.store import OutboxRow, RunRecord, Store, now

__all__ = ["Dispatcher", "webhook_body"]

log = logging.getLogger(__name__)


def webhook_body(run: RunRecord) -> str:
    """The JSON body of the webhook for a run that ended."""
    payload: dict[str, object] = {
        "type": f"run.{run.status}",
        "timestamp": (run.finished_at or now()).isoformat(),
        "data": RunView.of(run).model_dump(mode="json"),
    }
    return json.dumps(payload, separators=(",", ":"))


class Dispatcher:
    """A thread that delivers due webhooks from the outbox.

    Args:
        store: the outbox's store.
        secret: the Standard Webhooks secret (`whsec_...`).
        service: timeouts, attempts, backoff and polling interval.
        transport: an httpx transport to send through (tests inject one).
        destinations: where webhooks may go [default: `service`'s allow-list, the system's resolver].
    """

    def __init__(
        self,
        store: Store,
        secret: str,
        service: ServiceSettings,
        transport: httpx.BaseTransport | None = None,
        destinations: Destinations | None = None,
    ) -> None:
        self.store = store
        self.destinations = destinations or Destinations(
            service.webhook_allow, allow_public=service.webhook_allow_public
        )
        self.signer = Webhook(secret)
        self.service = service
        self._client = httpx.Client(timeout=service.webhook_timeout_s, transport=transport, follow_redirects=False)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start delivering in a background thread."""
        self._thread = threading.Thread(target=self._loop, name="shipbrain-webhooks", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look at the outbox now (a run just ended)."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and close the HTTP client."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._client.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_due()
            except Exception:  # the database may be briefly unavailable; the loop must survive it
                log.exception("webhook dispatch failed; trying again")
            self._wake.wait(self.service.poll_s)
            self._wake.clear()

    def deliver_due(self) -> int:
        """Attempt every due webhook once; returns how many were delivered."""
        delivered = 0
        for row in self.store.due_webhooks(self.service.webhook_max_attempts, claim=self.claim):
            if self._stop.is_set():
                break
            delivered += self.deliver(row)
        return delivered

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
            shown = redact_url(row.url)
            log.warning("webhook %s to %s failed (attempt %d): %s", row.webhook_id, shown, row.attempts + 1, error)
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
