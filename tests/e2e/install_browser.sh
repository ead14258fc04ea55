#!/usr/bin/env bash
# Install Debian's Chromium (/usr/bin/chromium) for the browser tests (tests/service/test_chat_page.py drives it
# with Playwright's Python package, never a browser Playwright downloads itself). Idempotent and quiet: nothing
# happens when /usr/bin/chromium exists; otherwise apt installs it, as root or through sudo.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install_browser.sh: /usr/bin/chromium is missing and installing it needs root or sudo" >&2
    exit 1
  fi
  SUDO="sudo"
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install_browser.sh: apt could not install chromium (log above)" >&2
  exit 1
fi
echo "installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium) at /usr/bin/chromium"
