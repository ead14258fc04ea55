"""Row validation: vectorised, yet it accepts exactly what pydantic accepts and names the first bad row."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from pydantic import ValidationError

from adapters.errors import SchemaError
from adapters.schema import validate_batch
from adapters.welding import WeldJointRow

GOOD: dict[str, Any] = {
    "level": "sub_assembly",
    "joint_type": "butt",
    "process": "SAW",
    "position": "1G",
    "access": "good",
    "one_sided": False,
    "grade": "AH36",
    "thickness_mm": 12.0,
    "length_m": 6.5,
    "fit_up_gap_mm": 1.5,
}


def table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows)


def test_good_rows_pass_and_extra_columns_are_ignored() -> None:
    validate_batch("welding", WeldJointRow, table([GOOD, {**GOOD, "joint_id": 7}]))


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("process", "TIG", "Input should be 'SAW', 'FCAW', 'GMAW' or 'SMAW' (got 'TIG')"),
        ("thickness_mm", -3.0, "Input should be greater than 0 (got -3)"),
        ("length_m", 250.0, "Input should be less than or equal to 100 (got 250)"),
        ("fit_up_gap_mm", float("nan"), "Input should be a finite number"),
        ("access", None, "Input should not be null"),
    ],
)
def test_a_bad_value_names_its_row_and_field(field: str, value: Any, says: str) -> None:
    rows = [GOOD] * 5 + [{**GOOD, field: value}] + [GOOD] * 3
    with pytest.raises(SchemaError) as info:
        validate_batch("welding", WeldJointRow, table(rows))
    assert info.value.row == 5 and info.value.field == field
    assert says in str(info.value)
    assert str(info.value).startswith(f"welding: row 5, field {field!r}:")


def test_missing_column_and_wrong_column_type() -> None:
    rows = table([GOOD]).drop_columns(["grade"])
    with pytest.raises(SchemaError, match="field 'grade': Field required"):
        validate_batch("welding", WeldJointRow, rows)
    rows = table([GOOD]).set_column(7, "thickness_mm", pa.array(["12"]))
    with pytest.raises(SchemaError, match="field 'thickness_mm': Input should be a number"):
        validate_batch("welding", WeldJointRow, rows)


def test_the_first_bad_row_wins_across_fields() -> None:
    rows = [GOOD] * 10
    rows[7] = {**GOOD, "grade": "S355"}
    rows[3] = {**GOOD, "length_m": 0.0}
    with pytest.raises(SchemaError) as info:
        validate_batch("welding", WeldJointRow, table(rows))
    assert (info.value.row, info.value.field) == (3, "length_m")


def test_dictionary_columns_from_parquet_are_checked_too() -> None:
    rows = table([GOOD, {**GOOD, "position": "5G"}, GOOD])
    encoded = rows.set_column(3, "position", rows.column("position").dictionary_encode())
    with pytest.raises(SchemaError) as info:
        validate_batch("welding", WeldJointRow, encoded)
    assert (info.value.row, info.value.field) == (1, "position")


def test_agrees_with_pydantic_on_random_rows() -> None:
    rng = np.random.default_rng(0)
    mutations: list[tuple[str, Any]] = [
        ("thickness_mm", 0.0),
        ("thickness_mm", 100.0),
        ("thickness_mm", 100.5),
        ("length_m", -1.0),
        ("fit_up_gap_mm", 0.0),
        ("fit_up_gap_mm", 20.0),
        ("fit_up_gap_mm", 21.0),
        ("process", "saw"),
        ("position", "4F"),
        ("position", "5F"),
        ("grade", "EH36"),
        ("grade", ""),
        ("access", None),
    ]
    for trial in range(60):
        rows = [dict(GOOD) for _ in range(20)]
        for i in rng.choice(20, size=rng.integers(0, 3), replace=False):
            field, value = mutations[int(rng.integers(len(mutations)))]
            rows[i][field] = value
        first_bad = None
        for i, row in enumerate(rows):
            try:
                WeldJointRow(**row)
            except ValidationError:
                first_bad = i
                break
        if first_bad is None:
            validate_batch("welding", WeldJointRow, table(rows))
        else:
            with pytest.raises(SchemaError) as info:
                validate_batch("welding", WeldJointRow, table(rows))
            assert info.value.row == first_bad, trial
