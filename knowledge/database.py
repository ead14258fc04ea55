"""The relational store every layer shares: SQLite in the data dir by default, PostgreSQL when configured.

`engine(settings)` returns one SQLAlchemy engine per database URL and process. SQLite runs in WAL mode
with a busy timeout, so a reader never blocks a writer and two processes on one data dir wait for each
other instead of failing; PostgreSQL (`SHIPBRAIN_POSTGRES_DSN`) goes through psycopg 3.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine, create_engine, event

from knowledge.settings import Settings

__all__ = ["database_url", "dispose", "engine"]


def database_url(settings: Settings) -> str:
    """The SQLAlchemy URL of the shared store: PostgreSQL if `postgres_dsn` is set, else `data_dir/shipbrain.sqlite`."""
    if settings.postgres_dsn:
        dsn = settings.postgres_dsn
        for prefix in ("postgresql://", "postgres://"):
            if dsn.startswith(prefix):
                return "postgresql+psycopg://" + dsn.removeprefix(prefix)
        return dsn
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(settings.data_dir / 'shipbrain.sqlite').resolve()}"


_ENGINES: dict[str, Engine] = {}
_LOCK = threading.Lock()


def _engine(url: str) -> Engine:
    # Kept for the process's life (a bounded cache would drop engines with pooled connections still open).
    with _LOCK:
        if url not in _ENGINES:
            _ENGINES[url] = _create(url)
        return _ENGINES[url]


def _create(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    eng = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(eng, "connect")
    def _pragmas(conn: Any, _record: Any) -> None:
        cursor = conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return eng


def engine(settings: Settings) -> Engine:
    """The engine of the shared store (one per URL and process)."""
    return _engine(database_url(settings))


def dispose(settings: Settings) -> None:
    """Close the store's pooled connections and forget its engine (e.g. before its server goes away)."""
    with _LOCK:
        eng = _ENGINES.pop(database_url(settings), None)
    if eng is not None:
        eng.dispose()
