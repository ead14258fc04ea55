"""The brain: the domain core, the tools, the planners, the LangGraph supervisor and the `shipbrain` root command.

```python
from brain import Brain

brain = Brain(Path(".shipbrain/yards/demo"))
answer = brain.ask("which joints of B012 need NDT at 5 %?")
answer.answer, answer.sources, answer.results[0].rows
```

The public names are listed once, in `__init__.pyi`; each loads on first use (`lazy_loader.attach_stub`), so
`import brain` stays cheap for the command line.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
