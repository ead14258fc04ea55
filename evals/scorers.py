"""Scorers: how a case's output is held against what really happened.

Each scorer is a function registered by name with `@scorer`, with a frozen pydantic model of its arguments,
the direction in which its value improves, and the type its expected value must have (checked when the suite
loads, so a case whose expected value has the wrong type is refused before anything runs):

| scorer | value | expected | better |
|---|---|---|---|
| `exact` | 1 if the output field equals the expected value, else 0 | any JSON value | higher |
| `numeric` | 1 if within `abs_tol` or `rel_tol` of the expected number, else 0 | number | higher |
| `set_f1` | F1 of the output field's set against the expected set (the joints chosen for NDT) | strings | higher |
| `tool_routing` | 1 if the tools that ran are the expected ones, in order, else 0 | list of tool names | higher |
| `mae` | mean absolute error of a predicted column against a recorded actual | (the package's actuals) | lower |
| `calibration` | expected calibration error of a probability against a recorded 0/1 outcome | (actuals) | lower |

`mae` and `calibration` leave out the rows the yard recorded nothing of (a joint not welded yet, one NDT did
not inspect): a case's rows carry the package's actuals, null where there are none.
| `schedule_validity` | 1 if the schedule keeps precedence, capacity, downtime, durations, kinds | (request) | higher |
| `latency` | the case's wall-clock seconds | none | lower |

A scorer entry in a suite may set `min` or `max`: a threshold on the case's value (a miss fails the case).
`latency` is the one scorer that is not deterministic; replayed runs give identical values for all others.

`SCORERS` is a `knowledge.plugins.PluginRegistry`, the one way Shipbrain registers things: inside the project
by the `@scorer` decorator, and from other distributions through the entry-point group `shipbrain.scorers`
(an entry point names a `ScorerDef`, or a module whose `@scorer` functions register on import; one that fails
to load is a warning, not a crash).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from evals.schedule_check import schedule_violations
from knowledge.plugins import PluginRegistry

__all__ = [
    "SCORERS",
    "CaseOutput",
    "Direction",
    "Score",
    "ScorerArgs",
    "ScorerDef",
    "ScorerRegistry",
    "calibration_bins",
    "resolve_field",
    "scorer",
]

Direction = Literal["higher", "lower"]
_MISSING: Final = object()


@dataclass
class CaseOutput:
    """What a case produced: JSON fields (question, workflow) and tables (model rows with predictions)."""

    fields: dict[str, Any] = field(default_factory=dict)
    """The output as JSON: `intent`, `tools`, `numbers`, a workflow's result fields, ..."""
    rows: pa.Table | None = None
    """Model and schedule cases: the input rows with the recorded actuals and `predicted_*` columns."""
    context: dict[str, Any] = field(default_factory=dict)
    """What a scorer may need besides the output (a schedule case's resources)."""
    seconds: float = 0.0
    """Wall-clock time of the case's call."""


class Score(BaseModel):
    """One scorer's verdict on one case."""

    model_config = ConfigDict(frozen=True)

    value: float
    passed: bool | None = None
    """Against the entry's threshold; None when it has none."""
    reason: str = ""


class ScorerArgs(BaseModel):
    """Arguments every scorer entry takes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    label: str | None = Field(default=None, alias="as")
    """The score's name in results (default: name, plus field or output)."""
    min: float | None = None
    """The case fails when the value is below."""
    max: float | None = None
    """The case fails when the value is above."""


class FieldArgs(ScorerArgs):
    """A scorer of one output field against an expected value (inline, else the case's `expected[field]`)."""

    field: str = Field(min_length=1)
    """Path in the output: `intent`, `numbers.inspected`, `inspection_points[*].code`."""
    expected: Any = _MISSING


class NumericArgs(FieldArgs):
    """`numeric`: tolerance for a number."""

    abs_tol: float = Field(default=0.0, ge=0)
    rel_tol: float = Field(default=0.0, ge=0)


class RoutingArgs(ScorerArgs):
    """`tool_routing`: the tools in the order they must run (inline, else the case's `expected["tools"]`)."""

    expected: Any = _MISSING
    field: str = "tools"


class ColumnArgs(ScorerArgs):
    """`mae` and `calibration`: a predicted column against a recorded one."""

    output: str
    """The model's output column (`hours`), found as `predicted_<output>` in the case's rows."""
    actual: str
    """The recorded column (`actual_hours`, `defect`)."""


class CalibrationArgs(ColumnArgs):
    """`calibration`: equal-width probability bins."""

    output: str = "defect_probability"
    actual: str = "defect"
    bins: int = Field(default=10, ge=2, le=100)


class MaeArgs(ColumnArgs):
    """`mae`: defaults for the welding model's hours."""

    output: str = "hours"
    actual: str = "actual_hours"


ScoreFn = Callable[[CaseOutput, Any, Any], Score]


