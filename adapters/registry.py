"""Which yard models exist and how to reach them: adapters registered as code, models configured in TOML.

Two things make a model. **Adapter code**, registered under a name: an adapter class of the project
registers itself with the `@adapter("NAME")` decorator in its own module (`adapters/welding.py`), and a
plug-in through the entry-point group `shipbrain.adapters`, naming a module whose `@adapter` classes
register on import (or an `AdapterType`). A plug-in that fails to load is a warning (`PluginWarning`)
and a line in `Registry.problems`, never a crash. **Configuration**: `adapters/default.toml`, overridden
model by model by `DATA_DIR/adapters.toml`, says for each model which adapter builds it (`adapter`,
default: the model's own name), how it is reached (transport, path, url) and its versions. A registered
adapter that no config names is a model too, built with an in-process config.

A model can ship several versions. `[models.NAME]` is the default version; each
`[models.NAME.versions.LABEL]` table is another, written as overrides of the default's fields
(usually just `path`). `Registry.load(versions={"welding": "2"})` or
`registry.with_versions({"welding": "2"})` picks one; `get("welding")` then returns it.

```toml
[models.welding]                # the default version (its card says "1"), built by @adapter("welding")
path = "models/welding.onnx"

[models.welding.versions.2]     # the same fields, overriding the default's
path = "models/welding-2.onnx"
```

```python
@adapter("painting")            # in a plug-in's module, named by its `shipbrain.adapters` entry point
class PaintingAdapter(ModelAdapter): ...
```
"""

from __future__ import annotations

import importlib
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, model_validator

from adapters.errors import AdapterConfigError, AdapterInputError, UnknownModelError
from adapters.spec import Adapter, AdapterSpec, ModelAdapter
from adapters.transports.base import CallPolicy, Transport
from knowledge.plugins import PluginRegistry
from knowledge.settings import Settings, get_settings

if TYPE_CHECKING:
    from adapters.transports.v2 import ServedModel

__all__ = [
    "ADAPTERS",
    "DEFAULT_CONFIG",
    "ENTRY_POINT_GROUP",
    "V2_IN_FLIGHT",
    "AdapterFactory",
    "AdapterType",
    "ModelConfig",
    "Registry",
    "adapter",
    "build_transport",
    "config_factory",
]

DEFAULT_CONFIG: Final = Path(__file__).parent / "default.toml"
UNKNOWN_VERSION: Final = "unknown"
"""The version of a model until its server says which it runs (a v2 model neither config nor card names)."""
V2_IN_FLIGHT: Final = 2
"""A v2 model's batches in flight unless its config says `in_flight` (benchmarks/v2_throughput.py measures it)."""
ENTRY_POINT_GROUP: Final = "shipbrain.adapters"
PROJECT_ADAPTERS: Final = ("adapters.welding", "adapters.outfitting", "adapters.scheduling")
"""The project's modules that register adapters (one module, or package, per adapter)."""


