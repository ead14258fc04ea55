"""`shipbrain serve` in a subprocess: start it on a free loopback port, wait until it answers, stop it.

For tests, benchmarks and scripts that need the real server as a user starts it:

```python
from workflows.service.launch import serve

with serve(data_dir, "--no-chat", env={"SHIPBRAIN_RUN_WORKERS": "2"}) as server:
    httpx.get(f"{server.url}/healthz")
    server.admin_key  # the token a first start made (None when the data dir had an admin key)
    server.command("keys", "create", "--name", "bench", "--scopes", "ask,run", "--json")
```

`start` is the same without the `with`: the caller stops (or kills) the server itself. The server's output
goes to a log file (`serve-PORT.log`); errors quote its end with API tokens blanked out. With
`"--ssl-certfile", CERT` among the options the server is called over https, trusting that certificate
(`server.tls_context()`).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = [
    "LaunchedServer",
    "ServerStartError",
    "free_port",
    "redact_tokens",
    "serve",
    "shipbrain_argv",
    "start",
]

HOST = "127.0.0.1"
READY_TIMEOUT_S = 120.0
"""How long `start` waits for `/healthz` by default (a first start makes the demo yard and indexes documents)."""
POLL_INTERVAL_S = 0.05
STOP_TIMEOUT_S = 30.0
"""How long `stop` and `kill` wait for the process to end (after that `stop` kills it)."""
FIRST_START = "first start: an admin API key was made"
"""What `shipbrain serve` prints on its first start in a data dir (the token is in `DATA_DIR/service/admin_key`)."""
TOKEN = re.compile(r"sb_[A-Za-z0-9_-]{20,}")


class ServerStartError(RuntimeError):
    """The server exited, or did not answer `/healthz` in time; the message quotes the end of its output."""


def redact_tokens(text: str) -> str:
    """`text` with every API token replaced by `sb_<redacted>`."""
    return TOKEN.sub("sb_<redacted>", text)


def free_port(host: str = HOST) -> int:
    """A TCP port nothing listens on now (the OS picks it; another process could take it before the server)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def shipbrain_argv() -> list[str]:
    """The `shipbrain` command of this Python environment (`python -m workflows.service` where it is missing)."""
    script = Path(sys.executable).with_name("shipbrain")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "workflows.service"]


