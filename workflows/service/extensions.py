"""The service's extension point: plug-ins that add routes or pages to the app.

A package right of `workflows` (`evals`, or one outside the project) adds to the service through the entry-point
group `shipbrain.service`, so the service never imports it. Each entry point names a `ServiceExtension`: a
callable `(app, settings) -> None` that mounts its routes or pages outside `/v1` (the API's own, where every
unknown path is a JSON 404). `create_app` calls each one after the API's routes and before the chat page, which
answers every path no route took. A plug-in that fails to load or to mount is a `PluginWarning`, never a crash:
the service starts without it.

```toml
[project.entry-points."shipbrain.service"]
evals = "evals.page:add_evals_page"
```
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Final, Protocol, runtime_checkable

from fastapi import FastAPI

from knowledge.plugins import PluginRegistry, PluginWarning
from knowledge.settings import Settings

__all__ = ["SERVICE_EXTENSIONS", "ServiceExtension", "mount_extensions"]


@runtime_checkable
class ServiceExtension(Protocol):
    """Mounts a plug-in's routes or pages on the service's app (called once per app)."""

    def __call__(self, app: FastAPI, settings: Settings) -> None:
        """Add routes, routers or mounts to `app`; `settings` says where the data dir is."""


SERVICE_EXTENSIONS: Final[PluginRegistry[ServiceExtension]] = PluginRegistry(
    "service extension", group="shipbrain.service"
)
"""The installed extensions: the entry points of `shipbrain.service`, loaded on first use."""


def _name(extension: object) -> str:
    return str(getattr(extension, "__name__", None) or repr(extension))


def mount_extensions(
    app: FastAPI, settings: Settings, extensions: Iterable[ServiceExtension] | None = None
) -> list[str]:
    """Let each extension mount itself on `app`; returns the names of those that did.

    Args:
        app: the service's app, with the API's routes already in it.
        settings: the service's settings, handed to each extension.
        extensions: what to mount [default: every installed one, `SERVICE_EXTENSIONS`].
    """
    if extensions is None:
        extensions = [extension for _, extension in SERVICE_EXTENSIONS.items()]  # a broken one warns here
    mounted = []
    for extension in extensions:
        name = _name(extension)
        try:
            if not isinstance(extension, ServiceExtension):
                raise TypeError(f"{extension!r} is not callable as (app, settings)")
            extension(app, settings)
        except Exception as exc:
            message = f"service extension {name!r} did not mount: {type(exc).__name__}: {exc}"
            warnings.warn(message, PluginWarning, stacklevel=2)
            continue
        mounted.append(name)
    return mounted
