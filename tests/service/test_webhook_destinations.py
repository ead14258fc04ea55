"""Issue 13, finding 3: webhooks go to allowed destinations only, checked when named and again at delivery."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import pytest

from tests.service.conftest import SECRET, Api, service_settings
from tests.service.receiver import running_receiver
from workflows.service import Dispatcher
from workflows.service.destinations import DestinationError, Destinations, redact_url
from workflows.service.store import OutboxRow, now

REFUSED = [
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "metadata"),
    ("http://10.0.0.5/hook", "private"),
    ("http://172.16.3.4/hook", "private"),
    ("http://192.168.1.10/hook", "private"),
    ("http://localhost:6379/", "loopback"),
    ("http://127.0.0.1:8000/hook", "loopback"),
    ("http://[::1]:8000/hook", "loopback"),
    ("http://0x7f000001/", "loopback"),
    ("http://2130706433/", "loopback"),
    ("http://0177.0.0.1/", "loopback"),
    ("http://127.1/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://[::ffff:a9fe:a9fe]/", "metadata"),
    ("http://[2002:7f00:1::]/", "loopback"),  # 6to4 around 127.0.0.1
    ("http://0.0.0.0:8000/", "unspecified"),
    ("http://[::]:8000/", "unspecified"),
    ("http://[fe80::1]/", "link-local"),
    ("http://169.254.10.10/", "link-local"),
    ("http://100.64.0.1/", "not a public"),
    ("http://224.0.0.1/", "multicast"),
]


@pytest.fixture
def closed(make_api: Callable[..., Api]) -> Api:
    """A service with no allow-list: only public destinations."""
    return make_api(service=service_settings(webhook_allow=[]))


@pytest.mark.parametrize(("url", "why"), REFUSED)
def test_non_public_destinations_are_refused_with_a_422_naming_the_field(closed: Api, url: str, why: str) -> None:
    refused = closed.run({"input": {}, "webhook_url": url})
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["field"] == "webhook_url" and error["type"] == "webhook_url_not_allowed"
    assert why in error["message"] and "SHIPBRAIN_WEBHOOK_ALLOW" in error["message"]
    assert closed.store.runs() == []  # nothing recorded


@pytest.mark.parametrize(
    "url", ["https://user:secret@hooks.example.com/hook", "http://token@hooks.example.com/", "http://:pw@1.1.1.1/"]
)
def test_credentials_in_a_webhook_url_are_refused(api: Api, url: str) -> None:
    refused = api.run({"input": {}, "webhook_url": url})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "webhook_url"
    assert "user name or password" in refused.json()["error"]["message"]
    assert "secret" not in refused.text


def _resolving(table: dict[str, list[str]]) -> Callable[[str, int], Sequence[str]]:
    def resolve(host: str, port: int) -> Sequence[str]:
        if host not in table:
            raise OSError(f"unknown host {host}")
        return table[host]

    return resolve


def test_a_name_that_resolves_to_a_private_address_is_refused(closed: Api) -> None:
    state = closed.client.app.state.service  # type: ignore[attr-defined]  # Starlette's app is typed as ASGIApp
    state.destinations.resolver = _resolving({"mes.example.com": ["93.184.216.34", "10.1.2.3"]})
    refused = closed.run({"input": {}, "webhook_url": "http://mes.example.com/hook"})
    assert refused.status_code == 422 and "resolves to 10.1.2.3 is a private address" in refused.text
    unknown = closed.run({"input": {}, "webhook_url": "http://nowhere.example.com/hook"})
    assert unknown.status_code == 422 and "does not resolve" in unknown.json()["error"]["message"]


def _wait_attempted(api: Api, run_id: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not (rows := api.store.webhooks(run_id)) or rows[0].attempts == 0:
        assert time.monotonic() < deadline, "no delivery was attempted"
        time.sleep(0.05)


def test_a_dns_rebind_between_submission_and_delivery_is_refused(closed: Api, caplog: pytest.LogCaptureFixture) -> None:
    state = closed.client.app.state.service  # type: ignore[attr-defined]
    with running_receiver() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        table = {"hooks.example.com": ["93.184.216.34"]}
        state.destinations.resolver = _resolving(table)
        url = f"http://hooks.example.com:{port}/hook?token=s3cret"
        created = closed.run({"input": {"steps": 3, "seconds_per_step": 0.1}, "webhook_url": url})
        assert created.status_code == 202, created.text
        table["hooks.example.com"] = ["127.0.0.1"]  # the attacker's DNS now answers loopback
        with caplog.at_level(logging.WARNING, logger="workflows.service.webhooks"):
            _wait_attempted(closed, created.json()["run_id"])
        time.sleep(0.2)
    assert receiver.deliveries == []
    row = closed.store.webhooks(created.json()["run_id"])[0]
    assert row.delivered_at is None and row.last_error is not None and "loopback" in row.last_error
    assert "s3cret" not in caplog.text and "?<redacted>" in caplog.text


def test_delivery_connects_to_the_address_it_checked(make_api: Callable[..., Api]) -> None:
    """A name only the service's resolver knows is delivered to: the request went to the address checked."""
    api = make_api()  # the fixture's allow-list: 127.0.0.1
    state = api.client.app.state.service  # type: ignore[attr-defined]
    calls: list[str] = []

    def resolve(host: str, port: int) -> Sequence[str]:
        calls.append(host)
        return ["127.0.0.1"] if host == "hooks.yard.test" else []

    state.destinations.resolver = resolve
    with running_receiver() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        run = api.run({"input": {}, "webhook_url": f"http://hooks.yard.test:{port}/hook"}).json()
        deadline = time.monotonic() + 20
        while not receiver.deliveries:
            assert time.monotonic() < deadline, api.store.webhooks(run["run_id"])
            time.sleep(0.05)
    assert receiver.deliveries[0].headers["host"] == f"hooks.yard.test:{port}"
    assert calls == ["hooks.yard.test", "hooks.yard.test"]  # at submission and at delivery, nowhere else


