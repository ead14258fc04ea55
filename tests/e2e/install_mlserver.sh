#!/usr/bin/env bash
# Create .venv-mlserver at the repo root: Seldon MLServer and onnxruntime, for the v2 end-to-end tests
# (adapters/serving/launch.py starts `.venv-mlserver/bin/mlserver`). MLServer 1.7.1 pins fastapi<0.116, so
# it cannot share .venv with Shipbrain (tests/e2e/_venv.sh: idempotent and quiet; edit REQUIREMENTS and the next
# run rebuilds the environment).
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/_venv.sh

VENV=.venv-mlserver
# uvloop is not pinned: adapters/serving/launch.py sets "parallel_workers": 0, which avoids the worker
# pool that crashes under uvloop 0.22+ ("There is no current event loop").
REQUIREMENTS="mlserver==1.7.1 onnxruntime>=1.17,<2 numpy>=1.26,<3"

if venv_current "$VENV" "$REQUIREMENTS" && [ -x "$VENV/bin/mlserver" ]; then
  exit 0
fi
make_venv "$VENV" "$REQUIREMENTS"
stamp_venv "$VENV" "$REQUIREMENTS"
echo "installed $("$VENV/bin/mlserver" --version 2>/dev/null || echo mlserver) into $VENV"
