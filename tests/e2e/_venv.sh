# Sourced by tests/e2e/install_{mlserver,triton,kserve}.sh: each model server gets a virtual environment of its own
# at the repo root (they pin FastAPI, pydantic and protobuf ranges that cannot share .venv). Quiet and idempotent: a
# stamp file in the venv holds the requirement list it was made with, so a second run with the same list is a no-op
# and an edited list rebuilds it.

apt_install() {
  # apt-get install PACKAGES, as root or through sudo, quietly.
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

venv_current() {
  # venv_current VENV REQUIREMENTS: whether VENV was made with exactly REQUIREMENTS (its stamp says so).
  [ -x "$1/bin/python" ] && [ "$(cat "$1/.shipbrain-requirements" 2>/dev/null)" = "$2" ]
}

make_venv() {
  # make_venv VENV REQUIREMENTS: VENV made afresh with REQUIREMENTS installed, not yet stamped (the caller stamps
  # it with stamp_venv once its own checks pass). pip's output is shown only when it fails.
  local venv=$1 requirements=$2 python=${PYTHON:-python3} log
  rm -rf "$venv"
  if ! "$python" -m venv "$venv" 2>/dev/null; then
    rm -rf "$venv"
    apt_install python3-venv # Debian's own python3 needs its venv module from apt
    "$python" -m venv "$venv"
  fi
  echo '*' >"$venv/.gitignore" # keeps git, ruff and pytest out of it without an entry in the repo's .gitignore
  log=$(mktemp)
  # shellcheck disable=SC2086  # the requirement list is word-split on purpose
  if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $requirements >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    rm -rf "$venv"
    echo "$(basename "$0"): pip could not install $requirements (log above)" >&2
    return 1
  fi
  rm -f "$log"
}

stamp_venv() {
  # stamp_venv VENV REQUIREMENTS: record that VENV is complete with REQUIREMENTS.
  echo "$2" >"$1/.shipbrain-requirements"
}
