"""Batch inference on Ray: a real two-node cluster on this machine, joined through RAY_ADDRESS.

Each job runs in its own process (tests/e2e/ray_job.py), as a user's would, so Ray's global state
never leaks between tests. The nodes listen on loopback aliases (127.0.0.2, 127.0.0.3): Ray
replaces 127.0.0.1 with the machine's outward address, and these tests talk to this machine only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge import YardSpec, generate_store
from tests.e2e.servers import free_port

pytestmark = pytest.mark.slow

RAY = str(Path(sys.executable).parent / "ray")
JOB = Path(__file__).with_name("ray_job.py")
REPO = Path(__file__).resolve().parents[2]
# Ray 2.5x asks for a token on clusters made by `ray start`; a loopback test cluster needs none.
BASE_ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(REPO)}


@pytest.fixture(scope="module")
def yard(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ray") / "yard"
    generate_store(YardSpec(parts=100_000, seed=21), out)
    return out


def _ray(*args: str) -> None:
    subprocess.run([RAY, *args], env=BASE_ENV, check=True, capture_output=True, timeout=180)


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A head node on 127.0.0.2 and a worker node on 127.0.0.3, one CPU each."""
    port = free_port()
    common = ["--num-cpus=1", "--disable-usage-stats"]
    try:
        _ray("start", "--head", "--node-ip-address=127.0.0.2", f"--port={port}", "--include-dashboard=false", *common)
        _ray("start", f"--address=127.0.0.2:{port}", "--node-ip-address=127.0.0.3", *common)
        yield f"127.0.0.2:{port}"
    finally:
        subprocess.run([RAY, "stop", "--force"], env=BASE_ENV, capture_output=True, timeout=120, check=False)


def run_job(yard: Path, *args: str, address: str | None = None) -> dict[str, object]:
    env = {**BASE_ENV, "SHIPBRAIN_RAY_NODE_IP": "127.0.0.2"}
    if address:
        env["RAY_ADDRESS"] = address
    else:
        env.pop("RAY_ADDRESS", None)
    done = subprocess.run(
        [sys.executable, str(JOB), str(yard), *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # Ray's own notices (a worker died, a task retried) share stdout; the job's answer is one JSON line
    line = next(x for x in reversed(done.stdout.splitlines()) if x.startswith('{"rows"'))
    result: dict[str, object] = json.loads(line)
    return result


def test_two_node_cluster_gives_the_same_predictions_row_for_row(yard: Path, cluster: str) -> None:
    result = run_job(yard, address=cluster)
    assert result["backend"] == "ray"
    assert result["nodes"] == 2 and result["worker_nodes"] == 2  # one model actor on each node
    assert result["result_rows"] == result["rows"]
    assert result["equal"] is True  # bit for bit, same order


def test_a_worker_killed_mid_batch_loses_and_duplicates_no_row(yard: Path, cluster: str) -> None:
    result = run_job(yard, "--chunk-rows", "5000", "--kill-after-rows", "20000", address=cluster)
    assert result["killed"] and result["restarted"] is True
    assert result["chunks"] == -(-int(result["rows"]) // 5000)  # type: ignore[call-overload]
    assert result["result_rows"] == result["rows"]
    assert result["equal"] is True
