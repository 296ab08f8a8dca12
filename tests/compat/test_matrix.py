"""The compatibility matrix in the test command: the oldest and the newest supported Airflow minor.

Each from its committed resolution (``constraints/``), so today's PyPI cannot change what runs; finding
what today's PyPI would break is ``scripts/drift.sh``'s job, never the test command's.

``scripts/compat.sh`` builds the wheel, installs it with each Airflow into a clean venv (no editable
install, nothing from this repository on the path) and checks registration, imports, the connection
form the UI reads, the [orangelogic] config and the token lifecycle, each DAG from a two-line DAG file
calling the package's factories, and the webhook route on that venv's own ``airflow api-server``. The whole
matrix (all four minors) is ``./scripts/compat.sh``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

# Two clean venvs, three `airflow dags test` runs each: may exceed the suite's 900 s default on a busy machine.
pytestmark = [pytest.mark.compat, pytest.mark.timeout(3600)]


def _matrix_module():
    spec = importlib.util.spec_from_file_location("compat_matrix", REPO / "scripts" / "compat.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MATRIX = _matrix_module()
OLDEST, NEWEST = MATRIX.VERSIONS[0], MATRIX.VERSIONS[-1]


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    work = tmp_path_factory.mktemp("compat")
    out = work / "matrix.json"
    run = subprocess.run(
        [str(REPO / "scripts" / "compat.sh"), "--json", str(out), OLDEST, NEWEST],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
        env={**os.environ, "ORANGELOGIC_COMPAT_DIR": str(work / "work")},
    )
    print(run.stdout[-4000:])
    assert out.exists(), f"compat.sh wrote no results (exit {run.returncode}):\n{(run.stdout + run.stderr)[-3000:]}"
    return {row["requested"]: row for row in json.loads(out.read_text())["rows"]}


@pytest.mark.parametrize("version", [OLDEST, NEWEST])
def test_every_check_passes(rows, version):
    row = rows[version]
    failed = {name: check["detail"] for name, check in row["checks"].items() if not check["ok"]}
    assert not failed, f"Airflow {version}: {json.dumps(failed, indent=1)[:3000]}\nlog: {row['log']}"
    assert row["airflow"] == version
    # Installed from the committed resolution, and the venv held exactly it (else install fails).
    assert row["mode"] == "locked"
    assert row["checks"]["install"]["detail"].endswith(f"+ the wheel from constraints/airflow-{version}-python3.11.txt")


def test_refresh_dag_runs_from_a_two_line_dag_file_and_the_built_wheel(rows):
    row = rows[NEWEST]
    assert row["checks"]["imports"]["detail"].startswith("from site-packages")
    dag_file = Path(row["log"]).parent / "dags" / "orangelogic_token_refresh.py"
    assert dag_file.read_text().splitlines() == [
        "from airflow_provider_orangelogic.dags import token_refresh_dag",
        "dag = token_refresh_dag()",
    ]
    assert row["checks"]["refresh"]["ok"] and "refreshed with the refresh token" in row["checks"]["refresh"]["detail"]
