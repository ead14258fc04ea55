"""Where `shipbrain serve` may listen, and what it then says and trusts.

On a loopback address (`127.0.0.1`, `::1`, `localhost`) the service listens as it is. Beyond loopback (`0.0.0.0`,
`::`, a LAN address, a host name) API keys would cross the network in clear text, so it needs one of:

- TLS from uvicorn itself: `--ssl-certfile cert.pem --ssl-keyfile key.pem` (the address printed is `https://`);
- a reverse proxy that terminates TLS, declared with `--behind-proxy` (or `SHIPBRAIN_BEHIND_PROXY=true`): then,
  and only then, `X-Forwarded-For` and `X-Forwarded-Proto` are honoured, and only from the proxy's own addresses
  (`SHIPBRAIN_PROXY_ADDRESSES`, default `127.0.0.1`).

Anything else is refused before the service starts (exit code 2, a message saying the three ways out).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

from knowledge.errors import InputError

__all__ = ["Binding", "is_loopback"]

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback address or the name `localhost`."""
    bare = host.strip("[]").lower()
    if bare in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False


def _wildcard(host: str) -> bool:
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare).is_unspecified
    except ValueError:
        return False


@dataclass(frozen=True)
class Binding:
    """How `serve` listens: address, port, TLS files, and whether a reverse proxy stands in front."""

    host: str
    port: int
    certfile: Path | None = None
    keyfile: Path | None = None
    behind_proxy: bool = False

    @property
    def tls(self) -> bool:
        """Whether uvicorn serves TLS itself."""
        return self.certfile is not None

    def check(self) -> None:
        """Refuse what must not start: a key without a certificate, missing files, clear text beyond loopback.

        Raises:
            InputError: the message says what is wrong and how to serve instead.
        """
        if self.keyfile is not None and self.certfile is None:
            raise InputError("--ssl-keyfile needs --ssl-certfile (the certificate the key belongs to)")
        for option, path in (("--ssl-certfile", self.certfile), ("--ssl-keyfile", self.keyfile)):
            if path is not None and not path.is_file():
                raise InputError(f"{option} {str(path)!r} is not a file")
        if is_loopback(self.host) or self.tls or self.behind_proxy:
            return
        raise InputError(
            f"refusing to serve on {self.host!r} without TLS: API keys would cross the network in clear text. "
            "Serve TLS (--ssl-certfile CERT.pem --ssl-keyfile KEY.pem), or declare the reverse proxy that "
            "terminates TLS in front (--behind-proxy, and SHIPBRAIN_PROXY_ADDRESSES for its addresses), or listen "
            "on loopback only (--host 127.0.0.1)"
        )

    @property
    def url(self) -> str:
        """The address the service answers at, as a client writes it (https with TLS; IPv6 in brackets)."""
        scheme = "https" if self.tls else "http"
        host = self.host.strip("[]")
        shown = f"[{host}]" if ":" in host else host
        return f"{scheme}://{shown}:{self.port}/"

    def describe(self) -> str:
        """`url`, and for a wildcard address what it means and a name clients may use."""
        if not _wildcard(self.host):
            return self.url
        scheme = "https" if self.tls else "http"
        every = "every IPv4 address" if ":" not in self.host else "every address"
        return f"{self.url} ({every} of this machine, e.g. {scheme}://{socket.gethostname()}:{self.port}/)"

    def hosts(self) -> list[str]:
        """The `Host` header values a client reaching this binding sends.

        Loopback's names, the bound address, and for a wildcard address this machine's name.
        """
        names = ["localhost", "127.0.0.1", "::1", self.host.strip("[]").lower()]
        if _wildcard(self.host):
            names += [socket.gethostname().lower(), socket.getfqdn().lower()]
        return list(dict.fromkeys(names))
