"""The brain's conversation checkpoints: where they are kept, how small they are written, and how long they stay.

A conversation is a LangGraph thread; its checkpoints go to SQLite (`DATA_DIR/brain.sqlite`) or PostgreSQL
(`SHIPBRAIN_POSTGRES_DSN`). Three things keep them bounded:

- **Written once a question** (`brain.supervisor`): a question runs with `durability="exit"`, so one checkpoint is
  written when it ends or stops for a decision (LangGraph's default writes one per super-step, six for a lookup);
  only a decision runs with `"sync"`, so the approval's idempotency key is stored before the change is made.
- **Compressed** (`checkpoint_serde`): every checkpoint and write is zlib-compressed by LangGraph's own
  `EncryptedSerializer` with a compressing "cipher" (stored as type `msgpack+zlib`; older rows read as they were).
  The release before cannot read such rows: `SHIPBRAIN_CHECKPOINT_COMPRESS=false` writes plain `msgpack` again
  (both kinds are always read), what a downgrade needs: a thread's rows are rewritten plain by its next question
  (and the next prune leaves only those); one asked nothing since stays unreadable to the older release.
- **Pruned** (`CheckpointRetention`): within a thread only the latest checkpoint of each namespace is kept (a
  follow-up question, a pending decision and `Brain.resume` read nothing else; the thread's earlier questions
  are carried in its state; a thread from before that keeps its checkpoints until it is idle), and a thread idle
  longer than `SHIPBRAIN_CHECKPOINT_RETENTION_DAYS` is deleted, except one that waits for a decision on a plan
  change, which is never pruned. Every delete is bounded by the latest checkpoint id the prune saw: a question
  that arrives meanwhile (a follow-up on an idle thread) keeps what it writes, and its thread stays.
  `shipbrain serve` runs it every `SHIPBRAIN_CHECKPOINT_PRUNE_INTERVAL_S`; `shipbrain checkpoints prune` runs it
  on demand.

Measured (`benchmarks/checkpoints.py`, 1,000 questions over 100 conversations on the demo yard): 44,990 bytes a
question before (file and WAL), 3,383 now before any prune, 311 after the default prune.

Space: SQLite files are made with `auto_vacuum=INCREMENTAL`, and a prune that freed pages runs
`PRAGMA incremental_vacuum` (pages moved to the freed slots and the file truncated, no full rewrite); a file made
before that (no auto-vacuum) is rewritten once with `VACUUM` when at least a quarter of it is free,
which also turns incremental vacuum on for it. The WAL is then checkpointed and truncated. A step that fails (the
database locked by another process) is rolled back before the saver's cursor commits, so nothing is half done.
PostgreSQL: a thread's older checkpoints go through `PostgresSaver.prune(strategy="keep_latest")` (one snapshot, so
a run writing meanwhile is safe); an idle thread is deleted with bounded `DELETE`s on the saver's tables (its
`delete_thread` takes no bound): its checkpoints and writes up to the latest id seen, then the blobs (keyed by
channel and version, not by checkpoint) that only those checkpoints used, judged against every checkpoint of the
namespace committed by then. Then a plain `VACUUM` of the three tables makes their space reusable (PostgreSQL
returns only trailing pages to the system; `VACUUM FULL` would lock the tables).
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
from functools import cache
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
    "checkpoint_serde",
    "checkpoint_time",
    "open_checkpointer",
]

log = logging.getLogger(__name__)

CHECKPOINTS_FILE: Final = "brain.sqlite"
"""The SQLite file of the brain's checkpoints, under the data dir."""
_INTERRUPT: Final = "__interrupt__"
_GREGORIAN_TO_UNIX_100NS: Final = 0x01B21DD213814000
_VACUUM_SHARE: Final = 0.25
_PG_REFERENCED_BLOBS: Final = (
    "SELECT DISTINCT v.key AS channel, v.value AS version FROM checkpoints c "
    "CROSS JOIN LATERAL jsonb_each_text(c.checkpoint -> 'channel_versions') AS v "
    "WHERE c.thread_id = %s AND c.checkpoint_ns = %s"
)
"""The blobs (channel, version) a namespace's checkpoints use (as `PostgresSaver.prune` finds them)."""
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


def checkpoint_serde(compress: bool = True) -> SerializerProtocol:
    """LangGraph's serializer (msgpack, its allow-list honoured), every blob zlib-compressed unless `compress` is off.

    Either way both kinds are read: plain rows (the release before, or written with `compress` off) and
    `msgpack+zlib` ones.
    """
    if compress:
        from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
        from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

        return EncryptedSerializer(ZlibCodec(), JsonPlusSerializer())
    return _reads_compressed()()


