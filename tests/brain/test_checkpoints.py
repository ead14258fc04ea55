"""Issue 13, finding 5: the brain's checkpoints are bounded per question, pruned, and the job runs in `serve`."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import httpx
import pytest

from brain.checkpoints import CheckpointRetention, PruneReport, checkpoint_time
from brain.planbook import Approver
from brain.supervisor import Answer, Brain
from knowledge import Settings
from knowledge.database import dispose
from tests.helpers import postgres

ADOPT = "Adopt into the plan: B002 is late by 4 days"


def _anna(shown: Answer) -> Approver:
    """planner.anna's decision record on the change `shown` waits on."""
    assert shown.approval is not None
    return Approver("planner.anna", "key_anna", shown.approval.digest)


DAY = 86_400.0
KB = 1024
FIRSTS = [
    "What is B00{b}?",
    "What must be done before B00{b}-A02?",
    "What waits on B00{b}?",
    "What is the weld risk of block B00{b}?",
    "When will B00{b} be erected?",
]
FOLLOW_UPS = ["and what waits on it?", "what must be done before it?", "what is it?", "what is its weld risk?"]


def _conversations(brain: Brain, threads: int) -> list[str]:
    """`threads` conversations of five questions each (a first question, four follow-ups); their thread ids."""
    ids = []
    for t in range(threads):
        first = brain.ask(FIRSTS[t % len(FIRSTS)].format(b=1 + t % 5))
        assert first.status == "answered" and first.plan.intent != "unknown", first.answer
        for follow_up in FOLLOW_UPS:
            assert brain.ask(follow_up, thread_id=first.thread_id).status == "answered"
        ids.append(first.thread_id)
    return ids


def _stored(data_dir: Path) -> tuple[int, int]:
    """Checkpoint rows and the bytes in them (checkpoints, metadata and pending writes) in `brain.sqlite`."""
    with sqlite3.connect(data_dir / "brain.sqlite") as conn:
        rows, size = conn.execute(
            "SELECT COUNT(*), SUM(LENGTH(checkpoint) + LENGTH(metadata)) FROM checkpoints"
        ).fetchone()
        (writes,) = conn.execute("SELECT COALESCE(SUM(LENGTH(value)), 0) FROM writes").fetchone()
    return rows, size + writes


def _file_bytes(data_dir: Path) -> int:
    """The database file and its WAL (not the WAL's fixed 32 KiB shared-memory index)."""
    return sum(p.stat().st_size for p in (data_dir / "brain.sqlite", data_dir / "brain.sqlite-wal") if p.exists())


def _per_thread(data_dir: Path) -> dict[str, int]:
    with sqlite3.connect(data_dir / "brain.sqlite") as conn:
        return dict(conn.execute("SELECT thread_id, COUNT(*) FROM checkpoints GROUP BY thread_id").fetchall())


@pytest.fixture
def brain(small_yard: Path, tmp_path: Path) -> Iterator[Brain]:
    b = Brain(small_yard, Settings(data_dir=tmp_path))
    yield b
    b.close()


def test_fifty_questions_write_at_most_4_kb_each(brain: Brain, tmp_path: Path) -> None:
    """Today's code wrote 6 checkpoints a lookup (one a super-step), ~10 KB; the issue measured 17 KB a question."""
    _conversations(brain, 10)
    rows, stored = _stored(tmp_path)
    assert rows <= 50, f"{rows} checkpoints for 50 questions: one a question at most"
    assert stored / 50 <= 4 * KB, f"{stored / 50:,.0f} bytes of checkpoints a question"
    report = brain.retention.prune()
    assert report.checkpoints_deleted == 40 and report.threads_deleted == 0
    assert _stored(tmp_path)[0] == 10  # one a conversation
    assert report.bytes_after == _file_bytes(tmp_path) and report.bytes_after / 50 <= 4 * KB, report.line()


