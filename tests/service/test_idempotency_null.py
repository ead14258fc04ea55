"""An explicit null where the field's default is null is the same submission: a repeat is a replay, not a 422."""

from __future__ import annotations

from tests.service.conftest import Api


def test_a_repeat_that_spells_out_a_null_webhook_is_a_replay(api: Api) -> None:
    first = api.run({"input": {"tag": "x"}}, **{"Idempotency-Key": "null-1"})
    again = api.run({"input": {"tag": "x"}, "webhook_url": None}, **{"Idempotency-Key": "null-1"})
    assert first.status_code == 202
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true", again.text
    assert again.json()["run_id"] == first.json()["run_id"]
    other = api.run({"input": {"tag": "y"}, "webhook_url": None}, **{"Idempotency-Key": "null-1"})
    assert other.status_code == 422 and other.json()["error"]["type"] == "idempotency_key_reused"
