#!/usr/bin/env bash
# The compatibility matrix: the built wheel on the newest patch of each supported Airflow minor
# (3.0.6, 3.1.8, 3.2.2, 3.3.2), each in a clean uv venv, checked for registration, imports, the
# connection form, the [orangelogic] config, the token lifecycle on SQLite against the stand-in, and
# a webhook posted to that venv's own API server running the DAG scheduled on its asset.
# Prints a table (docs/compatibility.md holds one from a real run).
#
#   ./scripts/compat.sh                  # all four minors, each from its committed resolution (constraints/)
#   ./scripts/compat.sh 3.0.6 3.3.2      # a subset
#   ./scripts/compat.sh --json out.json  # also keep the results
#   ./scripts/compat.sh --lock           # resolve from today's PyPI; when all pass, rewrite constraints/
#   ./scripts/compat.sh --fresh          # resolve from today's PyPI, write nothing
#
# Work files (wheel, venvs, logs) go to .compat/; downloads are cached by uv (UV_CACHE_DIR or its default).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.local/bin:$PATH"
python=$(command -v python3.11 || command -v python3)
exec "$python" scripts/compat.py "$@"
