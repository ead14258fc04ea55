"""The HTTP service: workflows as durable, idempotent, audited runs; the brain's questions; API keys.

```python
from workflows.service import create_app

app = create_app(settings, yard)  # FastAPI; `shipbrain serve` runs it with uvicorn
```

`workflows.service.store` keeps runs, their events, the audit log and the webhook outbox; `runner` runs them;
`webhooks` delivers signed webhooks; `keys` holds the API keys; `cli` is `shipbrain keys` and `shipbrain serve`.
"""

from workflows.service.app import create_app
from workflows.service.keys import SCOPES, ApiKey, KeyStore, Principal
from workflows.service.runner import Runner
from workflows.service.settings import ServiceSettings
from workflows.service.store import ISA95_STATE, TERMINAL, RunRecord, Store
from workflows.service.webhooks import Dispatcher

__all__ = [
    "ISA95_STATE",
    "SCOPES",
    "TERMINAL",
    "ApiKey",
    "Dispatcher",
    "KeyStore",
    "Principal",
    "RunRecord",
    "Runner",
    "ServiceSettings",
    "Store",
    "create_app",
]
