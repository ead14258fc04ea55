"""What the brain knows: the part-dependency graph, the synthetic yard, and the yard directory format.

```python
from knowledge import PartGraph, YardSpec, generate_yard, write_yard
write_yard(generate_yard(YardSpec(parts=20_000, seed=1)), Path("yard"))
g = PartGraph.open("yard")
```
"""

from knowledge.errors import (
    GraphCycleError,
    InputError,
    InvalidYardSpecError,
    KnowledgeError,
    ManifestError,
    ShipbrainError,
    SubgraphTooLargeError,
    UnknownCodeError,
    YardDataError,
    YardIntegrityError,
    YardNotFoundError,
)
from knowledge.layout import NODE_KINDS, NodeKind, YardLayout
from knowledge.partgraph import DEFAULT_SUBGRAPH_LIMIT, CriticalPath, PartGraph
from knowledge.settings import Settings, get_settings
from knowledge.synthetic import GeneratedYard, YardSpec, generate_yard
from knowledge.yarddir import FORMAT_VERSION, TABLES, Manifest, read_manifest, write_yard

__all__ = [
    "DEFAULT_SUBGRAPH_LIMIT",
    "FORMAT_VERSION",
    "NODE_KINDS",
    "TABLES",
    "CriticalPath",
    "GeneratedYard",
    "GraphCycleError",
    "InputError",
    "InvalidYardSpecError",
    "KnowledgeError",
    "Manifest",
    "ManifestError",
    "NodeKind",
    "PartGraph",
    "Settings",
    "ShipbrainError",
    "SubgraphTooLargeError",
    "UnknownCodeError",
    "YardDataError",
    "YardIntegrityError",
    "YardLayout",
    "YardNotFoundError",
    "YardSpec",
    "generate_yard",
    "get_settings",
    "read_manifest",
    "write_yard",
]
