"""The planner question cases: the file itself, the offline planner's accuracy on them, and the brain's answers.

Answer numbers are checked against references recomputed here from the part graph, the models and the
scheduler directly (`evals.questions.NUMBER_REFERENCES`), never against numbers written into the case file.
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from brain._planner_fit import DEV_FILES as FITTED_ON
from brain.intents import INTENTS
from brain.lexicon import Lexicon
from brain.planner import EXAMPLES, OfflinePlanner
from brain.supervisor import Answer, Brain
from evals.questions import CaseFileError, QuestionCase, accuracy_table, load_cases
from knowledge import Settings
from knowledge.store import YardStore

if TYPE_CHECKING:
    from adapters.scheduling import Schedule

CASE_FILE = Path(__file__).parents[2] / "evals" / "cases" / "brain_questions.yaml"
# Once written blind, now studied while tuning and fitted on: dev data like CASE_FILE.
DEV_FILES = [CASE_FILE, *(CASE_FILE.with_name(f"brain_questions_blind{n}.yaml") for n in ("", "2", "3", "4"))]
# Issue 11's new kinds of question (budgets in hours or joints, single items, cross-model what-ifs, refusals), written
# by the planner's helper: dev from the start.
DEV_FILES.append(CASE_FILE.with_name("brain_questions_issue11.yaml"))
# Blind-5, scored once as the held-out set at 139/170 = 81.8 %, then studied while tuning: dev since.
DEV_FILES.append(CASE_FILE.with_name("brain_questions_blind5.yaml"))
# Written blind by someone who never saw the planner's cues or catalogue: the newest one not yet studied is the
# honest held-out measure (brain_questions_blind6.yaml, ...); the older ones are dev.
_BLIND_FILE = re.compile(r"brain_questions_blind(\d+)\.yaml|blind-(\d+)\.yaml")


def _newest_blind_file(folder: Path) -> Path | None:
    """The unstudied blind file with the highest number (brain_questions_blind6.yaml, ...), None when none is left."""
    numbered = [
        (int(m.group(1) or m.group(2)), p)
        for p in folder.iterdir()
        if (m := _BLIND_FILE.fullmatch(p.name)) and p not in DEV_FILES
    ]
    return max(numbered)[1] if numbered else None


HELDOUT_FILE = _newest_blind_file(CASE_FILE.parent)
CASES = load_cases(CASE_FILE)
MIN_ACCURACY = 0.95
HELDOUT_TARGET = 0.90
"""Issue 11: a fresh blind set covering budgets, single items, critical paths, documents, cross-model what-ifs and
refusals, at least 90 %."""
SCORED_ONCE: dict[str, float] = {}
"""Held-out files scored once and found below the target, with that score: until the planner is tuned on them (they
then become dev and a fresh set is written), the test holds the planner to no worse than it was, and says so."""


def _where(case: QuestionCase, path: Path = CASE_FILE) -> str:
    return f"{path.name}:{case.line} {case.id}"


# ---- the file -----------------------------------------------------------------------------------


def test_the_case_file_covers_every_intent_with_enough_cases() -> None:
    assert len(CASES) >= 200
    assert {c.intent for c in CASES} == {*INTENTS, "unknown"}
    assert len({c.question.lower() for c in CASES}) == len(CASES), "a question is asked twice"


@pytest.mark.parametrize("path", DEV_FILES, ids=[p.name for p in DEV_FILES])
def test_dev_files_hold_only_dev_cases(path: Path) -> None:
    # every case here has been seen while tuning the planner: the held-out measure is HELDOUT_FILE
    cases = load_cases(path)
    assert all(c.split == "dev" for c in cases), f"{path.name}: cases seen while tuning are dev"


def test_the_weights_are_fitted_on_the_dev_files_only() -> None:
    # the held-out file must never be fitted on: its accuracy is the measure of what the fit learned
    assert [CASE_FILE.with_name(name) for name in FITTED_ON] == DEV_FILES
    assert HELDOUT_FILE is None or HELDOUT_FILE.name not in FITTED_ON


def _phrasing(text: str) -> re.Pattern[str]:
    """A catalogue phrasing as a pattern: its role placeholders ("<block>") stand for any one code ("B012")."""
    return re.compile(r"\S+".join(re.escape(part) for part in re.split(r"<\w+>", text.lower().strip(" ?.!"))))


@pytest.mark.parametrize("path", DEV_FILES, ids=[p.name for p in DEV_FILES])
def test_no_case_is_a_catalogue_phrasing(path: Path) -> None:
    cases = load_cases(path)
    phrasings = [p for phrases in EXAMPLES.values() for p in phrases]
    catalogue = {p.lower().strip(" ?.!") for p in phrasings}
    verbatim = [c.id for c in cases if c.question.lower().strip(" ?.!") in catalogue]
    assert verbatim == [], "these cases copy a phrasing of brain.planner.EXAMPLES"
    # a phrasing names a role where a case names a code: "what does block <block> consist of" is the one paraphrased
    # as "what does block B012 consist of"
    patterns = [_phrasing(p) for p in phrasings]
    unknown = [
        c.id
        for c in cases
        if c.paraphrase_of is not None and not any(p.fullmatch(c.paraphrase_of.lower().strip(" ?.!")) for p in patterns)
    ]
    assert unknown == [], "paraphrase_of names no phrasing of brain.planner.EXAMPLES"


# ---- the planner alone ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def planner(demo_names: Lexicon) -> OfflinePlanner:
    """The offline planner as the brain makes it: codes, resources and zones looked up in the demo yard.

    The demo yard (`brain._planner_fit.DEMO_YARD`) is the one the case files' codes were written against
    (`shipbrain yard generate --parts 200000 --seed 7`).
    """
    return OfflinePlanner(names=demo_names)


def _accuracy_report(planner: OfflinePlanner, cases: list[QuestionCase], path: Path) -> tuple[float, str]:
    """Intent+entity accuracy over the cases, and the per-intent table with every miss."""
    misses = {c.id: (c, c.plan_mismatches(planner.plan(c.question))) for c in cases}
    misses = {k: v for k, v in misses.items() if v[1]}
    report = "\n".join(
        [accuracy_table(cases, misses), "misses:"]
        + [f"  {_where(c, path)} {c.question!r}: {'; '.join(why)}" for c, why in misses.values()]
    )
    return 1 - len(misses) / len(cases), report


@pytest.mark.parametrize("path", DEV_FILES, ids=[p.name for p in DEV_FILES])
def test_planner_accuracy(planner: OfflinePlanner, path: Path) -> None:
    accuracy, report = _accuracy_report(planner, load_cases(path), path)
    assert accuracy >= MIN_ACCURACY, f"dev {path.name}: {100 * accuracy:.1f} % < {100 * MIN_ACCURACY:.0f} %\n{report}"


@pytest.mark.skipif(HELDOUT_FILE is None, reason="no unstudied blind file (brain_questions_blind6.yaml, ...)")
def test_planner_accuracy_on_blind_questions(planner: OfflinePlanner) -> None:
    """The planner on questions its authors never saw: the measure of whether it generalises."""
    assert HELDOUT_FILE is not None
    cases = load_cases(HELDOUT_FILE)
    accuracy, report = _accuracy_report(planner, cases, HELDOUT_FILE)
    print(f"held-out {HELDOUT_FILE.name}: {100 * accuracy:.1f} %\n{report}")  # the table, pass or fail (pytest -s)
    floor = SCORED_ONCE.get(HELDOUT_FILE.name, HELDOUT_TARGET)
    assert accuracy >= floor - 1e-9, (
        f"held-out {HELDOUT_FILE.name}: {100 * accuracy:.1f} % < {100 * floor:.1f} %\n{report}"
    )
    if floor < HELDOUT_TARGET:
        print(f"KNOWN GAP: held-out {HELDOUT_FILE.name} is below the {100 * HELDOUT_TARGET:.0f} % target")


def test_planning_is_fast(planner: OfflinePlanner) -> None:
    planner.plan("warm up: the catalogue is embedded once per planner")
    started = time.perf_counter()
    for case in CASES:
        planner.plan(case.question)
    per_question = (time.perf_counter() - started) / len(CASES)
    assert per_question < 0.05, f"{1000 * per_question:.1f} ms per question"


# ---- the brain's answers ------------------------------------------------------------------------------


class References:
    """The numbers an answer must show, recomputed without the brain (see `NUMBER_REFERENCES`)."""

    def __init__(self, yard: Path, settings: Settings) -> None:
        self.yard = YardStore.open(yard)
        self.settings = settings
        self._schedule: Schedule | None = None
        self._welding: dict[str, pa.Table] = {}

    def _block(self, code: str) -> int:
        return int(self.yard.block_of([self.yard.node_of(code)])[0])

    def _members(self, code: str, role: str) -> int:
        node = self.yard.node_of(code)
        if role == "outfitting_item" and self.yard.role_of(node) == "block":
            # a block's items include those fitted on board after erection: production roots whose `block` names it
            return int(np.count_nonzero(self.yard.block_of(self.yard.nodes_of_role(role)) == node))
        return len(self.yard.members(node, kinds=[role]))

    def _weld(self, code: str) -> pa.Table:
        from adapters import Registry
        from adapters.welding import WeldingAdapter

        if code not in self._welding:
            joints = self.yard.members(self.yard.node_of(code), kinds=["joint"])
            rows = WeldingAdapter.yard_rows(self.yard, joints)
            self._welding[code] = Registry.load(self.settings).get("welding").predict(rows)
        return self._welding[code]

    def schedule(self) -> Schedule:
        from adapters import Registry
        from adapters.executor import BatchExecutor
        from adapters.scheduling import predicted_hours, request_from_yard, solve

        if self._schedule is None:
            executor = BatchExecutor(Registry.load(self.settings), backend="in-process", settings=self.settings)
            hours = predicted_hours(self.yard, executor)
            # one worker and a deterministic budget, as the brain solves it: the same request, the same schedule
            request = request_from_yard(self.yard, hours, time_limit_s=20, workers=1, deterministic_limit=5.0)
            self._schedule = solve(request)
        return self._schedule

    def value(self, reference: str, case: QuestionCase) -> float:
        yard = self.yard
        code = case.entities.codes[0] if case.entities.codes else ""
        if reference == "graph.upstream":
            return float(len(yard.upstream([yard.node_of(code)])))
        if reference == "graph.downstream":
            return float(len(yard.downstream([yard.node_of(code)])))
        if reference.startswith("graph.members."):
            return float(self._members(code, reference.removeprefix("graph.members.")))
        if reference == "graph.zone_items":
            # the items whose block (production ancestor, or the `block` an on-board item names) lies in the zone
            blocks = yard.role_table("block", ["zone"])
            zoned = blocks.filter(pc.equal(blocks.column("zone"), case.entities.zone)).column("node").to_numpy()
            items = yard.nodes_of_role("outfitting_item")
            return float(np.isin(yard.block_of(items), zoned).sum())
        if reference == "ndt.inspected":
            budget = case.entities.budget or 0.1
            return float(max(1, math.ceil(budget * self._members(code, "joint") - 1e-9)))
        if reference == "welding.hours":
            return float(np.sum(self._weld(code).column("hours").to_numpy()))
        if reference == "welding.expected_defects":
            return float(np.sum(self._weld(code).column("defect_probability").to_numpy()))
        if reference == "schedule.makespan":
            return float(self.schedule().makespan_days)
        if reference == "schedule.erection_day":
            # the work package that erects the block: the block's own `work_package` field
            erects = yard.code_of(int(yard.field_of("block", "work_package", [self._block(code)])[0]))
            return float(next(t.start_day for t in self.schedule().tasks if t.code == erects))
        raise AssertionError(f"no reference {reference!r} in this test; see evals.questions.NUMBER_REFERENCES")


@pytest.fixture(scope="module")
def references(small_yard: Path, settings: Settings) -> References:
    return References(small_yard, settings)


def _scheduling_has_repair() -> bool:
    import adapters.scheduling

    return hasattr(adapters.scheduling, "repair") and hasattr(adapters.scheduling, "ResourceDowntime")


def _check_answer(case: QuestionCase, answer: Answer, references: References) -> list[str]:
    if case.intent == "unknown":
        return [f"an unknown question ran {[r.tool for r in answer.results]}"] if answer.results else []
    if not answer.results:
        return [f"no tool ran ({answer.plan.reason})"]
    return _check_result(case, answer, references) + _check_status(case, answer)


def _check_result(case: QuestionCase, answer: Answer, references: References) -> list[str]:
    wrong: list[str] = []
    first = answer.results[0]
    if case.tool is not None and first.tool != case.tool:
        wrong.append(f"tool: expected {case.tool}, ran {first.tool}")
    if case.no_error and any(r.error for r in answer.results):
        wrong.append(f"error: {[r.error for r in answer.results if r.error]}")
    if not case.no_error and first.error is None:
        wrong.append("expected the tool to refuse, it answered")
    for doc in case.cites:
        if not any(s.startswith(f"{doc} \u00a7 ") for s in answer.sources):
            wrong.append(f"cites: {doc} not among {answer.sources}")
    wrong += [f"summary lacks {s!r}: {first.summary!r}" for s in case.summary_contains if s not in first.summary]
    for name, reference in case.numbers.items():
        want = references.value(reference, case)
        got = first.numbers.get(name)
        if got is None or got != pytest.approx(want, rel=1e-6):
            wrong.append(f"numbers.{name}: expected {want} ({reference}), got {got}")
    return wrong


def _check_status(case: QuestionCase, answer: Answer) -> list[str]:
    if case.intent != "adopt":
        return [] if answer.status == "answered" else [f"status: {answer.status}"]
    if answer.status != "waiting_for_approval" or answer.approval is None:
        return [f"adopt: expected to wait for approval, status {answer.status}"]
    if answer.approval.tool != "adopt_plan" or answer.approval.decision != "pending":
        return [f"adopt: the pending change is {answer.approval.tool} ({answer.approval.decision})"]
    return []


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_answer(case: QuestionCase, brain: Brain, references: References, planner: OfflinePlanner) -> None:
    if case.plan_mismatches(planner.plan(case.question)):
        pytest.skip("the planner misreads this question: test_planner_accuracy counts it")
    if case.intent in ("whatif", "adopt") and not _scheduling_has_repair():
        pytest.skip("what-ifs need adapters.scheduling.repair and ResourceDowntime, not there yet")
    answer = brain.ask(case.question)
    wrong = _check_answer(case, answer, references)
    if case.known_issue is not None:
        assert wrong, f"{_where(case)}: the known issue is fixed ({case.known_issue}); remove known_issue"
        pytest.xfail(f"known issue: {case.known_issue}")
    assert wrong == [], f"{_where(case)} {case.question!r}:\n  " + "\n  ".join(wrong) + f"\n{answer.answer}"


def test_adopt_questions_change_nothing_without_approval(brain: Brain) -> None:
    for case in [c for c in CASES if c.intent == "adopt"][:2]:
        if not _scheduling_has_repair():
            pytest.skip("what-ifs need adapters.scheduling.repair and ResourceDowntime, not there yet")
        brain.ask(case.question)
    assert list(brain.context.plan.planbook.events()) == []


# ---- the loader refuses bad files -------------------------------------------------------------------------

GOOD = """\
- id: ok-1
  split: dev
  intent: lookup
  question: "What is B001?"
  entities: {codes: [B001]}
