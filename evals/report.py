"""The HTML report of a run, and of a comparison: one self-contained file with its plots embedded as PNG.

Plots (matplotlib, drawn from the run directory alone): predicted vs recorded hours, absolute error by weld
position and by process, the calibration curve of the defect probability against NDT findings, and the
latency histogram of the cases.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["render_compare_html", "write_report"]

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}
th{background:#f3f3f3}.ok{color:#17772b}.bad{color:#b3261e;font-weight:600}.num{text-align:right;font-variant-numeric:tabular-nums}
.plots img{max-width:560px;margin:.25rem}
</style></head><body>
<h1>{{ title }}</h1>
{% for para in intro %}<p>{{ para }}</p>{% endfor %}
{% for section in sections %}
<h2>{{ section.title }}</h2>
{% if section.images %}<div class="plots">{% for img in section.images %}
<img alt="{{ img.alt }}" src="data:image/png;base64,{{ img.data }}">
{% endfor %}</div>{% endif %}
{% if section.rows %}<table><tr>{% for h in section.header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in section.rows %}<tr>{% for cell in row %}
<td class="{{ cell.cls }}">{{ cell.text }}</td>{% endfor %}</tr>{% endfor %}
</table>{% endif %}
{% endfor %}
</body></html>
"""


def _cell(text: object, cls: str = "") -> dict[str, str]:
    if isinstance(text, float):
        text = f"{text:.4g}"
    return {"text": str(text), "cls": cls}


def _value(value: object, reason: object) -> str:
    """A score's value to 4 digits; a score that could not be computed (no actuals to compare) says why."""
    return f"{value:.4g}" if isinstance(value, int | float) else f"n/a ({reason})"


def _scores_text(scores: dict[str, dict[str, Any]]) -> str:
    """A case's scores on one line, a missed threshold with its reason: `mae:hours=0.41 (miss: ...)`."""
    return "; ".join(
        f"{name}={_value(score['value'], score['reason'])}"
        + ("" if score["passed"] is not False else f" (miss: {score['reason']})")
        for name, score in scores.items()
    )


