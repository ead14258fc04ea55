"""`YardContext`: one yard and what the brain's tools and the workflows compute over it.

One context per yard and process: the yard's imported store (`knowledge.store.YardStore`), the settings, and
members made on first use (a graph question never loads a model, a schedule question never opens the document
store), each made once under one lock because the service and eval runs call from several threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Final, Self

from knowledge.errors import InputError
from knowledge.settings import Settings, get_settings
from knowledge.store import YardStore

if TYPE_CHECKING:
    import pyarrow as pa

    from adapters.executor import BatchExecutor
    from adapters.registry import Registry
    from brain.core.cache import YardCache
    from brain.core.workpackages import WorkPackageIndex
    from brain.core.yardplan import YardPlan
    from knowledge.documents import DocumentStore

__all__ = ["HORIZON_DAYS", "YardContext", "model_role"]

HORIZON_DAYS: Final = 3650
"""The last schedule day a date or a day may name: ten years after day 0. A plan is for one ship (weeks to a few
years); a date past this is a typo (9999-12-31), refused where it is given instead of overflowing later."""


def model_role(registry: Registry, model: str) -> str:
    """The role whose nodes `model` scores (its spec's `role`); an `InputError` for a model that scores none."""
    role = registry.spec(model).role
    if role is None:
        raise InputError(f"model {model!r} scores no role of the yard")
    return role


class YardContext:
    """A yard and its models, work packages, plan and documents.

    Args:
        yard: the yard's imported store.
        settings: data dir, databases, Ray; the process's settings by default.
        registry: the models to use instead of `Registry.load(settings)` (another version, an eval's recorder).
    """

    def __init__(self, yard: YardStore, settings: Settings | None = None, registry: Registry | None = None) -> None:
        self.yard = yard
        self.settings = settings or get_settings()
        self.lock = threading.RLock()
        """Guards what is made on first use."""
        self._registry = registry
        self._owns_registry = registry is None
        """A registry handed in belongs to the caller (an eval run shares one across brains): `close` leaves it."""
        self._executor: BatchExecutor | None = None
        self._documents: DocumentStore | None = None
        self._predictions: dict[str, pa.Table] = {}
        self._computing: dict[str, threading.Lock] = {}

    @classmethod
    def open(cls, yard: str | Path, settings: Settings | None = None, registry: Registry | None = None) -> Self:
        """A context over the imported store at `yard`."""
        return cls(YardStore.open(yard), settings, registry)

    @property
    def registry(self) -> Registry:
        """The yard's models, loaded on first use."""
        from adapters.registry import Registry

        with self.lock:
            if self._registry is None:
                self._registry = Registry.load(self.settings)
            return self._registry

    @property
    def executor(self) -> BatchExecutor:
        """The batch executor every model call goes through (in-process for small sets, Ray for large ones)."""
        from adapters.executor import BatchExecutor

        with self.lock:
            if self._executor is None:
                self._executor = BatchExecutor(self.registry, settings=self.settings)
            return self._executor

    @cached_property
    def index(self) -> WorkPackageIndex:
        """The yard's work packages and which one makes each node."""
        from brain.core.workpackages import WorkPackageIndex

        with self.lock:
            return WorkPackageIndex(self.yard, self.cache)

    @cached_property
    def plan(self) -> YardPlan:
        """The yard's adopted plan and its schedules."""
        from brain.core.yardplan import YardPlan

        with self.lock:
            return YardPlan(self)

    @property
    def documents(self) -> DocumentStore:
        """The document store, opened once (loading the embedder and the sections costs seconds: do it once)."""
        from knowledge.documents import DocumentStore

        with self.lock:
            if self._documents is None:
                self._documents = DocumentStore(self.settings)
            return self._documents

    @cached_property
    def cache(self) -> YardCache:
        """Files computed from this yard, on disk (predictions, schedules)."""
        from brain.core.cache import YardCache

        return YardCache(self.settings, self.yard)

    def _prediction_key(self, model: str) -> str:
        from brain.core.cache import model_identity

        return f"predictions-{model}-{model_identity(self.registry, model)}"

    def yard_predictions(self, model: str) -> pa.Table:
        """`model` over every node of its role, computed once per model version, kept on disk.

        One row per node of the model's role, in `yard.nodes_of_role(role)` order (a node's row is
        `yard.role_rows(role, nodes)`). The first schedule question after a restart reads them instead of predicting
        millions of rows.
        """
        with self.lock:
            if model in self._predictions:
                return self._predictions[model]
            guard = self._computing.setdefault(model, threading.Lock())
        with guard:  # one computation per model; other questions meanwhile go on (they take `self.lock` only briefly)
            if model not in self._predictions:
                key = self._prediction_key(model)
                table = self.cache.table(key)
                if table is None:
                    rows = self._yard_rows(model)
                    table = self.executor.run(model, rows)
                    # a served model's version is known once its server answered: the key is taken again, and
                    # predictions of a version nobody could name stay in this process only, never on disk
                    from adapters.registry import UNKNOWN_VERSION

                    if self.registry.spec(model).version != UNKNOWN_VERSION:
                        key = self._prediction_key(model)
                        self.cache.put_table(key, table)
                        table = self.cache.table(key)  # memory-mapped from now on
                        assert table is not None
                with self.lock:
                    self._predictions[model] = table
            return self._predictions[model]

    def cached_predictions(self, model: str) -> pa.Table | None:
        """`yard_predictions(model)` if they were computed (in this process or before, on disk), else None."""
        with self.lock:
            if model in self._predictions:
                return self._predictions[model]
            table = self.cache.table(self._prediction_key(model))
            if table is not None:
                self._predictions[model] = table
            return table

    def _yard_rows(self, model: str) -> pa.Table:
        loader = getattr(self.registry.get(model), "yard_rows", None)
        if not callable(loader):
            raise InputError(f"model {model!r} does not read its rows from the yard")
        import pyarrow as pa

        rows = loader(self.yard)
        if not isinstance(rows, pa.Table):
            raise InputError(f"model {model!r} gave no table of rows from the yard")
        expected = self.yard.count(model_role(self.registry, model))
        if rows.num_rows != expected:
            raise InputError(f"model {model!r} read {rows.num_rows:,} rows from the yard, which has {expected:,}")
        return rows

    def warm(self, progress: Callable[[str, int, int], None] | None = None) -> None:
        """Compute (or load) what the first questions need.

        Both models over the yard, then the adopted schedule with what its critical-path answers read: the yard
        graph's longest paths under the planning norms (one pass over the whole graph, 30 s at 25M on a loaded
        machine). `progress(step, done, total)` is called as each step starts; the service runs this in the background.
        """
        from brain.core.longest import longest_paths

        steps = ("welding predictions", "outfitting predictions", "adopted schedule")
        report = progress or (lambda step, done, total: None)
        for k, step in enumerate(steps):
            report(step, k, len(steps))
            if step == "adopted schedule":
                self.plan.current()
                longest_paths(self, "planned")
            elif self.yard.count(model_role(self.registry, model := step.split()[0])):
                self.yard_predictions(model)  # a yard without the model's role has nothing for it to predict
        report("done", len(steps), len(steps))

    @property
    def day_zero(self) -> date:
        """The calendar date of schedule day 0: the yard's `day0`."""
        return self.yard.day0

    def date_of(self, day: int) -> date:
        """The calendar date of schedule day `day`: the yard's `day`-th working day (every day without a calendar)."""
        return self.plan.date_of(day)

    @property
    def horizon(self) -> date:
        """The last calendar date a date may name: `HORIZON_DAYS` calendar days after day 0."""
        return self.day_zero + timedelta(days=HORIZON_DAYS)

    def day_of(self, when: date) -> int:
        """The schedule day of a calendar date; a date before day 0 or past the horizon is an `InputError`."""
        day = (when - self.day_zero).days
        if day < 0:
            raise InputError(f"{when} is before the schedule's day 0 ({self.day_zero})")
        if day > HORIZON_DAYS:
            raise InputError(
                f"{when} is past the schedule's horizon: day {HORIZON_DAYS} ({self.horizon}), {HORIZON_DAYS // 365} "
                "years after day 0"
            )
        return self.plan.calendar.day_of(when)

    def close(self) -> None:
        """Release the document store and the models."""
        with self.lock:
            if self._documents is not None:
                self._documents.close()
                self._documents = None
            if self._executor is not None:
                self._executor.close()
                self._executor = None
            if self._registry is not None and self._owns_registry:
                self._registry.close()
                self._registry = None
