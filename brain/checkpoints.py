"""The brain's conversation checkpoints: where they are kept, how small they are written, and how long they stay.

A conversation is a LangGraph thread; its checkpoints go to SQLite (`DATA_DIR/brain.sqlite`) or PostgreSQL
(`SHIPBRAIN_POSTGRES_DSN`). Three things keep them bounded:

- **Written once a question** (`brain.supervisor`): a question runs with `durability="exit"`, so one checkpoint is
  written when it ends or stops for a decision (LangGraph's default writes one per super-step, six for a lookup);
  only a decision runs with `"sync"`, so the approval's idempotency key is stored before the change is made.
- **Compressed** (`compressed_serde`): every checkpoint and write is zlib-compressed by LangGraph's own
  `EncryptedSerializer` with a compressing "cipher" (stored as type `msgpack+zlib`; older rows read as they were).
- **Pruned** (`CheckpointRetention`): within a thread only the latest checkpoint of each namespace is kept (a
  follow-up question, a pending decision and `Brain.resume` read nothing else; the thread's earlier questions
  are carried in its state; a thread from before that keeps its checkpoints until it is idle), and a thread idle
  longer than `SHIPBRAIN_CHECKPOINT_RETENTION_DAYS` is deleted, except one that waits for a decision on a plan
  change, which is never pruned. `shipbrain serve` runs it every `SHIPBRAIN_CHECKPOINT_PRUNE_INTERVAL_S`;
  `shipbrain checkpoints prune` runs it on demand.

Measured (`benchmarks/checkpoints.py`, 1,000 questions over 100 conversations on the demo yard): 44,990 bytes a
question before (file and WAL), 3,383 now before any prune, 311 after the default prune.

Space: SQLite files are made with `auto_vacuum=INCREMENTAL`, and a prune that freed pages runs
`PRAGMA incremental_vacuum` (pages moved to the freed slots and the file truncated, no full rewrite); a file made
before that (no auto-vacuum) is rewritten once with `VACUUM` when at least a quarter of it is free,
which also turns incremental vacuum on for it. The WAL is then checkpointed and truncated. PostgreSQL: the rows go
through `PostgresSaver.prune`/`delete_thread`, then a plain `VACUUM` of the three tables makes their space
reusable (PostgreSQL returns only trailing pages to the system; `VACUUM FULL` would lock the tables).
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal, Protocol, cast

from pydantic import BaseModel, ConfigDict

from knowledge.settings import Settings

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.checkpoint.postgres import PostgresSaver
    from langgraph.checkpoint.serde.base import SerializerProtocol
    from langgraph.checkpoint.sqlite import SqliteSaver
    from psycopg import Cursor
    from psycopg.rows import DictRow

__all__ = [
    "CHECKPOINTS_FILE",
    "CheckpointRetention",
    "PruneReport",
    "checkpoint_time",
    "compressed_serde",
    "open_checkpointer",
]

log = logging.getLogger(__name__)

CHECKPOINTS_FILE: Final = "brain.sqlite"
"""The SQLite file of the brain's checkpoints, under the data dir."""
_INTERRUPT: Final = "__interrupt__"
_GREGORIAN_TO_UNIX_100NS: Final = 0x01B21DD213814000
_VACUUM_SHARE: Final = 0.25
_FIRST_RUN_S: Final = 60.0
"""The periodic job's first pass comes after its interval or this, whichever is shorter (a service restarted
often still prunes)."""


class _Closable(Protocol):
    def close(self) -> None: ...


class ZlibCodec:
    """A "cipher" for LangGraph's `EncryptedSerializer` that compresses.

    A lookup's checkpoint shrinks 2.5x, an NDT plan's 5.5x (its rows repeat their keys).
    """

    name: Final = "zlib"

    def encrypt(self, plaintext: bytes) -> tuple[str, bytes]:
        """The bytes compressed, with the codec's name (the stored type becomes e.g. `msgpack+zlib`)."""
        return self.name, zlib.compress(plaintext, 6)

    def decrypt(self, ciphername: str, ciphertext: bytes) -> bytes:
        """The bytes again; refuses a codec it does not know."""
        if ciphername != self.name:
            raise ValueError(f"checkpoint stored with codec {ciphername!r}; this Shipbrain reads 'zlib'")
        return zlib.decompress(ciphertext)


def compressed_serde() -> SerializerProtocol:
    """LangGraph's serializer (msgpack, its allow-list honoured) with every blob zlib-compressed."""
    from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    return EncryptedSerializer(ZlibCodec(), JsonPlusSerializer())