def test_pruning_keeps_follow_ups_history_and_decisions_and_deletes_idle_threads(brain: Brain, tmp_path: Path) -> None:
    recent, idle = _conversations(brain, 2)
    waiting = brain.ask(ADOPT)
    assert waiting.status == "waiting_for_approval"
    history = brain.history(recent)
    assert len(history) == 5

    kept = brain.retention.prune()  # nothing idle yet: the older checkpoints of each thread go
    assert (kept.threads, kept.threads_deleted, kept.checkpoints_deleted) == (3, 0, 8)
    assert _per_thread(tmp_path) == {recent: 1, idle: 1, waiting.thread_id: 1}
    # a follow-up after pruning reads its context from the one checkpoint left; the earlier questions are listed
    follow = brain.ask("what must be done before it?", thread_id=recent)
    assert follow.status == "answered" and follow.plan.intent == "upstream" and follow.plan.codes, follow.answer
    assert brain.history(recent) == [*history, "what must be done before it?"]

    later = time.time() + 31 * DAY  # every thread idle past the 30 days of the defaults
    assert brain.retention.retention_days == 30
    gone = brain.retention.prune(now=later)
    assert (gone.threads_deleted, gone.threads_kept_pending) == (2, 1)
    assert list(_per_thread(tmp_path)) == [waiting.thread_id]
    assert brain.pending(waiting.thread_id) is not None  # a plan change waiting for a person is never pruned
    assert brain.retention.prune(now=later + 365 * DAY).threads_kept_pending == 1
    done = brain.decide(waiting.thread_id, approved=True, by=_anna(waiting))
    assert done.status == "answered" and "adopted into the plan" in done.answer
    assert [e.code for e in brain.context.plan.planbook.events()] == ["B002"]
    # decided, it is a conversation like any other: idle, it goes
    assert brain.retention.prune(now=time.time() + 31 * DAY).threads_deleted == 1
    assert _per_thread(tmp_path) == {}
    with pytest.raises(Exception, match="no thread"):
        brain.ask("what is it?", thread_id=recent)


def test_a_decided_change_keeps_one_checkpoint_and_resumes(brain: Brain, tmp_path: Path) -> None:
    asked = brain.ask(ADOPT)
    brain.decide(asked.thread_id, approved=False, by=Approver("planner.bob", "key_bob"), note="not now")
    assert _per_thread(tmp_path)[asked.thread_id] > 1  # a decision writes each step (its key before the change)
    brain.retention.prune()
    assert _per_thread(tmp_path)[asked.thread_id] == 1
    again = brain.result(asked.thread_id)
    assert again.approval is not None and again.approval.decision == "rejected" and again.approval.by == "planner.bob"
    assert brain.resume(asked.thread_id).answer == again.answer
    assert brain.history(asked.thread_id) == [ADOPT]


