"""Start an Open Inference Protocol v2 server serving an ONNX model on 127.0.0.1, wait until it is ready, stop it.

Seldon MLServer, NVIDIA Triton (through PyTriton) or KServe, each from its own virtual environment, on a free port.

For tests and benchmarks alike:

```python
from adapters.serving.launch import launch

with launch("triton", Path("adapters/models/welding.onnx"), Path("/tmp/triton")) as server:
    V2Transport(server.url, server.model).infer({"features": rows})
```

Each kind runs from a virtual environment at the repository root that its install script makes
(`bash tests/e2e/install_mlserver.sh`, `install_triton.sh`, `install_kserve.sh`); a missing one is a
`LaunchError` naming the command. Every server serves the model as `model` ("welding"), version "1" where the
server has versions, and (with `echo=True`) the echo models `echo_fp32`, `echo_fp64`, `echo_int64`, `echo_bool`,
`echo_bytes`, `echo_fp16` (input `x` answered as output `y`). Triton also serves the model as
`<model>_b<limit>` with `max_batch_size` `limited_batch`, for clients that must split their batches (its plain
model's limit is `TRITON_MAX_BATCH`). `RunningServer.max_batch_sizes` says which model refuses more rows than what.
`threads` (default: every core) is how many cores the model uses, passed to the server as `--threads N`
(MLServer: the model settings' `parameters.extra.threads`): row slices on a single-threaded onnxruntime session,
so answers stay equal to in-process ones to the bit (`adapters.serving._sliced`).

The server runs in a process group of its own: `stop()` asks it to end (SIGTERM) and then ends whatever of the
group is left, `kill()` ends the whole group at once (SIGKILL), as a crash would.

This module imports none of the servers: it runs in Shipbrain's environment and starts them as programs.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Final, Literal

import httpx

__all__ = [
    "ECHO_MODELS",
    "INSTALL_COMMANDS",
    "REPO_ROOT",
    "SERVER_KINDS",
    "TRITON_MAX_BATCH",
    "LaunchError",
    "RunningServer",
    "ServerKind",
    "free_port",
    "launch",
    "venv_of",
]

ServerKind = Literal["mlserver", "triton", "kserve"]
SERVER_KINDS: Final[tuple[ServerKind, ...]] = ("mlserver", "triton", "kserve")
REPO_ROOT: Final = Path(__file__).resolve().parents[2]
INSTALL_COMMANDS: Final[dict[ServerKind, str]] = {
    "mlserver": "bash tests/e2e/install_mlserver.sh",
    "triton": "bash tests/e2e/install_triton.sh",
    "kserve": "bash tests/e2e/install_kserve.sh",
}
"""The command that makes each kind's virtual environment, run at the repository root."""
ECHO_MODELS: Final[dict[str, str]] = {
    "FP32": "echo_fp32",
    "FP64": "echo_fp64",
    "INT64": "echo_int64",
    "BOOL": "echo_bool",
    "BYTES": "echo_bytes",
    "FP16": "echo_fp16",
}
"""The echo models by the datatype each takes and answers."""
TRITON_MAX_BATCH: Final = 262_144
"""`max_batch_size` of Triton's plain model: the adapters' default batch."""
_PROGRAMS: Final[dict[ServerKind, str]] = {"mlserver": "mlserver", "triton": "python", "kserve": "python"}


class LaunchError(RuntimeError):
    """The server could not be started: its environment is missing, it exited, or it never became ready."""


