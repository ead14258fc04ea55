"""`shipbrain keys` (API keys of the HTTP service) and `shipbrain serve` (the service itself).

```bash
shipbrain serve [--host 127.0.0.1] [--port 8000]      # first start: demo yard, documents, an admin key (its
                                                      # token in DATA_DIR/service/admin_key, mode 0600)
shipbrain serve --host 0.0.0.0 --ssl-certfile cert.pem --ssl-keyfile key.pem   # beyond loopback: TLS,
shipbrain serve --host 0.0.0.0 --behind-proxy            # or a reverse proxy that terminates it
shipbrain keys create --name mes-line-3 --scopes run     # prints the token once
shipbrain keys list
shipbrain keys revoke key_0123456789abcdef
```
"""

from __future__ import annotations

import getpass
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from knowledge.cli import user_errors
from knowledge.settings import get_settings
from workflows.service.keys import SCOPES, ApiKey, KeyStore
from workflows.service.store import Store

__all__ = ["ADMIN_KEY_FILE", "keys_app", "serve_command", "service_app"]

keys_app = typer.Typer(
    help="API keys of the HTTP service: create (the token is shown once), list, revoke.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in a bare container
        return "cli"


def _keys() -> KeyStore:
    return KeyStore(Store(get_settings()))


def _key_json(key: ApiKey) -> dict[str, object]:
    return {
        "key_id": key.key_id,
        "name": key.name,
        "prefix": key.prefix,
        "scopes": list(key.scopes),
        "created_at": key.created_at.isoformat(),
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }


@keys_app.command("create")
def create_key(
    name: Annotated[str, typer.Option("--name", help="Who or what uses the key, e.g. mes-line-3.")],
    scopes: Annotated[str, typer.Option("--scopes", help=f"Comma-separated, of {', '.join(SCOPES)}.")] = "run",
    as_json: JsonFlag = False,
) -> None:
    """Make an API key and print its token once (only its hash is stored)."""
    with user_errors():
        key, token = _keys().create(name, scopes, actor=_actor())
        if as_json:
            sys.stdout.write(json.dumps({**_key_json(key), "token": token}, indent=2) + "\n")
            return
        out.print(f"key {key.key_id} ({key.name}), scopes {','.join(key.scopes)}")
        out.print(f"token: {token}", highlight=False, soft_wrap=True)
        err.print("[yellow]The token is shown this once; only its hash is kept.[/]")


@keys_app.command("list")
def list_keys(as_json: JsonFlag = False) -> None:
    """List the API keys (never their tokens)."""
    with user_errors():
        keys = _keys().list()
        if as_json:
            sys.stdout.write(json.dumps([_key_json(k) for k in keys], indent=2) + "\n")
            return
        rows = [
            (
                k.key_id,
                k.name,
                k.prefix + "...",
                ",".join(k.scopes),
                f"{k.created_at:%Y-%m-%d %H:%M}",
                f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "",
            )
            for k in keys
        ]
        table = Table(title="API keys", title_justify="left")
        for column in ("id", "name", "token starts", "scopes", "created", "revoked"):
            table.add_column(column, no_wrap=True)
        for row in rows:
            table.add_row(*(Text(cell) for cell in row))  # a name is text, never Rich markup
        if Measurement.get(out, out.options.update_width(10_000), table).maximum <= out.width:
            out.print(table)
            return
        # too narrow for the table: one key a line, its id whole (`keys revoke` takes it, or a unique start of it)
        for key_id, name, prefix, scopes, created, revoked in rows:
            state = f", revoked {revoked}" if revoked else ""
            out.print(
                f"{key_id}  {name}  scopes {scopes}  token {prefix}  created {created}{state}",
                highlight=False,
                markup=False,
            )


@keys_app.command("revoke")
def revoke_key(
    key_id: Annotated[str, typer.Argument(help="The key's id, or a start no other key's id shares (`keys list`).")],
) -> None:
    """Revoke an API key: requests with it are refused from now on."""
    with user_errors():
        key = _keys().revoke(key_id, actor=_actor())
        out.print(f"revoked {key.key_id} ({key.name})")


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    yard: Annotated[
        Path | None,
        typer.Option(
            help="The imported yard store to serve (what `shipbrain yard import` wrote) [default: the demo yard]."
        ),
    ] = None,
    ssl_certfile: Annotated[
        Path | None,
        typer.Option("--ssl-certfile", help="Serve TLS with this certificate (PEM; its chain after it)."),
    ] = None,
    ssl_keyfile: Annotated[
        Path | None, typer.Option("--ssl-keyfile", help="The certificate's private key (PEM).")
    ] = None,
    behind_proxy: Annotated[
        bool | None,
        typer.Option(
            "--behind-proxy/--no-behind-proxy",
            help="A reverse proxy terminates TLS in front: listen beyond loopback without TLS, and honour "
            "X-Forwarded-For/-Proto from SHIPBRAIN_PROXY_ADDRESSES only [default: SHIPBRAIN_BEHIND_PROXY].",
            show_default=False,
        ),
    ] = None,
    chat: Annotated[bool, typer.Option(help="Serve the planners' chat page at /.")] = True,
    warm: Annotated[
        bool,
        typer.Option(
            help="Warm the yard in the background once serving: both models over the yard and the adopted schedule, "
            "computed or read from the yard's cache, so the first questions need not wait (progress in /healthz)."
        ),
    ] = True,
) -> None:
    """Serve the HTTP API (and the chat page): on first start make the demo yard and an admin API key.

    Beyond loopback it serves only with TLS (`--ssl-certfile`, `--ssl-keyfile`) or behind a declared reverse proxy
    (`--behind-proxy`); otherwise it refuses to start (exit code 2).
    """
    import uvicorn

    from workflows.service.app import create_app
    from workflows.service.binding import Binding
    from workflows.service.settings import ServiceSettings

    started = time.monotonic()
    with user_errors():
        service = ServiceSettings()
        proxied = service.behind_proxy if behind_proxy is None else behind_proxy
        binding = Binding(host, port, ssl_certfile, ssl_keyfile, proxied)
        binding.check()  # before anything is made: a refused start leaves nothing behind
        os.umask(0o077)  # what the service makes (databases, conversations, caches, keys) only its owner reads
        settings = get_settings()
        _private(settings.data_dir)
        if yard is None:
            from knowledge.cli import ensure_demo_yard

            ensure_demo_yard()
        else:
            _check_store(yard)
        keys = KeyStore(Store(settings))
        if not keys.active_admin_exists():
            _, token = keys.create("admin", "admin", actor=_actor())
            where = _write_secret(settings.data_dir / "service" / ADMIN_KEY_FILE, token)
            out.print(
                f"first start: an admin API key was made; its token (only its hash is kept in the database) is in "
                f"a file only you can read:\n  {where}\nkeep it somewhere safe, then delete the file",
                highlight=False,
                soft_wrap=True,
            )
        else:
            out.print(
                "an admin API key exists; make others with: shipbrain keys create --name NAME --scopes run (an "
                "MES) or --scopes ask,approve (a planner who decides plan changes); shipbrain keys list shows them",
                highlight=False,
            )
        app = create_app(
            settings,
            yard,
            service=service,
            chat=chat,
            warm=warm,
            warm_progress=_warm_lines(),
            hosts=binding.hosts(),
        )
        secret = "SHIPBRAIN_WEBHOOK_SECRET" if service.webhook_secret else settings.data_dir / "service/webhook_secret"
    proxy = f"; behind a proxy at {', '.join(service.proxy_addresses)}" if proxied else ""
    out.print(
        f"serving on {binding.describe()} (API docs at /docs; webhooks signed with the secret in {secret}{proxy}); "
        f"ready in {time.monotonic() - started:.1f} s",
        highlight=False,
        soft_wrap=True,
    )
    uvicorn.run(
        app,
        host=host.strip("[]"),
        port=port,
        log_level="info",
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        proxy_headers=proxied,  # uvicorn believes 127.0.0.1's forwarded headers by default: only behind a proxy
        forwarded_allow_ips=service.proxy_addresses if proxied else None,
        server_header=False,
    )


