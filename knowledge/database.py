"""The relational store every layer shares: SQLite in the data dir by default, PostgreSQL when configured.

`engine(settings)` returns one SQLAlchemy engine per database URL and process. SQLite runs in WAL mode
with a busy timeout, so a reader never blocks a writer and two processes on one data dir wait for each
other instead of failing; PostgreSQL (`SHIPBRAIN_POSTGRES_DSN`) goes through psycopg 3.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine, event

from knowledge.settings import Settings

__all__ = ["database_url", "engine"]


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


@lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
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
