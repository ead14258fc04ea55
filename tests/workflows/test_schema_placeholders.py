"""The workflows' request and result schemas (what /docs and a client generator show for every yard) give generic
placeholders as examples, never the synthetic yard's ids."""

from __future__ import annotations

import json
import re

from workflows import WORKFLOWS

_SYNTHETIC_IDS = re.compile(r"\b(?:WP-)?B\d{3}(?:-[A-Z]+\d*)*\b|\bMVZ\d|\bPL-\d|\bDOCK-\d|synthetic yard")


def test_no_workflow_schema_cites_the_synthetic_yards_ids() -> None:
    for workflow in WORKFLOWS.list():
        for model in (workflow.request, workflow.result):
            text = json.dumps(model.model_json_schema())
            found = sorted(set(_SYNTHETIC_IDS.findall(text)))
            assert not found, f"{workflow.name} {model.__name__}: {found}"