ADMIN_KEY_FILE = "admin_key"
"""The file under `DATA_DIR/service/` that a first `serve` writes the admin API key's token to (mode 0600)."""
_DATABASE_SUFFIXES = (".sqlite", ".sqlite-wal", ".sqlite-shm", ".sqlite-journal")


def _private(data_dir: Path) -> None:
    """The data dir readable by its owner only (0700), and the databases in it 0600, those made before too.

    `brain.sqlite` holds the conversations and `shipbrain.sqlite` the runs, keys' hashes and the audit log; the
    process's umask (0077, set by `serve`) covers what is made from now on.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    for folder in (data_dir, data_dir / "service"):
        for path in folder.glob("*"):
            if path.is_file() and path.name.endswith(_DATABASE_SUFFIXES):
                path.chmod(0o600)


def _write_secret(path: Path, secret: str) -> Path:
    """Write `secret` to `path`, readable by its owner only (0600), replacing an older one; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    tmp.replace(path)
    return path.resolve()


def _check_store(yard: Path) -> None:
    """Refuse a yard in the open format (its source files) with how to import it: the service serves stores."""
    from knowledge.errors import YardDataError

    if (yard / "yard.toml").is_file() and not (yard / "manifest.json").is_file():
        raise YardDataError(
            f"{str(yard)!r} is a yard in the open format, not an imported store: import it first "
            f"(shipbrain yard import {yard} STORE) and serve the store"
        )


def _warm_lines() -> Callable[[str, int, int], None]:
    """Console lines for the warm-up: one as each step starts, one when it is done."""
    started = time.monotonic()

    def report(step: str, done: int, total: int) -> None:
        if step == "done":
            out.print(
                f"yard warm in {time.monotonic() - started:.1f} s: questions read the kept predictions and schedule",
                highlight=False,
            )
        else:
            out.print(f"warming the yard in the background [{done + 1}/{total}]: {step}", highlight=False)

    return report


service_app = typer.Typer(
    help="The HTTP service on its own (`python -m workflows.service`): serve, and its API keys.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
service_app.command("serve")(serve_command)
service_app.add_typer(keys_app, name="keys")
