#!/usr/bin/env bash
# Create .venv-triton at the repo root: NVIDIA PyTriton (its wheel bundles Triton Inference Server 2.51,
# CPU only), onnxruntime and numpy, for the v2 conformance suite (adapters/serving/pytriton_onnx.py runs
# inside it; adapters/serving/launch.py starts it). Idempotent and quiet, like install_mlserver.sh: a stamp
# file holding the requirement list makes a second run a no-op.
#
# On a fresh Debian machine with only python3.11, pip and apt: the wheel's tritonserver carries its own
# shared libraries (nvidia_pytriton.libs/), but the Python backend stub that runs each model
# (pytriton/tritonserver/python_backend_stubs/3.11/triton_python_backend_stub) is linked against the
# system's libpython3.11.so.1.0, which Debian ships in the `libpython3.11` package, not with python3.11
# itself (it pulls libexpat1 and zlib1g, the stub's other two). apt installs it here when it is missing;
# after the install, `ldd` on tritonserver and on the stub must show nothing "not found", or this script
# fails naming what is.
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=.venv-triton
STAMP="$VENV/.shipbrain-requirements"
REQUIREMENTS="nvidia-pytriton==0.7.0 onnxruntime>=1.17,<2 numpy>=1.26,<3"
APT_PACKAGES="libpython3.11"

missing_libs() {
  # Every "not found" of the bundled server and its Python stub, one name a line.
  local server version
  server=$(find "$VENV/lib" -path '*pytriton/tritonserver' -type d -print -quit)
  [ -n "$server" ] || return 0
  version=$("$VENV/bin/python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  for binary in "$server/bin/tritonserver" "$server/python_backend_stubs/$version/triton_python_backend_stub"; do
    ldd "$binary" 2>/dev/null | awk '/not found/ {print $1}'
  done | sort -u
}

apt_install() {
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$REQUIREMENTS" ] && [ -z "$(missing_libs)" ]; then
  exit 0
fi

# Only the packages that are not installed yet: a second machine with them pays no apt-get update.
needed=""
for package in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || needed="$needed $package"
done
if [ -n "$needed" ]; then
  # shellcheck disable=SC2086  # the package list is word-split on purpose
  apt_install $needed
fi

PYTHON=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$REQUIREMENTS" ]; then
  rm -rf "$VENV"
  if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
    # Debian's own python3 needs its venv module from apt
    rm -rf "$VENV"
    apt_install python3-venv
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
    echo "install_triton.sh: pip could not install $REQUIREMENTS (log above)" >&2
    exit 1
  fi
fi

missing=$(missing_libs)
if [ -n "$missing" ]; then
  echo "install_triton.sh: Triton's binaries still miss shared libraries: $missing (install them with apt)" >&2
  exit 1
fi
echo "$REQUIREMENTS" >"$STAMP"
echo "installed $("$VENV/bin/python" -c 'import importlib.metadata as m; print("nvidia-pytriton", m.version("nvidia-pytriton"))') into $VENV"
