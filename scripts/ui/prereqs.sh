#!/usr/bin/env bash
# Install the browser the browser suite (tests/ui) drives: Debian's chromium package. Playwright for Python
# (from uv.lock, the "ui" dependency group) is given its path (executable_path); no browser is ever
# downloaded by Playwright. A no-op when chromium is present.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    echo "scripts/ui/prereqs.sh: chromium missing and no root to install it; run: apt-get install -y chromium" >&2
    exit 1
  fi
fi

echo "scripts/ui/prereqs.sh: installing chromium (Debian package) for the browser suite"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null 2>&1
