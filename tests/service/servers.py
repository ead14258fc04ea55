"""The real `shipbrain serve` in a subprocess: start it on a free port, wait until it answers, kill it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.service.conftest import SECRET, SLEEP

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_argv() -> list[str]:
    """`shipbrain serve` once the root command has it; `python -m workflows.service serve` until then."""
    from importlib.metadata import entry_points

    from brain.cli import app

    names = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    names |= {ep.name for ep in entry_points(group="shipbrain.commands")}
    if "serve" in names:
        return [str(Path(sys.executable).with_name("shipbrain")), "serve"]
    return [sys.executable, "-m", "workflows.service", "serve"]


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path
    ready_s: float

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)
        self.process.wait(30)


def start(data_dir: Path, *extra: str, timeout: float = 120.0) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "SHIPBRAIN_DATA_DIR": str(data_dir),
        "SHIPBRAIN_DEMO_PARTS": "20000",
        "SHIPBRAIN_WORKFLOW_MODULES": f'["{SLEEP}"]',
        "SHIPBRAIN_WEBHOOK_SECRET": SECRET,
        "SHIPBRAIN_POLL_S": "0.1",
        "PYTHONPATH": str(ROOT),
    }
    log = data_dir.parent / f"serve-{port}.log"
    started = time.monotonic()
    with log.open("wb") as sink:
        process = subprocess.Popen([*serve_argv(), "--port", str(port), *extra], cwd=ROOT, env=env, stdout=sink,
                                   stderr=subprocess.STDOUT)  # fmt: skip
    server = Server(process, f"http://127.0.0.1:{port}", log, 0.0)
    with httpx.Client(timeout=2) as client:
        while True:
            if process.poll() is not None:
                raise AssertionError(f"the server exited with {process.returncode}:\n{server.output()}")
            try:
                if client.get(f"{server.url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() - started > timeout:
                server.kill()
                raise AssertionError(f"the server did not answer in {timeout} s:\n{server.output()}")
            time.sleep(0.05)
    server.ready_s = time.monotonic() - started
    return server
