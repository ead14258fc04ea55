"""The supervisor answering planners' questions end to end: offline planner, real tools, SQLite checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest

from adapters import Registry
from adapters.welding import WeldingAdapter
from brain.errors import UnknownThreadError
from brain.planner import OfflinePlanner
from brain.supervisor import Brain
from brain.tools import run_tool
from knowledge import InputError, Settings
from knowledge.store import YardStore


@pytest.mark.parametrize(
    ("question", "intent", "codes"),
    [
        ("Which joints of block B002 need NDT?", "ndt_plan", ["B002"]),
        ("What must be done before B003 can be erected?", "upstream", ["B003"]),
        ("If part b001-a01-s01-p0002 is 3 days late, what slips?", "whatif", ["B001-A01-S01-P0002"]),
        ("What slips if part B001-A01-S01-P0002 is late?", "downstream", ["B001-A01-S01-P0002"]),
        ("What is the defect risk of assembly B004-A01?", "weld_risk", ["B004-A01"]),
        ("What does the WPS say about preheat?", "procedure", []),
        ("Where should the inspectors look in B005?", "ndt_plan", ["B005"]),  # no rule: by similarity
        ("When will B007 be erected?", "schedule", ["B007"]),
        ("What is the critical path of the ship?", "critical_path", []),
        ("What's for lunch?", "unknown", []),
    ],
)
def test_planner_intents_and_entities(brain: Brain, question: str, intent: str, codes: list[str]) -> None:
    plan = OfflinePlanner(names=brain.names).plan(question)  # codes are found by lookup in the yard's lexicon
    assert plan.intent == intent, plan.reason
    assert plan.codes == codes


def test_ndt_answer_is_the_models_riskiest_joints(brain: Brain, small_yard: Path, settings: Settings) -> None:
    answer = brain.ask("Which joints of block B002 need NDT? Budget 5 %.")
    result = answer.results[0]
    assert result.tool == "ndt_plan" and result.args["budget"] == 0.05
    # recompute independently: the welding model over the block's joints, riskiest 5 % first
    y = YardStore.open(small_yard)
    rows = WeldingAdapter.yard_rows(y, y.members(y.node_of("B002"), kinds=["joint"]))
    risk = Registry.load(settings).get("welding").predict(rows).column("defect_probability").to_numpy()
    chosen = set(np.array(y.codes_of(rows.column("node").to_numpy()))[np.argsort(-risk, kind="stable")[:10]])
    assert {r["code"] for r in result.rows[:10]} == chosen
    assert result.numbers["inspected"] == np.ceil(0.05 * len(risk))
    assert "welding model" in " ".join(answer.sources)
    assert str(result.rows[0]["code"]) in answer.answer


def test_dependency_answers_match_the_graph(brain: Brain, small_yard: Path) -> None:
    y = YardStore.open(small_yard)
    answer = brain.ask("What must be done before B003?")
    assert answer.results[0].numbers["nodes"] == len(y.upstream([y.node_of("B003")]))
    # in a planner's words: counted by kind, with the total (issue 11 #11: answers said "nodes")
    assert f"({len(y.upstream([y.node_of('B003')])):,} in all)" in answer.answer and "nodes" not in answer.answer


def test_erection_dates_come_from_the_scheduler(brain: Brain, small_yard: Path, settings: Settings) -> None:
    from adapters.executor import BatchExecutor
    from adapters.scheduling import predicted_hours, request_from_yard, solve
    from tests.helpers.schedule_validator import violations

    answer = brain.ask("When will B004 be erected?")
    result = answer.results[0]
    # the same request solved independently (one worker, a deterministic budget: the same schedule)
    y = YardStore.open(small_yard)
    hours = predicted_hours(y, BatchExecutor(Registry.load(settings), backend="in-process", settings=settings))
    request = request_from_yard(y, hours, time_limit_s=20, workers=1, deterministic_limit=5.0)
    schedule = solve(request)
    assert violations(request, schedule) == []
    erection = next(t for t in schedule.tasks if t.code == "WP-B004-ERE")
    assert result.numbers["erection_day"] == erection.start_day
    assert result.numbers["makespan_days"] == schedule.makespan_days
    assert f"B004 is erected on day {erection.start_day}" in answer.answer


def test_procedure_answers_cite_documents(brain: Brain) -> None:
    answer = brain.ask("What preheat does the WPS require for thick high-strength plate?")
    assert answer.results[0].tool == "search_documents"
    assert answer.sources and all(" \u00a7 " in s for s in answer.sources)
    assert answer.sources[0] in answer.answer


def test_unknown_questions_get_what_it_can_do(brain: Brain) -> None:
    answer = brain.ask("What's for lunch?")
    assert answer.results == [] and "I can answer about" in answer.answer


def test_an_unknown_code_is_a_clear_answer_not_a_crash(brain: Brain) -> None:
    answer = brain.ask("What must be done before B999?")
    assert "I could not answer" in answer.answer and "blocks run B001-B012" in answer.answer


def test_threads_are_checkpointed_and_resumable(brain: Brain, small_yard: Path, settings: Settings) -> None:
    first = brain.ask("What is B001-A02?")
    brain.ask("What must be done before B001-A02?", thread_id=first.thread_id)
    again = Brain(small_yard, settings)  # a new process would open the same SQLite file
    try:
        assert again.history(first.thread_id) == ["What is B001-A02?", "What must be done before B001-A02?"]
        with pytest.raises(UnknownThreadError, match="no thread 'nope'"):
            again.history("nope")
        with pytest.raises(UnknownThreadError, match="leave the thread out"):
            again.ask("What is B001?", thread_id="nope")
        with pytest.raises(InputError, match="a thread id is"):
            again.ask("What is B001?", thread_id="../../etc/passwd")
    finally:
        again.close()


def test_events_stream_plan_then_tools_then_answer(brain: Brain) -> None:
    nodes = [node for node, _update in brain.stream("How risky is the welding in B004?")]
    assert nodes == ["plan", "act", "plan", "answer", "thread"]


@pytest.mark.parametrize(
    ("question", "says"), [("", "empty"), ("   ", "empty"), ("x" * 4001, "limit is 4,000"), (42, "is text")]
)
def test_bad_questions(brain: Brain, question: object, says: str) -> None:
    with pytest.raises(InputError, match=says):
        brain.ask(question)  # type: ignore[arg-type]


def test_ask_from_the_command_line(small_yard: Path, tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    shipbrain = str(Path(sys.executable).parent / "shipbrain")
    env = {**os.environ, "SHIPBRAIN_DATA_DIR": str(tmp_path)}
    quiet = {"capture_output": True, "text": True, "env": env, "timeout": 120, "check": False}
    done = subprocess.run([shipbrain, "ask", "what waits on B002?", "--yard", str(small_yard), "--json"], **quiet)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    y = YardStore.open(small_yard)
    assert answer["plan"]["intent"] == "downstream"
    assert answer["results"][0]["numbers"]["nodes"] == len(y.downstream([y.node_of("B002")]))
    traced = subprocess.run([shipbrain, "ask", "", "--yard", str(small_yard)], **quiet)
    assert traced.returncode == 2 and "the question is empty" in traced.stderr and "Traceback" not in traced.stderr


def test_whatif_slips_match_an_independent_repair(brain: Brain, small_yard: Path, settings: Settings) -> None:
    from adapters.executor import BatchExecutor
    from adapters.scheduling import ResourceDowntime, predicted_hours, repair, request_from_yard, solve
    from tests.helpers.schedule_validator import violations

    answer = brain.ask("If panel line 1 is down for 6 days from day 4, which erections slip?")
    result = answer.results[0]
    assert result.tool == "what_if" and result.args["resource"] == "PL-1" and result.args["days"] == 6
    y = YardStore.open(small_yard)
    hours = predicted_hours(y, BatchExecutor(Registry.load(settings), backend="in-process", settings=settings))
    kwargs = {"time_limit_s": 20, "workers": 1, "deterministic_limit": 5.0}
    base = solve(request_from_yard(y, hours, **kwargs))  # type: ignore[arg-type]
    request = request_from_yard(y, hours, downtimes=[ResourceDowntime(resource="PL-1", start_day=4, days=6)], **kwargs)  # type: ignore[arg-type]
    fixed = repair(request, base)
    assert violations(request, fixed) == []
    was = {t.code: t.start_day for t in base.tasks}
    expected = {t.code[3:-4]: t.start_day - was[t.code] for t in fixed.tasks if t.code.endswith("-ERE")}
    assert {r["block"]: r["slip_days"] for r in result.rows} == {b: d for b, d in expected.items() if d}
    assert result.numbers["makespan_days_after"] == fixed.makespan_days
    assert answer.plan.entities.start_day == 4


def test_whatif_without_a_duration_asks_for_one(brain: Brain) -> None:
    answer = brain.ask("What if panel line 2 goes down?")
    assert answer.results == [] and "how long" in answer.answer


def test_any_registered_model_runs_over_a_code_through_the_executor(brain: Brain, small_yard: Path) -> None:
    result = run_tool(brain.context, "predict", {"model": "welding", "code": "B002-A01"})
    y = YardStore.open(small_yard)
    joints = y.members(y.node_of("B002-A01"), kinds=["joint"])
    mine = WeldingAdapter.yard_rows(y, joints)
    expected = brain.context.registry.get("welding").predict(mine)
    assert result.numbers["rows"] == len(joints)
    assert result.numbers["hours_sum"] == pytest.approx(float(pc.sum(expected.column("hours")).as_py()), rel=1e-6)
    assert result.rows[0]["defect_probability"] == pytest.approx(
        float(pc.max(expected.column("defect_probability")).as_py())
    )
    with pytest.raises(InputError, match="not parts of the graph|for model 'scheduling' to score"):
        run_tool(brain.context, "predict", {"model": "scheduling", "code": "B002"})
    with pytest.raises(Exception, match="known models: outfitting, scheduling, welding"):
        run_tool(brain.context, "predict", {"model": "nope", "code": "B002"})


def test_weld_risk_by_assembly_adds_up_to_the_block(brain: Brain, small_yard: Path) -> None:
    result = brain.ask("How risky is the welding in B003?").results[0]
    y = YardStore.open(small_yard)
    groups = {r["assembly"]: r for r in result.breakdown}
    assert sum(r["joints"] for r in result.breakdown) == result.numbers["joints"]
    assert sum(r["expected_defects"] for r in result.breakdown) == pytest.approx(
        result.numbers["expected_defects"], abs=0.01 * len(groups)
    )
    for code, row in groups.items():
        if code != "block joints":  # each assembly's joints are the joints the graph says it holds
            assert row["joints"] == len(y.members(y.node_of(code), kinds=["joint"]))
    assert [r["expected_defects"] for r in result.breakdown] == sorted(
        (r["expected_defects"] for r in result.breakdown), reverse=True
    )