def venv_of(kind: ServerKind, repo_root: Path = REPO_ROOT) -> Path:
    """The virtual environment a kind of server runs from."""
    return repo_root / f".venv-{kind}"


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningServer:
    """A started server: where it answers, what it serves, its process and its log."""

    kind: ServerKind
    url: str
    """Base URL, http://127.0.0.1:PORT."""
    model: str
    """The ONNX model's name on the server."""
    version: str | None
    """The version the model is served as; None where the server has no versions (KServe)."""
    threads: int
    """The cores the model uses (row slices run at once)."""
    models: tuple[str, ...]
    """Every model the server serves."""
    max_batch_sizes: dict[str, int]
    """Models that refuse requests of more rows, and their limit."""
    process: subprocess.Popen[bytes]
    log_path: Path
    ready_after_s: float = 0.0
    """Seconds from process start until every model answered ready."""
    _stopped: bool = field(default=False, repr=False)

    def log(self) -> str:
        """What the server has logged so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout_s: float = 20.0) -> None:
        """Ask the server to end (SIGTERM), wait up to `timeout_s` for its whole process group, then end what is left.

        Shared memory the group had mapped and left behind is removed (a Triton killed while unloading leaves its
        Python backend's regions in /dev/shm).
        """
        if self._stopped:
            return
        self._stopped = True
        leftovers = _shared_memory_of(self._group())
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        # PyTriton's process exits before the tritonserver it started has unloaded its models: wait for both.
        while (self.process.poll() is None or self._group()) and time.monotonic() < deadline:
            time.sleep(0.05)
        self._kill_group(leftovers)

    def kill(self) -> None:
        """End every process of the server at once (SIGKILL), as a crash would; then remove its shared memory."""
        self._stopped = True
        self._kill_group(_shared_memory_of(self._group()))

    def _group(self) -> list[int]:
        """The live processes of the server's process group (its leader's pid is the group's id)."""
        members = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # gone meanwhile
            if fields[2] == str(self.process.pid) and fields[0] != "Z":  # pgrp; a zombie is no longer running
                members.append(int(stat.parent.name))
        return members

    def _kill_group(self, shared_memory: set[Path]) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass  # the group is gone already
        self.process.wait()
        deadline = time.monotonic() + 5.0
        while self._group() and time.monotonic() < deadline:
            time.sleep(0.02)
        for path in shared_memory:
            path.unlink(missing_ok=True)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def _shared_memory_of(pids: list[int]) -> set[Path]:
    """The /dev/shm files the processes `pids` have mapped (Linux: /proc/PID/maps)."""
    found: set[Path] = set()
    for pid in pids:
        try:
            maps = Path(f"/proc/{pid}/maps").read_text()
        except OSError:
            continue
        found.update(Path(line.split(maxsplit=5)[5]) for line in maps.splitlines() if " /dev/shm/" in line)
    return found


def launch(
    kind: ServerKind,
    onnx_path: Path,
    workdir: Path,
    *,
    model: str = "welding",
    limited_batch: int | None = 1024,
    echo: bool = True,
    threads: int | None = None,
    ready_timeout_s: float = 180.0,
    repo_root: Path = REPO_ROOT,
) -> RunningServer:
    """Start a `kind` server serving `onnx_path` as `model` on a free port of 127.0.0.1; return once it is ready.

    Args:
        kind: Which server.
        onnx_path: The ONNX file to serve.
        workdir: An empty folder for the server's files and its log (`server.log`).
        model: The model's name on the server.
        limited_batch: Triton only: the `max_batch_size` of the model's second name, `<model>_b<limited_batch>`
            (None: no second name).
        echo: Also serve the echo models (`ECHO_MODELS`).
        threads: The cores the model uses (default: every core this process may run on).
        ready_timeout_s: How long to wait for every model to answer ready.
        repo_root: Where the virtual environments and the `adapters` package are.

    Raises:
        LaunchError: the kind's environment is missing (the message names the install command), the server
            exited, or it was not ready in time (the message holds its log).
    """
    program = venv_of(kind, repo_root) / "bin" / _PROGRAMS[kind]
    if not program.exists():
        raise LaunchError(f"{kind} is not installed ({program} is missing): run `{INSTALL_COMMANDS[kind]}`")
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads}")
    threads = threads or _every_core()
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    echoes = tuple(ECHO_MODELS.values()) if echo else ()
    max_batch_sizes: dict[str, int] = {}
    version: str | None = "1"
    if kind == "mlserver":
        command = [str(program), "start", str(workdir)]
        _write_mlserver_repository(workdir, port, model, onnx_path, echo, threads)
        models = (model, *echoes)
    elif kind == "triton":
        max_batch_sizes = {model: TRITON_MAX_BATCH}
        if limited_batch is not None:
            max_batch_sizes[f"{model}_b{limited_batch}"] = limited_batch
        command = [str(program), "-m", "adapters.serving.pytriton_onnx", "--onnx", str(onnx_path)]
        command += [f"--model={name}:{size}" for name, size in max_batch_sizes.items()]
        command += ["--http-port", str(port), "--grpc-port", str(free_port()), "--metrics-port", str(free_port())]
        command += ["--workspace", str(workdir / "pytriton"), "--threads", str(threads), *(["--echo"] if echo else [])]
        models = (*max_batch_sizes, *echoes)
    else:
        command = [str(program), "-m", "adapters.serving.kserve_onnx", "--onnx", str(onnx_path), "--http_port"]
        command += [str(port), "--model_name", model, "--threads", str(threads), *(["--echo"] if echo else [])]
        version = None  # KServe serves no version paths
        models = (model, *echoes)
    log_path = workdir / "server.log"
    env = {**os.environ, "PYTHONPATH": str(repo_root)}
    env.pop("VIRTUAL_ENV", None)
    started = time.monotonic()
    with log_path.open("wb") as log:
        # cwd=workdir: MLServer writes its .envs and .metrics folders into the working directory.
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = RunningServer(
        kind=kind,
        url=f"http://127.0.0.1:{port}",
        model=model,
        version=version,
        threads=threads,
        models=models,
        max_batch_sizes=max_batch_sizes,
        process=process,
        log_path=log_path,
    )
    try:
        _wait_ready(server, ready_timeout_s)
    except BaseException:
        server.kill()
        raise
    server.ready_after_s = time.monotonic() - started
    return server


