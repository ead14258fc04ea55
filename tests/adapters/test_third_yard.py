"""The scheduling model's rows on a third yard whose work package ids hold spaces and unicode (`ap 船体 B1 montage`):
every precedence survives the `after` column, so no package starts before the one it follows."""

from __future__ import annotations

from pathlib import Path

from adapters.scheduling import SchedulingAdapter, request_from_yard
from knowledge.store import YardStore
from tests.helpers.third_yard import third_yard_store


def test_predicted_schedule_keeps_the_order_of_packages_whose_ids_hold_spaces(tmp_path: Path) -> None:
    yard = YardStore.open(third_yard_store(tmp_path, with_packages=True))
    adapter = SchedulingAdapter()
    rows = adapter.yard_rows(yard)
    order = request_from_yard(yard).precedences
    assert order and all(" " in b and " " in a for b, a in order)
    placed = adapter.predict(rows).to_pydict()
    start = dict(zip(rows.column("code").to_pylist(), placed["start_day"], strict=True))
    finish = dict(zip(rows.column("code").to_pylist(), placed["finish_day"], strict=True))
    assert all(finish[b] <= start[a] for b, a in order), (order, start, finish)


def test_after_still_reads_codes_separated_by_spaces() -> None:
    from adapters.scheduling._adapter import _codes_in

    assert _codes_in("WP-1 WP-2", {"WP-1", "WP-2", "WP-3"}) == ["WP-1", "WP-2"]
    assert _codes_in("ap b1 x", {"ap b1 x"}) == ["ap b1 x"]
    assert _codes_in("ap b1 x\nap b2 y", set()) == ["ap b1 x", "ap b2 y"]
    assert _codes_in("", set()) == []
