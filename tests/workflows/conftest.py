from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge import Settings
from workflows import WorkflowContext


@pytest.fixture(scope="session")
def wf_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("workflows"))


@pytest.fixture(scope="session")
def ctx(small_yard: Path, wf_settings: Settings) -> Iterator[WorkflowContext]:
    context = WorkflowContext.open(small_yard, wf_settings)
    yield context
    context.close()
