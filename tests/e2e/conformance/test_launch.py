"""The launcher's refusals, without a server: a missing environment names the command that makes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.serving.launch import INSTALL_COMMANDS, SERVER_KINDS, LaunchError, ServerKind, launch


@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_a_missing_environment_names_its_install_command(kind: ServerKind, tmp_path: Path) -> None:
    with pytest.raises(LaunchError) as caught:
        launch(kind, tmp_path / "model.onnx", tmp_path / "work", repo_root=tmp_path)
    assert f"run `{INSTALL_COMMANDS[kind]}`" in str(caught.value)
    assert str(tmp_path / f".venv-{kind}") in str(caught.value)
    assert not (tmp_path / "work").exists()  # nothing was started or written
