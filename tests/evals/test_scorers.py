from __future__ import annotations

import math

import pyarrow as pa
import pytest

from evals.scorers import SCORERS, CaseOutput, resolve_field


def score(name: str, output: CaseOutput, expected: object = None, **args: object) -> float:
    definition = SCORERS[name]
    parsed = definition.args.model_validate({"name": name, **args})
    return definition.score(parsed, output, expected).value


def test_exact_numeric_and_paths() -> None:
    out = CaseOutput(
        fields={"intent": "ndt_plan", "numbers": {"inspected": 61.0}, "pts": [{"code": "J1"}, {"code": "J2"}]}
    )
    assert resolve_field(out.fields, "pts[*].code") == ["J1", "J2"]
    assert score("exact", out, "ndt_plan", field="intent") == 1.0
    assert score("exact", out, "lookup", field="intent") == 0.0
    assert score("exact", out, "x", field="missing") == 0.0
    assert score("numeric", out, 61, field="numbers.inspected") == 1.0
    assert score("numeric", out, 60, field="numbers.inspected") == 0.0
    assert score("numeric", out, 60, field="numbers.inspected", abs_tol=1) == 1.0
    assert score("numeric", out, 55, field="numbers.inspected", rel_tol=0.1) == 1.0


def test_set_f1_by_hand() -> None:
    out = CaseOutput(fields={"pts": [{"code": c} for c in ["a", "b", "c", "d"]]})
    # precision 2/4, recall 2/3 -> F1 = 2 * 0.5 * 0.6667 / 1.1667 = 0.5714
    assert score("set_f1", out, ["a", "b", "e"], field="pts[*].code") == pytest.approx(4 / 7)
    assert score("set_f1", CaseOutput(fields={"pts": []}), [], field="pts[*].code") == 1.0
    assert score("set_f1", out, ["x"], field="pts[*].code") == 0.0


def test_tool_routing() -> None:
    out = CaseOutput(fields={"tools": ["ndt_plan"]})
    assert score("tool_routing", out, ["ndt_plan"]) == 1.0
    assert score("tool_routing", out, ["weld_risk"]) == 0.0
    assert score("tool_routing", CaseOutput(fields={"tools": ["a", "b"]}), ["b", "a"]) == 0.0


def test_mae_and_calibration_by_hand() -> None:
    rows = pa.table(
        {
            "predicted_hours": [1.0, 2.0, 4.0, 3.0],
            "actual_hours": [1.5, 2.0, 3.0, 3.0],
            "predicted_defect_probability": [0.05, 0.05, 0.95, 0.95],
            "defect": [False, True, True, True],
        }
    )
    out = CaseOutput(rows=rows)
    assert score("mae", out) == pytest.approx((0.5 + 0 + 1 + 0) / 4)
    # bins of width 0.1: bin 0 has p=0.05, observed 0.5 (2 rows); bin 9 has p=0.95, observed 1.0 (2 rows)
    assert score("calibration", out) == pytest.approx((2 * 0.45 + 2 * 0.05) / 4)
    definition = SCORERS["mae"]
    verdict = definition.score(definition.args.model_validate({"name": "mae", "max": 0.3}), out, None)
    assert verdict.passed is False
    assert math.isinf(score("mae", CaseOutput()))


def schedule_rows(**change: object) -> pa.Table:
    rows = [
        {"code": "P", "trade": "PNL", "duration_days": 3, "release_day": 0, "after": "", "resource": "PL-1",
         "crane": None, "predicted_start_day": 0, "predicted_finish_day": 3, "predicted_resource": "PL-1"},
        {"code": "A", "trade": "ASM", "duration_days": 2, "release_day": 0, "after": "P", "resource": "WS-1",
         "crane": None, "predicted_start_day": 3, "predicted_finish_day": 5, "predicted_resource": "WS-1"},
        {"code": "Q", "trade": "PNL", "duration_days": 2, "release_day": 0, "after": "", "resource": "PL-1",
         "crane": None, "predicted_start_day": 3, "predicted_finish_day": 5, "predicted_resource": "PL-1"},
    ]  # fmt: skip
    for key, value in change.items():
        code, column = key.split("__")
        next(r for r in rows if r["code"] == code)[column] = value
    return pa.Table.from_pylist(rows)


RESOURCES = [
    {"resource": "PL-1", "kind": "panel_line", "capacity": 1},
    {"resource": "WS-1", "kind": "workshop", "capacity": 1},
]


@pytest.mark.parametrize(
    ("change", "downtimes", "valid"),
    [
        ({}, [], True),
        ({"A__predicted_start_day": 2, "A__predicted_finish_day": 4}, [], False),  # before P finishes
        ({"Q__predicted_start_day": 2, "Q__predicted_finish_day": 4}, [], False),  # PL-1 twice on day 2
        ({"A__predicted_finish_day": 6}, [], False),  # wrong duration
        ({"A__predicted_resource": "PL-1"}, [], False),  # ASM on a panel line
        ({}, [{"resource": "PL-1", "start_day": 4, "days": 2}], False),  # Q runs while PL-1 is down
    ],
)
def test_schedule_validity(change: dict[str, object], downtimes: list[dict[str, object]], valid: bool) -> None:
    out = CaseOutput(rows=schedule_rows(**change), context={"resources": RESOURCES, "downtimes": downtimes})
    assert score("schedule_validity", out) == float(valid)


def test_latency_is_the_case_time() -> None:
    assert score("latency", CaseOutput(seconds=0.25)) == 0.25
    assert SCORERS["latency"].deterministic is False
