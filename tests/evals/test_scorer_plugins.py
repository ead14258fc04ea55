"""Scorers from other distributions: the entry-point group `shipbrain.scorers`, a broken one a warning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from evals.scorers import SCORERS, ScorerDef
from knowledge.plugins import PluginRegistry
from tests.helpers.plugins import fake_plugin

PLUGIN = """
from evals.scorers import CaseOutput, Score, ScorerArgs, scorer


@scorer("always_one", args=ScorerArgs, direction="higher")
def always_one(output: CaseOutput, expected: object, args: ScorerArgs) -> Score:
    return Score(value=1.0)
"""

REPORT = """
import json, warnings
from evals.scorers import SCORERS, CaseOutput, ScorerArgs
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    names = SCORERS.names()
one = SCORERS["always_one"]
value = one.score(ScorerArgs(name="always_one"), CaseOutput(), None).value
print(json.dumps({"names": names, "problems": SCORERS.problems, "warnings": [str(w.message) for w in caught],
                  "value": value}))
"""


def test_the_project_scorers_are_one_plugin_registry() -> None:
    assert isinstance(SCORERS, PluginRegistry) and SCORERS.group == "shipbrain.scorers"
    assert isinstance(SCORERS["mae"], ScorerDef) and SCORERS["mae"].direction == "lower"
    assert SCORERS.names() == sorted(SCORERS)


def test_a_plug_in_scorer_registers_and_a_broken_one_is_a_warning(tmp_path: Path) -> None:
    path = fake_plugin(
        tmp_path,
        {"shipbrain.scorers": {"always_one": "shipbrain_test_scorers", "broken": "shipbrain_test_nowhere:scorer"}},
        {"shipbrain_test_scorers": PLUGIN},
    )
    done = subprocess.run(
        [sys.executable, "-c", REPORT],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": path},
        timeout=120,
        check=True,
    )
    report = json.loads(done.stdout)
    assert {"always_one", "mae", "exact", "latency"} <= set(report["names"])
    assert report["value"] == 1.0
    assert len(report["problems"]) == 1 and "'broken'" in report["problems"][0]
    assert report["warnings"] == report["problems"]
