"""`shipbrain ask`'s exit code says whose failure an unanswered question was (issue 14, finding 7, and its review).

3 when a model a tool needed could not answer: the welding model is configured over v2 at a port of 127.0.0.1 where
nothing listens (a model server that is down). 2 when a tool refused what the question named (a code the yard does not
have), the model being fine. The codes asked about are taken from the yard the test builds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.serving.launch import free_port
from brain.cli import EXIT_REFUSED, EXIT_UNANSWERED
from knowledge.errors import UnknownCodeError
from knowledge.store import YardStore

SHIPBRAIN = str(Path(sys.executable).parent / "shipbrain")


@pytest.fixture(scope="module")
def assembly(small_yard: Path) -> str:
    """An assembly of the test's yard."""
    store = YardStore.open(small_yard)
    (code,) = store.codes_of(store.nodes_of_kind("assembly")[:1])
    return code


def ask(yard: Path, data_dir: Path, code: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "SHIPBRAIN_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [SHIPBRAIN, "ask", f"What is the defect risk of assembly {code}?", "--yard", str(yard), *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_ask_exits_3_when_a_model_could_not_answer(small_yard: Path, tmp_path: Path, assembly: str) -> None:
    (tmp_path / "adapters.toml").write_text(
        f'[models.welding]\ntransport = "v2"\nurl = "http://127.0.0.1:{free_port()}"\n'
        "policy = { max_attempts = 1, connect_timeout_s = 1 }\n"
    )
    down = ask(small_yard, tmp_path, assembly)
    assert down.returncode == EXIT_UNANSWERED == 3, down.stderr
    assert "I could not answer (weld_risk)" in down.stdout and "cannot reach" in down.stdout
    as_json = ask(small_yard, tmp_path, assembly, "--json")
    assert as_json.returncode == 3 and '"error": "model' in as_json.stdout and '"error_kind": "model"' in as_json.stdout


def test_ask_exits_2_when_the_question_names_what_the_yard_lacks(
    small_yard: Path, tmp_path: Path, assembly: str
) -> None:
    """Review finding 2: a mistyped code is the asker's mistake, not a model failure (it exited 3)."""
    mistyped = assembly + "9"
    with pytest.raises(UnknownCodeError):  # not in the yard
        YardStore.open(small_yard).nodes_of([mistyped])
    refused = ask(small_yard, tmp_path, mistyped)
    assert refused.returncode == EXIT_REFUSED == 2, refused.stderr + refused.stdout
    assert "I could not answer (weld_risk)" in refused.stdout and repr(mistyped) in refused.stdout
    as_json = ask(small_yard, tmp_path, mistyped, "--json")
    assert as_json.returncode == 2 and '"error_kind": "input"' in as_json.stdout


def test_ask_exits_0_when_answered(small_yard: Path, tmp_path: Path, assembly: str) -> None:
    answered = ask(small_yard, tmp_path, assembly)
    assert answered.returncode == 0, answered.stderr + answered.stdout
    assert "I could not answer" not in answered.stdout


def test_the_exit_codes_are_in_the_help() -> None:
    helped = subprocess.run([SHIPBRAIN, "ask", "--help"], capture_output=True, text=True, timeout=60, check=False)
    text = " ".join(helped.stdout.split())
    assert "3 a model a tool needed could not answer" in text
    assert "2 a refused command line or input, a question a tool refused" in text
