#!/usr/bin/env bash
# Install Shipbrain with its development tools into .venv, then run every check:
# ruff (lint and format), mypy (types) and pytest (all tests, slow ones included).
# Works on a fresh machine with only Python 3.11, pip and Debian's apt. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv; then
    # Debian's own python3 needs its venv module from apt
    rm -rf .venv
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv
    "$PYTHON" -m venv .venv
  fi
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'

# PostgreSQL's server programs, for the tests of the PostgreSQL checkpointer and stores (each test starts its own
# throwaway cluster; nothing is left running).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi

# Redis (the rate limits shared between service processes) and HAProxy (the load balancer in front of two of them),
# for tests/service/test_multiprocess.py; each test starts its own on a free port and stops it after.
if ! command -v redis-server >/dev/null 2>&1 || ! command -v haproxy >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server haproxy >/dev/null
fi

# openssl makes the self-signed certificate `serve --ssl-certfile` is tested with (tests/service/test_serve_binding.py).
if ! command -v openssl >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openssl >/dev/null
fi

# Seldon MLServer pins an older FastAPI, so the v2 transport's tests get it in its own venv; Triton (PyTriton's
# wheel, with the libpython3.11 its Python stub links, from apt) and KServe likewise, for the v2 conformance suite.
bash tests/e2e/install_mlserver.sh
bash tests/e2e/install_triton.sh
bash tests/e2e/install_kserve.sh

# Debian's Chromium for the chat page's browser test (Playwright drives it; it never downloads a browser).
bash tests/e2e/install_browser.sh

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
.venv/bin/pytest "$@"
