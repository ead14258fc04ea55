"""The same service on PostgreSQL: a run's lifecycle, idempotency, a webhook row and an approval."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from knowledge import Settings
from knowledge.database import dispose
from tests.helpers import postgres
from tests.service.conftest import Api, make_tokens, service_settings
from tests.service.test_approvals import EVENTS, _held
from workflows.service import create_app

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not postgres.available(), reason="PostgreSQL's server programs are not installed"),
]


@pytest.fixture
def pg_api(tmp_path: Path, small_yard: Path) -> Iterator[Api]:
    with postgres.postgres_server() as dsn:
        settings = Settings(data_dir=tmp_path, postgres_dsn=dsn)
        app = create_app(settings, small_yard, chat=False, service=service_settings())
        with TestClient(app, raise_server_exceptions=False) as client:
            store = app.state.service.store
            assert store.engine.dialect.name == "postgresql"
            yield Api(client, store, make_tokens(store))
        dispose(settings)


def test_a_run_lifecycle_on_postgresql(pg_api: Api) -> None:
    api = pg_api
    created = api.run(
        {"input": {"steps": 2, "tag": "pg"}, "webhook_url": "http://127.0.0.1:9/hook"}, **{"Idempotency-Key": "pg-1"}
    )
    assert created.status_code == 202
    run = api.wait(created.json()["run_id"])
    assert run["status"] == "completed" and run["result"]["tag"] == "pg"
    again = api.run(
        {"input": {"steps": 2, "tag": "pg"}, "webhook_url": "http://127.0.0.1:9/hook"}, **{"Idempotency-Key": "pg-1"}
    )
    assert again.status_code == 200 and again.json()["run_id"] == run["run_id"]
    assert api.run({"input": {"tag": "other"}}, **{"Idempotency-Key": "pg-1"}).status_code == 422
    assert [e.type for e in api.store.events(run["run_id"])][-1] == "completed"
    assert [a.action for a in api.store.audit_entries(target=run["run_id"])] == ["run.create", "run.complete"]
    assert len(api.store.webhooks(run["run_id"])) == 1  # nobody listens on port 9: it stays undelivered

    held = _held(api, EVENTS[:2])
    shown = {"approved": True, "schedule_digest": held["result"]["schedule_digest"]}
    done = api.post(held["links"]["approval"], shown, scope="approve")
    assert done.status_code == 200 and len(done.json()["approval"]["adopted"]) == 2
    assert api.post(held["links"]["approval"], {"approved": True}, scope="approve").status_code == 409
