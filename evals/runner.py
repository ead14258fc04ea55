"""The runner: a checked suite in, a run directory out (results log, summary, predictions, HTML report).

```
RUN_DIR/
  results.jsonl        one CaseRecord per case: its scores (value, passed, reason), error, seconds
  summary.json         RunSummary: models and versions, counts, each score's mean and whether it gates (a
                       threshold decides pass or fail) or only informs (no threshold), suite thresholds, verdict
  predictions.parquet  model cases' rows: case, position, process, predicted and recorded columns (for plots)
  report.html          self-contained report with plots (evals.report)
  state/               the brain's checkpoints and plan book for this run, kept apart from the yard's own
```

Cases run on pydantic-evals (`Dataset.evaluate`, `max_concurrency`), whose `Evaluator` wraps Shipbrain's
scorers. Model calls go through a `CassetteRegistry`: recorded into the cassette on a normal run, answered from
it on a replayed run (`replay=True`), so replayed runs give identical scores (all but latency).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, computed_field

from evals.cassette import CassetteRegistry
from evals.errors import PackageError, RunDirError, SuiteError
from evals.package import PACKAGE_VERSION, PackageSource, RecordedPackage, record
from evals.scorers import _MISSING, CaseOutput, Direction, Score
from evals.suite import CaseSpec, PackageSpec, ScorerEntry, Suite, expand_vars
from knowledge.settings import Settings, get_settings

if TYPE_CHECKING:
    from pydantic_evals.reporting import EvaluationReport

    from brain import Brain
    from workflows import WorkflowContext

__all__ = [
    "CaseRecord",
    "RunCase",
    "RunSummary",
    "ScoreRecord",
    "ScoreSummary",
    "ThresholdResult",
    "run_suite",
    "summary_lines",
]

Progress = Callable[[int, int], None]
PLOT_COLUMNS = (
    "position",
    "process",
    "level",
    "predicted_hours",
    "actual_hours",
    "predicted_defect_probability",
    "defect",
)


class ScoreRecord(BaseModel):
    """One score of one case, as logged."""

    model_config = ConfigDict(frozen=True)

    value: float
    passed: bool | None = None
    reason: str = ""
    direction: Direction = "higher"
    deterministic: bool = True


class CaseRecord(BaseModel):
    """One line of results.jsonl."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: str
    package: str
    template: str
    """The suite case it came from (differs from `id` for expanded cases)."""
    scores: dict[str, ScoreRecord] = Field(default_factory=dict)
    passed: bool
    error: str | None = None
    seconds: float = 0.0


class ThresholdResult(BaseModel):
    """A suite threshold on a score's mean."""

    model_config = ConfigDict(frozen=True)

    score: str
    mean: float | None
    min: float | None = None
    max: float | None = None
    passed: bool


class ScoreSummary(BaseModel):
    """One score over the run, and whether the verdict depends on it.

    A score **gates** when a threshold decides pass or fail: the suite's on its mean (`thresholds`), or a case
    entry's `min`/`max` on each case's value. A score without any threshold only **informs**: it is measured and
    reported (and `compare` may gate on how it moves, by its margin), but "N/N passed" says nothing about it.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    mean: float | None
    """Over the cases that have it (finite values only); None when none has."""
    direction: Direction
    gates: bool
    """A threshold decides pass or fail (else the score only informs)."""
    rule: str
    """The thresholds in words (`mean <= 0.35; each case <= 0.5`), or `no threshold`."""
    held: bool | None
    """For a gating score: every threshold held (the suite's on the mean, each case's); None for an informing one."""
    cases: int
    """Cases that have this score."""
    failed: int = 0
    """Of them, cases whose bound it missed."""
    margin: float | None = None
    """The suite's margin for `compare` (how much worse the score may get before a comparison gates)."""
    deterministic: bool = True
    """The same inputs give the same value (latency does not): `compare` gates its worsening even without a margin."""

    @computed_field  # type: ignore[prop-decorator]  # mypy does not know pydantic's documented decorator stack
    @property
    def in_compare(self) -> str:
        """How `eval compare` treats a change of this score, in words."""
        if self.margin is not None:
            return f"compare gates a change worse than {self.margin:g}"
        if self.deterministic:
            return "compare gates any change for the worse"
        return "compare does not gate it (it depends on the machine)"