@cache
def _reads_compressed() -> type[SerializerProtocol]:
    """The plain serializer that also reads compressed rows (a class made on first use: langgraph loads lazily)."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    class ReadsCompressed(JsonPlusSerializer):
        """Writes plain msgpack, as the release before compression; reads `...+zlib` rows too.

        A `JsonPlusSerializer` itself, so LangGraph's msgpack allow-list (`with_msgpack_allowlist`, which copies
        the instance) keeps it what it is.
        """

        def loads_typed(self, data: tuple[str, bytes]) -> object:
            typ, payload = data
            base, _, codec = typ.partition("+")
            if codec:
                return super().loads_typed((base, ZlibCodec().decrypt(codec, payload)))
            return super().loads_typed(data)

    return ReadsCompressed


def open_checkpointer(settings: Settings) -> tuple[BaseCheckpointSaver[str], list[_Closable]]:
    """The checkpoint saver the settings name (PostgreSQL, else SQLite in the data dir), and what to close after.

    A new SQLite file is made with incremental auto-vacuum (it must be set before the first table). Rows are
    written compressed unless `settings.checkpoint_compress` is off; both kinds are read.
    """
    serde = checkpoint_serde(settings.checkpoint_compress)
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
    """Pending writes deleted with them (on PostgreSQL those of deleted threads only: `PostgresSaver.prune` does not
    count them)."""
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
        """Delete an idle thread: its checkpoints and writes up to the latest ids the prune saw, nothing newer.

        A question asked meanwhile (a follow-up arriving mid-prune) writes a newer checkpoint; it stays, and so does
        the thread (not counted as deleted).
        """
        if self.backend == "postgresql":
            checkpoints, writes, left = self._delete_pg(thread)
        else:
            checkpoints, writes, left = self._delete_sqlite(thread)
        tally.checkpoints += checkpoints
        tally.writes += writes
        if left:
            log.info("thread %s was asked a question during the prune: its new checkpoints are kept", thread.thread_id)
        else:
            tally.deleted += 1

    def _delete_sqlite(self, thread: _Thread) -> tuple[int, int, bool]:
        checkpoints = writes = 0
        with self._sqlite() as cur:
            for ns, last in thread.latest.items():
                where = "WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id <= ?"
                writes += cur.execute(f"DELETE FROM writes {where}", (thread.thread_id, ns, last)).rowcount
                checkpoints += cur.execute(f"DELETE FROM checkpoints {where}", (thread.thread_id, ns, last)).rowcount
            left = cur.execute("SELECT 1 FROM checkpoints WHERE thread_id = ? LIMIT 1", (thread.thread_id,)).fetchone()
        return checkpoints, writes, left is not None

    def _delete_pg(self, thread: _Thread) -> tuple[int, int, bool]:
        """PostgresSaver's `delete_thread` deletes every row of the thread: the same, bounded, in one transaction.

        Blobs are keyed by channel and version: those the deleted checkpoints used and no checkpoint of the namespace
        committed by then uses (read committed: a follow-up's newer checkpoint is seen) go.
        """
        checkpoints = writes = 0
        with self._pg() as cur, cur.connection.transaction():
            for ns, last in thread.latest.items():
                key = (thread.thread_id, ns, last)
                cur.execute(
                    "DELETE FROM checkpoint_writes WHERE thread_id = %s AND checkpoint_ns = %s AND checkpoint_id <= %s",
                    key,
                )
                writes += max(cur.rowcount, 0)
                cur.execute(
                    "DELETE FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = %s AND checkpoint_id <= %s "
                    "RETURNING checkpoint -> 'channel_versions' AS versions",
                    key,
                )
                deleted = cur.fetchall()
                checkpoints += len(deleted)
                freed = {(str(c), str(v)) for r in deleted for c, v in (r["versions"] or {}).items()}
                cur.execute(_PG_REFERENCED_BLOBS, (thread.thread_id, ns))
                garbage: dict[str, list[str]] = {}
                for channel, version in freed - {(r["channel"], r["version"]) for r in cur.fetchall()}:
                    garbage.setdefault(channel, []).append(version)
                for channel, versions in garbage.items():
                    cur.execute(
                        "DELETE FROM checkpoint_blobs WHERE thread_id = %s AND checkpoint_ns = %s AND channel = %s "
                        "AND version = ANY(%s)",
                        (thread.thread_id, ns, channel, versions),
                    )
            cur.execute("SELECT 1 AS x FROM checkpoints WHERE thread_id = %s LIMIT 1", (thread.thread_id,))
            left = cur.fetchone()
        return checkpoints, writes, left is not None

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
        """A cursor on the SQLite saver's own connection, under its lock (committed after, as the saver does).

        A step that fails (e.g. the database locked by another process: the prune skips the thread) is rolled back
        here, under the saver's lock: the saver's cursor commits whatever is open when it closes, even after an
        error, which would keep a half-done step; and a rollback outside the lock could undo a question's write.
        """
        saver = cast("SqliteSaver", self.saver)
        with saver.cursor() as cur:
            try:
                yield cur
            except BaseException:
                saver.conn.rollback()
                raise

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
