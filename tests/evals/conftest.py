from __future__ import annotations

from pathlib import Path

import pytest

from evals.package import RecordedPackage, record
from knowledge.settings import Settings

BULK_BLOCKS = ["H1042/DB09", "H1042/DB10"]
"""Two blocks of the bulk carrier sample: the first two erected (double bottom of hold 5)."""


@pytest.fixture(scope="session")
def small_package(small_yard: Path, tmp_path_factory: pytest.TempPathFactory) -> RecordedPackage:
    """Three blocks of the small yard, recorded once per session."""
    return record(small_yard, ["B001", "B002", "B003"], tmp_path_factory.mktemp("pkg") / "small")


@pytest.fixture(scope="session")
def bulk_package(bulk_carrier: Path, tmp_path_factory: pytest.TempPathFactory) -> RecordedPackage:
    """Two blocks of the bulk carrier sample (another yard's ids, kinds and columns), recorded once per session."""
    return record(bulk_carrier, BULK_BLOCKS, tmp_path_factory.mktemp("pkg") / "bulk")


@pytest.fixture(scope="session")
def eval_settings(small_yard: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A data dir of its own whose yard cache already holds the small yard (so suites need not regenerate it)."""
    data = tmp_path_factory.mktemp("evaldata")
    (data / "evals" / "yards").mkdir(parents=True)
    (data / "evals" / "yards" / "yard-20000-s1").symlink_to(small_yard.resolve(), target_is_directory=True)
    return Settings(data_dir=data, executor="in-process")
