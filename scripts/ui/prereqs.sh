#!/usr/bin/env bash
# Install the browser the browser suite (tests/ui) drives: Debian's chromium package. Playwright for Python
# (from uv.lock, the "ui" dependency group) is given its path (executable_path); no browser is ever
# downloaded by Playwright. A no-op when chromium is present. When Debian's registry cannot deliver it,
# the suite skips with the reason (scripts/apt-install.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."

if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  rm -f .prereqs/ui.unavailable
  exit 0
fi
scripts/apt-install.sh ui chromium