class RunSummary(BaseModel):
    """summary.json: what ran, and how it went."""

    model_config = ConfigDict(frozen=True)

    suite: str
    suite_path: str
    run_dir: str
    created: str
    replay: bool
    concurrency: int
    models: dict[str, str]
    """Model name -> version of every model the run called."""
    cases: int
    passed: int
    failed: int
    errors: int
    means: dict[str, float]
    """Score name -> mean over the cases that have it."""
    directions: dict[str, Direction]
    thresholds: list[ThresholdResult]
    margins: dict[str, float] = Field(default_factory=dict)
    ok: bool
    """Every case passed and every threshold held."""
    seconds: float
    scores: list[ScoreSummary] = Field(default_factory=list)
    """Every score: the gating ones (a threshold decides pass or fail) first, then those that only inform."""

    @property
    def gating(self) -> list[ScoreSummary]:
        """The scores a threshold decides pass or fail on."""
        return [s for s in self.scores if s.gates]

    @property
    def informing(self) -> list[ScoreSummary]:
        """The scores without a threshold: measured and reported, never part of the verdict."""
        return [s for s in self.scores if not s.gates]

    def headline(self) -> str:
        """`smoke: 21/21 cases passed; 7 scores gate (all held), 3 only inform (no threshold); ...`."""
        gating = self.gating
        held = sum(1 for s in gating if s.held)
        gates = f"{len(gating)} scores gate ({'all held' if held == len(gating) else f'{held} held'})"
        return (
            f"{self.suite}: {self.passed}/{self.cases} cases passed, {self.errors} errors; {gates}, "
            f"{len(self.informing)} only inform (no threshold); verdict {'ok' if self.ok else 'FAILED'}"
        )

    @property
    def report(self) -> Path:
        """The run's HTML report."""
        return Path(self.run_dir) / "report.html"


@dataclass(frozen=True)
class RunCase:
    """One case to run: a suite case expanded for a block, work package, recorded answer or question."""

    id: str
    kind: Literal["model", "schedule", "question", "workflow"]
    package: str
    template: str
    scorers: tuple[ScorerEntry, ...]
    expected: Mapping[str, Any] = field(default_factory=dict)
    model: str | None = None
    table: str = "joint"
    where: Mapping[str, Any] = field(default_factory=dict)
    question: str | None = None
    workflow: str | None = None
    input: Mapping[str, Any] = field(default_factory=dict)


# ---- packages and yards ---------------------------------------------------------------------------------------


_ARROW_OF_RULE: Final = {
    "string": pa.string(),
    "choice": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "bool": pa.bool_(),
}
"""The Arrow type of an empty column of each kind of model input (`adapters.schema.ColumnRule.kind`)."""


def _package_resources(package: RecordedPackage) -> list[dict[str, Any]]:
    """The package's resources as {resource, kind, capacity} (what the schedule check reads)."""
    table = package.table("resource")
    for name in ("resource_kind", "capacity"):
        if name not in table.column_names:
            raise PackageError(f"package {package.name!r} records no resource {name}: a schedule needs it")
    return [
        {"resource": r["code"], "kind": r["resource_kind"], "capacity": r["capacity"]}
        for r in table.select(["code", "resource_kind", "capacity"]).to_pylist()
    ]


def _with_package_resources(rows: pa.Table, package: RecordedPackage) -> pa.Table:
    """Work-package rows carrying the package's resources, as the scheduling model reads them."""
    from adapters.scheduling import ResourceCapacity, with_yard_context

    resources = [
        ResourceCapacity(name=r["resource"], kind=str(r["kind"]), capacity=r["capacity"])
        for r in _package_resources(package)
    ]
    return with_yard_context(rows, resources)


def _record_key(spec: BaseModel) -> str:
    text = f"v{PACKAGE_VERSION}:{spec.model_dump_json()}"  # a new package format records again
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _is_store(path: Path) -> bool:
    from knowledge.errors import KnowledgeError
    from knowledge.importer import read_import_manifest

    try:
        read_import_manifest(path)
    except (KnowledgeError, OSError, ValueError):
        return False
    return True


