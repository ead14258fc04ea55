"""The real `shipbrain serve` in a subprocess for the tests: a 20,000-part demo yard and the test workflow."""

from __future__ import annotations

import os
from pathlib import Path

from tests.service.conftest import SECRET, SLEEP
from workflows.service.launch import LaunchedServer, ServerStartError
from workflows.service.launch import start as launch

__all__ = ["ROOT", "Server", "start"]

ROOT = Path(__file__).resolve().parents[2]
Server = LaunchedServer


def start(data_dir: Path, *extra: str, timeout: float = 120.0, env: dict[str, str] | None = None) -> Server:
    """`shipbrain serve *extra` on `data_dir`, ready; its log is `serve-PORT.log` beside `data_dir`.

    The server finds the test workflow (`tests.service.sleepy_workflow`) through `PYTHONPATH`, signs webhooks
    with the tests' secret to loopback receivers (allowed explicitly) and polls for queued runs every 0.1 s; `env`
    adds to (or overrides) its environment.
    """
    environment = {
        **os.environ,
        "SHIPBRAIN_DEMO_PARTS": "20000",
        "SHIPBRAIN_WORKFLOW_MODULES": f'["{SLEEP}"]',
        "SHIPBRAIN_WEBHOOK_SECRET": SECRET,
        "SHIPBRAIN_POLL_S": "0.1",
        "SHIPBRAIN_WEBHOOK_ALLOW": "127.0.0.1",  # the tests' webhook receivers listen on loopback
        "PYTHONPATH": str(ROOT),
        **(env or {}),
    }
    try:
        return launch(data_dir, *extra, env=environment, cwd=ROOT, log_dir=data_dir.parent, timeout_s=timeout)
    except ServerStartError as exc:
        raise AssertionError(str(exc)) from exc
