from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.yards import bulk_carrier_store, make_yard


@pytest.fixture(scope="session")
def yard_factory(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int, int], Path]:
    """Generate yards once per session, keyed by (parts, seed)."""
    root = tmp_path_factory.mktemp("yards")
    return lambda parts, seed: make_yard(root, parts, seed)


@pytest.fixture(scope="session")
def small_yard(yard_factory: Callable[[int, int], Path]) -> Path:
    return yard_factory(20_000, 1)


@pytest.fixture(scope="session")
def bulk_carrier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bulk carrier sample, imported once per session: a yard with other ids, kinds and column names."""
    return bulk_carrier_store(tmp_path_factory.mktemp("samples"))