"""


@pytest.mark.parametrize(
    ("case", "line", "says"),
    [
        ('- id: bad\n  split: dev\n  intent: weather\n  question: "sunny?"\n', 8, "intent"),
        ("- id: bad\n  split: dev\n  intent: lookup\n", 6, "question: Field required"),
        ('- id: bad\n  split: dev\n  intent: lookup\n  question: "B001"\n  no_error: maybe\n', 10, "no_error"),
        ('- id: bad\n  split: dev\n  intent: lookup\n  question: "B001"\n  entities: {days: soon}\n', 10, "days"),
        ('- id: bad\n  split: dev\n  intent: lookup\n  question: "B001"\n  colour: red\n', 10, "colour"),
        ('- id: bad\n  split: test\n  intent: lookup\n  question: "B001"\n', 7, "split"),
        ('- id: bad\n  split: dev\n  intent: lookup\n  question: "B001"\n  tool: teleport\n', 10, "no tool 'teleport'"),
        (
            '- id: bad\n  split: dev\n  intent: upstream\n  question: "x"\n  tool: upstream\n'
            "  numbers: {nodes: graph.sideways}\n",
            11,
            "numbers.nodes",
        ),
        ('- id: ok-1\n  split: dev\n  intent: lookup\n  question: "again"\n', 6, "also used on line 1"),
        ('- id: bad\n  split: dev\n  intent: lookup\n  question: "B001"\n  entities: {codes: [b001]}\n', 10, "b001"),
        ('- id: bad\n  split: dev\n  intent: unknown\n  refusal: rude\n  question: "x"\n', 9, "refusal"),
        (
            '- id: bad\n  split: dev\n  intent: lookup\n  refusal: destructive\n  question: "B001"\n',
            6,
            "only an unknown question is refused",
        ),
        (
            '- id: bad\n  split: dev\n  intent: ndt_plan\n  question: "B001"\n  entities: {budget_joints: many}\n',
            10,
            "budget_joints",
        ),
    ],
    ids=[
        "unknown-intent",
        "missing-field",
        "wrong-type",
        "wrong-entity-type",
        "unknown-field",
        "bad-split",
        "unknown-tool",
        "unknown-reference",
        "repeated-id",
        "lower-case-code",
        "unknown-refusal",
        "refusal-of-a-placed-intent",
        "wrong-new-entity-type",
    ],
)
def test_the_loader_names_the_file_and_line(tmp_path: Path, case: str, line: int, says: str) -> None:
    path = tmp_path / "cases.yaml"
    path.write_text(GOOD + case)
    with pytest.raises(CaseFileError, match=rf"cases\.yaml:{line}: .*{says}") as caught:
        load_cases(path)
    assert caught.value.line == line


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("", 1, "no cases"),
        ("id: lonely\n", 1, "a YAML list of cases"),
        ("- id: x\n  question: [unclosed\n", 3, "not valid YAML"),
        ("- just a string\n", 1, "a mapping of fields"),
        ("- id: x\n  id: y\n", 2, "'id' is given twice"),
    ],
)
def test_the_loader_refuses_files_that_are_not_case_lists(tmp_path: Path, text: str, line: int, says: str) -> None:
    path = tmp_path / "cases.yaml"
    path.write_text(text)
    with pytest.raises(CaseFileError, match=rf"cases\.yaml:{line}: .*{says}"):
        load_cases(path)


def test_a_refusal_of_another_kind_is_a_mismatch() -> None:
    from brain.plan import Plan

    case = QuestionCase(id="r", split="dev", intent="unknown", refusal="destructive", question="delete B012")
    refused = Plan(intent="unknown", confidence=0.0, reason="...", refusal="out_of_scope")
    assert case.plan_mismatches(refused) == ["refusal: expected destructive, got out_of_scope"]
    assert case.plan_mismatches(refused.model_copy(update={"refusal": "destructive"})) == []


def test_a_good_file_loads_with_lines(tmp_path: Path) -> None:
    path = tmp_path / "cases.yaml"
    path.write_text(GOOD)
    (case,) = load_cases(path)
    assert case.line == 1 and case.entities.codes == ["B001"] and case.tool is None