def _synthetic_store(root: Path, parts: int, seed: int, blocks: int | None) -> Path:
    """The synthetic yard of a generator spec as an imported store (`knowledge.generate_store`), made once and kept.

    A directory there that is no store (a yard an older Shipbrain generated in its own format) is made again.
    """
    from knowledge import YardSpec, generate_store

    out = root / f"yard-{parts}-s{seed}" if blocks is None else root / f"yard-{parts}-s{seed}-b{blocks}"
    if _is_store(out):
        return out
    if out.is_symlink():
        out.unlink()
    try:
        generate_store(YardSpec(parts=parts, seed=seed, blocks=blocks), out, overwrite=out.exists())
    except FileExistsError:
        pass  # another run made it meanwhile
    return out


def open_package(name: str, spec: PackageSpec, settings: Settings) -> RecordedPackage:
    """A suite's package: opened from its path, or recorded from a seeded generated yard (cached)."""
    if spec.path is not None:
        return RecordedPackage.open(spec.path)
    assert spec.record is not None
    rec = spec.record
    cache = settings.data_dir / "evals" / "packages" / f"{name}-{_record_key(rec)}"
    if not (cache / "manifest.json").is_file():
        yard = _synthetic_store(settings.data_dir / "evals" / "yards", rec.parts, rec.seed, rec.yard_blocks)
        source = PackageSource(kind="synthetic", parts=rec.parts, seed=rec.seed, spec_blocks=rec.yard_blocks)
        try:
            record(yard, rec.blocks, cache, name=name, source=source)
        except PackageError:
            if not (cache / "manifest.json").is_file():
                raise
    return RecordedPackage.open(cache)


def yard_of(package: RecordedPackage, settings: Settings) -> Path:
    """The store a package was cut from (a synthetic yard made again from its spec if it is not where it was).

    Raises:
        PackageError: the store is gone or holds another yard now, and the package names no spec to make it again.
    """
    from knowledge.importer import store_digest

    source = package.manifest.source
    if source.yard and _is_store(Path(source.yard)):
        if source.digest is None or store_digest(Path(source.yard)) == source.digest:
            return Path(source.yard)
    if source.kind == "synthetic" and source.parts is not None and source.seed is not None:
        return _synthetic_store(settings.data_dir / "evals" / "yards", source.parts, source.seed, source.spec_blocks)
    if not source.yard:
        raise PackageError(f"package {package.name!r} names no yard to ask the brain or run workflows against")
    raise PackageError(
        f"package {package.name!r} was cut from the store {source.yard!r} ({source.yard_name or 'a yard'}), which "
        "is not there or holds another import now: import that yard there again, or record the package again"
    )


# ---- expanding the suite into cases -----------------------------------------------------------------------------


def _expand(suite: Suite, packages: Mapping[str, RecordedPackage]) -> list[RunCase]:
    out: list[RunCase] = []
    for spec in suite.cases:
        out.extend(_expand_one(suite, spec, packages[spec.package]))
    ids = [c.id for c in out]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise SuiteError(suite.path, None, f"two cases expand to the id {dup!r}; put {{block}} in the case's id")
    return out


def _variables(spec: CaseSpec, package: RecordedPackage) -> list[dict[str, str]]:
    if spec.fields.for_each == "block":
        return [{"block": b} for b in package.manifest.blocks]
    if spec.fields.for_each == "work_package":
        return [{"work_package": c} for c in package.table("work_package").column("code").to_pylist()]
    return [{}]


def _expand_one(suite: Suite, spec: CaseSpec, package: RecordedPackage) -> Iterator[RunCase]:
    f = spec.fields
    if spec.kind == "answers":
        for n, answer in enumerate(package.answers, start=1):
            if f.answers != "all" and answer.kind != f.answers:
                continue
            scorers = []
            for entry in spec.scorers:
                if answer.kind not in entry.scorer.kinds:
                    continue
                expected = entry.scorer.expected_of(entry.args, answer.expected)
                if entry.scorer.expected is not None:
                    if expected is _MISSING:
                        continue  # this answer records nothing this scorer could check
                    try:
                        entry.scorer.expected.validate_python(expected)
                    except ValueError:
                        raise PackageError(
                            f"{package.path / 'answers.jsonl'}:{n}: {answer.id}: scorer {entry.scorer.name!r} "
                            f"cannot score against {expected!r}"
                        ) from None
                scorers.append(entry)
            yield RunCase(
                id=f"{spec.id}.{answer.id}",
                kind=answer.kind,
                package=spec.package,
                template=spec.id,
                scorers=tuple(scorers),
                expected=answer.expected,
                question=answer.question,
                workflow=answer.workflow,
                input=answer.input,
            )
        return
    if spec.kind == "question_file":
        yield from _question_file_cases(spec)
        return
    for variables in _variables(spec, package):
        yield RunCase(
            id=expand_vars(spec.id, variables),
            kind=spec.kind,
            package=spec.package,
            template=spec.id,
            scorers=spec.scorers,
            expected=expand_vars(f.expected, variables),
            model=f.model or ("scheduling" if spec.kind == "schedule" else None),
            table="work_package" if spec.kind == "schedule" else f.table,
            where=expand_vars(f.where, variables),
            question=expand_vars(f.question, variables),
            workflow=f.workflow,
            input=expand_vars(f.input, variables),
        )


