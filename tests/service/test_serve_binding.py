"""Issue 13, finding 2: `serve` beyond loopback only with TLS or a declared reverse proxy; TLS for real.

And finding 1's DNS rebinding against the real server: a request naming another host is refused.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from knowledge.settings import get_settings
from tests.service.servers import Server, start
from workflows.service.cli import service_app

OPENSSL = shutil.which("openssl")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SHIPBRAIN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SHIPBRAIN_BEHIND_PROXY", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "shipbrain.yard.example"])
def test_serving_beyond_loopback_in_clear_text_is_refused(data_dir: Path, host: str) -> None:
    refused = CliRunner().invoke(service_app, ["serve", "--host", host, "--port", "8999", "--no-chat"])
    assert refused.exit_code == 2, refused.output
    text = " ".join(refused.output.split())
    assert f"refusing to serve on {host!r} without TLS" in text
    assert "--ssl-certfile" in text and "--behind-proxy" in text and "--host 127.0.0.1" in text
    assert not data_dir.exists()  # refused before anything was made


def test_tls_options_are_checked_before_serving(data_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    lone_key = runner.invoke(service_app, ["serve", "--ssl-keyfile", str(tmp_path / "k.pem")])
    assert lone_key.exit_code == 2 and "--ssl-keyfile needs --ssl-certfile" in lone_key.output
    missing = runner.invoke(service_app, ["serve", "--host", "0.0.0.0", "--ssl-certfile", str(tmp_path / "no.pem")])
    assert missing.exit_code == 2 and "is not a file" in missing.output
    assert not data_dir.exists()


def _self_signed(where: Path) -> tuple[Path, Path]:
    assert OPENSSL is not None
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        + ["-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost"]
        + ["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.mark.slow
@pytest.mark.skipif(OPENSSL is None, reason="no openssl to make a certificate (Debian's openssl package)")
def test_tls_on_every_address_serves_https_and_says_so(tmp_path: Path, small_yard: Path) -> None:
    cert, key = _self_signed(tmp_path)
    tls = ("--ssl-certfile", str(cert), "--ssl-keyfile", str(key))
    server: Server = start(tmp_path / "data", "--no-chat", "--yard", str(small_yard), "--host", "0.0.0.0", *tls)
    try:
        port = server.url.rsplit(":", 1)[1]
        assert server.url.startswith("https://")
        output = " ".join(server.output(redact=True).split())
        assert re.search(rf"serving on https://0\.0\.0\.0:{port}/ \(every IPv4 address of this machine", output)
        assert server.admin_key is not None
        with httpx.Client(base_url=server.url, verify=server.tls_context(), timeout=10) as client:
            assert client.get("/healthz").json()["status"] == "ok"
            listed = client.get("/v1/workflows", headers={"Authorization": f"Bearer {server.admin_key}"})
            assert listed.status_code == 200 and any(w["name"] == "test-sleep" for w in listed.json())
            rebind = client.get("/healthz", headers={"Host": f"rebind.attacker.example:{port}"})
            assert rebind.status_code == 400 and rebind.json()["error"]["type"] == "invalid_host"
            assert client.get("/healthz", headers={"Host": f"localhost:{port}"}).status_code == 200
        with pytest.raises(httpx.HTTPError):  # a certificate nobody signed is not trusted by default
            httpx.get(f"{server.url}/healthz", timeout=10)
        with pytest.raises(httpx.HTTPError):  # no clear-text HTTP on the TLS port
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).raise_for_status()
    finally:
        server.kill(signal.SIGTERM)
