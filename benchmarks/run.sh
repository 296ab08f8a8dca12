#!/usr/bin/env bash
# The benchmark command: ./benchmarks/run.sh [--quick]
# Installs the locked environment with the `bench` dependency group (HTTP provider and
# requests-oauthlib, for the comparisons), then runs the driver. Everything it starts listens on
# 127.0.0.1 only and stops by itself. Figures also go to .benchmarks-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --group bench
exec .venv/bin/python -m benchmarks.run "$@"
