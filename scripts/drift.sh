#!/usr/bin/env bash
# Drift, on purpose: resolve each tested Airflow version fresh from today's PyPI, run the matrix's checks,
# and name the package release that broke a check and the pin that fixes it; then lift each pin of
# scripts/compat.py in turn to see whether it is still needed. Never part of the test command.
#
#   ./scripts/drift.sh                  # all four versions, with the pin audit
#   ./scripts/drift.sh 3.0.6 --no-audit # one version, fresh resolution only
#   ./scripts/drift.sh --json out.json  # also keep the findings
#
# Exit status 1 when today's PyPI breaks a version even with the current pins. docs/compatibility.md
# ("Drift") says when to run it and what to do with its answer. Work files go to .compat/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.local/bin:$PATH"
python=$(command -v python3.11 || command -v python3)
exec "$python" scripts/drift.py "$@"
