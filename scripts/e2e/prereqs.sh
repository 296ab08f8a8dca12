#!/usr/bin/env bash
# Install the servers the end-to-end suite (tests/e2e) starts by itself: the PostgreSQL server
# binaries (initdb, postgres) and redis-server. Debian packages; a no-op when both are present.
#
# The suite runs its own throwaway PostgreSQL cluster and Redis on free 127.0.0.1 ports and stops
# them when done, so the system-wide services these packages would normally start are kept from
# starting here (policy-rc.d), instead of being left listening after the run.
set -euo pipefail

have_postgres() {
  command -v initdb >/dev/null 2>&1 && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

missing=()
have_postgres || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    echo "scripts/e2e/prereqs.sh: ${missing[*]} missing and no root to install them;" \
      "run: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

echo "scripts/e2e/prereqs.sh: installing ${missing[*]} for the end-to-end suite"
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  # Exit status 101 tells invoke-rc.d "action forbidden": the packages install without starting
  # a system-wide postgres on 5432 or redis on 6379 that nothing would stop.
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod 755 "$policy"
  created_policy=1
fi
cleanup() {
  if [ "$created_policy" -eq 1 ]; then
    "${sudo[@]}" rm -f "$policy"
  fi
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
have_postgres && command -v redis-server >/dev/null 2>&1
