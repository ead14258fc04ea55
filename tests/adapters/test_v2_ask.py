"""`shipbrain ask` exits 3 when a tool its answer needed could not answer (issue 14, finding 7).

The welding model is configured over v2 at a port of 127.0.0.1 where nothing listens: a model server that is down.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from adapters.serving.launch import free_port
from brain.cli import EXIT_UNANSWERED

SHIPBRAIN = str(Path(sys.executable).parent / "shipbrain")
QUESTION = "What is the defect risk of assembly B004-A01?"


def ask(yard: Path, data_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "SHIPBRAIN_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [SHIPBRAIN, "ask", QUESTION, "--yard", str(yard), *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_ask_exits_3_when_a_model_could_not_answer(small_yard: Path, tmp_path: Path) -> None:
    (tmp_path / "adapters.toml").write_text(
        f'[models.welding]\ntransport = "v2"\nurl = "http://127.0.0.1:{free_port()}"\n'
        "policy = { max_attempts = 1, connect_timeout_s = 1 }\n"
    )
    down = ask(small_yard, tmp_path)
    assert down.returncode == EXIT_UNANSWERED == 3, down.stderr
    assert "I could not answer (weld_risk)" in down.stdout and "cannot reach" in down.stdout
    as_json = ask(small_yard, tmp_path, "--json")
    assert as_json.returncode == 3 and '"error": "model' in as_json.stdout


def test_ask_exits_0_when_answered(small_yard: Path, tmp_path: Path) -> None:
    answered = ask(small_yard, tmp_path)
    assert answered.returncode == 0, answered.stderr + answered.stdout
    assert "I could not answer" not in answered.stdout


def test_the_exit_code_is_in_the_help() -> None:
    helped = subprocess.run([SHIPBRAIN, "ask", "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert "3 a tool the answer needed could not answer" in " ".join(helped.stdout.split())
