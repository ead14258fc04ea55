"""Suites: a YAML file naming recorded packages, cases, scorers and thresholds, checked before anything runs.

```yaml
suite: hull
description: What this suite guards.
packages:
  hull: {path: ../packages/hull-1042}     # a package on disk (relative to here): `shipbrain eval record`
  small: {record: {parts: 20000, seed: 1}}   # or cut at run time from a seeded synthetic yard (`blocks:` some)
models: {welding: "1"}                    # model versions (--model welding=2 overrides)
thresholds: {"mae:hours": {max: 0.35}}    # on a score's mean over the suite's cases
margins: {"mae:hours": 0.01}              # how much worse a score may get in `compare` before it gates
cases:
  - id: welding-{block}                   # {block} / {work_package}: one case each (for_each)
    package: hull
    for_each: block
    model: welding                        # model case: the model over a package table's rows
    table: joint                          # joint, outfitting_item (a role); the rows carry their actuals
    where: {block: "{block}"}             # columns of the table, values as the yard writes them
    scorers: [{name: mae, max: 0.5}, {name: calibration}, {name: latency}]
  - id: schedule
    package: hull
    schedule: {}                          # schedule case: the scheduling model over the work packages
    scorers: [{name: schedule_validity, min: 1}]
  - id: ndt-db09
    package: hull
    question: "Which joints of H1042/DB09 need NDT at 5 %?"  # question case: the brain
    expected: {intent: ndt_plan, tools: [ndt_plan], numbers.inspected: 37}
    scorers: [{name: exact, field: intent}, {name: tool_routing}, {name: numeric, field: numbers.inspected}]
  - id: wip-db09
    package: hull
    workflow: weld-inspection-plan        # workflow case
    input: {code: H1042/DB09, budget: {share: 0.1}}
    scorers: [{name: numeric, field: joints_total, expected: 740}]
  - id: recorded
    package: hull
    answers: all                          # one case per recorded answer of the package (question, workflow, all)
    scorers: [{name: exact, field: intent}, {name: tool_routing}]   # entries an answer gives no expected value skip it
  - id: planner
    package: small
    question_file: ../cases/brain_questions.yaml   # planner question cases (evals.questions.load_cases)
```

Every problem is a `SuiteError` naming the file and line: a case naming a package the suite does not declare,
a package path with no package, an unknown scorer or model or workflow, a scorer on a case kind it cannot
score, a case whose expected value has the wrong type, a repeated id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evals._yaml import compose, construct, line_of
from evals.errors import SuiteError
from evals.scorers import _MISSING, SCORERS, ScorerArgs, ScorerDef

__all__ = ["CaseKind", "CaseSpec", "PackageSpec", "RecordSpec", "ScorerEntry", "Suite", "Threshold", "load_suite"]

CaseKind = Literal["model", "schedule", "question", "workflow", "answers", "question_file"]
_KIND_KEYS: Final = ("model", "schedule", "question", "workflow", "answers", "question_file")


class RecordSpec(BaseModel):
    """A package recorded at run time from a seeded generated yard (cached in the data dir)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    parts: int = Field(ge=5_000, le=25_000_000)
    seed: int = Field(ge=0)
    yard_blocks: int | None = Field(default=None, ge=4, le=999)
    """The generator's block count, if not its default."""
    blocks: list[str] | None = None
    """Block codes to record (None: every block)."""


class PackageSpec(BaseModel):
    """Where a suite's package comes from: a directory, or a record spec."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path | None = None
    record: RecordSpec | None = None


class Threshold(BaseModel):
    """Bounds on a score's mean over the suite."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min: float | None = None
    max: float | None = None


class _CaseFields(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.{}-]{0,127}$")
    package: str
    description: str | None = None
    for_each: Literal["block", "work_package"] | None = None
    model: str | None = None
    table: Literal["joint", "outfitting_item", "work_package"] = "joint"
    """The package table (a role) a model case reads its rows from."""
    where: dict[str, str | list[str]] = Field(default_factory=dict)
    schedule: dict[str, Any] | None = None
    question: str | None = None
    workflow: str | None = None
    input: dict[str, Any] = Field(default_factory=dict)
    answers: Literal["all", "question", "workflow"] | None = None
    question_file: Path | None = None
    expected: dict[str, Any] = Field(default_factory=dict)
    scorers: list[Any] = Field(default_factory=list)


@dataclass(frozen=True)
class ScorerEntry:
    """One checked scorer entry of a case."""

    scorer: ScorerDef
    args: ScorerArgs
    line: int

    @property
    def label(self) -> str:
        """The score's name in results."""
        return self.scorer.label(self.args)


