#!/usr/bin/env bash
# The test command: lint, then every test (unit, stand-in, Airflow integration, browser, end-to-end deployments).
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
bash scripts/e2e/prereqs.sh  # PostgreSQL and Redis binaries for tests/e2e (apt-get, only when missing)
bash scripts/ui/prereqs.sh   # Debian's chromium for the browser suite tests/ui (apt-get, only when missing)
.venv/bin/ruff check .
# --durations: the slowest tests, to keep the whole run's wall time in check.
exec .venv/bin/python -m pytest -p no:cacheprovider --durations=20 "$@"
