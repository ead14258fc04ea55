"""What the brain knows: a yard's store (its ids, roles, fields and precedence graph), the importer, the synthetic yard.

```python
from knowledge import YardSpec, YardStore, generate_store, import_yard
import_yard(Path("myyard"), Path("store"))                  # a yard's own export, in the open yard format
generate_store(YardSpec(parts=20_000, seed=1), Path("yard"))  # the synthetic yard, imported the same way
yard = YardStore.open("yard")
```

The public names are listed once, in `__init__.pyi`; each loads on first use (`lazy_loader.attach_stub`), so
`import knowledge.settings` does not pay for pyarrow, numpy or the generator.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
