#!/usr/bin/env bash
# The main job: the whole token lifecycle on a throwaway SQLite Airflow plus the local stand-in.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/python scripts/lifecycle.py "$@"