def _question_file_cases(spec: CaseSpec) -> Iterator[RunCase]:
    from evals.questions import load_cases
    from evals.scorers import SCORERS, FieldArgs

    assert spec.question_file is not None
    for case in load_cases(spec.question_file):
        expected: dict[str, Any] = {"intent": case.intent, "entities.codes": case.entities.codes}
        if case.tool:
            expected["first_tool"] = case.tool
        scorers = spec.scorers or tuple(
            ScorerEntry(SCORERS["exact"], FieldArgs(name="exact", field=key), case.line or 0) for key in expected
        )
        yield RunCase(
            id=f"{spec.id}.{case.id}",
            kind="question",
            package=spec.package,
            template=spec.id,
            scorers=scorers,
            expected=expected,
            question=case.question,
        )


# ---- running ----------------------------------------------------------------------------------------------------


class _Runtime:
    """What cases share: packages, yards, the wrapped registry, one brain and workflow context per yard."""

    def __init__(
        self, packages: dict[str, RecordedPackage], registry: CassetteRegistry, settings: Settings, state: Path
    ):
        from adapters.executor import BatchExecutor

        self.packages = packages
        self.registry = registry
        self.settings = settings
        self.state_settings = settings.model_copy(update={"data_dir": state, "executor": "in-process"})
        self.executor = BatchExecutor(registry, backend="in-process", settings=self.state_settings)
        self._lock = threading.Lock()
        self._brains: dict[Path, Brain] = {}
        self._contexts: dict[Path, WorkflowContext] = {}

    def yard(self, package: str) -> Path:
        return yard_of(self.packages[package], self.settings)

    def brain(self, package: str) -> Brain:
        from brain.supervisor import Brain

        yard = self.yard(package)
        with self._lock:
            if yard not in self._brains:
                from knowledge.documents import DEMO_CORPUS, DocumentStore

                with DocumentStore(self.state_settings) as store:  # procedure questions cite the shipped corpus
                    if store.count() == 0:
                        store.ingest([DEMO_CORPUS])
                # the brain's model calls go through the cassette
                self._brains[yard] = Brain(yard, self.state_settings, registry=self.registry)
            return self._brains[yard]

    def workflow_context(self, package: str) -> WorkflowContext:
        from knowledge.store import YardStore
        from workflows import WorkflowContext

        yard = self.yard(package)
        with self._lock:
            if yard not in self._contexts:
                self._contexts[yard] = WorkflowContext(
                    YardStore.open(yard), self.state_settings, registry=self.registry
                )
            return self._contexts[yard]

    def close(self) -> None:
        for brain in self._brains.values():
            brain.close()

    def run(self, case: RunCase) -> CaseOutput:
        start = time.perf_counter()
        if case.kind in ("model", "schedule"):
            out = self._model(case)
        elif case.kind == "question":
            out = self._question(case)
        else:
            out = self._workflow(case)
        out.seconds = time.perf_counter() - start
        return out

    def _model(self, case: RunCase) -> CaseOutput:
        package = self.packages[case.package]
        assert case.model is not None
        rows = package.rows(case.table, dict(case.where))
        spec = self.registry.get(case.model).spec
        fields = list(spec.input_schema.model_fields)
        absent = [c for c in fields if c not in rows.column_names]
        why = package.manifest.missing.get(case.table)
        if absent and why:  # the yard could not give the model its inputs when the package was recorded
            raise PackageError(f"package {package.name!r} holds no {case.model} inputs in {case.table}: {why}")
        inputs = rows.select([c for c in fields if c in rows.column_names])
        from adapters.schema import column_rules

        for rule in column_rules(spec.input_schema):  # a field the yard does not give that may be none (no crane)
            if rule.name in absent and rule.nullable:
                inputs = inputs.append_column(rule.name, pa.nulls(inputs.num_rows, _ARROW_OF_RULE[rule.kind]))
        if case.kind == "schedule":  # the resources are the package's data, not the model's: they ride along
            inputs = _with_package_resources(inputs, package)
        predicted = self.executor.run(case.model, inputs)
        table = package.with_actuals(rows)
        for name in predicted.column_names:
            table = table.append_column(f"predicted_{name}", predicted.column(name))
        context: dict[str, Any] = {}
        if case.kind == "schedule":
            context["resources"] = _package_resources(package)
        return CaseOutput(rows=table, context=context)

    def _question(self, case: RunCase) -> CaseOutput:
        assert case.question is not None
        answer = self.brain(case.package).ask(case.question)
        numbers: dict[str, float] = {}
        for result in answer.results:
            for key, value in result.numbers.items():
                numbers.setdefault(key, value)
        tools = [r.tool for r in answer.results]
        fields = {
            "intent": answer.plan.intent,
            "entities": answer.plan.entities.model_dump(mode="json"),
            "tools": tools,
            "first_tool": tools[0] if tools else None,
            "numbers": numbers,
            "sources": answer.sources,
            "status": answer.status,
            "errors": [r.error for r in answer.results if r.error],
        }
        return CaseOutput(fields=fields)

    def _workflow(self, case: RunCase) -> CaseOutput:
        from workflows import run_workflow

        assert case.workflow is not None
        result = run_workflow(case.workflow, dict(case.input), self.workflow_context(case.package))
        return CaseOutput(fields=result.model_dump(mode="json"))


