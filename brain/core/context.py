"""`YardContext`: one yard and what the brain's tools and the workflows compute over it.

One context per yard and process: the part graph, the settings, and members made on first use (a graph
question never loads a model, a schedule question never opens the document store), each made once under
one lock because the service and eval runs call from several threads.
"""

from __future__ import annotations

import threading
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Self

import pyarrow.compute as pc

from knowledge.errors import InputError
from knowledge.partgraph import PartGraph
from knowledge.settings import Settings, get_settings

if TYPE_CHECKING:
    from adapters.executor import BatchExecutor
    from adapters.registry import Registry
    from brain.core.workpackages import WorkPackageIndex
    from brain.core.yardplan import YardPlan
    from knowledge.documents import DocumentStore

__all__ = ["YardContext"]


class YardContext:
    """A yard and its models, work packages, plan and documents.

    Args:
        graph: the yard's part graph.
        settings: data dir, databases, Ray; the process's settings by default.
        registry: the models to use instead of `Registry.load(settings)` (another version, an eval's recorder).
    """

    def __init__(self, graph: PartGraph, settings: Settings | None = None, registry: Registry | None = None) -> None:
        self.graph = graph
        self.settings = settings or get_settings()
        self.lock = threading.RLock()
        """Guards what is made on first use."""
        self._registry = registry
        self._owns_registry = registry is None
        """A registry handed in belongs to the caller (an eval run shares one across brains): `close` leaves it."""
        self._executor: BatchExecutor | None = None
        self._documents: DocumentStore | None = None

    @classmethod
    def open(cls, yard: str | Path, settings: Settings | None = None, registry: Registry | None = None) -> Self:
        """A context over the yard directory `yard`."""
        return cls(PartGraph.open(yard), settings, registry)

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
            return WorkPackageIndex(self.graph)

    @cached_property
    def plan(self) -> YardPlan:
        """The yard's adopted plan and its schedules."""
        from brain.core.yardplan import YardPlan

        with self.lock:
            return YardPlan(self)

    @property
    def documents(self) -> DocumentStore:
        """The document store, opened once (loading the embedder and the store costs ~70 ms)."""
        from knowledge.documents import DocumentStore

        with self.lock:
            if self._documents is None:
                self._documents = DocumentStore(self.settings)
            return self._documents

    @cached_property
    def day_zero(self) -> date:
        """The calendar date of schedule day 0: the yard's first planned start."""
        first = pc.min(self.graph.table("work_packages", ["planned_start"]).column(0)).as_py()
        if not isinstance(first, date):
            raise InputError("the yard's work packages have no planned start dates")
        return first

    def date_of(self, day: int) -> date:
        """The calendar date of schedule day `day`."""
        return self.day_zero + timedelta(days=int(day))

    def day_of(self, when: date) -> int:
        """The schedule day of a calendar date; a date before day 0 is an `InputError`."""
        day = (when - self.day_zero).days
        if day < 0:
            raise InputError(f"{when} is before the schedule's day 0 ({self.day_zero})")
        return day

    def close(self) -> None:
        """Release the document store (its embedded Qdrant locks the data dir) and the models."""
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
