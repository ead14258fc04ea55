from __future__ import annotations

from pathlib import Path

import pytest

from evals.errors import SuiteError
from evals.suite import load_suite

SMOKE = Path(__file__).parents[2] / "evals" / "suites" / "smoke.yaml"

GOOD = """\
suite: t
packages:
  small: {record: {parts: 20000, seed: 1, blocks: [B001]}}
cases:
  - id: w
    package: small
    model: welding
    scorers: [mae]
  - id: q
    package: small
    question: "Which joints of B001 need NDT at 5 %?"
    expected: {intent: ndt_plan, numbers.inspected: 61}
    scorers:
      - {name: exact, field: intent}
      - {name: numeric, field: numbers.inspected}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    return path


def test_shipped_suites_load() -> None:
    for path in SMOKE.parent.glob("*.yaml"):
        suite = load_suite(path)
        assert suite.cases and suite.packages


def test_a_good_suite(tmp_path: Path) -> None:
    suite = load_suite(write(tmp_path, GOOD))
    assert [c.kind for c in suite.cases] == ["model", "question"]
    assert [e.label for e in suite.cases[1].scorers] == ["exact:intent", "numeric:numbers.inspected"]


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ("    package: small\n    model", "    package: big\n    model", 6, "no package 'big'"),
        ("scorers: [mae]", "scorers: [rmse]", 8, "no scorer 'rmse'"),
        ("numbers.inspected: 61}", 'numbers.inspected: "61"}', 12, "expects a number, got str"),
        ("model: welding", "model: painting", 7, "no model 'painting'"),
        ("{record: {parts: 20000, seed: 1, blocks: [B001]}}", "{path: nowhere}", 3, "no recorded package"),
        ("scorers: [mae]", "scorers: [{name: exact, field: intent, expected: x}]", 8, "scores question/workflow"),
        ("  - id: q\n", "  - id: w\n", 9, "also used on line 5"),
    ],
)
def test_bad_suites_name_file_and_line(tmp_path: Path, old: str, new: str, line: int, message: str) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(SuiteError, match=message) as info:
        load_suite(path)
    assert info.value.line == line, str(info.value)
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_inline_expected_of_the_wrong_type(tmp_path: Path) -> None:
    text = GOOD.replace("{name: numeric, field: numbers.inspected}", "{name: numeric, field: x, expected: [1]}")
    with pytest.raises(SuiteError, match="expects a number, got list") as info:
        load_suite(write(tmp_path, text))
    assert info.value.line == 15