def _score_case(case: RunCase, output: CaseOutput) -> dict[str, ScoreRecord]:
    scores: dict[str, ScoreRecord] = {}
    for entry in case.scorers:
        expected = entry.scorer.expected_of(entry.args, case.expected)
        score: Score = entry.scorer.score(entry.args, output, None if expected is _MISSING else expected)
        scores[entry.label] = ScoreRecord(
            **score.model_dump(), direction=entry.scorer.direction, deterministic=entry.scorer.deterministic
        )
    return scores


def run_suite(
    suite: Suite,
    out: Path | str,
    *,
    versions: Mapping[str, str] | None = None,
    concurrency: int = 2,
    replay: bool = False,
    cassette: Path | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
    force: bool = False,
) -> RunSummary:
    """Run a suite into a run directory; returns its summary (`summary.ok` is the verdict).

    Args:
        suite: a suite from `load_suite`.
        out: the run directory (refused if it holds a run, unless `force`).
        versions: model name -> version, over the suite's `models` (`--model welding=2`).
        concurrency: cases at once (threads; the models' onnxruntime and CP-SAT use every core on their own).
        replay: answer model calls from the cassette only (a miss is an error); otherwise record into it.
        cassette: the cassette directory (default: DATA_DIR/evals/cassettes/<suite>).
        settings: data dir (packages, yards, cassettes) and model config.
        progress: called with (cases done, cases in all).
        force: replace a run already in `out`.

    Raises:
        SuiteError, PackageError: bad input, before any case runs.
        RunDirError: `out` holds a run and `force` is not set.
    """
    import asyncio

    from pydantic_evals import Case, Dataset

    from adapters.registry import Registry
    from evals._evaluator import SuiteEvaluator

    settings = settings or get_settings()
    out = Path(out)
    if (out / "summary.json").exists() and not force:
        raise RunDirError(f"{str(out)!r} already holds a run; choose another --out or pass --force")
    chosen = {**suite.models, **(versions or {})}
    packages = {name: open_package(name, spec, settings) for name, spec in suite.packages.items()}
    cases = _expand(suite, packages)
    registry = Registry.load(settings, versions=chosen or None)
    tape = cassette or settings.data_dir / "evals" / "cassettes" / suite.name
    wrapped = CassetteRegistry(registry, tape, "replay" if replay else "record")
    out.mkdir(parents=True, exist_ok=True)
    runtime = _Runtime(packages, wrapped, settings, out / "state")
    done = [0]
    done_lock = threading.Lock()
    outputs: dict[str, CaseOutput] = {}

    def task(case: RunCase) -> dict[str, ScoreRecord]:
        try:
            output = runtime.run(case)
            outputs[case.id] = output
            return _score_case(case, output)
        finally:
            with done_lock:
                done[0] += 1
                if progress:
                    progress(done[0], len(cases))

    dataset = Dataset[RunCase, dict[str, ScoreRecord], None](
        name=suite.name,
        cases=[Case(name=c.id, inputs=c) for c in cases],
        evaluators=[SuiteEvaluator()],
    )
    started = time.perf_counter()
    try:

        async def go() -> EvaluationReport[RunCase, dict[str, ScoreRecord], None]:
            return await dataset.evaluate(task, max_concurrency=max(1, concurrency), progress=False)

        report = asyncio.run(go())
    finally:
        models = wrapped.versions_used()  # before closing: closing the brains closes the models they were given
        runtime.close()
    records = _records(cases, report, outputs)
    return _write_run(suite, out, records, outputs, cases, models, replay, concurrency, time.perf_counter() - started)


