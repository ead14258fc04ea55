"""Row schemas checked column by column: pydantic models as the contract, numpy as the engine.

An adapter's input and output rows are pydantic models (the contract a yard team writes and a
planner reads). Millions of rows cannot be validated as millions of pydantic objects, so
`validate_batch` derives vectorised checks from the model's fields: required columns, nulls,
`Literal` value sets, numeric bounds (`gt`, `ge`, `lt`, `le`), finiteness and booleans. The first
violation (lowest row, then field order) is reported as pydantic would word it, with the row index.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, get_args, get_origin

import annotated_types as at
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel

from adapters.errors import SchemaError

__all__ = ["ColumnRule", "category_codes", "column_rules", "validate_batch"]

Batch: TypeAlias = pa.RecordBatch | pa.Table


@dataclass(frozen=True)
class ColumnRule:
    """What one column must hold, derived from one pydantic field."""

    name: str
    kind: Literal["number", "integer", "bool", "string", "choice"]
    nullable: bool
    choices: tuple[str, ...] = ()
    bounds: tuple[tuple[str, float], ...] = ()
    """(op, value) pairs: op is one of gt, ge, lt, le."""


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(args) < len(get_args(annotation)):
            return args[0], True
    return annotation, False


def column_rules(schema: type[BaseModel]) -> list[ColumnRule]:
    """The column checks a row model implies, in field order."""
    rules = []
    for name, field in schema.model_fields.items():
        annotation, nullable = _unwrap_optional(field.annotation)
        bounds = []
        for meta in field.metadata:
            for op in ("gt", "ge", "lt", "le"):
                if isinstance(meta, getattr(at, op.capitalize())):
                    bounds.append((op, float(getattr(meta, op))))
        if get_origin(annotation) is Literal:
            rules.append(ColumnRule(name, "choice", nullable, tuple(str(a) for a in get_args(annotation))))
        elif annotation is bool:
            rules.append(ColumnRule(name, "bool", nullable))
        elif annotation is int:
            rules.append(ColumnRule(name, "integer", nullable, bounds=tuple(bounds)))
        elif annotation is float:
            rules.append(ColumnRule(name, "number", nullable, bounds=tuple(bounds)))
        elif annotation is str:
            rules.append(ColumnRule(name, "string", nullable))
        else:
            raise TypeError(f"{schema.__name__}.{name}: rows support float, int, bool, str and Literal fields")
    return rules


_OP_TEXT = {"gt": "greater than", "ge": "greater than or equal to", "lt": "less than", "le": "less than or equal to"}
_OP_FAILS = {"gt": np.less_equal, "ge": np.less, "lt": np.greater_equal, "le": np.greater}


def _first(mask: npt.NDArray[np.bool_]) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else None


def _check_column(model: str, rule: ColumnRule, column: pa.ChunkedArray | pa.Array) -> tuple[int, str] | None:
    """(row, message) of the first bad value in one column, or None."""
    col = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    failures: list[tuple[int, str]] = []
    if col.null_count and not rule.nullable:
        failures.append((_first(np.asarray(col.is_null())) or 0, "Input should not be null"))
    valid = np.asarray(col.is_valid()) if col.null_count else None
    if rule.kind == "choice":
        values = col.dictionary if pa.types.is_dictionary(col.type) else col
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
            return 0, f"Input should be text, one of {_choices(rule)} (the column holds {col.type})"
        bad = ~np.asarray(pc.is_in(values, value_set=pa.array(rule.choices)))
        if pa.types.is_dictionary(col.type):  # each distinct word checked once, then mapped to its rows
            bad = bad[np.asarray(col.indices.fill_null(0))] if bad.any() else np.zeros(len(col), dtype=bool)
        if valid is not None:  # a null is reported as a null, not as a wrong word
            bad &= valid
        if (row := _first(bad)) is not None:
            failures.append((row, f"Input should be {_choices(rule)} (got {col[row].as_py()!r})"))
    elif rule.kind == "bool":
        if not pa.types.is_boolean(col.type):
            return 0, f"Input should be a valid boolean (the column holds {col.type})"
    elif rule.kind == "string":
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type) or pa.types.is_dictionary(col.type)):
            return 0, f"Input should be a valid string (the column holds {col.type})"
    else:
        failures += _check_numbers(rule, col, valid)
    if not failures:
        return None
    return min(failures)


def _check_numbers(rule: ColumnRule, col: pa.Array, valid: npt.NDArray[np.bool_] | None) -> list[tuple[int, str]]:
    if not (pa.types.is_integer(col.type) or (rule.kind == "number" and pa.types.is_floating(col.type))):
        want = "an integer" if rule.kind == "integer" else "a number"
        return [(0, f"Input should be {want} (the column holds {col.type})")]
    values = col.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    failures = []
    finite = np.isfinite(values) if valid is None else np.isfinite(values) | ~valid
    if (row := _first(~finite)) is not None:
        failures.append((row, f"Input should be a finite number (got {values[row]!r})"))
    for op, bound in rule.bounds:
        bad = _OP_FAILS[op](values, bound) & finite
        if valid is not None:
            bad &= valid
        if (row := _first(bad)) is not None:
            shown = int(bound) if float(bound).is_integer() else bound
            failures.append((row, f"Input should be {_OP_TEXT[op]} {shown} (got {_number(values[row])})"))
    return failures


def _number(value: float) -> str:
    return str(int(value)) if math.isfinite(value) and float(value).is_integer() else repr(float(value))


def _choices(rule: ColumnRule) -> str:
    quoted = [repr(c) for c in rule.choices]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def validate_batch(model: str, schema: type[BaseModel], batch: Batch, *, row_offset: int = 0) -> None:
    """Check every row of `batch` against `schema`; extra columns are allowed and ignored.

    Raises:
        SchemaError: the first violation: row index (plus `row_offset`), field and what was wrong.
    """
    worst: tuple[int, int, str, str] | None = None
    for order, rule in enumerate(column_rules(schema)):
        if rule.name not in batch.schema.names:
            raise SchemaError(model, row_offset, rule.name, f"Field required (the batch has no column {rule.name!r})")
        found = _check_column(model, rule, batch.column(rule.name))
        if found is not None:
            candidate = (found[0], order, rule.name, found[1])
            worst = candidate if worst is None or candidate < worst else worst
    if worst is not None:
        row, _, field, message = worst
        raise SchemaError(model, row + row_offset, field, message)


def category_codes(column: pa.ChunkedArray | pa.Array, vocabulary: tuple[str, ...]) -> npt.NDArray[np.float32]:
    """Index of each value in `vocabulary` as float32 (NaN if absent: "unseen" to a tree model).

    Dictionary columns (as Parquet gives them) map each distinct word once, then index by row.
    """
    col = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(col.type):
        words = pc.index_in(col.dictionary, value_set=pa.array(vocabulary)).to_numpy(zero_copy_only=False)
        return np.asarray(words, dtype=np.float32)[np.asarray(col.indices)]
    return np.asarray(pc.index_in(col, value_set=pa.array(vocabulary)).to_numpy(zero_copy_only=False), dtype=np.float32)
