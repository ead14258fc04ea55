"""Where webhooks may go: public addresses, and other addresses only when the allow-list names them.

A webhook URL is checked twice: when a run names it (a 422 naming the field) and again at each delivery, after
resolving its host. Delivery then connects to the very address it checked (the URL's host is replaced by that
address; the `Host` header and TLS's server name keep the name), so a name that resolves to a public address when
checked and to a private one a moment later (DNS rebinding) cannot slip through.

Refused unless allowed explicitly (`SHIPBRAIN_WEBHOOK_ALLOW`, host names, addresses and CIDR networks):

- loopback (`127.0.0.0/8`, `::1`, `localhost`), private (`10/8`, `172.16/12`, `192.168/16`, `fc00::/7`),
  link-local (`169.254/16`, `fe80::/10`), unspecified (`0.0.0.0`, `::`), shared, reserved and multicast
  addresses: every address that is not global;
- cloud metadata addresses (`169.254.169.254`, `fd00:ec2::254`), even inside an allowed network: only the address
  itself in the allow-list lets one through;
- the same addresses spelled otherwise: `http://0x7f000001/`, `http://2130706433/`, `http://127.1/`, IPv4-mapped
  (`::ffff:127.0.0.1`), 6to4 and Teredo IPv6 addresses are judged by the IPv4 address inside them;
- any URL with a user name or password in it (`http://user:secret@host/`): a secret belongs in the signature.

Public addresses are allowed unless `SHIPBRAIN_WEBHOOK_ALLOW_PUBLIC=false` (then only the allow-list's).
`redact_url` is what logs show of a URL: no user info, no query.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias
from urllib.parse import urlsplit

__all__ = [
    "METADATA_ADDRESSES",
    "Destination",
    "DestinationError",
    "Destinations",
    "Resolver",
    "redact_url",
    "system_resolver",
]

Address: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver: TypeAlias = Callable[[str, int], Sequence[str]]
"""A host name and port -> the addresses it resolves to (as text); `OSError` if it resolves to none."""

METADATA_ADDRESSES: Final = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200")
)
"""Cloud instance metadata endpoints (AWS, AWS IPv6, ECS task metadata, Alibaba): credentials live there."""


class DestinationError(ValueError):
    """A webhook URL the service will not call; the message says why and how to allow it."""


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system's resolver gives for `host` (TCP), in its order of preference."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def redact_url(url: str) -> str:
    """`url` as logs may show it: scheme, host, port and path; user info and query replaced by `<redacted>`."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<unparsable url>"
    if ":" in host:
        host = f"[{host}]"
    shown = f"{parts.scheme}://{'<redacted>@' if '@' in parts.netloc else ''}{host}"
    shown += f":{port}" if port is not None else ""
    shown += parts.path
    if parts.query:
        shown += "?<redacted>"
    return shown


def _literal(host: str) -> Address | None:
    """The address a host written as an address means (`[::1]`, `127.1`, `0x7f000001`, `2130706433`), else None."""
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if bare and all(c in "0123456789abcdefxABCDEFX." for c in bare) and not bare.endswith("."):
        try:  # the BSD spellings browsers and resolvers accept: hex, octal, fewer than four parts
            return ipaddress.IPv4Address(socket.inet_aton(bare))
        except OSError:
            return None
    return None


def _inner(address: Address) -> Address:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo's client), else the address itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address.teredo is not None:
            return address.teredo[1]
    return address


@dataclass(frozen=True)
class Destination:
    """A checked delivery target: the URL's host and port, and the address to connect to."""

    host: str
    """The URL's host as written (a name, or an address)."""
    port: int
    address: str
    """The address that was checked, to connect to instead of resolving the name again."""


class Destinations:
    """The webhook destination policy: what may be called, checked before a run is recorded and before each call.

    Args:
        allow: host names, addresses and networks (`10.2.0.0/16`) that may be called although not public.
        allow_public: whether public addresses not in `allow` may be called.
        resolver: host name resolution (the system's by default; tests inject one).
    """

    def __init__(self, allow: Iterable[str] = (), *, allow_public: bool = True, resolver: Resolver | None = None):
        self.names: frozenset[str] = frozenset()
        self.networks: tuple[Network, ...] = ()
        self.allow_public = allow_public
        self.resolver: Resolver = resolver or system_resolver
        names: set[str] = set()
        networks: list[Network] = []
        for entry in (e.strip() for e in allow):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                names.add(entry.lower().rstrip("."))
        self.names, self.networks = frozenset(names), tuple(networks)

    def _explicit(self, address: Address) -> bool:
        if address in METADATA_ADDRESSES:
            return any(n.num_addresses == 1 and address in n for n in self.networks)
        return any(address in n for n in self.networks)

    def refusal(self, address: Address) -> str | None:
        """Why the service will not connect to `address`, or None if it may."""
        for candidate in dict.fromkeys((address, _inner(address))):
            if self._explicit(candidate):
                return None
        inner = _inner(address)
        if inner in METADATA_ADDRESSES or address in METADATA_ADDRESSES:
            return f"{address} is a cloud metadata address"
        if inner.is_global and address.is_global and not inner.is_multicast:
            return None if self.allow_public else f"{address} is not in SHIPBRAIN_WEBHOOK_ALLOW"
        kind = next(
            (
                name
                for name, hit in (
                    ("loopback", inner.is_loopback),
                    ("unspecified", inner.is_unspecified),
                    ("link-local", inner.is_link_local),
                    ("multicast", inner.is_multicast),
                    ("private", inner.is_private),
                )
                if hit
            ),
            "not a public",
        )
        return f"{address} is a {kind} address"

    def _parse(self, url: str) -> tuple[str, str, int]:
        try:
            parts = urlsplit(url)
            host, port = parts.hostname, parts.port
        except ValueError as exc:
            raise DestinationError(f"not a URL ({exc})") from None
        if parts.scheme not in ("http", "https") or not host:
            raise DestinationError("a webhook URL is http:// or https:// with a host")
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            raise DestinationError(
                "a webhook URL must not hold a user name or password; the receiver checks the webhook-signature "
                "header instead"
            )
        return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)

    def check(self, url: str) -> Destination:
        """The checked destination of `url`: its host resolved, every address allowed.

        Raises:
            DestinationError: credentials in the URL, a host that does not resolve, or an address not allowed
                (the message names it and the setting that would allow it).
        """
        _, host, port = self._parse(url)
        name = host.lower().rstrip(".")
        literal = _literal(host)
        hint = "; allow it with SHIPBRAIN_WEBHOOK_ALLOW if it is meant"
        if literal is not None:
            why = self.refusal(literal)
            if why is not None:
                raise DestinationError(f"webhooks may not go to {host}: {why}{hint}")
            return Destination(host, port, str(literal))
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in self.resolver(host, port)]
        except (OSError, UnicodeError, ValueError) as exc:
            raise DestinationError(f"the host {host!r} does not resolve ({exc})") from None
        if not addresses:
            raise DestinationError(f"the host {host!r} does not resolve")
        for address in addresses:
            why = self.refusal(address)
            if name in self.names and why is not None and "metadata" not in why:
                continue  # a host named in the allow-list may resolve to any address but a metadata one
            if why is not None:
                raise DestinationError(f"webhooks may not go to {host!r}: it resolves to {why}{hint}")
        return Destination(host, port, str(addresses[0]))
