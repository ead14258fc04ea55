"""What the brain's tests share: a data dir with the demo documents indexed, and a brain over the small yard."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from brain.supervisor import Brain
from knowledge import Settings
from knowledge.documents import DEMO_CORPUS, DocumentStore


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A data dir of the module's own, with the shipped document corpus indexed."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("brain"))
    with DocumentStore(settings) as store:
        store.ingest([DEMO_CORPUS])
    return settings


@pytest.fixture(scope="module")
def brain(small_yard: Path, settings: Settings) -> Iterator[Brain]:
    """The offline brain over the small yard (its checkpoints and plan book in `settings.data_dir`)."""
    b = Brain(small_yard, settings)
    yield b
    b.close()