def test_the_allow_list_lets_named_hosts_networks_and_exact_metadata_addresses_through() -> None:
    fixed = _resolving(
        {"mes.yard.internal": ["10.2.3.4"], "other.internal": ["10.9.9.9"], "meta.yard.internal": ["169.254.169.254"]}
    )
    policy = Destinations(["mes.yard.internal", "192.168.0.0/16", "::1"], resolver=fixed)
    assert policy.check("http://mes.yard.internal/hook").address == "10.2.3.4"
    assert policy.check("http://192.168.7.7:8080/").address == "192.168.7.7"
    assert policy.check("http://[::1]/").address == "::1"
    assert policy.check("https://1.1.1.1/").address == "1.1.1.1"
    with pytest.raises(DestinationError, match="private"):
        policy.check("http://other.internal/")
    named = Destinations(["meta.yard.internal"], resolver=fixed)
    with pytest.raises(DestinationError, match="metadata"):  # an allowed name still never reaches metadata
        named.check("http://meta.yard.internal/")
    with pytest.raises(DestinationError, match="metadata"):
        Destinations(["169.254.0.0/16"]).check("http://169.254.169.254/")
    assert Destinations(["169.254.169.254"]).check("http://169.254.169.254/").address == "169.254.169.254"
    strict = Destinations(["hooks.example.com"], allow_public=False, resolver=_resolving({}))
    with pytest.raises(DestinationError, match="not in SHIPBRAIN_WEBHOOK_ALLOW"):
        strict.check("https://1.1.1.1/")


def test_the_configured_webhook_url_is_checked_at_start(make_api: Callable[..., Api]) -> None:
    from knowledge.errors import InputError

    with pytest.raises(InputError, match="SHIPBRAIN_WEBHOOK_URL is refused"):
        make_api(service=service_settings(webhook_allow=[], webhook_url="http://10.0.0.5/hook"))


def test_the_failure_log_shows_no_credentials_or_query(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    """A row stored before credentials were refused is refused at delivery, and logged without its secrets."""
    dispatcher = Dispatcher(api.store, SECRET, service_settings())
    row = OutboxRow("msg_x", "run_x", "http://alice:hunter2@127.0.0.1:9/hook?token=s3cret", "{}", 0, now(), None, None)
    plain = OutboxRow("msg_y", "run_y", "http://127.0.0.1:9/hook?token=s3cret&sig=abc", "{}", 0, now(), None, None)
    with caplog.at_level(logging.WARNING, logger="workflows.service.webhooks"):
        assert dispatcher.deliver(row) is False and dispatcher.deliver(plain) is False
    dispatcher.stop()
    assert "hunter2" not in caplog.text and "alice" not in caplog.text and "s3cret" not in caplog.text
    assert "http://<redacted>@127.0.0.1:9/hook?<redacted>" in caplog.text
    assert "http://127.0.0.1:9/hook?<redacted>" in caplog.text
    assert redact_url("https://u:p@[::1]:8443/a/b?x=1#f") == "https://<redacted>@[::1]:8443/a/b?<redacted>"
