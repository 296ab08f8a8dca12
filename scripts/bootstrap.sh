#!/usr/bin/env bash
# Create or update .venv from uv.lock (the committed lock file). Installs uv first if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# uv's own version is pinned too (scripts/uv-version.txt): a newer uv may read uv.lock differently.
if ! command -v uv >/dev/null 2>&1; then
  uv_pin="uv==$(cat scripts/uv-version.txt)"
  python3 -m pip install --quiet --user "$uv_pin" 2>/dev/null || python3 -m pip install --quiet "$uv_pin"
  export PATH="$HOME/.local/bin:$PATH"
fi
# --compile-bytecode: every Airflow process (each `airflow dags test`, each task) otherwise compiles
# Airflow from source at start-up, about 4 s each where PYTHONDONTWRITEBYTECODE is set, as on CI.
# uv skips it when the environment is already in sync.
uv sync --frozen --all-groups --python 3.11 --quiet --compile-bytecode "$@"
