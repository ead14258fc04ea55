"""Evals: suites over recorded work packages, scorers, runner, reports and run comparison.

Arrives with the evals issue.
"""

__all__: list[str] = []