def test_a_thread_from_before_keeps_its_questions(
    brain: Brain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thread the previous version wrote (no `asked`, uncompressed) is read, and its checkpoints stay."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    inputs = Brain._inputs

    def as_before(self: Brain, text: str, thread: str, fresh: bool, owner: str | None = None) -> object:
        state = dict(inputs(self, text, thread, fresh, owner))
        state.pop("asked")
        state.pop("owner")
        return state

    monkeypatch.setattr(Brain, "_inputs", as_before)
    monkeypatch.setattr(brain.retention.saver, "serde", JsonPlusSerializer())
    first = brain.ask("What is B001?")
    brain.ask("what waits on it?", thread_id=first.thread_id)
    monkeypatch.undo()
    with sqlite3.connect(tmp_path / "brain.sqlite") as conn:
        assert {t for (t,) in conn.execute("SELECT type FROM checkpoints")} == {"msgpack"}
    assert brain.retention.prune().checkpoints_deleted == 0
    assert brain.history(first.thread_id) == ["What is B001?", "what waits on it?"]
    brain.ask("what is it?", thread_id=first.thread_id)  # this version's question carries them on
    assert brain.retention.prune().checkpoints_deleted == 2
    with sqlite3.connect(tmp_path / "brain.sqlite") as conn:
        assert conn.execute("SELECT type FROM checkpoints").fetchall() == [("msgpack+zlib",)]
    assert brain.history(first.thread_id) == ["What is B001?", "what waits on it?", "what is it?"]


def test_sqlite_space_is_reclaimed(small_yard: Path, tmp_path: Path) -> None:
    """A new file vacuums incrementally; a file made before (no auto-vacuum) is rewritten once, then incremental."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    with sqlite3.connect(tmp_path / "brain.sqlite") as old:  # as the previous version made it
        SqliteSaver(old).setup()
    brain = Brain(small_yard, Settings(data_dir=tmp_path))
    try:
        _conversations(brain, 6)
        first = brain.retention.prune()  # 24 of 30 checkpoints go: the file is rewritten
        assert first.checkpoints_deleted == 24 and first.reclaim == "vacuum", first.line()
        assert first.bytes_after < first.bytes_before / 2, first.line()
        _conversations(brain, 6)
        second = brain.retention.prune(now=time.time() + 31 * DAY)
        assert second.threads_deleted == 12 and second.reclaim == "incremental_vacuum", second.line()
        assert second.bytes_after < second.bytes_before / 2, second.line()
    finally:
        brain.close()
    with sqlite3.connect(tmp_path / "brain.sqlite") as conn:
        assert conn.execute("PRAGMA auto_vacuum").fetchone() == (2,)  # incremental from now on
        assert conn.execute("PRAGMA freelist_count").fetchone() == (0,)  # every freed page given back
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_thread_another_process_holds_is_left_for_the_next_prune(brain: Brain, tmp_path: Path) -> None:
    (thread,) = _conversations(brain, 1)
    other = sqlite3.connect(tmp_path / "brain.sqlite", timeout=0.1)
    other.execute("BEGIN IMMEDIATE")  # another process writing (SQLite waits 5 s for it, then gives up)
    try:
        held = brain.retention.prune()
    finally:
        other.rollback()
        other.close()
    assert (held.threads_skipped, held.checkpoints_deleted) == (1, 0) and "left for next time" in held.line()
    assert brain.retention.prune().checkpoints_deleted == 4
    assert len(brain.history(thread)) == 5


def test_checkpoint_ids_tell_their_time(brain: Brain, tmp_path: Path) -> None:
    before = time.time()
    brain.ask("What is B001?")
    with sqlite3.connect(tmp_path / "brain.sqlite") as conn:
        (checkpoint_id,) = conn.execute("SELECT checkpoint_id FROM checkpoints").fetchone()
    assert before - 1 <= checkpoint_time(checkpoint_id) <= time.time() + 1


def test_the_prune_command(brain: Brain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from brain.cli import app
    from knowledge.settings import get_settings

    _conversations(brain, 1)
    monkeypatch.setenv("SHIPBRAIN_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["checkpoints", "prune", "--json"])
        assert result.exit_code == 0, result.output
        report = PruneReport.model_validate_json(result.output)
        assert (report.threads, report.checkpoints_deleted, report.threads_deleted) == (1, 4, 0)
        time.sleep(0.2)
        result = CliRunner().invoke(app, ["checkpoints", "prune", "--days", "0.000001"])  # idle for 86 ms
        assert result.exit_code == 0 and "deleted 1 idle" in result.output, result.output
    finally:
        get_settings.cache_clear()


def _a_follow_up_during_an_idle_prune(brain: Brain, monkeypatch: pytest.MonkeyPatch) -> None:
    """An idle thread is asked a follow-up after the prune listed the threads: the follow-up and its thread stay."""
    asked, idle = _conversations(brain, 2)
    brain.retention.prune()  # one checkpoint each
    listed = brain.retention._threads
    follow_ups = []

    def then_a_follow_up() -> list[object]:
        threads = listed()
        follow_ups.append(brain.ask("what must be done before it?", thread_id=asked))  # mid-prune
        return list(threads)

    monkeypatch.setattr(brain.retention, "_threads", then_a_follow_up)
    report = brain.retention.prune(now=time.time() + 31 * DAY)  # both idle in the list
    monkeypatch.undo()
    assert follow_ups and follow_ups[0].status == "answered"
    assert (report.threads, report.threads_deleted, report.checkpoints_deleted) == (2, 1, 2), report.line()
    kept = brain.result(asked)  # before the fix: "no thread", the follow-up deleted with the thread
    assert kept.question == "what must be done before it?" and kept.plan.intent == "upstream", kept.answer
    assert kept.answer == follow_ups[0].answer and kept.results == follow_ups[0].results
    assert brain.history(asked) == [FIRSTS[0].format(b=1), *FOLLOW_UPS, "what must be done before it?"]
    again = brain.ask("what is it?", thread_id=asked)  # and the conversation goes on
    assert again.status == "answered" and len(brain.history(asked)) == 7
    with pytest.raises(Exception, match="no thread"):
        brain.result(idle)


def test_a_follow_up_during_an_idle_prune_is_kept(brain: Brain, monkeypatch: pytest.MonkeyPatch) -> None:
    _a_follow_up_during_an_idle_prune(brain, monkeypatch)


@pytest.mark.slow
@pytest.mark.skipif(not postgres.available(), reason="PostgreSQL server programs not installed (tests/run.sh does)")
def test_a_follow_up_during_an_idle_prune_is_kept_on_postgresql(
    small_yard: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with postgres.postgres_server() as dsn:
        settings = Settings(data_dir=tmp_path, postgres_dsn=dsn)
        brain = Brain(small_yard, settings)
        try:
            _a_follow_up_during_an_idle_prune(brain, monkeypatch)
            # every blob left is one a checkpoint left uses (none leaked; none lost: the thread read back above)
            with brain.retention._pg() as cur:
                cur.execute(
                    "SELECT COUNT(DISTINCT (b.thread_id, b.checkpoint_ns, b.channel, b.version)) AS n "
                    "FROM checkpoints c "
                    "CROSS JOIN LATERAL jsonb_each_text(c.checkpoint -> 'channel_versions') AS v "
                    "JOIN checkpoint_blobs b ON (b.thread_id, b.checkpoint_ns, b.channel, b.version) = "
                    "(c.thread_id, c.checkpoint_ns, v.key, v.value)"
                )
                used = cur.fetchone()
                cur.execute("SELECT COUNT(*) AS n FROM checkpoint_blobs")
                stored = cur.fetchone()
            assert used is not None and stored is not None and used["n"] == stored["n"] > 0
        finally:
            brain.close()
            dispose(settings)


class _LockedOnce(sqlite3.Connection):
    """A connection whose next statement starting with `fail` finds the database locked (another process)."""

    fail: str | None = None

    def cursor(self, factory: object = None) -> Any:  # every cursor checks `fail` (the saver asks for plain ones)
        return super().cursor(_LockedCursor)


class _LockedCursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> Self:
        conn = self.connection
        assert isinstance(conn, _LockedOnce)
        if conn.fail is not None and sql.startswith(conn.fail):
            conn.fail = None
            raise sqlite3.OperationalError("database is locked")
        return super().execute(sql, parameters)


def test_a_prune_step_another_process_stops_is_rolled_back(brain: Brain, tmp_path: Path) -> None:
    """The second delete of a step finds the database locked: the thread is skipped with nothing half done."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    from brain.checkpoints import checkpoint_serde

    asked = brain.ask(ADOPT)
    brain.decide(asked.thread_id, approved=False, by=Approver("planner.bob", "key_bob"))  # several checkpoints
    brain.close()

    def counts() -> tuple[int, int]:
        with sqlite3.connect(tmp_path / "brain.sqlite") as conn:
            (checkpoints,) = conn.execute("SELECT COUNT(*) FROM checkpoints").fetchone()
            (writes,) = conn.execute("SELECT COUNT(*) FROM writes").fetchone()
        return checkpoints, writes

    before = counts()
    assert before[0] > 1 and before[1] > 0, before
    conn = sqlite3.connect(tmp_path / "brain.sqlite", factory=_LockedOnce, check_same_thread=False)
    try:
        retention = CheckpointRetention(SqliteSaver(conn, serde=checkpoint_serde()), retention_days=30, interval_s=0)
        conn.fail = "DELETE FROM checkpoints"  # after its writes were deleted
        held = retention.prune()
        assert (held.threads_skipped, held.checkpoints_deleted) == (1, 0), held.line()
        assert not conn.in_transaction
        assert counts() == before  # before the fix: the older checkpoints' writes deleted, the checkpoints kept
        conn.fail = "DELETE FROM checkpoints"  # an idle thread's delete likewise
        held = retention.prune(now=time.time() + 31 * DAY)
        assert (held.threads_skipped, held.threads_deleted) == (1, 0) and counts() == before, held.line()
        done = retention.prune()
        assert done.checkpoints_deleted == before[0] - 1 and counts()[0] == 1, done.line()
    finally:
        conn.close()


def test_checkpoints_can_be_written_uncompressed(small_yard: Path, tmp_path: Path) -> None:
    """SHIPBRAIN_CHECKPOINT_COMPRESS=false writes plain rows (the release before reads them); both kinds are read."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
    from langgraph.checkpoint.sqlite import SqliteSaver

    def types() -> set[str]:
        with sqlite3.connect(tmp_path / "brain.sqlite") as conn:
            return {t for (t,) in conn.execute("SELECT type FROM checkpoints")}

    compressed = Brain(small_yard, Settings(data_dir=tmp_path))
    try:
        first = compressed.ask("What is B001?")
    finally:
        compressed.close()
    assert types() == {"msgpack+zlib"}
    plain = Brain(small_yard, Settings(data_dir=tmp_path, checkpoint_compress=False))
    try:
        assert plain.result(first.thread_id).answer == first.answer  # a compressed row read
        follow = plain.ask("what waits on it?", thread_id=first.thread_id)
        assert follow.status == "answered" and follow.plan.intent == "downstream", follow.answer
        plain.retention.prune()
    finally:
        plain.close()
    assert types() == {"msgpack"}
    with sqlite3.connect(tmp_path / "brain.sqlite", check_same_thread=False) as conn:
        before = SqliteSaver(conn, serde=JsonPlusSerializer())  # the release before compression: plain msgpack
        latest = before.get_tuple({"configurable": {"thread_id": first.thread_id, "checkpoint_ns": ""}})
    assert latest is not None and latest.checkpoint["channel_values"]["question"] == "what waits on it?"
    assert latest.checkpoint["channel_values"]["asked"] == ["What is B001?"]


@pytest.mark.slow
@pytest.mark.skipif(not postgres.available(), reason="PostgreSQL server programs not installed (tests/run.sh does)")
def test_pruning_on_postgresql(small_yard: Path, tmp_path: Path) -> None:
    with postgres.postgres_server() as dsn:
        settings = Settings(data_dir=tmp_path, postgres_dsn=dsn)
        brain = Brain(small_yard, settings)
        try:
            recent, idle = _conversations(brain, 2)
            waiting = brain.ask(ADOPT)
            kept = brain.retention.prune()
            assert kept.backend == "postgresql" and (kept.threads, kept.checkpoints_deleted) == (3, 8), kept.line()
            follow = brain.ask("what must be done before it?", thread_id=recent)
            assert follow.plan.intent == "upstream" and len(brain.history(recent)) == 6
            gone = brain.retention.prune(now=time.time() + 31 * DAY)
            assert (gone.threads_deleted, gone.threads_kept_pending, gone.reclaim) == (2, 1, "postgres_vacuum")
            assert brain.pending(waiting.thread_id) is not None
            assert brain.decide(waiting.thread_id, approved=True, by=_anna(waiting)).status == "answered"
            with pytest.raises(Exception, match="no thread"):
                brain.result(idle)
        finally:
            brain.close()
            dispose(settings)


@pytest.mark.slow
def test_serve_prunes_periodically(small_yard: Path, tmp_path: Path) -> None:
    """`shipbrain serve` runs the job every SHIPBRAIN_CHECKPOINT_PRUNE_INTERVAL_S; a pending decision survives it."""
    from tests.service.servers import start

    data_dir = tmp_path / "data"
    env = {"SHIPBRAIN_CHECKPOINT_PRUNE_INTERVAL_S": "0.5", "SHIPBRAIN_CHECKPOINT_RETENTION_DAYS": "0.00003"}  # 2.6 s
    server = start(data_dir, "--yard", str(small_yard), "--no-warm", "--no-chat", env=env)
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.admin_key}"}) as client:
            first = client.post("/v1/ask", json={"question": "What is B001?"})
            assert first.status_code == 200 and first.json()["status"] == "answered", first.text
            asked = first.json()
            for follow_up in FOLLOW_UPS:
                answered = client.post("/v1/ask", json={"question": follow_up, "thread_id": asked["thread_id"]})
                assert answered.status_code == 200 and answered.json()["status"] == "answered", answered.text
            waiting = client.post("/v1/ask", json={"question": ADOPT}).json()
            assert waiting["status"] == "waiting_for_approval"
            deadline = time.monotonic() + 30
            while asked["thread_id"] in _per_thread(data_dir) and time.monotonic() < deadline:
                time.sleep(0.25)
            assert list(_per_thread(data_dir)) == [waiting["thread_id"]], server.output()
            assert "checkpoints pruned: sqlite" in server.output()
            assert client.get(f"/v1/threads/{asked['thread_id']}").status_code == 404
            shown = {"approved": True, "schedule_digest": waiting["approval"]["digest"]}  # what it was shown
            decided = client.post(f"/v1/threads/{waiting['thread_id']}/approval", json=shown)
            assert decided.status_code == 200 and decided.json()["status"] == "answered", decided.text
    finally:
        server.stop()


def test_the_job_starts_and_stops(brain: Brain) -> None:
    reports: list[PruneReport] = []
    job = CheckpointRetention(brain.retention.saver, retention_days=30, interval_s=0.05, on_report=reports.append)
    job.start()
    try:
        deadline = time.monotonic() + 10
        while not reports and time.monotonic() < deadline:
            time.sleep(0.05)
        assert reports and job.running
    finally:
        job.stop()
    assert not job.running
