#!/usr/bin/env bash
# Create .venv-mlserver at the repo root: Seldon MLServer and onnxruntime, for the v2 end-to-end tests
# (tests/e2e/servers.py starts `.venv-mlserver/bin/mlserver`). MLServer 1.7.1 pins fastapi<0.116, so
# it cannot share .venv with Shipbrain. Idempotent and quiet: a stamp file holding the requirement list
# makes a second run a no-op; edit REQUIREMENTS and the next run rebuilds the environment.
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=.venv-mlserver
STAMP="$VENV/.shipbrain-requirements"
# uvloop is not pinned: tests/e2e/servers.py sets "parallel_workers": 0, which avoids the worker
# pool that crashes under uvloop 0.22+ ("There is no current event loop").
REQUIREMENTS="mlserver==1.7.1 onnxruntime>=1.17,<2 numpy>=1.26,<3"

if [ -x "$VENV/bin/mlserver" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$REQUIREMENTS" ]; then
  exit 0
fi

PYTHON=${PYTHON:-python3}
rm -rf "$VENV"
if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
  # Debian's own python3 needs its venv module from apt
  rm -rf "$VENV"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
  "$PYTHON" -m venv "$VENV"
fi
# Keeps git, ruff and pytest out of the environment without an entry in the repo's .gitignore.
echo '*' >"$VENV/.gitignore"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# shellcheck disable=SC2086  # the requirement list is word-split on purpose
if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $REQUIREMENTS >"$log" 2>&1; then
  cat "$log" >&2
  rm -rf "$VENV"
  echo "install_mlserver.sh: pip could not install $REQUIREMENTS (log above)" >&2
  exit 1
fi
echo "$REQUIREMENTS" >"$STAMP"
echo "installed $("$VENV/bin/mlserver" --version 2>/dev/null || echo mlserver) into $VENV"
