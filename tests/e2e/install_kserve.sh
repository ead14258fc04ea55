#!/usr/bin/env bash
# Create .venv-kserve at the repo root: KServe's Python model server and onnxruntime, for the v2 conformance
# suite (adapters/serving/kserve_onnx.py runs inside it; adapters/serving/launch.py starts it). KServe pins
# its own FastAPI and pydantic ranges, so it gets a venv of its own (tests/e2e/_venv.sh: idempotent and quiet).
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/_venv.sh

VENV=.venv-kserve
REQUIREMENTS="kserve==0.21.0 onnxruntime>=1.17,<2 numpy>=1.26,<3"

if venv_current "$VENV" "$REQUIREMENTS"; then
  exit 0
fi
make_venv "$VENV" "$REQUIREMENTS"
stamp_venv "$VENV" "$REQUIREMENTS"
echo "installed $("$VENV/bin/python" -c 'import importlib.metadata as m; print("kserve", m.version("kserve"))') into $VENV"
