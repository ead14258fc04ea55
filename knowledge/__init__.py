"""What the brain knows: the part-dependency graph, the synthetic yard, and the yard directory format.

```python
from knowledge import PartGraph, YardSpec, generate_yard, write_yard
write_yard(generate_yard(YardSpec(parts=20_000, seed=1)), Path("yard"))
g = PartGraph.open("yard")
```

The public names are listed once, in `__init__.pyi`; each loads on first use (`lazy_loader.attach_stub`), so
`import knowledge.settings` does not pay for pyarrow, numpy or the generator.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
