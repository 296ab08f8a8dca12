#!/usr/bin/env bash
# Install the servers the end-to-end suite (tests/e2e) starts by itself: the PostgreSQL server
# binaries (initdb, postgres) and redis-server. Debian packages; a no-op when both are present.
# The suite runs its own throwaway PostgreSQL cluster and Redis on free 127.0.0.1 ports and stops
# them when done. When Debian's registry cannot deliver them, the suite skips with the reason
# (scripts/apt-install.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."

have_postgres() {
  command -v initdb >/dev/null 2>&1 && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

missing=()
have_postgres || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ "${#missing[@]}" -eq 0 ]; then
  rm -f .prereqs/e2e.unavailable
  exit 0
fi
scripts/apt-install.sh e2e "${missing[@]}"
