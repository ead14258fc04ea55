"""Real v2 servers for end-to-end transport tests (MLServer, Triton, KServe serving the welding model), a fault proxy.

Each server runs from its own virtual environment (`bash tests/e2e/install_mlserver.sh`, `install_triton.sh`,
`install_kserve.sh` make them), started on a free port of 127.0.0.1 by `adapters.serving.launch` and kept for
the whole session: fixtures `mlserver`, `triton`, `kserve` (each a `RunningServer`; a missing environment fails
the test with the command that installs it, never skips it). Every server also serves the echo models
(`ECHO_MODELS`), and Triton the welding model under a second name with a small `max_batch_size`
(`RunningServer.max_batch_sizes`). Faults are injected by `FaultProxy`, a small HTTP server in front of a
server, so the server under test stays unmodified: the proxy can delay answers or answer 500 instead of
forwarding, and counts the requests it received.

Test modules use these fixtures by naming this module in `pytest_plugins`, and import its helpers
directly. PYTEST_DONT_REWRITE: this module asserts nothing, and a module imported before pytest
registers it as a plugin cannot have its asserts rewritten (pytest warns, and warnings are errors).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.client import HTTPMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.serving.launch import (
    ECHO_MODELS,
    REPO_ROOT,
    LaunchError,
    RunningServer,
    ServerKind,
    free_port,
    launch,
)
from adapters.transports import CallPolicy

__all__ = [
    "ECHO_MODELS",
    "FAST",
    "REPO_ROOT",
    "WELDING_FEATURES",
    "FaultProxy",
    "MLServer",
    "RunningServer",
    "free_port",
    "start_server",
]

WELDING_FEATURES = 10
"""Columns of the welding model's `features` input (see `adapters.welding.WELD_FEATURES`)."""
MLServer = RunningServer
"""The running MLServer (the `mlserver` fixture's type; the name the transport tests know it by)."""
FAST = CallPolicy(
    timeout_s=60.0,
    connect_timeout_s=1.0,
    max_attempts=3,
    backoff_initial_s=0.01,
    backoff_max_s=0.05,
    breaker_failures=2,
    breaker_reset_s=60.0,
)
"""The tests' call policy: quick retries (milliseconds apart); a breaker that opens after two failed calls and stays
open for the test; a read timeout long enough for a whole yard's rows as JSON on a busy machine."""


@pytest.fixture(scope="session")
def welding_onnx() -> Path:
    """The shipped welding model: the same file the in-process adapter runs."""
    path = REPO_ROOT / "adapters" / "models" / "welding.onnx"
    assert path.is_file(), f"{path} is missing: run `shipbrain models train`"
    return path


def start_server(
    kind: ServerKind, onnx_path: Path, workdir: Path, *, echo: bool = True, limited_batch: int | None = 1024
) -> RunningServer:
    """`launch` for a test: a server that cannot start fails the test with why (its log, or the install command)."""
    try:
        return launch(kind, onnx_path, workdir, echo=echo, limited_batch=limited_batch)
    except LaunchError as exc:
        pytest.fail(str(exc), pytrace=False)


def _session_server(
    kind: ServerKind, onnx_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    server = start_server(kind, onnx_path, tmp_path_factory.mktemp(kind))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mlserver(welding_onnx: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Seldon MLServer serving `welding_onnx` as model "welding" (version "1") on 127.0.0.1, for the whole session."""
    yield from _session_server("mlserver", welding_onnx, tmp_path_factory)


@pytest.fixture(scope="session")
def triton(welding_onnx: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """NVIDIA Triton (PyTriton) serving `welding_onnx` as "welding" and "welding_b1024" on 127.0.0.1."""
    yield from _session_server("triton", welding_onnx, tmp_path_factory)


@pytest.fixture(scope="session")
def kserve(welding_onnx: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """KServe serving `welding_onnx` as model "welding" on 127.0.0.1 (no versions), for the whole session."""
    yield from _session_server("kserve", welding_onnx, tmp_path_factory)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out has hung up on a delayed answer: expected, not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


_RELAYED_HEADERS = ("content-type", "inference-header-content-length")
"""What `FaultProxy` passes on both ways: the body's type, and where the binary tensor extension's JSON part ends."""


def _relayed(headers: HTTPMessage | httpx.Headers) -> dict[str, str]:
    relayed = {name: str(headers[name]) for name in _RELAYED_HEADERS if name in headers}
    relayed.setdefault("content-type", "application/json")
    return relayed


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
                upstream = proxy._client.request(
                    self.command, proxy.upstream + self.path, content=body, headers=_relayed(self.headers)
                )
                self._answer(upstream.status_code, upstream.content, _relayed(upstream.headers))

            def _answer(self, status: int, content: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in (headers or {"content-type": "application/json"}).items():
                    self.send_header(name, value)
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
