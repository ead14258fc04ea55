"""The workflows on a third, sparse yard (tests/helpers/third_yard.py): no work packages, or packages naming no
block; answers in the yard's own ids, never a ready date no crew stands behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge import Settings
from tests.helpers.third_yard import BLOCKS, third_yard_store
from workflows import WorkflowContext, WorkflowInputError, run_workflow
from workflows.block_readiness import BlockReadiness
from workflows.reschedule import RescheduleResult


def _context(root: Path, *, with_packages: bool) -> WorkflowContext:
    return WorkflowContext.open(third_yard_store(root, with_packages=with_packages), Settings(data_dir=root / "data"))


def test_readiness_without_work_packages_gives_no_ready_date(tmp_path: Path) -> None:
    ctx = _context(tmp_path, with_packages=False)
    ready = run_workflow("block-readiness", {"block": BLOCKS[1]}, ctx)
    assert isinstance(ready, BlockReadiness) and not ready.ready and ready.work_packages == []
    assert ready.hours_without_work_package > 0
    assert "none belongs to a work package" in ready.summary and "ready in" not in ready.summary, ready.summary
    with pytest.raises(WorkflowInputError, match="has none"):
        run_workflow("outfitting-plan", {"block": BLOCKS[1]}, ctx)
    with pytest.raises(WorkflowInputError, match="no resources"):
        event = {"type": "resource_down", "equipment": "halle 1", "days": 3}
        run_workflow("reschedule", {"events": [event]}, ctx)


def test_reschedule_names_each_package_s_block_when_the_packages_name_none(tmp_path: Path) -> None:
    ctx = _context(tmp_path, with_packages=True)
    event = {"type": "resource_down", "equipment": "halle 1", "days": 3, "from_day": 1}
    result = run_workflow("reschedule", {"events": [event], "compare_optimised": False}, ctx)
    assert isinstance(result, RescheduleResult) and result.makespan_delta_days > 0
    assert result.changes and all(c.block in BLOCKS for c in result.changes)
    assert {s.block for s in result.schedule} == set(BLOCKS)
    assert all(c.work_package.startswith(f"ap {c.block} ") for c in result.changes)
