"""A throwaway PostgreSQL server for tests: Debian's postgresql, a fresh cluster on a Unix socket, removed after.

tests/run.sh installs Debian's `postgresql` package when it is missing. PostgreSQL refuses to run as
root, so under root the cluster belongs to the `postgres` user the package creates.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def available() -> bool:
    """Whether PostgreSQL's server programs are installed."""
    return _bin("initdb") is not None and _bin("pg_ctl") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a fresh cluster; yields a DSN (libpq URI over a Unix socket); stops and removes it after.

    The cluster lives in its own folder directly under the system's temp dir (pytest's tmp_path is not
    reachable by the `postgres` user).
    """
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    assert initdb and pg_ctl, "PostgreSQL server programs are not installed (tests/run.sh installs them)"
    root = Path(tempfile.mkdtemp(prefix="shipbrain-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir(exist_ok=True)
    as_user: list[str] = []
    if os.geteuid() == 0:  # postgres will not run as root
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    run = {"check": True, "capture_output": True, "text": True, "timeout": 120}
    subprocess.run([*as_user, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"], **run)  # type: ignore[call-overload]
    options = f"-k {sock} -p {port} -c listen_addresses='' -c fsync=off"
    subprocess.run([*as_user, pg_ctl, "-D", str(data), "-o", options, "-w", "-l", str(root / "log"), "start"], **run)  # type: ignore[call-overload]
    try:
        yield f"postgresql://postgres@/postgres?host={sock}&port={port}"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], check=False,
                       capture_output=True, timeout=60)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)
