"""`brain.core.cache.take_rows`: the rows `pyarrow.Table.take` gives, read batch by batch."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from brain.core.cache import take_rows


def _table() -> pa.Table:
    return pa.Table.from_batches(
        [
            pa.record_batch({"hours": np.arange(k * 10, k * 10 + 10, dtype=np.float64), "stage": [f"s{k}"] * 10})
            for k in range(7)
        ]
    )


@pytest.mark.parametrize(
    "rows",
    [
        np.arange(70),
        np.zeros(0, dtype=np.int64),
        np.random.default_rng(1).integers(0, 70, 50),
        np.asarray([69, 0, 5, 5, 33]),
        np.arange(20, 35),
    ],
    ids=["all", "none", "random", "unordered-with-repeats", "one-span"],
)
def test_take_rows_is_pyarrows_take(rows: np.ndarray) -> None:
    table = _table()
    assert take_rows(table, rows).equals(table.take(pa.array(rows, type=pa.int64())))


def test_take_rows_outside_the_table_is_an_error() -> None:
    with pytest.raises(IndexError):
        take_rows(_table(), [3, 70])
