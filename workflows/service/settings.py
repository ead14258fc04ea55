"""The service's own settings (limits, webhooks, workers), from `SHIPBRAIN_*` variables like every other setting.

They live here, not in `knowledge.settings`, because only the HTTP service reads them.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from knowledge.settings import Settings

__all__ = ["ServiceSettings", "webhook_secret"]


class ServiceSettings(BaseSettings):
    """Limits, webhook signing and the run workers of `shipbrain serve`."""

    model_config = SettingsConfigDict(env_prefix="SHIPBRAIN_", env_file=".env", extra="ignore", frozen=True)

    max_body_bytes: int = Field(default=1_048_576, ge=1_024)
    """Largest request body accepted, bytes (`SHIPBRAIN_MAX_BODY_BYTES`); larger ones get 413."""

    page_max_body_bytes: int = Field(default=4_194_304, ge=1_024)
    """Largest body outside the API (the pages, Gradio's queue, the sign-in form), bytes
    (`SHIPBRAIN_PAGE_MAX_BODY_BYTES`); larger ones get 413 before they are read."""

    rate_limit: str = "600/minute"
    """Requests per API key in a moving window, in `limits` notation (`SHIPBRAIN_RATE_LIMIT`, e.g. "10/second");
    every route counts, the pages' too."""

    rate_limit_storage: str = "memory://"
    """Where the rate limits' windows are kept, as a `limits` storage URI (`SHIPBRAIN_RATE_LIMIT_STORAGE`): this
    process's memory by default; `redis://HOST:PORT` shares them between every process serving one store, so a limit
    holds across them all."""

    anonymous_rate_limit: str = "600/minute"
    """Requests per client address without a valid API key (pages, their assets and queues, sign-in, `/healthz`,
    refused keys), in `limits` notation (`SHIPBRAIN_ANONYMOUS_RATE_LIMIT`). Behind a proxy the address is the one
    the proxy forwards."""

    page_session_hours: float = Field(default=12.0, gt=0, le=720)
    """How long a page's sign-in lasts, hours (`SHIPBRAIN_PAGE_SESSION_HOURS`); then the page asks for the key again.
    Signing out, or revoking the key, ends it sooner."""

    idempotency_ttl_s: int = Field(default=86_400, ge=60)
    """How long an `Idempotency-Key` names its run, seconds (24 h); after that the key may be used again."""

    run_workers: int = Field(default=2, ge=1, le=16)
    """Worker threads that run queued workflow runs (`SHIPBRAIN_RUN_WORKERS`). Two by default: measured with 8
    clients on 2 cores, 2 workers complete 24 % more runs per second than 1 (benchmarks/service.py)."""

    poll_s: float = Field(default=0.5, gt=0, le=60)
    """How often an idle worker and the webhook dispatcher look for work another process queued, seconds."""

    lease_s: float = Field(default=30.0, gt=0, le=3600)
    """How long a process's claim on a run lasts without renewal, seconds (`SHIPBRAIN_LEASE_S`): when a process dies
    mid-run, another takes the run over this long after the last renewal (`workflows.service.store`, leases)."""

    lease_renew_s: float = Field(default=10.0, gt=0, le=1200)
    """How often a process renews the leases of the runs it executes, and looks for expired ones to take over,
    seconds (`SHIPBRAIN_LEASE_RENEW_S`); less than `lease_s`, so a stall shorter than the difference loses nothing."""

    stream_per_key: int = Field(default=16, ge=1)
    """Open event streams (`GET /v1/runs/{id}/events`) per API key and process (`SHIPBRAIN_STREAM_PER_KEY`); one
    more gets 429 with `Retry-After` (`workflows.service.streams`)."""

    stream_max: int = Field(default=512, ge=1)
    """Open event streams of the whole process, every key together (`SHIPBRAIN_STREAM_MAX`); one more gets 429."""

    stream_heartbeat_s: float = Field(default=15.0, gt=0)
    """Seconds between an event stream's heartbeats (an SSE comment, `: heartbeat`; `SHIPBRAIN_STREAM_HEARTBEAT_S`)."""

    stream_max_s: float = Field(default=3600.0, gt=0)
    """Longest life of one event stream, seconds (`SHIPBRAIN_STREAM_MAX_S`); the client then reconnects with
    `Last-Event-ID`."""

    stream_retry_s: int = Field(default=5, ge=1)
    """Seconds a client should wait before it reconnects a stream that ended for a held run or its lifetime (the
    SSE `retry:` field), and the `Retry-After` of a stream refused by the caps (`SHIPBRAIN_STREAM_RETRY_S`)."""

    stream_poll_s: float = Field(default=0.2, gt=0, le=10)
    """SQLite: how often the one poll of the process looks for new events of every run a stream watches, seconds
    (`SHIPBRAIN_STREAM_POLL_S`). PostgreSQL notifies instead (LISTEN/NOTIFY) and is not polled."""

    webhook_url: str | None = None
    """A webhook for every run that names none of its own (`SHIPBRAIN_WEBHOOK_URL`)."""

    webhook_allow: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Webhook destinations allowed although not public: host names, addresses and CIDR networks
    (`SHIPBRAIN_WEBHOOK_ALLOW="hooks.yard.internal,10.2.0.0/16"`, or a JSON list). Loopback, private,
    link-local, metadata and other non-public addresses are refused unless listed (`workflows.service.destinations`)."""

    webhook_allow_public: bool = True
    """Whether webhooks may go to public addresses not in `webhook_allow` (`SHIPBRAIN_WEBHOOK_ALLOW_PUBLIC`)."""

    webhook_secret: SecretStr | None = None
    """The Standard Webhooks signing secret (`whsec_` + base64); by default one is made and kept in
    `DATA_DIR/service/webhook_secret` (readable by its owner only)."""

    webhook_timeout_s: float = Field(default=10.0, gt=0)
    """Per delivery attempt, seconds."""

    webhook_max_attempts: int = Field(default=12, ge=1)
    """Delivery attempts before a webhook is given up (backoff doubles from 1 s up to `webhook_max_backoff_s`)."""

    webhook_max_backoff_s: float = Field(default=600.0, gt=0)
    """Longest wait between two attempts, seconds."""

    behind_proxy: bool = False
    """A reverse proxy terminates TLS in front of the service (`SHIPBRAIN_BEHIND_PROXY`, or `serve --behind-proxy`):
    `serve` may then listen beyond loopback without TLS of its own, and honours `X-Forwarded-For` and
    `X-Forwarded-Proto` from `proxy_addresses` only (`workflows.service.binding`)."""

    proxy_addresses: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["127.0.0.1"])
    """The reverse proxy's addresses or networks whose forwarded headers are believed (`SHIPBRAIN_PROXY_ADDRESSES`,
    comma-separated)."""

    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """`Host` header values served besides loopback's and the bound address (`SHIPBRAIN_ALLOWED_HOSTS`,
    comma-separated; `*.yard.example` for subdomains). Any other gets 400, which stops DNS-rebinding pages."""

    workflow_modules: list[str] = Field(default_factory=list)
    """Extra modules that each define a `WORKFLOW` to serve besides the shipped ones (a JSON list in
    `SHIPBRAIN_WORKFLOW_MODULES`)."""

    @model_validator(mode="after")
    def _renew_within_lease(self) -> ServiceSettings:
        """lease_renew_s: less than lease_s (a lease would run out between two renewals)."""
        if self.lease_renew_s >= self.lease_s:
            raise ValueError(
                f"lease_renew_s ({self.lease_renew_s:g} s) must be less than lease_s ({self.lease_s:g} s): a lease "
                "would run out between two renewals"
            )
        return self

    @field_validator("webhook_allow", "proxy_addresses", "allowed_hosts", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        """A comma-separated list, or a JSON list, from the environment."""
        if isinstance(value, str):
            text = value.strip()
            return json.loads(text) if text.startswith("[") else [v.strip() for v in text.split(",") if v.strip()]
        return value


def webhook_secret(settings: Settings, service: ServiceSettings) -> str:
    """The webhook signing secret: the configured one, else the one kept in the data dir (made on first use)."""
    if service.webhook_secret is not None:
        return service.webhook_secret.get_secret_value()
    path: Path = settings.data_dir / "service" / "webhook_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(fresh)
        try:
            os.link(tmp, path)  # fails if another process made one first: keep theirs
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip()