def _bound_text(low: float | None, high: float | None) -> str:
    parts = ([f">= {low:g}"] if low is not None else []) + ([f"<= {high:g}"] if high is not None else [])
    return " and ".join(parts)


def _score_summaries(
    suite: Suite,
    records: list[CaseRecord],
    means: Mapping[str, float],
    directions: Mapping[str, Direction],
    thresholds: list[ThresholdResult],
) -> list[ScoreSummary]:
    """Each score's mean and whether it gates (a suite threshold, or a bound on its cases) or only informs."""
    bounds = suite.case_bounds()
    on_mean = {t.score: t for t in thresholds}
    names = sorted({name for r in records for name in r.scores} | set(on_mean))
    out = []
    for name in names:
        scored = [r.scores[name] for r in records if name in r.scores]
        judged = [s for s in scored if s.passed is not None]
        rules = []
        if name in on_mean:
            rules.append(f"mean {_bound_text(on_mean[name].min, on_mean[name].max)}")
        if name in bounds or judged:
            given = sorted(bounds.get(name, set()), key=str)
            each = _bound_text(*given[0]) if len(given) == 1 else "within its case's bound"
            rules.append(f"each case {each}")
        gates = bool(rules)
        failed = sum(1 for s in judged if s.passed is False)
        held = (failed == 0 and (name not in on_mean or on_mean[name].passed)) if gates else None
        out.append(
            ScoreSummary(
                name=name,
                mean=means.get(name),
                direction=directions.get(name, "higher"),
                gates=gates,
                rule="; ".join(rules) if gates else "no threshold",
                held=held,
                cases=len(scored),
                failed=failed,
                margin=suite.margins.get(name),
                deterministic=all(s.deterministic for s in scored),
            )
        )
    return sorted(out, key=lambda s: not s.gates)


def summary_lines(summary: RunSummary) -> list[str]:
    """The run for a terminal: the headline, the gating scores, the scores that only inform, the report."""
    models = ", ".join(f"{k} {v}" for k, v in summary.models.items()) or "none"
    lines = [f"{summary.headline()} ({summary.seconds:.1f} s; models {models})"]
    if summary.gating:
        lines.append("gate (a threshold decides pass or fail):")
        for s in summary.gating:
            verdict = "ok" if s.held else f"MISSED ({s.failed} of {s.cases} cases)" if s.failed else "MISSED"
            lines.append(f"  {s.name:<40} {_mean_text(s.mean):>10}  {verdict:<6} {s.rule}")
    if summary.informing:
        lines.append("only inform (no threshold: the verdict does not depend on them):")
        for s in summary.informing:
            lines.append(f"  {s.name:<40} {_mean_text(s.mean):>10}  {'':<6} {s.in_compare}")
    lines.append(f"report: {summary.report}")
    return lines


def _mean_text(mean: float | None) -> str:
    return "n/a" if mean is None else f"{mean:.5g}"