class ModelConfig(BaseModel):
    """One `[models.NAME]` table of an adapter config file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    adapter: str | None = None
    """The registered adapter that builds this model (default: the model's own name)."""
    factory: str | None = Field(default=None, pattern=r"^[\w.]+:\w+$")
    """Instead of `adapter`: "module:function" that builds the adapter from this config."""
    transport: Literal["onnx", "v2", "openai-chat", "in-process"] = "onnx"
    path: Path | None = None
    """ONNX file (onnx transport), relative to the config file's folder."""
    url: str | None = None
    """Server base URL (v2 and openai-chat transports)."""
    remote_name: str | None = None
    """The model's name on the server (default: the registry name)."""
    version: str | None = None
    """The version shown and recorded with predictions (a label: overrides the model card's); never sent."""
    server_version: str | None = None
    """v2: the server-side version to pin (`/v2/models/{remote_name}/versions/{server_version}/infer`); the version
    shown too when `version` is not set. Unset: the server chooses, and its answer names the version shown. A
    `versions.LABEL` table inherits the default's unless it sets its own."""
    batch_size: int | None = Field(default=None, gt=0)
    """Rows per call (default: the adapter's); a v2 server's published `max_batch_size` caps it."""
    binary: bool | Literal["auto"] = "auto"
    """v2: send tensors with the binary tensor data extension (true), as JSON (false), or binary where the server
    says it supports it (Triton; KServe >= 0.14), else JSON ("auto"). JSON cannot carry NaN, ±inf or FP16."""
    in_flight: int | None = Field(default=None, gt=0)
    """Batches a remote model's `predict` keeps in flight at once (default: `V2_IN_FLIGHT` for a v2 model, else 1):
    while the server computes one batch the next one travels. Outputs keep the input's order; a failed batch fails
    the whole call."""
    threads: int | None = Field(default=None, gt=0)
    """onnxruntime threads (default: every core)."""
    policy: dict[str, float] = Field(default_factory=dict)
    """Overrides of `CallPolicy` fields: timeout_s, max_attempts, breaker_failures, ..."""
    options: dict[str, JsonValue] = Field(default_factory=dict)
    """Anything else the adapter understands (e.g. the scheduler's `time_limit_s`)."""
    base_dir: Path = Path(".")
    """Folder of the file the entry came from (set by the loader)."""
    versions: dict[str, ModelConfig] = Field(default_factory=dict)
    """Other versions by label, each a whole entry: this one's fields with its `versions.LABEL` table's."""

    @model_validator(mode="after")
    def _one_builder(self) -> ModelConfig:
        if self.adapter is not None and self.factory is not None:
            raise ValueError("set `adapter` or `factory`, not both")
        return self

    def label(self) -> str | None:
        """This entry's version from config alone: `version`, else `server_version`, else its card's, else None."""
        if self.version is not None or self.server_version is not None:
            return self.version or self.server_version
        if self.transport == "onnx" and self.path is not None:
            from adapters.cards import load_card

            card = load_card(self.resolved_path())
            if card is not None:
                return card.version
        return None

    def call_policy(self) -> CallPolicy:
        """The call policy with this entry's overrides."""
        known = {f.name for f in fields(CallPolicy)}
        unknown = sorted(set(self.policy) - known)
        if unknown:
            raise AdapterConfigError(f"unknown policy settings {unknown}; known: {sorted(known)}")
        values: dict[str, Any] = {
            k: int(v) if k in ("max_attempts", "breaker_failures") else v for k, v in self.policy.items()
        }
        return CallPolicy(**values)

    def resolved_path(self) -> Path:
        """The ONNX file, resolved against the config file's folder."""
        if self.path is None:
            raise AdapterConfigError(f"transport {self.transport!r} needs `path`")
        return self.path if self.path.is_absolute() else self.base_dir / self.path


def build_transport(name: str, config: ModelConfig) -> Transport:
    """The transport a config entry describes."""
    if config.transport == "onnx":
        from adapters.transports.inprocess import OnnxTransport

        return OnnxTransport(name, config.resolved_path(), threads=config.threads)
    if config.url is None:
        raise AdapterConfigError(f"model {name!r}: transport {config.transport!r} needs `url`")
    if config.transport == "v2":
        from adapters.transports.v2 import V2Transport

        return V2Transport(
            config.url,
            config.remote_name or name,
            version=config.server_version,
            policy=config.call_policy(),
            binary=config.binary,
        )
    if config.transport == "openai-chat":
        from adapters.transports.openai_chat import OpenAIChatTransport

        return OpenAIChatTransport(config.url, config.remote_name or name, policy=config.call_policy())
    raise AdapterConfigError(f"model {name!r}: transport {config.transport!r} is built by its factory")


class _TransportAdapter(Protocol):
    def __call__(self, transport: Transport, version: str, batch_size: int = ...) -> Adapter: ...


def config_factory(adapter_class: _TransportAdapter) -> Callable[[str, ModelConfig], Adapter]:
    """A config factory for an adapter class built as `cls(transport, version, batch_size)`.

    The version comes from the config entry (`version`, else the pinned `server_version`), else from the model card
    beside an ONNX file, else (a v2 model) from the server: the latest of its metadata's `versions`. Building asks
    no server: a v2 transport learns what its server runs on its first call (`V2Transport.served`, which also splits
    every call at the server's `max_batch_size`), and the spec follows: its version (until then "unknown") and,
    where the server publishes a `max_batch_size` (Triton's model configuration), a batch of min(configured or
    default, server's) with the server's as `server_max_batch`. `Registry.spec` asks a v2 server whose version is
    still unknown, so what is shown and recorded with predictions is the server's. The spec's `in_flight` is the
    config's, else `V2_IN_FLIGHT` for a v2 model, else 1.
    """

    def build(name: str, config: ModelConfig) -> Adapter:
        from adapters.cards import load_card

        transport = build_transport(name, config)
        card = load_card(config.resolved_path()) if config.transport == "onnx" else None
        version = config.version or config.server_version or (card.version if card else None)
        extra = {"batch_size": config.batch_size} if config.batch_size else {}
        built = adapter_class(transport, version or UNKNOWN_VERSION, **extra)
        if isinstance(built, ModelAdapter):
            update: dict[str, int] = {
                "in_flight": config.in_flight or (V2_IN_FLIGHT if config.transport == "v2" else 1)
            }
            built.spec = built.spec.model_copy(update=update)
            _follow_server(built, version is None)
        return built

    return build


def _follow_server(built: ModelAdapter, version_unknown: bool) -> None:
    """Make `built.spec` follow what its v2 server says it runs, once it has said it.

    Its version (where config and card gave none), and a batch capped at the server's `max_batch_size`. Other
    transports: nothing to learn.
    """
    from adapters.transports.v2 import V2Transport

    transport = built.transport
    if not isinstance(transport, V2Transport):
        return

    def learn(served: ServedModel) -> None:
        update: dict[str, object] = {}
        if version_unknown and served.version is not None:
            update["version"] = served.version
        if served.max_batch_size is not None:
            limit = served.max_batch_size
            update |= {"batch_size": min(built.spec.batch_size, limit), "server_max_batch": limit}
        if update:
            built.spec = built.spec.model_copy(update=update)

    transport.on_served(learn)


AdapterFactory = Callable[[str, ModelConfig], Adapter]
"""Builds a model's adapter from its name and config entry."""


@dataclass(frozen=True)
class AdapterType:
    """Adapter code registered under a name: what builds a model from its `[models.NAME]` entry."""

    name: str
    """The name config entries use (`adapter = "welding"`); a model of this name needs no `adapter` field."""
    build: AdapterFactory
    """Builds the adapter from the model's name and config entry."""


ADAPTERS: Final[PluginRegistry[AdapterType]] = PluginRegistry(
    "adapter", group=ENTRY_POINT_GROUP, modules=PROJECT_ADAPTERS
)
"""Every registered adapter: the project's (`PROJECT_ADAPTERS`) and plug-ins' (`shipbrain.adapters`)."""

A = TypeVar("A")


def adapter(name: str) -> Callable[[A], A]:
    """Register the decorated adapter class, or factory function, as the adapter `name`.

    A class builds itself with its `from_config(name, config)` classmethod when it has one; a `ModelAdapter`
    subclass without one is built as `cls(transport, version, batch_size)` (see `config_factory`). A function
    is itself the factory: `(name, config) -> Adapter`.
    """

    def register(target: A) -> A:
        build: AdapterFactory
        if isinstance(target, type):
            from_config = getattr(target, "from_config", None)
            if callable(from_config):
                build = from_config
            elif issubclass(target, ModelAdapter):  # built as cls(transport, version, batch_size), as documented
                build = config_factory(cast(_TransportAdapter, target))
            else:
                raise TypeError(f"adapter {name!r}: {target.__name__} has no from_config(name, config) classmethod")
        elif callable(target):
            build = target
        else:
            raise TypeError(f"adapter {name!r}: register a class or a factory function, not {target!r}")
        ADAPTERS.register(AdapterType(name, build))
        return target

    return register


def _read_config(path: Path) -> dict[str, ModelConfig]:
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise AdapterConfigError(f"adapter config {str(path)!r}: {exc}") from None
    models = raw.get("models", {})
    if set(raw) - {"models"} or not isinstance(models, dict):
        raise AdapterConfigError(f"adapter config {str(path)!r}: expected only [models.NAME] tables")
    out = {}
    for name, entry in models.items():
        where = f"adapter config {str(path)!r}, [models.{name}]"
        if not isinstance(entry, dict):
            raise AdapterConfigError(f"{where}: expected a table")
        fields_ = {k: v for k, v in entry.items() if k != "versions"}
        versions = entry.get("versions", {})
        if not isinstance(versions, dict) or not all(isinstance(v, dict) for v in versions.values()):
            raise AdapterConfigError(f"{where}: `versions` holds [models.{name}.versions.LABEL] tables")
        alternates = {}
        for label, overrides in versions.items():
            if "versions" in overrides or "version" in overrides:
                raise AdapterConfigError(
                    f"{where[:-1]}.versions.{label}]: the table's name is its version; drop `version`/`versions`"
                )
            merged = {**fields_, **overrides, "version": label, "base_dir": path.parent}
            alternates[label] = _validate(merged, f"{where[:-1]}.versions.{label}]")
        if fields_.get("version") in alternates:
            raise AdapterConfigError(f"{where}: version {fields_['version']!r} is also a `versions` table")
        out[name] = _validate({**fields_, "versions": alternates, "base_dir": path.parent}, where)
    return out


def _validate(entry: dict[str, object], where: str) -> ModelConfig:
    try:
        return ModelConfig.model_validate(entry)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise AdapterConfigError(f"{where} {field}: {err['msg']}") from None


class Registry:
    """Models by name, each built on first use and kept.

    Args:
        configs: the config entries by model name.
        plugins: models built without a config entry, by name (a callable with no argument returning the adapter).
    """

    def __init__(self, configs: Mapping[str, ModelConfig], plugins: Mapping[str, Callable[[], Adapter]] | None = None):
        self.configs = dict(configs)
        self.plugins = dict(plugins or {})
        self._built: dict[str, Adapter] = {}

    @classmethod
    def load(
        cls,
        settings: Settings | None = None,
        *,
        extra_config: Path | None = None,
        versions: Mapping[str, str] | None = None,
    ) -> Registry:
        """The shipped config, the data dir's overrides and an optional extra file; adapters and plug-ins loaded.

        Args:
            settings: Where the data dir is (default: the environment's settings).
            extra_config: One more adapter config file, applied last.
            versions: Version to use per model name (`{"welding": "2"}`); others get their default.

        Raises:
            AdapterConfigError: a config file is wrong.
            UnknownModelError: `versions` names a model that is not registered.
            AdapterInputError: `versions` asks for a version the model does not have (lists the known ones).
        """
        settings = settings or get_settings()
        configs = _read_config(DEFAULT_CONFIG)
        for path in (settings.data_dir / "adapters.toml", extra_config):
            if path is not None and path.is_file():
                configs.update(_read_config(path))
        ADAPTERS.names()  # load the adapters now: a broken plug-in warns here, not at some later first use
        registry = cls(configs)
        if not versions:
            return registry
        try:
            return registry.with_versions(versions)
        finally:
            registry.close()  # what it built, it built to read versions: the new registry builds its own

    @property
    def problems(self) -> list[str]:
        """Adapter plug-ins that failed to load, one line each."""
        ADAPTERS.names()
        return list(ADAPTERS.problems)

    def _unconfigured(self) -> set[str]:
        """Registered adapters that no config entry or plugin names: models of their own."""
        return set(ADAPTERS.names()) - set(self.configs) - set(self.plugins)

    def names(self) -> tuple[str, ...]:
        """Every registered model name, sorted."""
        return tuple(sorted({*self.configs, *self.plugins, *self._unconfigured()}))

    def versions(self, name: str) -> tuple[str, ...]:
        """The versions of one model, the one `get` returns first.

        A model without a config entry has one version. Where neither the config nor a model card names the
        version (a plug-in, an in-process model), the adapter is built to read its spec's.

        Raises:
            UnknownModelError: listing the known names.
        """
        if name not in self.names():
            raise UnknownModelError(name, self.names())
        config = self.configs.get(name)
        label = (config.label() if config else None) or self.spec(name).version
        others = set(config.versions if config else ()) - {label}
        return (label, *sorted(others, key=lambda v: (0, int(v), v) if v.isdigit() else (1, 0, v)))

    def with_versions(self, versions: Mapping[str, str]) -> Registry:
        """A registry like this one whose `get(name)` is the version `versions[name]` of each model named.

        The new registry builds its adapters afresh; this one is left as it was.

        Raises:
            UnknownModelError: a model that is not registered.
            AdapterInputError: a version the model does not have (the message lists the known ones).
        """
        configs = dict(self.configs)
        for name, version in versions.items():
            known = self.versions(name)
            if version not in known:
                listed = ", ".join(f"{v} (default)" if i == 0 else v for i, v in enumerate(known))
                raise AdapterInputError(f"unknown version {version!r} of model {name!r}; known versions: {listed}")
            if name not in configs or version == known[0]:
                continue  # a model without config has one version, or the default already
            # The chosen version becomes the entry; the others (default included) stay reachable from it.
            default = configs[name]
            # The default keeps its own fields: a version its server or card named is not written into config.
            siblings = {known[0]: default.model_copy(update={"versions": {}})}
            siblings.update({label: c for label, c in default.versions.items() if label != version})
            configs[name] = default.versions[version].model_copy(update={"versions": siblings})
        return Registry(configs, self.plugins)

    def get(self, name: str) -> Adapter:
        """The adapter named `name`, built on first use.

        Raises:
            UnknownModelError: listing the known names.
            AdapterConfigError: the entry cannot be built.
        """
        if name in self._built:
            return self._built[name]
        if name in self.configs:
            adapter = _build(name, self.configs[name])
        elif name in self.plugins:
            adapter = self.plugins[name]()
        elif name in self._unconfigured():
            adapter = _build(name, ModelConfig(transport="in-process"))
        else:
            raise UnknownModelError(name, self.names())
        if not isinstance(adapter, Adapter):
            raise AdapterConfigError(f"model {name!r}: its factory returned {type(adapter).__name__}, not an Adapter")
        self._built[name] = adapter
        return adapter

    def spec(self, name: str) -> AdapterSpec:
        """The spec of one model.

        A v2 model whose version is still unknown asks its server first (a short timeout, no retries; once it has
        answered, or failed to, not again: see `V2Transport.served`), so the version shown and recorded is the
        server's.
        """
        built = self.get(name)
        transport = getattr(built, "transport", None)
        if built.spec.version == UNKNOWN_VERSION and getattr(transport, "kind", None) == "v2":
            from adapters.transports.v2 import V2Transport

            if isinstance(transport, V2Transport):
                transport.served(again=False)  # a pass that failed already is not waited for again
        return built.spec

    def close(self) -> None:
        """Close every adapter built so far."""
        for built in self._built.values():
            built.close()
        self._built.clear()


def _build(name: str, config: ModelConfig) -> Adapter:
    """Build a model from its config entry: with its `factory` if it names one, else its registered adapter."""
    if config.factory is not None:
        module, _, attr = config.factory.partition(":")
        try:
            factory: AdapterFactory = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise AdapterConfigError(f"model {name!r}: factory {config.factory!r} not found ({exc})") from None
        return factory(name, config)
    kind = config.adapter or name
    if kind not in ADAPTERS:
        known = ", ".join(ADAPTERS.names()) or "none"
        raise AdapterConfigError(f"model {name!r}: no adapter {kind!r} is registered; the adapters are {known}")
    registered = ADAPTERS.get(kind)
    if not isinstance(registered, AdapterType):  # an entry point that named something else
        raise AdapterConfigError(
            f"model {name!r}: adapter {kind!r} is a {type(registered).__name__}, not an AdapterType"
        )
    return registered.build(name, config)