def _every_core() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _write_mlserver_repository(root: Path, port: int, model: str, onnx_path: Path, echo: bool, threads: int) -> None:
    settings = {
        "debug": False,
        # MLServer's default worker pool crashes under uvloop 0.22+ ("There is no current event loop").
        "parallel_workers": 0,
        "host": "127.0.0.1",
        "http_port": port,
        # gRPC cannot be switched off: give it a free port so parallel runs do not collide.
        "grpc_port": free_port(),
        "metrics_endpoint": None,
        "load_models_at_startup": True,
    }
    (root / "settings.json").write_text(json.dumps(settings))
    entries: list[dict[str, object]] = [
        {
            "name": model,
            "platform": "onnxruntime",
            "implementation": "adapters.serving.mlserver_onnx.OnnxRuntime",
            # `parameters.version` serves /v2/models/NAME/versions/1; `versions` is what its metadata lists.
            "parameters": {"uri": str(onnx_path), "version": "1", "extra": {"threads": threads}},
            "versions": ["1"],
        }
    ]
    if echo:
        entries += [
            {
                "name": name,
                "implementation": "adapters.serving.mlserver_echo.Echo",
                "parameters": {"version": "1"},
                "inputs": [{"name": "x", "datatype": datatype, "shape": [-1, -1]}],
                "outputs": [{"name": "y", "datatype": datatype, "shape": [-1, -1]}],
            }
            for datatype, name in ECHO_MODELS.items()
        ]
    for entry in entries:
        folder = root / str(entry["name"])
        folder.mkdir(exist_ok=True)
        (folder / "model-settings.json").write_text(json.dumps(entry))


def _wait_ready(server: RunningServer, timeout_s: float) -> None:
    # Triton answers /v2/health/ready before PyTriton has bound its models: wait for each model instead.
    waiting = list(server.models)
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0) as client:
        while waiting:
            if server.process.poll() is not None:
                raise LaunchError(
                    f"{server.kind} exited with {server.process.returncode} before it was ready; its log:\n"
                    f"{server.log()[-20_000:]}"
                )
            if time.monotonic() > deadline:
                raise LaunchError(
                    f"{server.kind}: models {waiting} not ready after {timeout_s:.0f} s; its log:\n"
                    f"{server.log()[-20_000:]}"
                )
            try:
                if client.get(f"{server.url}/v2/models/{waiting[0]}/ready").status_code == 200:
                    waiting.pop(0)
                    continue
            except httpx.TransportError:
                pass  # not listening yet
            time.sleep(0.1)
