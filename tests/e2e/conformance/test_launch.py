"""The launcher: a missing environment names the command that makes it; `threads` reaches the server."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from adapters.serving._sliced import MIN_SLICE_ROWS
from adapters.serving.launch import INSTALL_COMMANDS, SERVER_KINDS, LaunchError, RunningServer, ServerKind, launch
from adapters.transports.inprocess import OnnxTransport
from adapters.transports.v2 import V2Transport
from tests.e2e.servers import WELDING_FEATURES

pytest_plugins = ["tests.e2e.servers"]


@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_a_missing_environment_names_its_install_command(kind: ServerKind, tmp_path: Path) -> None:
    with pytest.raises(LaunchError) as caught:
        launch(kind, tmp_path / "model.onnx", tmp_path / "work", repo_root=tmp_path)
    assert f"run `{INSTALL_COMMANDS[kind]}`" in str(caught.value)
    assert str(tmp_path / f".venv-{kind}") in str(caught.value)
    assert not (tmp_path / "work").exists()  # nothing was started or written


@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_threads_reach_the_server(kind: ServerKind, welding_onnx: Path, tmp_path: Path) -> None:
    """`threads` is how many cores the served model uses; answers stay equal to in-process ones to the bit."""
    features = np.random.default_rng(3).uniform(0, 4, (3 * MIN_SLICE_ROWS, WELDING_FEATURES)).astype(np.float32)
    local = OnnxTransport("welding", welding_onnx, threads=1)
    expected = local.infer({"features": features})
    local.close()
    for threads in (1, 3):
        try:
            server = launch(
                kind, welding_onnx, tmp_path / str(threads), echo=False, limited_batch=None, threads=threads
            )
        except LaunchError as exc:
            pytest.fail(str(exc), pytrace=False)
        try:
            assert server.threads == threads
            assert f"onnx model: {threads} thread(s)" in server.log()
            transport = V2Transport(server.url, server.model)
            try:
                got = transport.infer({"features": features})
            finally:
                transport.close()
        finally:
            server.stop()
        for name, value in expected.items():
            assert np.array_equal(np.asarray(got[name]).reshape(-1), np.asarray(value).reshape(-1)), (name, threads)


@pytest.mark.parametrize("kind", ["mlserver"])
def test_a_server_uses_every_core_by_default(kind: ServerKind, request: pytest.FixtureRequest) -> None:
    server: RunningServer = request.getfixturevalue(kind)  # the session's server, launched with the defaults
    cores = len(os.sched_getaffinity(0))
    assert server.threads == cores
    assert f"onnx model: {cores} thread(s)" in server.log()
