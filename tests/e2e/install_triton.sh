#!/usr/bin/env bash
# Create .venv-triton at the repo root: NVIDIA PyTriton (its wheel bundles Triton Inference Server 2.51,
# CPU only), onnxruntime and numpy, for the v2 conformance suite (adapters/serving/pytriton_onnx.py runs
# inside it; adapters/serving/launch.py starts it). Idempotent and quiet, like install_mlserver.sh: a stamp
# file holding the requirement list makes a second run a no-op.
#
# On a fresh Debian machine with only python3, pip and apt: the wheel's tritonserver carries its own
# shared libraries (nvidia_pytriton.libs/), but the Python backend stub that runs each model
# (pytriton/tritonserver/python_backend_stubs/X.Y/triton_python_backend_stub, X.Y the venv's Python) is linked
# against the system's libpythonX.Y.so.1.0, which Debian ships in the `libpythonX.Y` package, not with pythonX.Y
# itself (it pulls libexpat1 and zlib1g, the stub's other two). Once the venv is made, the script reads X.Y from
# the venv's Python and apt installs libpythonX.Y (as root, or through sudo) when it is missing. Both binaries must
# exist (a wheel without the stub for this Python is an error), and `ldd` on them must show nothing "not found",
# or this script fails naming what is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/_venv.sh

VENV=.venv-triton
REQUIREMENTS="nvidia-pytriton==0.7.0 onnxruntime>=1.17,<2 numpy>=1.26,<3"

python_version() {
  "$VENV/bin/python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")'
}

binaries() {
  # The bundled server and the Python stub for the venv's Python, one path a line; fails naming one that is missing.
  local server version binary
  server=$(find "$VENV/lib" -path '*pytriton/tritonserver' -type d -print -quit)
  if [ -z "$server" ]; then
    echo "install_triton.sh: no pytriton/tritonserver folder in $VENV (is nvidia-pytriton installed?)" >&2
    return 1
  fi
  version=$(python_version)
  for binary in "$server/bin/tritonserver" "$server/python_backend_stubs/$version/triton_python_backend_stub"; do
    if [ ! -x "$binary" ]; then
      echo "install_triton.sh: $binary is missing (nvidia-pytriton has no Triton or stub for Python $version)" >&2
      return 1
    fi
    echo "$binary"
  done
}

missing_libs() {
  # Every "not found" of the bundled server and its Python stub, one name a line; fails if a binary is missing.
  local found binary
  found=$(binaries) || return 1
  for binary in $found; do
    ldd "$binary" | awk '/not found/ {print $1}'
  done | sort -u
}

if venv_current "$VENV" "$REQUIREMENTS" && missing=$(missing_libs 2>/dev/null) && [ -z "$missing" ]; then
  exit 0
fi
if ! venv_current "$VENV" "$REQUIREMENTS"; then
  make_venv "$VENV" "$REQUIREMENTS"
fi

# The stub links the libpython of the venv's own Python: install it when it is not installed yet (a machine that
# has it pays no apt-get update).
LIBPYTHON="libpython$(python_version)"
if ! dpkg-query -W -f='${Status}' "$LIBPYTHON" 2>/dev/null | grep -q "install ok installed"; then
  apt_install "$LIBPYTHON"
fi

missing=$(missing_libs)  # a missing binary ends the script here (set -e), its message on stderr
if [ -n "$missing" ]; then
  echo "install_triton.sh: Triton's binaries still miss shared libraries: $missing (install them with apt)" >&2
  exit 1
fi
stamp_venv "$VENV" "$REQUIREMENTS"
echo "installed $("$VENV/bin/python" -c 'import importlib.metadata as m; print("nvidia-pytriton", m.version("nvidia-pytriton"))') into $VENV"