def open_checkpointer(settings: Settings) -> tuple[BaseCheckpointSaver[str], list[_Closable]]:
    """The checkpoint saver the settings name (PostgreSQL, else SQLite in the data dir), and what to close after.

    A new SQLite file is made with incremental auto-vacuum (it must be set before the first table).
    """
    serde = compressed_serde()
    if settings.postgres_dsn:
        import psycopg
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row

        conn = psycopg.Connection.connect(
            settings.postgres_dsn, autocommit=True, prepare_threshold=0, row_factory=dict_row
        )
        saver = PostgresSaver(conn, serde=serde)
        saver.setup()
        return saver, [conn]
    from langgraph.checkpoint.sqlite import SqliteSaver

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    sconn = sqlite3.connect(settings.data_dir / CHECKPOINTS_FILE, check_same_thread=False)
    sconn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # takes effect on a new file; an old one at its next VACUUM
    # the WAL (SqliteSaver's journal) is copied into the file every 256 pages and cut back to 1 MiB after: by
    # default it grows to 4 MB and stays that size
    sconn.execute("PRAGMA wal_autocheckpoint = 256")
    sconn.execute("PRAGMA journal_size_limit = 1048576")
    return SqliteSaver(sconn, serde=serde), [sconn]


def checkpoint_time(checkpoint_id: str) -> float:
    """When a checkpoint was made (Unix seconds), from its id: LangGraph's ids are time-ordered UUIDv6."""
    value = int(checkpoint_id.replace("-", ""), 16)
    ticks = ((value >> 80) << 12) | ((value >> 64) & 0x0FFF)  # 100 ns since 1582-10-15
    return (ticks - _GREGORIAN_TO_UNIX_100NS) / 1e7


class PruneReport(BaseModel):
    """What one prune did."""

    model_config = ConfigDict(frozen=True)

    backend: Literal["sqlite", "postgresql"]
    threads: int
    """Threads found."""
    threads_deleted: int
    """Idle threads deleted whole."""
    threads_kept_pending: int
    """Idle threads kept because they wait for a decision on a plan change."""
    checkpoints_deleted: int
    """Checkpoints deleted: those of deleted threads and the older ones of kept threads."""
    writes_deleted: int
    """Pending writes deleted with them (SQLite; PostgreSQL's saver does not count them)."""
    threads_skipped: int = 0
    """Threads left for the next prune: another process held them (a second service's prune, a long write)."""
    bytes_before: int
    """The store's size before (SQLite: the file and its WAL; PostgreSQL: the three tables with indexes)."""
    bytes_after: int
    reclaim: Literal["incremental_vacuum", "vacuum", "postgres_vacuum", "none"]
    """How the freed space was reclaimed."""
    seconds: float

    def line(self) -> str:
        """The report in one line, for logs and the command line."""
        n = self.threads_skipped
        skipped = f"{n} held by another process, left for next time; " if n else ""
        return (
            f"{self.backend}: {self.threads} threads; deleted {self.threads_deleted} idle "
            f"(kept {self.threads_kept_pending} waiting for a decision) and {self.checkpoints_deleted} checkpoints; "
            f"{skipped}{self.bytes_before:,} -> {self.bytes_after:,} bytes ({self.reclaim}) in {self.seconds:.2f} s"
        )


@dataclass(frozen=True)
class _Thread:
    thread_id: str
    latest: dict[str, str]
    """The latest checkpoint id of each namespace."""
    count: int
    """Checkpoints in all."""

    @property
    def last_active(self) -> float:
        return max(checkpoint_time(c) for c in self.latest.values())


@dataclass
class _Tally:
    deleted: int = 0
    pending: int = 0
    checkpoints: int = 0
    writes: int = 0
    skipped: int = 0


