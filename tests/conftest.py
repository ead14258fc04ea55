from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.helpers.yards import bulk_carrier_store, make_yard

if TYPE_CHECKING:
    from brain.lexicon import Lexicon


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


@pytest.fixture(scope="session")
def demo_names(yard_factory: Callable[[int, int], Path]) -> Lexicon:
    """The lexicon of the demo yard the planner's question cases ask about (`brain._planner_fit.DEMO_YARD`).

    The offline planner finds codes, resources and zones only by lookup in a yard's lexicon: planner tests pass it.
    """
    from brain._planner_fit import DEMO_YARD
    from brain.core import YardContext
    from brain.lexicon import Lexicon

    return Lexicon.of(YardContext.open(yard_factory(*DEMO_YARD)))