def _records(
    cases: list[RunCase],
    report: EvaluationReport[RunCase, dict[str, ScoreRecord], None],
    outputs: Mapping[str, CaseOutput],
) -> list[CaseRecord]:
    by_id = {c.id: c for c in cases}
    records: dict[str, CaseRecord] = {}
    for rc in report.cases:
        case = by_id[rc.name]
        scores: dict[str, ScoreRecord] = rc.output
        passed = all(s.passed is not False for s in scores.values())
        records[case.id] = CaseRecord(
            id=case.id,
            kind=case.kind,
            package=case.package,
            template=case.template,
            scores=scores,
            passed=passed,
            seconds=round(outputs[case.id].seconds, 6),
        )
    for failure in report.failures:
        case = by_id[failure.name]
        records[case.id] = CaseRecord(
            id=case.id,
            kind=case.kind,
            package=case.package,
            template=case.template,
            passed=False,
            error=failure.error_message.splitlines()[0] if failure.error_message else "failed",
        )
    return [records[c.id] for c in cases]


def _write_run(
    suite: Suite,
    out: Path,
    records: list[CaseRecord],
    outputs: Mapping[str, CaseOutput],
    cases: list[RunCase],
    models: dict[str, str],
    replay: bool,
    concurrency: int,
    seconds: float,
) -> RunSummary:
    from evals.report import write_report

    with (out / "results.jsonl").open("w", encoding="utf-8") as f:
        for rec in records:
            f.write(rec.model_dump_json() + "\n")
    values: dict[str, list[float]] = {}
    directions: dict[str, Direction] = {}
    for rec in records:
        for name, score in rec.scores.items():
            if math.isfinite(score.value):
                values.setdefault(name, []).append(score.value)
            directions[name] = score.direction
    means = {name: float(np.mean(v)) for name, v in sorted(values.items())}
    thresholds = []
    for name, bound in sorted(suite.thresholds.items()):
        mean = means.get(name)
        ok = mean is not None and (bound.min is None or mean >= bound.min) and (bound.max is None or mean <= bound.max)
        thresholds.append(ThresholdResult(score=name, mean=mean, min=bound.min, max=bound.max, passed=ok))
    scores = _score_summaries(suite, records, means, directions, thresholds)
    errors = sum(1 for r in records if r.error)
    passed = sum(1 for r in records if r.passed)
    summary = RunSummary(
        suite=suite.name,
        suite_path=str(suite.path),
        run_dir=str(out.resolve()),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        replay=replay,
        concurrency=concurrency,
        models=models,
        cases=len(records),
        passed=passed,
        failed=len(records) - passed - errors,
        errors=errors,
        means=means,
        directions=directions,
        thresholds=thresholds,
        margins=suite.margins,
        ok=passed == len(records) and all(t.passed for t in thresholds),
        seconds=round(seconds, 3),
        scores=scores,
    )
    _write_predictions(out, outputs, cases)
    (out / "summary.json").write_text(summary.model_dump_json(indent=2), encoding="utf-8")
    write_report(out)
    return summary


def _write_predictions(out: Path, outputs: Mapping[str, CaseOutput], cases: list[RunCase]) -> None:
    pieces = []
    for case in cases:
        output = outputs.get(case.id)
        if case.kind != "model" or output is None or output.rows is None:
            continue
        rows = output.rows
        columns = {c: rows.column(c) for c in PLOT_COLUMNS if c in rows.column_names}
        if not columns:
            continue
        table = pa.table({"case": pa.array([case.id] * rows.num_rows, type=pa.string()), **columns})
        pieces.append(table.cast(pa.schema([(f.name, f.type) for f in table.schema])))
    if pieces:
        pq.write_table(pa.concat_tables(pieces, promote_options="permissive"), out / "predictions.parquet")


def load_run(run_dir: Path | str) -> tuple[RunSummary, list[CaseRecord]]:
    """A run's summary and case records.

    Raises:
        RunDirError: no run there.
    """
    run_dir = Path(run_dir)
    path = run_dir / "summary.json"
    if not path.is_file():
        raise RunDirError(f"no eval run at {str(run_dir)!r} (no summary.json)")
    summary = RunSummary.model_validate_json(path.read_bytes())
    lines = (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()
    return summary, [CaseRecord.model_validate_json(line) for line in lines if line.strip()]


def list_runs(root: Path | str) -> list[RunSummary]:
    """Every run under `root` (directories holding a summary.json, any depth), newest first.

    `RunSummary.report` is each run's HTML report, for a page that lists past runs.
    """
    root = Path(root)
    found = []
    for path in root.rglob("summary.json") if root.is_dir() else []:
        try:
            found.append(RunSummary.model_validate_json(path.read_bytes()))
        except ValueError:
            continue  # not a run's summary
    return sorted(found, key=lambda s: s.created, reverse=True)