@dataclass
class CheckpointRetention:
    """Prunes a checkpoint saver's threads (see the module's docstring), on demand or every `interval_s`.

    Args:
        saver: the brain's checkpointer (`SqliteSaver` or `PostgresSaver`).
        retention_days: threads idle longer are deleted (unless waiting for a decision); 0 keeps them.
        interval_s: the periodic job's interval (`start`); 0: no periodic job.
    """

    saver: BaseCheckpointSaver[str]
    retention_days: float
    interval_s: float
    on_report: Callable[[PruneReport], None] | None = None
    """Also told each periodic run's report (besides the log)."""
    history_channel: str | None = "asked"
    """The state channel that carries a thread's earlier questions (`brain.supervisor.State.asked`): a thread whose
    latest checkpoint lacks it (one from before it) keeps its older checkpoints, which hold them, until it is idle.
    None: every thread is cut to its latest checkpoint."""
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    @classmethod
    def of(cls, saver: BaseCheckpointSaver[str], settings: Settings) -> CheckpointRetention:
        """The retention the settings ask for."""
        return cls(saver, settings.checkpoint_retention_days, settings.checkpoint_prune_interval_s)

    @property
    def backend(self) -> Literal["sqlite", "postgresql"]:
        """Which database the saver writes to."""
        return (
            "sqlite"
            if hasattr(self.saver, "conn") and isinstance(self.saver.conn, sqlite3.Connection)
            else ("postgresql")
        )

    # ---- one pass ------------------------------------------------------------------------------

    def prune(self, now: float | None = None) -> PruneReport:
        """Delete idle threads and the older checkpoints of the others, then reclaim the space; what it did.

        Args:
            now: the time idleness is measured to (Unix seconds) [default: now].
        """
        with self._lock:  # the periodic job and a call on demand never prune at once
            started = time.monotonic()
            now = time.time() if now is None else now
            before = self._size()
            threads = self._threads()
            tally = _Tally()
            idle_before = now - self.retention_days * 86_400 if self.retention_days > 0 else None
            conflicts = self._conflicts()
            for thread in threads:
                try:
                    self._prune_thread(thread, idle_before, tally)
                except conflicts as exc:  # another process prunes or writes it: next time
                    if self.backend == "sqlite" and "locked" not in str(exc) and "busy" not in str(exc):
                        raise
                    log.info("thread %s left for the next prune: %s", thread.thread_id, exc)
                    tally.skipped += 1
            reclaim = self._reclaim() if tally.checkpoints else "none"
            return PruneReport(
                backend=self.backend,
                threads=len(threads),
                threads_deleted=tally.deleted,
                threads_kept_pending=tally.pending,
                checkpoints_deleted=tally.checkpoints,
                writes_deleted=tally.writes,
                threads_skipped=tally.skipped,
                bytes_before=before,
                bytes_after=self._size(),
                reclaim=reclaim,
                seconds=time.monotonic() - started,
            )

    def _conflicts(self) -> tuple[type[Exception], ...]:
        """What another process holding a thread raises.

        SQLite: the database is locked past the connection's timeout; PostgreSQL: a serialization failure or a
        deadlock (two services pruning one thread at once).
        """
        if self.backend == "sqlite":
            return (sqlite3.OperationalError,)
        import psycopg

        return (psycopg.errors.TransactionRollback,)

    def _prune_thread(self, thread: _Thread, idle_before: float | None, tally: _Tally) -> None:
        idle = idle_before is not None and thread.last_active < idle_before
        older = thread.count > len(thread.latest)
        if not idle and not older:
            return  # one checkpoint a namespace, recently used: nothing to do, nothing read
        waits, carries_history = self._latest(thread.thread_id)
        if idle and not waits:
            self._delete(thread, tally)
            return
        tally.pending += idle
        if older and carries_history:
            self._keep_latest(thread, tally)

    def _latest(self, thread_id: str) -> tuple[bool, bool]:
        """Whether the thread's latest checkpoint waits for a decision, and whether it carries its earlier questions.

        It waits when an interrupt is pending (a plan change put to a person); it carries them in `history_channel`.
        """
        found = self.saver.get_tuple({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}})
        if found is None:
            return False, False
        waits = any(channel == _INTERRUPT for _, channel, _ in found.pending_writes or ())
        carries = self.history_channel is None or self.history_channel in found.checkpoint["channel_values"]
        return waits, carries

    # ---- the databases ---------------------------------------------------------------------------

    def _threads(self) -> list[_Thread]:
        query = (
            "SELECT thread_id, checkpoint_ns, MAX(checkpoint_id) AS latest, COUNT(*) AS n FROM checkpoints "
            "GROUP BY thread_id, checkpoint_ns"
        )
        latest: dict[str, dict[str, str]] = {}
        counts: dict[str, int] = {}
        for thread_id, ns, last, n in self._rows(query):
            latest.setdefault(thread_id, {})[ns] = last
            counts[thread_id] = counts.get(thread_id, 0) + n
        return [_Thread(t, latest[t], counts[t]) for t in latest]

    def _rows(self, query: str) -> list[tuple[str, str, str, int]]:
        if self.backend == "sqlite":
            with self._sqlite() as cur:
                return [(str(t), str(ns), str(last), int(n)) for t, ns, last, n in cur.execute(query).fetchall()]
        with self._pg() as cur:
            cur.execute(query)
            return [(r["thread_id"], r["checkpoint_ns"], r["latest"], r["n"]) for r in cur.fetchall()]

    def _keep_latest(self, thread: _Thread, tally: _Tally) -> None:
        if self.backend == "postgresql":
            cast("PostgresSaver", self.saver).prune([thread.thread_id], strategy="keep_latest")
            tally.checkpoints += thread.count - len(thread.latest)
            return
        # only checkpoints older than the latest seen: a question running meanwhile writes newer ones, kept
        with self._sqlite() as cur:
            for ns, last in thread.latest.items():
                where = "WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id < ?"
                tally.writes += cur.execute(f"DELETE FROM writes {where}", (thread.thread_id, ns, last)).rowcount
                tally.checkpoints += cur.execute(
                    f"DELETE FROM checkpoints {where}", (thread.thread_id, ns, last)
                ).rowcount

    def _delete(self, thread: _Thread, tally: _Tally) -> None:
        tally.deleted += 1
        tally.checkpoints += thread.count
        if self.backend == "postgresql":
            self.saver.delete_thread(thread.thread_id)
            return
        with self._sqlite() as cur:
            tally.writes += cur.execute("DELETE FROM writes WHERE thread_id = ?", (thread.thread_id,)).rowcount
            cur.execute("DELETE FROM checkpoints WHERE thread_id = ?", (thread.thread_id,))

    def _size(self) -> int:
        if self.backend == "postgresql":
            with self._pg() as cur:
                cur.execute(
                    "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) AS n FROM pg_class c "
                    "WHERE c.relname IN ('checkpoints', 'checkpoint_blobs', 'checkpoint_writes') AND c.relkind = 'r'"
                )
                row = cur.fetchone()
                return int(row["n"]) if row else 0
        with self._sqlite() as cur:
            (name,) = [r[2] for r in cur.execute("PRAGMA database_list").fetchall() if r[1] == "main"]
        from pathlib import Path

        return sum(p.stat().st_size for p in (Path(name), Path(name + "-wal")) if name and p.exists())

    def _reclaim(self) -> Literal["incremental_vacuum", "vacuum", "postgres_vacuum", "none"]:
        if self.backend == "postgresql":
            with self._pg() as cur:
                cur.execute("VACUUM checkpoints, checkpoint_blobs, checkpoint_writes")
            return "postgres_vacuum"
        how: Literal["incremental_vacuum", "vacuum", "none"] = "none"
        with self._sqlite() as cur:
            page = int(cur.execute("PRAGMA page_size").fetchone()[0])
            free = int(cur.execute("PRAGMA freelist_count").fetchone()[0]) * page
            total = int(cur.execute("PRAGMA page_count").fetchone()[0]) * page
            mode = int(cur.execute("PRAGMA auto_vacuum").fetchone()[0])
        if free and mode == 2:  # incremental
            with self._sqlite() as cur:
                # a script: each step of this pragma frees one page, and `execute` steps a statement without rows once
                cur.executescript("PRAGMA incremental_vacuum;")
            how = "incremental_vacuum"
        elif free and free >= _VACUUM_SHARE * total:  # once: the file is incremental after
            with self._sqlite() as cur:
                cur.execute("PRAGMA auto_vacuum = INCREMENTAL")  # from now on, incremental
                cur.execute("VACUUM")
            how = "vacuum"
        with self._sqlite() as cur:
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        return how

    @contextmanager
    def _sqlite(self) -> Iterator[sqlite3.Cursor]:
        """A cursor on the SQLite saver's own connection, under its lock (committed after, as the saver does)."""
        with cast("SqliteSaver", self.saver).cursor() as cur:
            yield cur

    @contextmanager
    def _pg(self) -> Iterator[Cursor[DictRow]]:
        """A cursor on the PostgreSQL saver's connection, under its lock."""
        with cast("PostgresSaver", self.saver)._cursor() as cur:
            yield cur

    # ---- the periodic job ------------------------------------------------------------------------

    def start(self) -> None:
        """Prune every `interval_s` in a background thread (the first pass after a minute at most); idempotent."""
        if self.interval_s <= 0 or (self._thread is not None and self._thread.is_alive()):
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="shipbrain-checkpoint-prune", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the periodic job (a pass under way finishes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        """Whether the periodic job runs."""
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        wait = min(self.interval_s, _FIRST_RUN_S)
        while not self._stop.wait(wait):
            wait = self.interval_s
            try:
                report = self.prune()
            except Exception:  # a failed pass is logged and tried again next time, never the end of the job
                log.exception("pruning the brain's checkpoints failed")
                continue
            # one line a pass on stderr, the service's log (nothing configures Python's logging there)
            sys.stderr.write(f"checkpoints pruned: {report.line()}\n")
            if self.on_report is not None:
                self.on_report(report)
