#!/usr/bin/env bash
# Create .venv-kserve at the repo root: KServe's Python model server and onnxruntime, for the v2 conformance
# suite (adapters/serving/kserve_onnx.py runs inside it; adapters/serving/launch.py starts it). KServe pins
# its own FastAPI and pydantic ranges, so it gets a venv of its own. Idempotent and quiet, like
# install_mlserver.sh: a stamp file holding the requirement list makes a second run a no-op.
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=.venv-kserve
STAMP="$VENV/.shipbrain-requirements"
REQUIREMENTS="kserve==0.21.0 onnxruntime>=1.17,<2 numpy>=1.26,<3"

if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$REQUIREMENTS" ]; then
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
  echo "install_kserve.sh: pip could not install $REQUIREMENTS (log above)" >&2
  exit 1
fi
echo "$REQUIREMENTS" >"$STAMP"
echo "installed $("$VENV/bin/python" -c 'import importlib.metadata as m; print("kserve", m.version("kserve"))') into $VENV"
