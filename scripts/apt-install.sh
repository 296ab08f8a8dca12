#!/usr/bin/env bash
# Install the Debian packages a test suite needs, or record why they could not be installed.
#
#   scripts/apt-install.sh <suite> <package>...     # called by scripts/e2e/prereqs.sh and scripts/ui/prereqs.sh
#
# Debian's archive serves only the current version of a package, so these are pinned by record rather than
# by install: constraints/debian-packages.txt holds the versions the suites last passed with, and a note is
# printed when Debian now serves another one.
#
# When they cannot be installed (no root, or apt-get fails: the registry is down or has lost a package),
# the reason goes to .prereqs/<suite>.unavailable and the exit status is 0: the suite's tests then skip
# with that reason (tests/prereqs.py) instead of the registry turning the run red. Without that file a
# missing binary fails the suite under CI.
#
# No system-wide service is started: the suites run their own servers on 127.0.0.1 and stop them, so
# invoke-rc.d is told "action forbidden" (policy-rc.d) while the packages install.
set -euo pipefail
cd "$(dirname "$0")/.."
suite=$1
shift
state=.prereqs
mkdir -p "$state"
rm -f "$state/$suite.unavailable"

unavailable() {
  echo "scripts/apt-install.sh: $suite suite: $1; its tests will be skipped" >&2
  printf '%s\n' "$1" >"$state/$suite.unavailable"
  exit 0
}

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    unavailable "$* missing and no root to install them (run: apt-get install -y $*)"
  fi
fi

echo "scripts/apt-install.sh: installing $* (Debian packages) for the $suite suite"
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
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
log="$state/$suite.apt.log"
if ! "${sudo[@]}" apt-get update -qq >"$log" 2>&1; then
  unavailable "apt-get update failed (Debian's registry unreachable?): $(tail -n 1 "$log")"
fi
if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >>"$log" 2>&1; then
  unavailable "apt-get install $* failed: $(tail -n 1 "$log")"
fi