@dataclass(frozen=True)
class ScorerDef:
    """A registered scorer."""

    name: str
    fn: ScoreFn
    args: type[ScorerArgs]
    direction: Direction
    expected: TypeAdapter[Any] | None
    """The type an expected value must have; None for scorers that take none."""
    deterministic: bool = True
    kinds: tuple[str, ...] = ("question", "workflow", "model", "schedule")
    """The case kinds it applies to."""

    def label(self, args: ScorerArgs) -> str:
        """The score's name in results."""
        if args.label:
            return args.label
        detail = getattr(args, "field", None) if isinstance(args, FieldArgs) else getattr(args, "output", None)
        return f"{self.name}:{detail}" if detail else self.name

    def expected_of(self, args: ScorerArgs, case_expected: Mapping[str, Any]) -> Any:
        """The expected value an entry scores against: inline, else the case's by field; _MISSING if none."""
        inline = getattr(args, "expected", _MISSING)
        if inline is not _MISSING:
            return inline
        key = getattr(args, "field", None)
        return case_expected.get(key, _MISSING) if key else _MISSING

    def score(self, args: ScorerArgs, output: CaseOutput, expected: Any) -> Score:
        """Score, then apply the entry's threshold."""
        result = self.fn(output, expected, args)
        passed = result.passed
        if args.min is not None or args.max is not None:
            ok = (args.min is None or result.value >= args.min) and (args.max is None or result.value <= args.max)
            passed = ok if passed is None else passed and ok
        return result.model_copy(update={"passed": passed})


class ScorerRegistry(PluginRegistry[ScorerDef]):
    """Scorers by name; `SCORERS["mae"]` reads like the mapping it replaces (an unknown name is a `KeyError`)."""

    def __getitem__(self, name: str) -> ScorerDef:
        return self.get(name)


SCORERS: Final = ScorerRegistry("scorer", group="shipbrain.scorers")
"""Every scorer, by name: this module's own and the plug-ins of the entry-point group `shipbrain.scorers`."""


def scorer(
    name: str,
    *,
    args: type[ScorerArgs],
    direction: Direction,
    expected: Any = None,
    deterministic: bool = True,
    kinds: Sequence[str] = ("question", "workflow", "model", "schedule"),
) -> Callable[[ScoreFn], ScorerDef]:
    """Register a scorer under `name` (a run log names it, so a run can be re-scored from its log).

    The decorated name becomes the registered `ScorerDef`, so a plug-in's entry point may name it directly.
    """

    def register(fn: ScoreFn) -> ScorerDef:
        adapter = TypeAdapter(expected, config={"strict": True}) if expected is not None else None
        return SCORERS.register(ScorerDef(name, fn, args, direction, adapter, deterministic, tuple(kinds)))

    return register


def resolve_field(data: Any, path: str) -> Any:
    """The value at a dotted path; `name[*]` maps the rest of the path over a list. Raises KeyError if absent."""
    head, _, rest = path.partition(".")
    if head.endswith("[*]"):
        items = data[head[:-3]] if isinstance(data, Mapping) else None
        if not isinstance(items, list):
            raise KeyError(path)
        return [resolve_field(item, rest) if rest else item for item in items]
    if not isinstance(data, Mapping) or head not in data:
        raise KeyError(path)
    return resolve_field(data[head], rest) if rest else data[head]


def _got(output: CaseOutput, path: str) -> Any:
    try:
        return resolve_field(output.fields, path)
    except KeyError:
        return _MISSING


@scorer("exact", args=FieldArgs, direction="higher", expected=Any, kinds=("question", "workflow"))
def _exact(output: CaseOutput, expected: Any, args: FieldArgs) -> Score:
    got = _got(output, args.field)
    if got is _MISSING:
        return Score(value=0.0, reason=f"the output has no {args.field!r}")
    same = got == expected
    return Score(value=float(same), reason="" if same else f"expected {expected!r}, got {got!r}")


@scorer("numeric", args=NumericArgs, direction="higher", expected=float, kinds=("question", "workflow"))
def _numeric(output: CaseOutput, expected: float, args: NumericArgs) -> Score:
    got = _got(output, args.field)
    if got is _MISSING or not isinstance(got, int | float):
        return Score(value=0.0, reason=f"the output has no number {args.field!r}")
    close = math.isclose(float(got), expected, rel_tol=args.rel_tol, abs_tol=args.abs_tol)
    return Score(value=float(close), reason=f"expected {expected:g}, got {float(got):g}")


def set_f1(got: Sequence[str], expected: Sequence[str]) -> tuple[float, float, float]:
    """Precision, recall and F1 of a set against an expected set (both empty: all 1)."""
    a, b = set(got), set(expected)
    if not a and not b:
        return 1.0, 1.0, 1.0
    hit = len(a & b)
    precision = hit / len(a) if a else 0.0
    recall = hit / len(b) if b else 0.0
    f1 = 2 * precision * recall / (precision + recall) if hit else 0.0
    return precision, recall, f1


