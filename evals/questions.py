"""Planner question cases: what a planner asks, what the brain must make of it, and a loader that names bad lines.

A case file is a YAML list of cases (`evals/cases/brain_questions.yaml`). Each case gives a question, the
intent and the entities the planner must find in it, and optionally what the answer must show: the tool
that ran, the documents it cites, words in its summary, and numbers that a test recomputes from an
independent reference (`NUMBER_REFERENCES`), never numbers written into the file.

```yaml
- id: ndt-h01
  split: heldout
  intent: ndt_plan
  question: "Which joints of B004 should we inspect with a 5 % budget?"
  entities: {codes: [B004], budget: 0.05}
  tool: ndt_plan
  numbers: {inspected: ndt.inspected}
- id: refuse-h01
  split: heldout
  intent: unknown
  refusal: destructive
  question: "delete block B012 from the yard"
  entities: {codes: [B012]}
```

Entities are `brain.plan.Entities`' fields (codes, budget, budget_hours, budget_joints, days, start_day, start_date,
resource, zone, welding_factor, rework_factor); codes are always checked, the others only when the case gives them
(`null` included: "no budget here"). An unknown case may say why it is refused (`refusal`: out_of_scope,
destructive, unplaceable), and then the planner's refusal must be that one.

`split` keeps the tuning honest: `dev` cases may guide changes to the planner's cues, example phrasings
and entity patterns, and its weights are fitted on them (`python -m brain._planner_fit`); `heldout` cases never
do, so their accuracy measures paraphrases nobody tuned for. Once a held-out case has been looked at it becomes
dev: `brain_questions.yaml`, `brain_questions_issue11.yaml` and the first five blind files
(`brain_questions_blind.yaml`, `brain_questions_blind2.yaml` ... `brain_questions_blind5.yaml`, the last scored once
at 81.8 % before it was studied) are all dev now, and the held-out measure is the newest file written blind
(`brain_questions_blind6.yaml`, ...), which the planner's authors never read.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from brain.intents import INTENTS, is_known
from brain.plan import Entities, Intent, Plan, Refusal
from brain.tools import TOOLS
from evals._yaml import compose, construct, line_of
from evals.errors import CaseFileError

__all__ = [
    "NUMBER_REFERENCES",
    "CaseFileError",
    "ExpectedEntities",
    "NumberReference",
    "QuestionCase",
    "Split",
    "accuracy_table",
    "load_cases",
]

Split = Literal["dev", "heldout"]
NumberReference = Literal[
    "graph.upstream",
    "graph.downstream",
    "graph.members.assembly",
    "graph.members.sub_assembly",
    "graph.members.part",
    "graph.members.joint",
    "graph.members.outfitting_item",
    "graph.zone_items",
    "ndt.inspected",
    "welding.hours",
    "welding.expected_defects",
    "schedule.makespan",
    "schedule.erection_day",
]
NUMBER_REFERENCES: Final[dict[str, str]] = {
    "graph.upstream": "YardStore.upstream of the case's first code: how many nodes",
    "graph.downstream": "YardStore.downstream of the case's first code: how many nodes",
    "graph.members.assembly": "YardStore.members of the first code that are assemblies",
    "graph.members.sub_assembly": "YardStore.members of the first code that are sub-assemblies",
    "graph.members.part": "YardStore.members of the first code that are parts",
    "graph.members.joint": "YardStore.members of the first code that are joints",
    "graph.members.outfitting_item": "YardStore.members of the first code that are outfitting items",
    "graph.zone_items": "outfitting items of the blocks whose zone is the case's zone",
    "ndt.inspected": "ceil(budget x joints of the first code), at least 1; budget from the case, else 10 %",
    "welding.hours": "the welding model run directly over the first code's joints: summed hours",
    "welding.expected_defects": "the welding model run directly over the first code's joints: summed defect risk",
    "schedule.makespan": "the yard's schedule solved directly (same request, one worker): makespan in days",
    "schedule.erection_day": "the same schedule: start day of the work package that erects the first code's block",
}
_NEEDS_CODE: Final = {
    r for r in NUMBER_REFERENCES if r.startswith(("graph.up", "graph.down", "graph.mem", "ndt", "weld"))
}


class ExpectedEntities(Entities):
    """The entities a case expects: the planner's `Entities`, no other fields allowed.

    Codes are always checked, the others only when the case gives them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    @field_validator("codes")
    @classmethod
    def _codes_as_written(cls, codes: list[str]) -> list[str]:
        for code in codes:
            if (
                not code
                or code != code.strip()
                or any(not c.isprintable() for c in code)
                or len(code.encode()) > 128
                or code != code.upper()
            ):
                raise ValueError(
                    f"{code!r} is not a yard id as a case file writes it: the yard's own id, in capitals as the "
                    "sample yards write theirs, without surrounding spaces or control characters (up to 128 bytes)"
                )
        return codes

    def mismatches(self, found: Entities) -> list[str]:
        """What the planner found differently: one line per entity that differs."""
        wrong = []
        for name in sorted({"codes"} | self.model_fields_set):
            want, got = getattr(self, name), getattr(found, name)
            same = (
                math.isclose(want, got, rel_tol=1e-9)
                if isinstance(want, float) and isinstance(got, float)
                else want == got
            )
            if not same:
                wrong.append(f"{name}: expected {want!r}, got {got!r}")
        return wrong