def _score_sections(
    summary: dict[str, Any], gating: list[dict[str, Any]], informing: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The scores in two tables, those that gate and those that only inform (one table for an older summary)."""
    if not gating and not informing:
        return [
            {
                "title": "Scores (mean over cases)",
                "header": ["score", "mean", "better"],
                "rows": [
                    [_cell(k), _cell(v, "num"), _cell(summary["directions"].get(k, ""))]
                    for k, v in summary["means"].items()
                ],
            }
        ]
    sections = []
    if gating:
        sections.append(
            {
                "title": "Scores that gate (a threshold decides pass or fail)",
                "header": ["score", "mean", "better", "threshold", "cases", ""],
                "rows": [
                    [
                        _cell(s["name"]),
                        _cell(s["mean"] if s["mean"] is not None else "n/a", "num"),
                        _cell(s["direction"]),
                        _cell(s["rule"]),
                        _cell(f"{s['cases'] - s['failed']}/{s['cases']} held", "num"),
                        _cell("ok" if s["held"] else "MISS", "ok" if s["held"] else "bad"),
                    ]
                    for s in gating
                ],
            }
        )
    if informing:
        sections.append(
            {
                "title": "Scores that only inform (no threshold: the verdict does not depend on them)",
                "header": ["score", "mean", "better", "cases", "in compare"],
                "rows": [
                    [
                        _cell(s["name"]),
                        _cell(s["mean"] if s["mean"] is not None else "n/a", "num"),
                        _cell(s["direction"]),
                        _cell(s["cases"], "num"),
                        _cell(str(s.get("in_compare", "")).removeprefix("compare ")),
                    ]
                    for s in informing
                ],
            }
        )
    return sections


def _png(fig: Figure) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _plots(run_dir: Path, seconds: list[float]) -> list[dict[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images: list[dict[str, str]] = []
    path = run_dir / "predictions.parquet"
    table = pq.read_table(path) if path.is_file() else None
    if table is not None and {"predicted_hours", "actual_hours"} <= set(table.column_names):
        pred, actual = _floats(table, "predicted_hours"), _floats(table, "actual_hours")
        known = np.isfinite(pred) & np.isfinite(actual)  # rows the yard recorded no hours of are left out
        if known.any():
            images += _hours_plots(plt, table.filter(pa.array(known)), pred[known], actual[known])
    if table is not None and {"predicted_defect_probability", "defect"} <= set(table.column_names):
        from evals.scorers import calibration_bins

        p, y = _floats(table, "predicted_defect_probability"), _floats(table, "defect")
        known = np.isfinite(p) & np.isfinite(y)  # joints NDT did not inspect are left out
        p, y = p[known], y[known]
        if len(p):
            bins = calibration_bins(np.clip(p, 0, 1), y, 20)
            fig, ax = plt.subplots(figsize=(5, 4.5))
            top = max([b[0] for b in bins] + [b[1] for b in bins] + [0.05])
            ax.plot([0, top], [0, top], color="grey", lw=1, ls="--")
            ax.scatter([b[0] for b in bins], [b[1] for b in bins], s=[max(8, 300 * b[2] / len(p)) for b in bins])
            ax.set(xlabel="predicted defect probability", ylabel="NDT defect rate", title="Calibration (20 bins)")
            images.append({"alt": "calibration curve", "data": _png(fig)})
    if seconds:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.hist(seconds, bins=40, color="#228833")
        ax.set(xlabel="seconds per case", ylabel="cases", title="Latency")
        images.append({"alt": "latency histogram", "data": _png(fig)})
    return images


def _hours_plots(plt: Any, table: pa.Table, pred: np.ndarray, actual: np.ndarray) -> list[dict[str, str]]:
    """Predicted against recorded hours, and the error by weld position and process."""
    images = []
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.hexbin(actual, pred, gridsize=60, bins="log", mincnt=1, cmap="viridis")
    top = float(np.percentile(np.concatenate([pred, actual]), 99.5)) if len(pred) else 1.0
    ax.plot([0, top], [0, top], color="red", lw=1)
    ax.set(xlim=(0, top), ylim=(0, top), xlabel="recorded hours", ylabel="predicted hours", title="Weld hours")
    images.append({"alt": "predicted vs recorded hours", "data": _png(fig)})
    error = np.abs(pred - actual)
    for column in ("position", "process"):
        if column not in table.column_names:
            continue
        keys = np.asarray(table.column(column).to_pylist(), dtype=object)
        names = sorted({str(k) for k in keys.tolist() if k is not None})
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.bar(names, [float(error[keys == n].mean()) for n in names], color="#4477aa")
        ax.set(ylabel="mean absolute error, h", title=f"Hours error by weld {column}")
        images.append({"alt": f"error by {column}", "data": _png(fig)})
    return images


def _floats(table: pa.Table, column: str) -> np.ndarray:
    """A numeric or boolean column as float64, null as NaN."""
    values = table.column(column).cast(pa.float64()).fill_null(np.nan)
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)


def write_report(run_dir: Path) -> Path:
    """Write `report.html` for the run in `run_dir` (from summary.json, results.jsonl, predictions.parquet)."""
    from jinja2 import Environment

    summary = json.loads((run_dir / "summary.json").read_text())
    records = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines() if line.strip()]
    verdict = "passed" if summary["ok"] else "FAILED"
    scores: list[dict[str, Any]] = summary.get("scores") or []
    gating = [s for s in scores if s["gates"]]
    informing = [s for s in scores if not s["gates"]]
    intro = [
        f"{summary['cases']} cases: {summary['passed']} passed, {summary['failed']} failed, {summary['errors']} errors "
        f"in {summary['seconds']:.1f} s ({'replayed' if summary['replay'] else 'recorded'}, "
        f"concurrency {summary['concurrency']}). Verdict: {verdict}.",
        "Models: " + (", ".join(f"{k} {v}" for k, v in summary["models"].items()) or "none"),
    ]
    if scores:
        intro.append(
            f"The verdict rests on the {len(gating)} scores that gate (a threshold decides pass or fail); the "
            f"{len(informing)} that only inform have no threshold, so a case passes whatever their value."
        )
    sections: list[dict[str, Any]] = _score_sections(summary, gating, informing)
    if summary["thresholds"] and not scores:
        sections.append(
            {
                "title": "Suite thresholds",
                "header": ["score", "mean", "min", "max", ""],
                "rows": [
                    [
                        _cell(t["score"]),
                        _cell(t["mean"], "num"),
                        _cell(t["min"]),
                        _cell(t["max"]),
                        _cell("ok" if t["passed"] else "MISS", "ok" if t["passed"] else "bad"),
                    ]
                    for t in summary["thresholds"]
                ],
            }
        )
    sections.append({"title": "Plots", "images": _plots(run_dir, [r["seconds"] for r in records if not r["error"]])})
    ordered = sorted(records, key=lambda r: (r["passed"], r["id"]))[:2000]
    sections.append(
        {
            "title": "Cases (failures first)",
            "header": ["case", "kind", "result", "scores"],
            "rows": [
                [
                    _cell(r["id"]),
                    _cell(r["kind"]),
                    _cell("ok" if r["passed"] else ("error" if r["error"] else "fail"), "ok" if r["passed"] else "bad"),
                    _cell(r["error"] or _scores_text(r["scores"])),
                ]
                for r in ordered
            ],
        }
    )
    html = (
        Environment(autoescape=True)
        .from_string(_PAGE)
        .render(title=f"Eval run: {summary['suite']}", intro=intro, sections=sections)
    )
    path = run_dir / "report.html"
    path.write_text(html, encoding="utf-8")
    return path


def render_compare_html(
    title: str, intro: Sequence[str], header: Sequence[str], rows: Sequence[Sequence[tuple[object, str]]]
) -> str:
    """A comparison as a self-contained HTML page (rows of (text, css class) cells)."""
    from jinja2 import Environment

    section = {"title": "Case by case", "header": header, "rows": [[_cell(t, c) for t, c in row] for row in rows]}
    return Environment(autoescape=True).from_string(_PAGE).render(title=title, intro=intro, sections=[section])