@dataclass(frozen=True)
class CaseSpec:
    """One case (or a template expanded per block, work package, recorded answer or question) of a suite."""

    id: str
    kind: CaseKind
    package: str
    line: int
    fields: _CaseFields
    scorers: tuple[ScorerEntry, ...]
    question_file: Path | None = None


@dataclass(frozen=True)
class Suite:
    """A checked suite."""

    name: str
    path: Path
    description: str
    packages: dict[str, PackageSpec]
    models: dict[str, str]
    cases: tuple[CaseSpec, ...]
    thresholds: dict[str, Threshold] = field(default_factory=dict)
    margins: dict[str, float] = field(default_factory=dict)

    def case_bounds(self) -> dict[str, set[tuple[float | None, float | None]]]:
        """Score name -> the (min, max) bounds its case entries give (a score with none in any case is absent).

        A bounded score gates each case it scores (the case fails outside it); with a suite threshold, a score's
        mean gates the run. A score with neither only informs: the verdict does not depend on it.
        """
        bounds: dict[str, set[tuple[float | None, float | None]]] = {}
        for case in self.cases:
            for entry in case.scorers:
                if entry.args.min is not None or entry.args.max is not None:
                    bounds.setdefault(entry.label, set()).add((entry.args.min, entry.args.max))
        return bounds


class _SuiteFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    suite: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    description: str = ""
    packages: dict[str, PackageSpec] = Field(min_length=1)
    models: dict[str, str] = Field(default_factory=dict)
    thresholds: dict[str, Threshold] = Field(default_factory=dict)
    margins: dict[str, float] = Field(default_factory=dict)
    cases: list[Any] = Field(min_length=1)


def _node_at(node: yaml.Node, *keys: str | int) -> yaml.Node | None:
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            found = node.value[key]
        else:
            found = None
        if found is None:
            return None
        node = found
    return node


def _line(node: yaml.Node | None, default: int) -> int:
    return int(node.start_mark.line) + 1 if node is not None else default


def _compose(path: Path) -> tuple[yaml.Node, Any]:
    root = compose(path, SuiteError, "the suite")
    if not isinstance(root, yaml.MappingNode):
        raise SuiteError(path, 1, "a suite is a YAML mapping with suite, packages and cases")
    return root, construct(root)


def _registered(kind: Literal["models", "workflows"]) -> tuple[str, ...]:
    if kind == "models":
        from adapters.registry import Registry

        return Registry.load().names()
    from workflows import WORKFLOWS

    return tuple(WORKFLOWS.names())


def load_suite(path: Path | str) -> Suite:
    """Read and check a suite file; nothing runs and nothing is recorded.

    Raises:
        SuiteError: the first problem, with the file and line.
    """
    path = Path(path)
    root, raw = _compose(path)
    try:
        top = _SuiteFile.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        raise SuiteError(path, line_of(root, loc), f"{'.'.join(map(str, loc))}: {err['msg']}") from None
    for name, spec in top.packages.items():
        line = _line(_node_at(root, "packages", name), 1)
        if (spec.path is None) == (spec.record is None):
            raise SuiteError(path, line, f"package {name!r}: give either path or record")
        if spec.path is not None:
            where = spec.path if spec.path.is_absolute() else path.parent / spec.path
            if not (where / "manifest.json").is_file():
                raise SuiteError(path, line, f"package {name!r}: no recorded package at {str(where)!r}")
            top.packages[name] = PackageSpec(path=where.resolve())
    models = _registered("models")
    for name in top.models:
        if name not in models:
            raise SuiteError(path, _line(_node_at(root, "models", name), 1), f"no model {name!r}; models: {models}")
    cases_node = _node_at(root, "cases")
    assert isinstance(cases_node, yaml.SequenceNode)
    cases: list[CaseSpec] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(top.cases):
        node = cases_node.value[index]
        case = _case(path, node, item, top, models)
        if case.id in seen:
            raise SuiteError(path, case.line, f"case id {case.id!r} is also used on line {seen[case.id]}")
        seen[case.id] = case.line
        cases.append(case)
    return Suite(
        name=top.suite,
        path=path,
        description=top.description,
        packages=dict(top.packages),
        models=dict(top.models),
        cases=tuple(cases),
        thresholds=dict(top.thresholds),
        margins=dict(top.margins),
    )


