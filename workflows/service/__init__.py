"""The HTTP service: workflows as durable, idempotent, audited runs; the brain's questions; API keys.

```python
from workflows.service import create_app

app = create_app(settings, yard)  # FastAPI; `shipbrain serve` runs it with uvicorn
```

`workflows.service.store` keeps runs, their events, the audit log and the webhook outbox; `runner` runs them;
`webhooks` delivers signed webhooks; `keys` holds the API keys; `cli` is `shipbrain keys` and `shipbrain serve`.
The public names are listed once, in `__init__.pyi`; each loads on first use (`lazy_loader.attach_stub`), so
`shipbrain keys` does not import FastAPI.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
