"""Turning a yard's column into a field's values: value map, type, unit, bounds, vectorised per batch.

`convert(column, field, source)` returns the field's values (float64, int64, bool, string or date32, in the
field's canonical unit) with masks of the rows whose value could not be read (`bad_type`) or falls outside the
field's bounds once converted (`out_of_range`, usually a unit mistake). Nulls and empty cells are missing values,
neither bad nor out of range. The importer uses the same function, so what validates is what is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from knowledge.yardformat.fields import YardField, unit_factor
from knowledge.yardformat.spec import ColumnMap

__all__ = ["Converted", "convert", "describe_bounds"]

_NUMBER: Final = r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$"
_TRUE: Final = ("true", "t", "yes", "y", "1")
_FALSE: Final = ("false", "f", "no", "n", "0")


@dataclass(frozen=True)
class Converted:
    """A column read as a field."""

    values: pa.Array
    """The field's values, null where missing or bad."""
    missing: npt.NDArray[np.bool_]
    """Rows with no value (null or empty cell)."""
    bad_type: npt.NDArray[np.bool_]
    """Rows whose value is not of the field's type (or not one of its words)."""
    out_of_range: npt.NDArray[np.bool_]
    """Rows whose converted value is outside the field's bounds."""


def _mask(array: pa.Array) -> npt.NDArray[np.bool_]:
    return np.asarray(array.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _as_text(column: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_boolean(column.type):
        return pc.if_else(column, "true", "false")
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column
    return pc.cast(column, pa.string())


def _text(value: str | bool | int | float) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _mapped(text: pa.Array, source: ColumnMap | None) -> pa.Array:
    if source is None or not source.values:
        return text
    keys = pa.array(list(source.values), type=text.type)
    replacements = pa.array([_text(v) for v in source.values.values()], type=text.type)
    where = pc.index_in(text, value_set=keys)
    return pc.if_else(pc.is_valid(where), pc.take(replacements, where), text)


def describe_bounds(field: YardField) -> str:
    """The field's bounds as people write them: `(0, 100] mm`."""
    low = "-inf" if field.low is None else f"{field.low:g}"
    high = "inf" if field.high is None else f"{field.high:g}"
    return f"{'(' if field.low_open or field.low is None else '['}{low}, {high}{')' if field.high is None else ']'}" + (
        f" {field.unit}" if field.unit else ""
    )


def convert(column: pa.Array, field: YardField, source: ColumnMap | None) -> Converted:
    """`column` read as `field` through its mapping `source` (None: the column is the field's own)."""
    none = np.zeros(len(column), dtype=bool)
    mapped = source is not None and bool(source.values)
    if field.type in ("float", "int") and not mapped and _numeric(column.type):
        values: pa.Array = pc.cast(column, pa.float64())
        return _numbers(values, _mask(pc.is_null(values)), none, field, source)
    if field.type == "date" and (pa.types.is_date(column.type) or pa.types.is_timestamp(column.type)):
        values = pc.cast(column, pa.date32())
        return Converted(values, _mask(pc.is_null(values)), none, none)
    if field.type == "bool" and not mapped and pa.types.is_boolean(column.type):
        return Converted(column, _mask(pc.is_null(column)), none, none)
    return _from_text(_mapped(_as_text(column), source), field, source)


def _numeric(kind: pa.DataType) -> bool:
    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind))


def _from_text(text: pa.Array, field: YardField, source: ColumnMap | None) -> Converted:
    none = np.zeros(len(text), dtype=bool)
    missing = _mask(pc.or_kleene(pc.is_null(text), pc.equal(pc.utf8_trim_whitespace(text), "")))
    present = pc.invert(pa.array(missing))
    if field.type in ("float", "int"):
        bad = _mask(pc.and_(present, pc.invert(pc.match_substring_regex(text, _NUMBER))))
        values = pc.cast(pc.if_else(pa.array(bad | missing), None, pc.utf8_trim_whitespace(text)), pa.float64())
        return _numbers(values, missing, bad, field, source)
    if field.type == "bool":
        lower = pc.utf8_lower(pc.utf8_trim_whitespace(text))
        is_true = pc.is_in(lower, value_set=pa.array(_TRUE))
        is_false = pc.is_in(lower, value_set=pa.array(_FALSE))
        bad = _mask(pc.and_(present, pc.invert(pc.or_(is_true, is_false))))
        return Converted(pc.if_else(pa.array(bad | missing), pa.scalar(None, pa.bool_()), is_true), missing, bad, none)
    if field.type == "date":
        trimmed = pc.utf8_trim_whitespace(text)
        parsed = pc.strptime(trimmed, format="%Y-%m-%d", unit="s", error_is_null=True)
        # strptime rolls 2025-02-30 over to March: a date is good only if it prints back the same
        same = pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), trimmed)
        bad = _mask(pc.and_(present, pc.invert(pc.fill_null(same, False))))
        return Converted(pc.cast(pc.if_else(pa.array(bad), None, parsed), pa.date32()), missing, bad, none)
    if field.type == "word":
        bad = _mask(pc.and_(present, pc.invert(pc.is_in(text, value_set=pa.array(field.words)))))
        return Converted(pc.if_else(pa.array(bad | missing), None, text), missing, bad, none)
    # text and ref: any text; a ref is resolved against the ids by the caller
    return Converted(pc.if_else(pa.array(missing), None, text), missing, none, none)


def _numbers(
    values: pa.Array,
    missing: npt.NDArray[np.bool_],
    bad: npt.NDArray[np.bool_],
    field: YardField,
    source: ColumnMap | None,
) -> Converted:
    """Numbers (float64) converted to the field's unit and checked against its bounds (and integrality)."""
    if source is not None and source.unit is not None and field.unit is not None:
        values = pc.multiply(values, unit_factor(source.unit, field.unit))
    if field.type == "int":
        fractional = _mask(pc.not_equal(values, pc.floor(values)))
        bad = bad | fractional
        values = pc.if_else(pa.array(fractional), None, values)
    out = np.zeros(len(values), dtype=bool)
    if field.low is not None:
        out |= _mask(pc.less_equal(values, field.low) if field.low_open else pc.less(values, field.low))
    if field.high is not None:
        out |= _mask(pc.greater(values, field.high))
    if field.type == "int":
        values = pc.cast(values, pa.int64(), safe=False)
    return Converted(values, missing, bad, out)
