#!/usr/bin/env bash
# The test command: lint, then every test (unit, stand-in, Airflow integration, browser, end-to-end deployments).
#
#   ./scripts/test.sh                  # everything, in two phases (below)
#   ./scripts/test.sh tests/hooks -x   # with arguments: one pytest run with exactly those arguments
#
# Phase 1 runs the end-to-end deployments (-m e2e) alone: their scheduler, workers and refresh DAG run in
# real time, and no other test should take the cores from them. Phase 2 runs everything else on two
# pytest-xdist workers, one per core, a test file per worker at a time (--dist loadfile, so that a file's
# module fixtures, e.g. one Airflow sandbox, are built once). Every test there has its own AIRFLOW_HOME,
# stand-in port and temp dirs, so two at once share nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
bash scripts/e2e/prereqs.sh  # PostgreSQL and Redis binaries for tests/e2e (apt-get, only when missing)
bash scripts/ui/prereqs.sh   # Debian's chromium for the browser suite tests/ui (apt-get, only when missing)
.venv/bin/ruff check .
pytest=(.venv/bin/python -m pytest -p no:cacheprovider)
if (($#)); then
  exec "${pytest[@]}" "$@"
fi
# --durations: the slowest tests, to keep the whole run's wall time in check.
"${pytest[@]}" --durations=10 -m e2e
exec "${pytest[@]}" --durations=25 -m "not e2e" -n "${ORANGELOGIC_TEST_WORKERS:-2}" --dist loadfile
