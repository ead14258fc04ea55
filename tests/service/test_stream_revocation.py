"""Event streams end when their API key is revoked (review of 2026-12-02, finding 9).

Was: a stream opened before `shipbrain keys revoke` went on delivering the run's events (the reviewer saw the
`rejected` event arrive after a plain GET with the same key was already 401) for up to `SHIPBRAIN_STREAM_MAX_S`, an
hour. Now the key is read again before each batch of events and each heartbeat (at most once per `key_check_s` per
key, whatever the number of its streams), and a revoked key's stream ends with a comment saying so. Real parts:
uvicorn on loopback, streams read over real HTTP.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path

import httpx

from knowledge import Settings
from tests.service.test_streams import Served, _client, _fields, opened, serving
from workflows.service import KeyStore

REVOKED = "end: the API key was revoked"


def _revoke(served: Served, scope: str) -> None:
    KeyStore(served.store).revoke(served.key_id(scope), actor="test")
    answer = httpx.get(f"{served.url}/v1/runs", headers=served.auth(scope))
    assert answer.status_code == 401  # the API refuses the key at once


def test_a_revoked_keys_stream_ends_without_the_next_event(settings: Settings, small_yard: Path) -> None:
    # heartbeats far apart: only the event can wake the stream
    with serving(settings, small_yard, stream_heartbeat_s=60) as served, _client(served) as client:
        run_id = served.run({"input": {}})  # no workers: it stays queued until an event is written
        with opened(client, served, run_id, scope="approve") as mine, opened(client, served, run_id) as other:
            assert mine.event()["event"] == "queued" and other.event()["event"] == "queued"
            _revoke(served, "approve")
            time.sleep(served.streams.key_check_s + 0.2)  # past the check the stream made when it opened
            served.store.append_event(run_id, "progress", {"step": "after", "done": 1, "total": 2})
            frames = mine.rest(within_s=10)
            # another key's stream of the same run goes on
            assert other.event(within_s=10)["event"] == "progress"
    assert [_fields(f) for f in frames] == [{"comment": REVOKED}], "the revoked key was sent more"
    assert served.streams.open_streams() == 0


def test_a_quiet_stream_of_a_revoked_key_ends_at_its_next_heartbeat(settings: Settings, small_yard: Path) -> None:
    with serving(settings, small_yard, stream_heartbeat_s=0.2) as served, _client(served) as client:
        run_id = served.run({"input": {}})
        with opened(client, served, run_id, scope="approve") as stream:
            assert stream.event()["event"] == "queued"
            assert stream.frame() == [": heartbeat"]
            _revoke(served, "approve")
            revoked_at = time.monotonic()
            frames = stream.rest(within_s=10)
            took = time.monotonic() - revoked_at
    assert frames[-1] == [f": {REVOKED}"] and set(map(tuple, frames[:-1])) <= {(": heartbeat",)}
    # the key's check is reused for key_check_s (1 s), then the next heartbeat (0.2 s) finds it revoked
    assert took < served.streams.key_check_s + 2.0, took
    assert "retry" not in _fields(frames[-1])  # a reconnection would be refused: no retry for EventSource


def test_the_key_is_read_once_per_interval_for_all_its_streams(settings: Settings, small_yard: Path) -> None:
    with (
        serving(settings, small_yard, stream_heartbeat_s=0.1) as served,
        _client(served) as client,
        ExitStack() as stack,
    ):
        run_id = served.run({"input": {}})
        streams = [stack.enter_context(opened(client, served, run_id)) for _ in range(10)]
        assert {s.event()["event"] for s in streams} == {"queued"}
        before = served.streams.key_checks
        time.sleep(2.0)  # 20 heartbeats for each of the 10 streams
        checks = served.streams.key_checks - before
        assert all(s.frame() == [": heartbeat"] for s in streams)
    assert 1 <= checks <= 4, checks  # one a second (key_check_s), not one per stream per heartbeat (200)
