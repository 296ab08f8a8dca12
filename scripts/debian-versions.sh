#!/usr/bin/env bash
# Compare the Debian packages the suites use with the versions they last passed with
# (constraints/debian-packages.txt); prints one note per difference, never fails.
#
#   scripts/debian-versions.sh            # compare
#   scripts/debian-versions.sh --record   # rewrite the file from what is installed (after a green run)
set -uo pipefail
cd "$(dirname "$0")/.."
file=constraints/debian-packages.txt
packages=$(grep -v '^#' "$file" | cut -d= -f1)
if [ "${1:-}" = "--record" ]; then
  {
    grep '^#' "$file"
    for package in $packages; do
      dpkg-query -W -f '${Package}=${Version}\n' "$package" 2>/dev/null || echo "$package=not-installed"
    done
  } >"$file.new" && mv "$file.new" "$file"
  exit 0
fi
while IFS='=' read -r package proven; do
  case "$package" in '#'* | '') continue ;; esac
  installed=$(dpkg-query -W -f '${Version}' "$package" 2>/dev/null) || continue  # not from Debian here
  if [ "$installed" != "$proven" ]; then
    echo "note: Debian's $package is $installed here; the suites last passed with $proven ($file)"
  fi
done <"$file"
