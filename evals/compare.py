"""Compare two runs case by case: what improved, what regressed and by how much, and whether it gates.

A score regresses when it moves in its worse direction (up for `lower` scores such as MAE, down for `higher`
ones) by more than its margin: the suite's `margins[score]` (as recorded in run B's summary), else 0 for
deterministic scores. Latency depends on the machine, so it only gates when the suite gives it a margin.
The comparison gates (`Comparison.ok` False, exit code 1) on any regression past its margin, any case that
passed in A and fails in B, or a threshold run B misses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from evals.runner import CaseRecord, RunSummary, load_run

__all__ = ["Change", "Comparison", "compare_runs"]


@dataclass(frozen=True)
class Change:
    """One score of one case (or `*` for a score's mean) in both runs."""

    case: str
    score: str
    a: float
    b: float
    direction: str
    margin: float | None
    """None: this score does not gate (latency without a margin)."""

    @property
    def delta(self) -> float:
        """B - a."""
        return self.b - self.a

    @property
    def better(self) -> float:
        """The change in the score's better direction (positive: improved)."""
        return self.delta if self.direction == "higher" else -self.delta

    @property
    def verdict(self) -> str:
        """improved, regressed (past the margin), worse (within it) or same."""
        if self.better > 1e-12:
            return "improved"
        if self.better < -1e-12:
            return "regressed" if self.margin is not None and -self.better > self.margin else "worse"
        return "same"


@dataclass
class Comparison:
    """Two runs side by side."""

    a: RunSummary
    b: RunSummary
    changes: list[Change] = field(default_factory=list)
    means: list[Change] = field(default_factory=list)
    newly_failing: list[str] = field(default_factory=list)
    newly_passing: list[str] = field(default_factory=list)
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Change]:
        """Changes past their margin, cases and means."""
        return [c for c in [*self.means, *self.changes] if c.verdict == "regressed"]

    @property
    def threshold_misses(self) -> list[str]:
        """Run B's suite thresholds that its means miss."""
        return [t.score for t in self.b.thresholds if not t.passed]

    @property
    def ok(self) -> bool:
        """Nothing regressed past a margin, no case newly fails, and B keeps its thresholds."""
        return not (self.regressions or self.newly_failing or self.threshold_misses)


def _margin(summary: RunSummary, score: str, deterministic: bool, override: float | None) -> float | None:
    if score in summary.margins:
        return summary.margins[score]
    if not deterministic:
        return None
    return override if override is not None else 0.0


def compare_runs(run_a: Path | str, run_b: Path | str, *, margin: float | None = None) -> Comparison:
    """Compare run B against run A (the baseline).

    Args:
        run_a: the baseline run directory.
        run_b: the candidate run directory.
        margin: the default margin for deterministic scores without one in the suite (default 0).

    Raises:
        RunDirError: either is not a run.
    """
    a, records_a = load_run(run_a)
    b, records_b = load_run(run_b)
    by_a: dict[str, CaseRecord] = {r.id: r for r in records_a}
    by_b: dict[str, CaseRecord] = {r.id: r for r in records_b}
    out = Comparison(a, b)
    out.only_a = sorted(set(by_a) - set(by_b))
    out.only_b = sorted(set(by_b) - set(by_a))
    for case_id in [r.id for r in records_b if r.id in by_a]:
        ra, rb = by_a[case_id], by_b[case_id]
        if ra.passed and not rb.passed:
            out.newly_failing.append(case_id)
        elif rb.passed and not ra.passed:
            out.newly_passing.append(case_id)
        for name, sb in rb.scores.items():
            sa = ra.scores.get(name)
            if sa is None:
                continue
            out.changes.append(
                Change(case_id, name, sa.value, sb.value, sb.direction, _margin(b, name, sb.deterministic, margin))
            )
    deterministic = {name: s.deterministic for r in records_b for name, s in r.scores.items()}
    for name, mean_b in b.means.items():
        if name in a.means:
            m = _margin(b, name, deterministic.get(name, True), margin)
            out.means.append(Change("*", name, a.means[name], mean_b, b.directions.get(name, "higher"), m))
    return out


def render_text(cmp: Comparison, *, limit: int = 40) -> list[str]:
    """The comparison as lines for a terminal: means, then the biggest case changes, then the verdict."""
    lines = [f"A: {cmp.a.run_dir} ({_models(cmp.a)})", f"B: {cmp.b.run_dir} ({_models(cmp.b)})", ""]
    lines.append(f"{'score (mean)':<40} {'A':>12} {'B':>12} {'change':>12}  verdict")
    for c in cmp.means:
        lines.append(f"{c.score:<40} {c.a:>12.5g} {c.b:>12.5g} {c.delta:>+12.4g}  {c.verdict}")
    moved = sorted((c for c in cmp.changes if c.verdict != "same"), key=lambda c: c.better)
    lines += [
        "",
        f"cases: {sum(c.verdict == 'improved' for c in moved)} score changes improved, "
        f"{sum(c.verdict in ('worse', 'regressed') for c in moved)} got worse "
        f"({len(cmp.regressions)} past their margin, means included)",
    ]
    for c in moved[:limit]:
        lines.append(f"  {c.case:<40} {c.score:<34} {c.a:>10.4g} -> {c.b:<10.4g} {c.verdict}")
    if len(moved) > limit:
        lines.append(f"  ... and {len(moved) - limit} more (see the HTML)")
    for case_id in cmp.newly_failing:
        lines.append(f"  newly failing: {case_id}")
    if cmp.only_a or cmp.only_b:
        lines.append(f"cases only in A: {len(cmp.only_a)}, only in B: {len(cmp.only_b)}")
    for name in cmp.threshold_misses:
        lines.append(f"B misses the suite threshold on {name}")
    lines.append("verdict: " + ("ok" if cmp.ok else "GATE FAILED"))
    return lines


def _models(summary: RunSummary) -> str:
    return ", ".join(f"{k} {v}" for k, v in summary.models.items()) or "no models"


def write_html(cmp: Comparison, path: Path) -> Path:
    """The comparison as a self-contained HTML page."""
    from evals.report import render_compare_html

    cls = {"improved": "ok", "regressed": "bad", "worse": "", "same": ""}
    rows = [
        [(c.case, ""), (c.score, ""), (c.a, "num"), (c.b, "num"), (c.delta, "num"), (c.verdict, cls[c.verdict])]
        for c in [*cmp.means, *sorted(cmp.changes, key=lambda c: c.better)]
        if c.case == "*" or c.verdict != "same"
    ]
    intro = [
        f"A: {cmp.a.run_dir} ({_models(cmp.a)}); B: {cmp.b.run_dir} ({_models(cmp.b)}).",
        f"{len(cmp.regressions)} regressions past their margin, {len(cmp.newly_failing)} newly failing cases, "
        f"{len(cmp.threshold_misses)} threshold misses. Verdict: {'ok' if cmp.ok else 'GATE FAILED'}.",
    ]
    header = ["case", "score", "A", "B", "change", "verdict"]
    path.write_text(render_compare_html(f"Compare: {cmp.b.suite}", intro, header, rows), encoding="utf-8")
    return path
