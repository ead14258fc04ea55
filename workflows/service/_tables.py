"""The service's tables (SQLAlchemy Core, types that mean the same on SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, MetaData, String, Table, Text, UniqueConstraint

__all__ = ["API_KEYS", "AUDIT", "META", "OUTBOX", "RUNS", "RUN_EVENTS", "SESSIONS", "THREADS"]

META = MetaData()

API_KEYS = Table(
    "api_keys",
    META,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("prefix", String(40), nullable=False, index=True),
    Column("hash", String(64), nullable=False, unique=True),
    Column("scopes", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

RUNS = Table(
    "runs",
    META,
    Column("id", String(40), primary_key=True),
    Column("workflow", String(200), nullable=False),
    Column("version", String(40), nullable=False),
    Column("key_id", String(40), ForeignKey("api_keys.id"), nullable=False),
    Column("idempotency_key", String(255)),
    Column("fingerprint", String(64), nullable=False),
    Column("request", Text, nullable=False),
    Column("status", String(40), nullable=False),
    Column("result", Text),
    Column("error", Text),
    Column("approval", Text),
    Column("webhook_url", String(2048)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    # The lease a process claimed the run under (`workflows.service.store.Lease`): its token and when it runs out.
    Column("lease_owner", String(200)),
    Column("lease_expires_at", DateTime(timezone=True)),
    # NULL keys never collide (SQLite and PostgreSQL alike), so runs without a key are unconstrained.
    UniqueConstraint("key_id", "idempotency_key", name="uq_runs_key_idempotency"),
    Index("ix_runs_status_created", "status", "created_at"),
)

RUN_EVENTS = Table(
    "run_events",
    META,
    Column("run_id", String(40), ForeignKey("runs.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("type", String(40), nullable=False),
    Column("data", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

AUDIT = Table(
    "audit",
    META,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(200), nullable=False),  # an API key's id (or `cli:USER`, `shipbrain-service`)
    Column("action", String(80), nullable=False),
    Column("target", String(200), nullable=False, index=True),
    Column("parameters", Text, nullable=False),
    Column("actor_label", String(200)),  # the key's name when the actor is a key: a label, not unique
)

SESSIONS = Table(
    "page_sessions",
    META,
    Column("hash", String(64), primary_key=True),
    Column("key_id", String(40), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
"""The chat and eval pages' sessions: the SHA-256 of the cookie's token, the key it signs in as, and when it ends."""

THREADS = Table(
    "thread_owners",
    META,
    Column("thread_id", String(128), primary_key=True),
    Column("key_id", String(40), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

OUTBOX = Table(
    "webhook_outbox",
    META,
    Column("webhook_id", String(60), primary_key=True),
    Column("run_id", String(40), ForeignKey("runs.id"), nullable=False, unique=True),
    Column("url", String(2048), nullable=False),
    Column("body", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    Index("ix_outbox_pending", "delivered_at", "next_attempt_at"),
)