@dataclass
class LaunchedServer:
    """`shipbrain serve` running in a subprocess, answering at `url`."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path
    """The server's stdout and stderr."""
    env: dict[str, str]
    """Its environment (`SHIPBRAIN_DATA_DIR` included), which `command` reuses."""
    cwd: Path
    ready_s: float = 0.0
    """Seconds from starting the process to the first 200 from `/healthz`."""
    admin_key: str | None = None
    """The admin API token a first start in this data dir made (read from the file it wrote), else None."""
    certfile: Path | None = None
    """The certificate the server serves TLS with (`--ssl-certfile`), else None."""

    def tls_context(self) -> ssl.SSLContext | bool:
        """What httpx's `verify` wants to call this server: a context trusting its certificate, or True."""
        return True if self.certfile is None else ssl.create_default_context(cafile=str(self.certfile))

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.process.pid

    def output(self, *, redact: bool = False) -> str:
        """Everything the server printed so far (API tokens blanked out if `redact`)."""
        text = self.log.read_text(errors="replace")
        return redact_tokens(text) if redact else text

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
        """Stop it as Ctrl-C does (uvicorn shuts down gracefully), killing it if it has not ended in `timeout_s`."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout_s)
        return self.process.returncode

    def kill(self, sig: int = signal.SIGKILL, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
        """Send `sig` (SIGKILL: no shutdown at all) and wait for the process to end."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        self.process.wait(timeout_s)
        return self.process.returncode

    def command(self, *argv: str) -> str:
        """Run another `shipbrain` command against the same data dir and environment; its stdout.

        Raises:
            RuntimeError: the command failed (its output is in the message, API tokens blanked out).
        """
        done = subprocess.run(
            [*shipbrain_argv(), *argv], cwd=self.cwd, env=self.env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            shown = redact_tokens(done.stderr + done.stdout)
            raise RuntimeError(f"shipbrain {' '.join(argv)} failed ({done.returncode}):\n{shown}")
        return done.stdout


def start(
    data_dir: Path,
    *serve_args: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    log_dir: Path | None = None,
    timeout_s: float = READY_TIMEOUT_S,
) -> LaunchedServer:
    """Start `shipbrain serve --host 127.0.0.1 --port P *serve_args` and wait until `/healthz` answers 200.

    Args:
        data_dir: the server's `SHIPBRAIN_DATA_DIR` (made by the server if missing).
        serve_args: more options of `shipbrain serve`, e.g. `"--no-chat"`.
        env: the server's whole environment (default: this process's); `SHIPBRAIN_DATA_DIR` is set on top.
        cwd: its working directory (a `.env` file there is read by the settings); default: this one.
        log_dir: where `serve-PORT.log` goes (default: `data_dir`'s parent).
        timeout_s: how long to wait for `/healthz`.

    Raises:
        ServerStartError: the server exited before answering, or did not answer in `timeout_s` (then it is
            stopped); the message quotes the end of its output.
    """
    port = free_port()
    child_env = {**(os.environ if env is None else env), "SHIPBRAIN_DATA_DIR": str(data_dir)}
    child_env.setdefault("PYTHONUNBUFFERED", "1")  # the admin key is in the log by the time /healthz answers
    workdir = Path.cwd() if cwd is None else cwd
    logs = data_dir.parent if log_dir is None else log_dir
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"serve-{port}.log"
    argv = [*shipbrain_argv(), "serve", "--host", HOST, "--port", str(port), *serve_args]
    certfile = Path(serve_args[serve_args.index("--ssl-certfile") + 1]) if "--ssl-certfile" in serve_args else None
    scheme = "https" if certfile is not None else "http"
    started = time.monotonic()
    with log.open("wb") as sink:
        process = subprocess.Popen(argv, cwd=workdir, env=child_env, stdout=sink, stderr=subprocess.STDOUT)
    server = LaunchedServer(process, f"{scheme}://{HOST}:{port}", log, child_env, workdir, certfile=certfile)
    try:
        _wait_until_healthy(server, started, timeout_s)
    except BaseException:
        server.stop()
        raise
    server.ready_s = time.monotonic() - started
    key_file = data_dir / "service" / "admin_key"
    if FIRST_START in server.output() and key_file.is_file():
        server.admin_key = key_file.read_text().strip()
    return server


def _wait_until_healthy(server: LaunchedServer, started: float, timeout_s: float) -> None:
    """Poll `/healthz` every `POLL_INTERVAL_S` until it answers 200, the process exits, or `timeout_s` pass."""
    with httpx.Client(timeout=2.0, verify=server.tls_context()) as client:
        while time.monotonic() - started < timeout_s:
            if server.process.poll() is not None:
                raise ServerStartError(
                    f"the server exited with {server.process.returncode}:\n{server.output(redact=True)[-4000:]}"
                )
            try:
                if client.get(f"{server.url}/healthz").status_code == 200:
                    return
            except httpx.TransportError:  # not listening yet
                pass
            time.sleep(POLL_INTERVAL_S)
    tail = server.output(redact=True)[-4000:]
    raise ServerStartError(f"the server did not answer {server.url}/healthz in {timeout_s:g} s:\n{tail}")


@contextmanager
def serve(
    data_dir: Path,
    *serve_args: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    log_dir: Path | None = None,
    timeout_s: float = READY_TIMEOUT_S,
) -> Iterator[LaunchedServer]:
    """`start` the server, yield it, and `stop` it on the way out (see `start` for the arguments)."""
    server = start(data_dir, *serve_args, env=env, cwd=cwd, log_dir=log_dir, timeout_s=timeout_s)
    try:
        yield server
    finally:
        server.stop()
