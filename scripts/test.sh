#!/usr/bin/env bash
# The test command: lint, then every test (unit, stand-in, Airflow integration). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
.venv/bin/ruff check .
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
