"""The pydantic-evals `Evaluator` that hands a case's scores (computed by the runner's task) to the report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic_evals.evaluators import EvaluationReason, Evaluator, EvaluatorContext

__all__ = ["SuiteEvaluator"]


@dataclass
class SuiteEvaluator(Evaluator[Any, Any, Any]):
    """Each Shipbrain score as a pydantic-evals score, and each threshold as an assertion (`<score>:ok`)."""

    def evaluate(self, ctx: EvaluatorContext[Any, Any, Any]) -> dict[str, Any]:
        """The case's scores, already computed by the task."""
        out: dict[str, Any] = {}
        for name, score in (ctx.output or {}).items():
            out[name] = EvaluationReason(value=score.value, reason=score.reason or None)
            if score.passed is not None:
                out[f"{name}:ok"] = score.passed
        return out
