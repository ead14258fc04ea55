"""API keys: random tokens shown once, stored as SHA-256 hashes, each with scopes.

A token is `sb_` + 43 URL-safe characters (32 random bytes). Tokens carry 256 bits of entropy, so a plain
SHA-256 (no salt, no slow hash) is enough to store them: nobody can guess a preimage. A request's token is
looked up by its first characters (the prefix, also shown in listings) and its hash compared in constant time.

Scopes: `ask` (the brain), `run` (start and read workflow runs), `approve` (decide plan changes, and read every
run and thread to decide them), `admin` (everything, and keys). Give an MES `run` and the people who decide `approve`:
a run is not approved by the key that submitted it (`workflows.service.decisions`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, get_args

from sqlalchemy import and_, insert, select, update

from knowledge.errors import InputError
from workflows.service._tables import API_KEYS
from workflows.service.store import Store, _aware, now

__all__ = ["SCOPES", "ApiKey", "KeyStore", "Principal", "Scope", "parse_scopes"]

Scope = Literal["ask", "run", "approve", "admin"]
SCOPES: Final[tuple[Scope, ...]] = get_args(Scope)
_PREFIX_CHARS: Final = 11  # "sb_" and 8 characters of the token


@dataclass(frozen=True)
class Principal:
    """Who a request comes from: an API key's id, name and scopes."""

    key_id: str
    name: str
    scopes: frozenset[str]

    def allows(self, scope: Scope) -> bool:
        """Whether the key has `scope` (admin has every scope)."""
        return scope in self.scopes or "admin" in self.scopes


@dataclass(frozen=True)
class ApiKey:
    """An API key as listed: never its token."""

    key_id: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None


def parse_scopes(text: str | Iterable[str]) -> tuple[Scope, ...]:
    """Scopes from "ask,run" (or a list); an unknown or missing scope is an `InputError`."""
    names = [s.strip() for s in (text.split(",") if isinstance(text, str) else text) if s.strip()]
    if not names:
        raise InputError(f"give at least one scope of {', '.join(SCOPES)}")
    bad = [s for s in names if s not in SCOPES]
    if bad:
        raise InputError(f"unknown scope {bad[0]!r}; the scopes are {', '.join(SCOPES)}")
    return tuple(s for s in SCOPES if s in names)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class KeyStore:
    """API keys in the service's store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, name: str, scopes: str | Iterable[str], *, actor: str) -> tuple[ApiKey, str]:
        """Make a key; returns it and its token (the only time the token exists outside the caller)."""
        name = name.strip()
        if not name or len(name) > 200:
            raise InputError("a key's name is 1-200 characters")
        wanted = parse_scopes(scopes)
        token = "sb_" + secrets.token_urlsafe(32)
        key = ApiKey("key_" + uuid.uuid4().hex[:16], name, token[:_PREFIX_CHARS], wanted, now(), None)
        row = {
            "id": key.key_id,
            "name": name,
            "prefix": key.prefix,
            "hash": _hash(token),
            "scopes": ",".join(wanted),
            "created_at": key.created_at,
        }
        with self.store.engine.begin() as conn:
            conn.execute(insert(API_KEYS).values(row))
            audited = {"name": name, "scopes": list(wanted), "prefix": key.prefix}
            self.store.audit(conn, actor, "key.create", key.key_id, audited)
        return key, token

    def list(self) -> list[ApiKey]:
        """Every key, revoked ones too, oldest first."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(API_KEYS).order_by(API_KEYS.c.created_at)).all()
        return [
            ApiKey(
                key_id=r.id,
                name=r.name,
                prefix=r.prefix,
                scopes=tuple(r.scopes.split(",")),
                created_at=_aware(r.created_at) or now(),
                revoked_at=_aware(r.revoked_at),
            )
            for r in rows
        ]

    def active_admin_exists(self) -> bool:
        """Whether any unrevoked key has the admin scope."""
        return any(k.revoked_at is None and "admin" in k.scopes for k in self.list())

    def find(self, key_id: str) -> str:
        """The id of the key `key_id` names: its whole id, or a start of it that no other key's id shares.

        Raises:
            InputError: no key's id is or starts with `key_id`, or several start with it (they are named).
        """
        wanted = key_id.strip()
        ids = [k.key_id for k in self.list()]
        if wanted in ids:
            return wanted
        matches = [i for i in ids if wanted and i.startswith(wanted)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise InputError(f"{len(matches)} keys start with {wanted!r} ({', '.join(matches)}); give more of the id")
        raise InputError(f"no key {wanted!r}; `shipbrain keys list` shows the ids")

    def revoke(self, key_id: str, *, actor: str) -> ApiKey:
        """Revoke a key (it stops working at once), named by its id or a unique start of it (`find`).

        Revoking a revoked key is an `InputError`.
        """
        key_id = self.find(key_id)
        with self.store.engine.begin() as conn:
            active = and_(API_KEYS.c.id == key_id, API_KEYS.c.revoked_at.is_(None))
            done = conn.execute(update(API_KEYS).where(active).values(revoked_at=now()))
            if done.rowcount != 1:
                known = conn.execute(select(API_KEYS.c.id).where(API_KEYS.c.id == key_id)).first()
                raise InputError(f"key {key_id!r} is revoked already" if known else f"no key {key_id!r}")
            self.store.audit(conn, actor, "key.revoke", key_id, {"key_id": key_id})
        return next(k for k in self.list() if k.key_id == key_id)

    def authenticate(self, token: str) -> Principal | None:
        """The principal of a token, or None if it is unknown or revoked."""
        if not token.startswith("sb_") or len(token) > 200:
            return None
        digest = _hash(token)
        query = select(API_KEYS).where(API_KEYS.c.prefix == token[:_PREFIX_CHARS], API_KEYS.c.revoked_at.is_(None))
        with self.store.engine.connect() as conn:
            rows = conn.execute(query).all()
        for r in rows:
            if hmac.compare_digest(r.hash, digest):
                return Principal(r.id, r.name, frozenset(r.scopes.split(",")))
        return None
