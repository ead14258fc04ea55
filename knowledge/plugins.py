"""One way to register things: a decorator inside the project, an entry-point group for plug-ins.

Tools, workflows, adapters and scorers each keep a `PluginRegistry`. A member registers itself with
the registry's decorator in its own module; the registry imports the project's modules that hold
members (every public module of the packages it names) and then the plug-ins of its entry-point group,
on first use, so importing a registry costs nothing. A plug-in that fails to load is a warning
(`PluginWarning`) and a line in `problems`, never a crash: one broken plug-in must not take the rest down.

```python
TOOLS: PluginRegistry[ToolSpec] = PluginRegistry("tool", group="shipbrain.tools", packages=["brain.tools"])

@TOOLS.register
def lookup(...): ...

TOOLS.get("lookup"), TOOLS.names()
```

An entry point names either a member (registered on load) or a module whose import registers its
members with the decorator.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

from knowledge.errors import InputError

__all__ = ["PluginRegistry", "PluginWarning", "UnknownPluginError"]

T = TypeVar("T")


class PluginWarning(UserWarning):
    """A plug-in that could not be loaded (the message names it and says why)."""


class UnknownPluginError(InputError, KeyError):
    """A name that no registered member has; the message lists the known names."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class PluginRegistry(Generic[T]):
    """Members of one kind by name: the project's own (by decorator) and plug-ins (by entry point).

    Args:
        kind: what a member is, in words ("tool", "workflow"), for messages.
        group: the entry-point group plug-ins register under (e.g. `shipbrain.tools`).
        packages: the project's packages whose public modules (no leading `_`) hold members; each is
            imported on first use, so a new member is one new module.
        modules: single modules that hold members, besides the packages.
        name_of: a member's name (default: its `name` attribute, else its `__name__`).
    """

    def __init__(
        self,
        kind: str,
        *,
        group: str,
        packages: Sequence[str] = (),
        modules: Sequence[str] = (),
        name_of: Callable[[T], str] | None = None,
    ) -> None:
        self.kind = kind
        self.group = group
        self._packages = tuple(packages)
        self._modules = tuple(modules)
        self._name_of = name_of or _default_name
        self._members: dict[str, T] = {}
        self._origin: dict[str, str] = {}
        self._loaded = False
        self._loading = False
        self._lock = threading.RLock()
        self.problems: list[str] = []
        """Plug-ins that failed to load, one line each."""

    def register(self, member: T) -> T:
        """Register `member` under its name; usable as a decorator. A second member of one name is an error."""
        name = self._name_of(member)
        with self._lock:
            origin = getattr(member, "__module__", None) or type(member).__module__
            if name in self._members and self._members[name] is not member:
                raise ValueError(f"{self.kind} {name!r} is registered twice (in {self._origin[name]} and in {origin})")
            self._members[name] = member
            self._origin[name] = origin
        return member

    def unregister(self, name: str) -> None:
        """Remove a member (tests that register one for a while)."""
        with self._lock:
            self._members.pop(name, None)
            self._origin.pop(name, None)

    def _load(self) -> None:
        with self._lock:
            if self._loaded or self._loading:
                return
            self._loading = True
            try:
                for module in self._modules:
                    importlib.import_module(module)
                for package in self._packages:
                    for module in _public_modules(package):
                        importlib.import_module(module)
                self._load_entry_points()
                self._loaded = True
            finally:
                self._loading = False

    def _load_entry_points(self) -> None:
        from importlib.metadata import entry_points

        for ep in entry_points(group=self.group):
            try:
                loaded = ep.load()
                if not isinstance(loaded, type(importlib)):  # a member rather than a module of members
                    self.register(loaded)
            except Exception as exc:  # any failure of a plug-in is reported, not raised
                message = f"{self.kind} plug-in {ep.name!r} ({ep.value}) did not load: {type(exc).__name__}: {exc}"
                self.problems.append(message)
                warnings.warn(message, PluginWarning, stacklevel=2)

    def get(self, name: str) -> T:
        """The member named `name`, or an `UnknownPluginError` that lists the known names."""
        self._load()
        try:
            return self._members[name]
        except KeyError:
            known = ", ".join(sorted(self._members)) or "none"
            raise UnknownPluginError(f"no {self.kind} {name!r}; the {self.kind}s are {known}") from None

    def names(self) -> list[str]:
        """Every member's name, sorted."""
        self._load()
        return sorted(self._members)

    def items(self) -> list[tuple[str, T]]:
        """(name, member) pairs, sorted by name."""
        self._load()
        return sorted(self._members.items())

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._members

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._load()
        return len(self._members)


def _default_name(member: object) -> str:
    name = getattr(member, "name", None) or getattr(member, "__name__", None)
    if not isinstance(name, str):
        raise TypeError(f"{member!r} has no name to register it by")
    return name


def _public_modules(package: str) -> list[str]:
    pkg = importlib.import_module(package)
    return [
        f"{package}.{info.name}"
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name)
        if not info.name.startswith("_") and not info.ispkg
    ]
