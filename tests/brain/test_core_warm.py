"""After `YardContext.warm()`, a new context (a restarted service) reads what the first questions need from disk.

Issue 11, "fast at 25M from the first question": the critical path's longest-path arrays and the base schedule are
computed once, by the warm-up, not by a restarted service's first critical-path or what-if question. (The blocks'
erection order is no longer computed from the joints: it is the edges between the yard's work packages.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from brain.core import YardContext
from brain.tools.base import run_tool
from knowledge import Settings
from knowledge.store import YardStore


def test_a_restarted_context_reads_the_longest_paths_and_the_base_schedule(
    small_yard: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path)
    first = YardContext.open(small_yard, settings)
    try:
        first.warm()
        expected = run_tool(first, "critical_path", {"code": "B002"})
        late = run_tool(first, "what_if", {"code": "B002", "days": 5})
    finally:
        first.close()
    kept = {p.name for p in first.cache.dir.iterdir()}
    assert {"longest-planned-finish.npy", "longest-planned-pred.npy"} <= kept
    assert any(name.startswith("schedule-base-") for name in kept)

    def never(*_: object, **__: object) -> None:
        raise AssertionError("recomputed after a restart")

    import adapters.scheduling

    monkeypatch.setattr(YardStore, "longest_paths", never)
    monkeypatch.setattr(adapters.scheduling, "solve", never)
    again = YardContext.open(small_yard, settings)
    try:
        answer = run_tool(again, "critical_path", {"code": "B002"})
        assert answer.error is None and answer.rows == expected.rows and answer.summary == expected.summary
        assert answer.breakdown == expected.breakdown
        what_if = run_tool(again, "what_if", {"code": "B002", "days": 5})
        assert what_if.error is None and what_if.summary == late.summary and what_if.rows == late.rows
    finally:
        again.close()
