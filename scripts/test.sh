#!/usr/bin/env bash
# The test command: lint, then every test (unit, stand-in, Airflow integration, browser, end-to-end deployments).
# Every install comes from a committed resolution: .venv from uv.lock, the compatibility matrix's venvs from
# constraints/airflow-*.txt; the Debian packages a suite needs are skipped with the reason when the registry
# cannot deliver them (docs/compatibility.md, "Reproducible installs").
#
#   ./scripts/test.sh                  # everything
#   ./scripts/test.sh tests/hooks -x   # with arguments: one pytest run with exactly those arguments
#
# Lint: ruff check and ruff format --check. Everything runs on three pytest-xdist workers
# (ORANGELOGIC_TEST_WORKERS), a test file per worker at a time, the longest files first
# (tests/conftest.py). --dist loadfile builds a file's module fixtures (one Airflow sandbox, one
# end-to-end deployment) once. Most tests wait on Airflow subprocesses, so three workers keep the two
# cores busy. Every test has its own AIRFLOW_HOME, stand-in port and temp dirs, and none depends on
# how fast the machine is (docs/reliability.md, "Under load"), so tests running side by side share
# nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
bash scripts/e2e/prereqs.sh  # PostgreSQL and Redis binaries for tests/e2e (apt-get, only when missing)
bash scripts/ui/prereqs.sh   # Debian's chromium for the browser suite tests/ui (apt-get, only when missing)
scripts/debian-versions.sh   # a note when Debian serves other versions than the suites last passed with
.venv/bin/ruff check .
.venv/bin/ruff format --check .
pytest=(.venv/bin/python -m pytest -p no:cacheprovider)
if (($#)); then
  exec "${pytest[@]}" "$@"
fi
# --durations: the slowest tests, to keep the whole run's wall time in check.
exec "${pytest[@]}" --durations=25 -n "${ORANGELOGIC_TEST_WORKERS:-3}" --dist loadfile --no-loadscope-reorder