@scorer("set_f1", args=FieldArgs, direction="higher", expected=list[str], kinds=("question", "workflow"))
def _set_f1(output: CaseOutput, expected: list[str], args: FieldArgs) -> Score:
    got = _got(output, args.field)
    if got is _MISSING or not isinstance(got, list):
        return Score(value=0.0, reason=f"the output has no list {args.field!r}")
    precision, recall, f1 = set_f1([str(g) for g in got], expected)
    return Score(value=f1, reason=f"precision {precision:.3f}, recall {recall:.3f} ({len(got)} vs {len(expected)})")


@scorer("tool_routing", args=RoutingArgs, direction="higher", expected=list[str], kinds=("question",))
def _tool_routing(output: CaseOutput, expected: list[str], args: RoutingArgs) -> Score:
    got = output.fields.get("tools", [])
    ok = list(got) == list(expected)
    return Score(value=float(ok), reason="" if ok else f"expected tools {expected}, ran {got}")


def _columns(output: CaseOutput, args: ColumnArgs) -> tuple[np.ndarray, np.ndarray, str] | str:
    """The predicted and recorded values of the rows that have both, and the reason to give when none has."""
    rows = output.rows
    predicted = f"predicted_{args.output}"
    if rows is None:
        return "the case produced no rows"
    for column in (predicted, args.actual):
        if column not in rows.column_names:
            return f"the rows have no column {column!r}"
    pred, actual = _numbers(rows.column(predicted)), _numbers(rows.column(args.actual))
    known = np.isfinite(pred) & np.isfinite(actual)  # a row the yard recorded nothing of (not done, no NDT) is left out
    empty = "no rows" if not len(known) else f"none of the {len(known):,} rows has a recorded {args.actual}"
    return pred[known], actual[known], empty


def _numbers(column: pa.ChunkedArray) -> np.ndarray:
    """A numeric or boolean column as float64, null as NaN."""
    floats = column.cast(pa.float64()).fill_null(np.nan)
    return np.asarray(floats.to_numpy(zero_copy_only=False), dtype=np.float64)


@scorer("mae", args=MaeArgs, direction="lower", kinds=("model",))
def _mae(output: CaseOutput, expected: Any, args: MaeArgs) -> Score:
    columns = _columns(output, args)
    if isinstance(columns, str):
        return Score(value=math.inf, passed=False, reason=columns)
    pred, actual, empty = columns
    if not len(pred):
        return Score(value=0.0, reason=empty)
    error = pred - actual
    bias = float(error.mean())
    return Score(value=float(np.abs(error).mean()), reason=f"bias {bias:+.4f} over {len(pred):,} rows")


def calibration_bins(probability: np.ndarray, outcome: np.ndarray, bins: int = 10) -> list[tuple[float, float, int]]:
    """Per equal-width bin with rows: (mean predicted probability, observed rate, rows)."""
    index = np.minimum((probability * bins).astype(np.int64), bins - 1)
    count = np.bincount(index, minlength=bins)
    mean_p = np.bincount(index, weights=probability, minlength=bins)
    rate = np.bincount(index, weights=outcome, minlength=bins)
    return [(float(mean_p[i] / count[i]), float(rate[i] / count[i]), int(count[i])) for i in range(bins) if count[i]]


@scorer("calibration", args=CalibrationArgs, direction="lower", kinds=("model",))
def _calibration(output: CaseOutput, expected: Any, args: CalibrationArgs) -> Score:
    columns = _columns(output, args)
    if isinstance(columns, str):
        return Score(value=math.inf, passed=False, reason=columns)
    p, y, empty = columns
    if not len(p):
        return Score(value=0.0, reason=empty)
    ece = sum(n * abs(mp - rate) for mp, rate, n in calibration_bins(np.clip(p, 0, 1), y, args.bins)) / len(p)
    brier = float(np.mean((p - y) ** 2))
    return Score(value=float(ece), reason=f"Brier {brier:.5f}; predicted {p.mean():.4f} vs observed {y.mean():.4f}")


@scorer("schedule_validity", args=ScorerArgs, direction="higher", kinds=("schedule",))
def _schedule_validity(output: CaseOutput, expected: Any, args: ScorerArgs) -> Score:
    if output.rows is None:
        return Score(value=0.0, reason="the case produced no schedule")
    found = schedule_violations(output.rows, output.context.get("resources", []), output.context.get("downtimes", []))
    if not found:
        return Score(value=1.0, reason=f"{output.rows.num_rows} work packages: precedence, capacity, downtime kept")
    more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
    return Score(value=0.0, reason="; ".join(found[:3]) + more)


@scorer("latency", args=ScorerArgs, direction="lower", deterministic=False)
def _latency(output: CaseOutput, expected: Any, args: ScorerArgs) -> Score:
    return Score(value=round(output.seconds, 6), reason=f"{output.seconds:.3f} s")
