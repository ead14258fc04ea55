"""Adapters: each yard model as a typed tool.

An adapter pairs an `AdapterSpec` (name, system, version, owner, a description for planners, row
schemas for input and output, batch size, transport) with a columnar `predict` over Arrow. The
`Registry` finds adapters in config files and entry points; transports reach the model wherever it
runs; the batch executor spreads large jobs over Ray.

```python
from adapters import Registry
from knowledge import YardStore

yard = YardStore.open("yards/ship")
welding = Registry.load().get("welding")
joints = yard.members(yard.node_of("B012"), kinds=["joint"])  # a block's joints, by the yard's own id
predictions = welding.predict(welding.yard_rows(yard, joints))  # rows through the yard's column mapping
```

The public names are listed once, in `__init__.pyi`; each loads on first use (`lazy_loader.attach_stub`), so
a model server that imports only `adapters.serving` (in its own small environment, without pyarrow) pays for,
and needs, none of the rest.
"""

try:
    import lazy_loader
except ModuleNotFoundError:  # MLServer's environment (tests/e2e/install_mlserver.sh) imports only adapters.serving
    __all__: list[str] = []
else:
    __getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