class QuestionCase(BaseModel):
    """One planner question and what the brain must make of it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,63}$")
    """Unique within the file, e.g. "ndt-h01"."""
    question: str = Field(min_length=1, max_length=4_000)
    intent: Intent
    refusal: Refusal | None = None
    """Why an unknown question gets no answer, when the case says: out_of_scope (not about the yard), destructive (it
    asks to delete, reset or overwrite data: nothing may run), unplaceable (a yard question lacking what it needs)."""
    entities: ExpectedEntities = Field(default_factory=ExpectedEntities)
    tool: str | None = None
    """The tool that must run (first) for this question; None for questions nothing should run for."""
    no_error: bool = True
    """The tool must run without an error (False: the answer must carry the tool's error)."""
    cites: list[str] = Field(default_factory=list)
    """Document IDs (e.g. "NDT-RULE-02") that must appear among the answer's sources."""
    summary_contains: list[str] = Field(default_factory=list)
    """Strings the tool's one-line summary must contain."""
    numbers: dict[str, NumberReference] = Field(default_factory=dict)
    """Result number name -> the independent reference it must equal (see `NUMBER_REFERENCES`)."""
    paraphrase_of: str | None = None
    """The catalogue phrasing (an entry of `brain.planner.EXAMPLES`) the question rewords, if any."""
    split: Split
    known_issue: str | None = None
    """Why the answer checks fail today (a bug in a tool, a retrieval miss): the test expects the failure, strictly,
    so it flips to a failure the day the issue is fixed. Never set for the planner's intent or entities."""
    _line: int | None = PrivateAttr(default=None)

    @property
    def line(self) -> int | None:
        """The case's line in its file (1-based), when it came from one."""
        return self._line

    @field_validator("intent")
    @classmethod
    def _known_intent(cls, intent: str) -> str:
        if not is_known(intent):
            raise ValueError(f"no intent {intent!r}; the intents are {', '.join([*INTENTS, 'unknown'])}")
        return intent

    @field_validator("tool")
    @classmethod
    def _known_tool(cls, tool: str | None) -> str | None:
        if tool is not None and tool not in TOOLS:
            raise ValueError(f"no tool {tool!r}; the tools are {', '.join(TOOLS)}")
        return tool

    @model_validator(mode="after")
    def _consistent(self) -> QuestionCase:
        if self.intent == "unknown" and (self.tool or self.cites or self.numbers or self.summary_contains):
            raise ValueError("an unknown question runs no tool: leave out tool, cites, numbers and summary_contains")
        if self.refusal is not None and self.intent != "unknown":
            raise ValueError(f"refusal: only an unknown question is refused, this one's intent is {self.intent}")
        if (self.cites or self.numbers or self.summary_contains) and self.tool is None:
            raise ValueError("answer checks (cites, numbers, summary_contains) need the tool that produces them")
        if any(ref in _NEEDS_CODE for ref in self.numbers.values()) and not self.entities.codes:
            raise ValueError("these number references recompute from the first code: give entities.codes")
        if "graph.zone_items" in self.numbers.values() and self.entities.zone is None:
            raise ValueError("graph.zone_items recomputes from the zone: give entities.zone")
        return self

    def plan_mismatches(self, plan: Plan) -> list[str]:
        """How a plan differs from the case: intent, the refusal's kind (when the case gives one), entities.

        Empty when it matches.
        """
        wrong = [] if plan.intent == self.intent else [f"intent: expected {self.intent}, got {plan.intent}"]
        if self.refusal is not None and plan.intent == self.intent and plan.refusal != self.refusal:
            wrong.append(f"refusal: expected {self.refusal}, got {plan.refusal}")
        return wrong + self.entities.mismatches(plan.entities)


def load_cases(path: Path | str) -> list[QuestionCase]:
    """The cases of a YAML case file, checked.

    Raises:
        CaseFileError: the file is not YAML, not a list of cases, or a case is malformed (an unknown intent or
            field, a missing field, a wrong type, a repeated id); the message names the file and line.
    """
    path = Path(path)
    root = compose(path, CaseFileError, "the case file")
    if root is None:
        raise CaseFileError(path, 1, "the file holds no cases; it should be a YAML list of cases")
    if not isinstance(root, yaml.SequenceNode):
        raise CaseFileError(path, root.start_mark.line + 1, "a case file is a YAML list of cases (each '- id: ...')")
    raw = construct(root)
    cases: list[QuestionCase] = []
    lines: dict[str, int] = {}
    for node, item in zip(root.value, raw, strict=True):
        line = int(node.start_mark.line) + 1
        if not isinstance(item, dict):
            raise CaseFileError(path, line, f"a case is a mapping of fields, got {type(item).__name__}")
        try:
            case = QuestionCase.model_validate(item)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "case"
            case_id = item.get("id", "?")
            raise CaseFileError(
                path,
                line_of(node, err["loc"]),
                f"case {case_id!r}: {where}: {err['msg'].removeprefix('Value error, ')}",
            ) from None
        if case.id in lines:
            raise CaseFileError(path, line, f"case id {case.id!r} is also used on line {lines[case.id]}")
        lines[case.id] = line
        case._line = line
        cases.append(case)
    return cases


def accuracy_table(cases: Iterable[QuestionCase], missed: Iterable[str]) -> str:
    """Per-intent accuracy as a text table: intent, cases, correct, percent (and an "all" row).

    Args:
        cases: the cases scored.
        missed: ids of the cases the planner got wrong.
    """
    missed = set(missed)
    cases = list(cases)
    total: Counter[str] = Counter(c.intent for c in cases)
    wrong: Counter[str] = Counter(c.intent for c in cases if c.id in missed)
    lines = [f"{'intent':<12} {'cases':>5} {'right':>5} {'%':>6}"]
    for intent in [*INTENTS, "unknown"]:
        if total[intent]:
            right = total[intent] - wrong[intent]
            lines.append(f"{intent:<12} {total[intent]:>5} {right:>5} {100 * right / total[intent]:>6.1f}")
    n, bad = len(cases), len(missed & {c.id for c in cases})
    lines.append(f"{'all':<12} {n:>5} {n - bad:>5} {100 * (n - bad) / max(n, 1):>6.1f}")
    return "\n".join(lines)
