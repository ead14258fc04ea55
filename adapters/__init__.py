"""Adapters: each yard model as a typed tool.

An adapter pairs an `AdapterSpec` (name, system, version, owner, a description for planners, row
schemas for input and output, batch size, transport) with a columnar `predict` over Arrow. The
`Registry` finds adapters in config files and entry points; transports reach the model wherever it
runs; the batch executor spreads large jobs over Ray.

```python
from adapters import Registry
welding = Registry.load().get("welding")
predictions = welding.predict(welding.yard_rows(graph, [graph.id_of("B012")]))
```
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adapters.errors import (
        AdapterConfigError,
        AdapterError,
        AdapterInputError,
        CircuitOpenError,
        ModelCallError,
        ModelResponseError,
        ModelTimeoutError,
        ModelUnavailableError,
        SchemaError,
        UnknownModelError,
    )
    from adapters.registry import ModelConfig, Registry
    from adapters.spec import Adapter, AdapterSpec, ModelAdapter
    from adapters.transports.base import CallPolicy, Transport

# Names resolve on first use (PEP 562): a model server that imports only `adapters.serving` (in its
# own small virtual environment, without pyarrow) must not pay for, or fail on, the rest.
_HOMES = {
    "adapters.errors": (
        "AdapterConfigError", "AdapterError", "AdapterInputError", "CircuitOpenError", "ModelCallError",
        "ModelResponseError", "ModelTimeoutError", "ModelUnavailableError", "SchemaError", "UnknownModelError",
    ),
    "adapters.registry": ("ModelConfig", "Registry"),
    "adapters.spec": ("Adapter", "AdapterSpec", "ModelAdapter"),
    "adapters.transports.base": ("CallPolicy", "Transport"),
}  # fmt: skip
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    if name not in _HOME_OF:
        raise AttributeError(f"module 'adapters' has no attribute {name!r}")
    return getattr(import_module(_HOME_OF[name]), name)


__all__ = [
    "Adapter",
    "AdapterConfigError",
    "AdapterError",
    "AdapterInputError",
    "AdapterSpec",
    "CallPolicy",
    "CircuitOpenError",
    "ModelAdapter",
    "ModelCallError",
    "ModelConfig",
    "ModelResponseError",
    "ModelTimeoutError",
    "ModelUnavailableError",
    "Registry",
    "SchemaError",
    "Transport",
    "UnknownModelError",
]