def _case(path: Path, node: yaml.Node, item: Any, top: _SuiteFile, models: Sequence[str]) -> CaseSpec:
    line = _line(node, 1)
    if not isinstance(item, dict):
        raise SuiteError(path, line, f"a case is a mapping of fields, got {type(item).__name__}")
    try:
        fields = _CaseFields.model_validate(item)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(map(str, err["loc"]))
        raise SuiteError(
            path, line_of(node, err["loc"]), f"case {item.get('id', '?')!r}: {where}: {err['msg']}"
        ) from None
    kinds = [k for k in _KIND_KEYS if item.get(k) is not None]
    if len(kinds) != 1:
        raise SuiteError(path, line, f"case {fields.id!r}: give exactly one of {', '.join(_KIND_KEYS)} (got {kinds})")
    kind: CaseKind = kinds[0]  # type: ignore[assignment]
    if fields.package not in top.packages:
        raise SuiteError(
            path,
            _line(_node_at(node, "package"), line),
            f"case {fields.id!r}: no package {fields.package!r}; the suite declares {', '.join(top.packages)}",
        )
    if kind == "model" and fields.model not in models:
        raise SuiteError(path, _line(_node_at(node, "model"), line), f"no model {fields.model!r}; models: {models}")
    if kind == "workflow":
        names = _registered("workflows")
        if fields.workflow not in names:
            raise SuiteError(
                path, _line(_node_at(node, "workflow"), line), f"no workflow {fields.workflow!r}; workflows: {names}"
            )
    question_file = None
    if kind == "question_file":
        assert fields.question_file is not None
        question_file = (
            fields.question_file if fields.question_file.is_absolute() else path.parent / fields.question_file
        )
        from evals.questions import load_cases

        load_cases(question_file)  # its own errors name its file and line
    scorers = tuple(_scorer(path, node, fields, kind, i, entry) for i, entry in enumerate(fields.scorers))
    return CaseSpec(fields.id, kind, fields.package, line, fields, scorers, question_file)


_SCORED_AS: Final[dict[str, tuple[str, ...]]] = {
    "answers": ("question", "workflow"),
    "question_file": ("question",),
}


def _scorer(path: Path, case_node: yaml.Node, fields: _CaseFields, kind: str, index: int, entry: Any) -> ScorerEntry:
    node = _node_at(case_node, "scorers", index)
    line = _line(node, 1)
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, dict) or "name" not in entry:
        raise SuiteError(path, line, f"case {fields.id!r}: a scorer is a name or a mapping with `name`")
    name = entry["name"]
    if name not in SCORERS:
        raise SuiteError(
            path,
            _line(_node_at(node, "name") if node else None, line),
            f"no scorer {name!r}; scorers: {', '.join(SCORERS.names())}",
        )
    definition = SCORERS[name]
    as_kinds = _SCORED_AS.get(kind, (kind,))
    if not set(as_kinds) & set(definition.kinds):
        raise SuiteError(
            path, line, f"case {fields.id!r}: scorer {name!r} scores {'/'.join(definition.kinds)} cases, not {kind}"
        )
    try:
        args = definition.args.model_validate(entry)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise SuiteError(
            path,
            line_of(node, err["loc"]) if node else line,
            f"scorer {name!r}: {'.'.join(map(str, err['loc']))}: {err['msg']}",
        ) from None
    if definition.expected is not None and kind in ("question", "workflow"):
        expected = definition.expected_of(args, fields.expected)
        inline = "expected" in entry
        where = (
            _node_at(node, "expected")
            if inline and node
            else _node_at(case_node, "expected", getattr(args, "field", ""))
        )
        if expected is _MISSING:
            raise SuiteError(
                path,
                line,
                f"case {fields.id!r}: scorer {name!r} needs an expected value (inline, or the case's expected[field])",
            )
        try:
            definition.expected.validate_python(expected)
        except ValidationError as exc:
            want = definition.expected.json_schema().get("type", "value")
            raise SuiteError(
                path,
                _line(where, line),
                f"case {fields.id!r}: scorer {name!r} expects a {want}, got {type(expected).__name__} {expected!r}",
            ) from exc
    return ScorerEntry(definition, args, line)


def expand_vars(value: Any, variables: Mapping[str, str]) -> Any:
    """`{block}` and `{work_package}` replaced in every string of a value."""
    if isinstance(value, str):
        for key, sub in variables.items():
            value = value.replace("{" + key + "}", sub)
        return value
    if isinstance(value, list):
        return [expand_vars(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: expand_vars(v, variables) for k, v in value.items()}
    return value
