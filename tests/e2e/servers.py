"""Real servers for end-to-end transport tests: Seldon MLServer serving the welding model, and a fault proxy.

MLServer runs from its own virtual environment (`.venv-mlserver`, made by
`bash tests/e2e/install_mlserver.sh`), serving `adapters.serving.mlserver_onnx.OnnxRuntime` on a
free port of 127.0.0.1. Faults are injected by `FaultProxy`, a small HTTP server in front of it, so
the server under test stays unmodified: the proxy can delay answers or answer 500 instead of
forwarding, and counts the requests it received.

Test modules use these fixtures by naming this module in `pytest_plugins`, and import its helpers
directly. PYTEST_DONT_REWRITE: this module asserts nothing, and a module imported before pytest
registers it as a plugin cannot have its asserts rewritten (pytest warns, and warnings are errors).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
MLSERVER_BIN = REPO_ROOT / ".venv-mlserver" / "bin" / "mlserver"
WELDING_FEATURES = 10
"""Columns of the welding model's `features` input (see `adapters.welding.WELD_FEATURES`)."""
READY_TIMEOUT_S = 60.0


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def welding_onnx() -> Path:
    """The shipped welding model: the same file the in-process adapter runs."""
    path = REPO_ROOT / "adapters" / "models" / "welding.onnx"
    assert path.is_file(), f"{path} is missing: run `shipbrain models train`"
    return path


@dataclass(frozen=True)
class MLServer:
    """A running MLServer: where it answers and what it logged."""

    url: str
    model: str
    log_path: Path
    ready_after_s: float
    """Seconds from process start to `/v2/health/ready` answering 200."""


def _write_repository(root: Path, model: str, onnx_path: Path) -> tuple[int, int]:
    http_port, grpc_port = free_port(), free_port()
    settings = {
        "debug": False,
        # MLServer's default worker pool crashes under uvloop 0.22+ ("There is no current event loop").
        "parallel_workers": 0,
        "host": "127.0.0.1",
        "http_port": http_port,
        # gRPC cannot be switched off: give it a free port so parallel runs do not collide.
        "grpc_port": grpc_port,
        "metrics_endpoint": None,
        "load_models_at_startup": True,
    }
    (root / "settings.json").write_text(json.dumps(settings))
    model_dir = root / model
    model_dir.mkdir()
    model_settings = {
        "name": model,
        "platform": "onnxruntime",
        "implementation": "adapters.serving.mlserver_onnx.OnnxRuntime",
        "parameters": {"uri": str(onnx_path)},
    }
    (model_dir / "model-settings.json").write_text(json.dumps(model_settings))
    return http_port, grpc_port


def _wait_ready(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(
                    f"MLServer exited with {process.returncode} before it was ready; its log:\n{log_path.read_text()}",
                    pytrace=False,
                )
            try:
                if client.get(f"{url}/v2/health/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass  # not listening yet
            time.sleep(0.05)
    pytest.fail(f"MLServer not ready after {READY_TIMEOUT_S:.0f} s; its log:\n{log_path.read_text()}", pytrace=False)


@pytest.fixture(scope="session")
def mlserver(welding_onnx: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MLServer]:
    """Seldon MLServer serving `welding_onnx` as model "welding" on 127.0.0.1, for the whole session."""
    if not MLSERVER_BIN.exists():
        pytest.fail(
            f"MLServer is not installed ({MLSERVER_BIN} is missing): run `bash tests/e2e/install_mlserver.sh`",
            pytrace=False,
        )
    root = tmp_path_factory.mktemp("mlserver")
    http_port, _ = _write_repository(root, "welding", welding_onnx)
    log_path = root / "mlserver.log"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    started = time.monotonic()
    with log_path.open("wb") as log:
        # cwd=root: MLServer writes its .envs and .metrics folders into the working directory.
        process = subprocess.Popen(
            [str(MLSERVER_BIN), "start", str(root)],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{http_port}"
    try:
        _wait_ready(process, url, log_path)
        yield MLServer(url=url, model="welding", log_path=log_path, ready_after_s=time.monotonic() - started)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out has hung up on a delayed answer: expected, not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FaultProxy:
    """An HTTP server on 127.0.0.1 that forwards to `upstream`, unless told to delay or fail.

    Args:
        upstream: Base URL to forward to.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.delay_s = 0.0
        """Seconds to wait before forwarding each request."""
        self.hits = 0
        """Requests received so far."""
        self._failures_left = 0
        self._fail_status = 500
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._client = httpx.Client(timeout=60.0)
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fault-proxy", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """Where the proxy listens."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer `status` to the next `count` requests instead of forwarding them."""
        with self._lock:
            self._failures_left, self._fail_status = count, status

    def fail_always(self, status: int = 500) -> None:
        """Answer `status` to every request from now on."""
        self.fail_next(1 << 30, status)

    def stop(self) -> None:
        """Stop serving; delayed requests are dropped."""
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._client.close()

    def _next_action(self) -> int | None:
        """The status to fail with, or None to forward."""
        with self._lock:
            self.hits += 1
            if self._failures_left > 0:
                self._failures_left -= 1
                return self._fail_status
            return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._relay()

            def do_POST(self) -> None:
                self._relay()

            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                fail_status = proxy._next_action()
                if proxy._stopping.wait(proxy.delay_s):
                    return
                if fail_status is not None:
                    self._answer(fail_status, json.dumps({"error": f"injected fault: HTTP {fail_status}"}).encode())
                    return
                headers = {"content-type": self.headers.get("content-type", "application/json")}
                upstream = proxy._client.request(
                    self.command, proxy.upstream + self.path, content=body, headers=headers
                )
                self._answer(upstream.status_code, upstream.content)

            def _answer(self, status: int, content: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the test's own assertions say what happened

        return Handler


@pytest.fixture
def fault_proxy(mlserver: MLServer) -> Iterator[FaultProxy]:
    """A `FaultProxy` in front of the session's MLServer, fresh for each test."""
    proxy = FaultProxy(mlserver.url)
    try:
        yield proxy
    finally:
        proxy.stop()
