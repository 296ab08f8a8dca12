"""The README's main job (scripts/lifecycle.py) in every auth mode, run the way a newcomer runs it.

Its own Airflow home, its own stand-in process: nothing is shared with the other integration tests.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# Eleven `airflow dags test` runs: may exceed the suite's 900 s default on a busy machine.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]
REPO = Path(__file__).resolve().parents[2]


def test_the_main_job_passes_in_every_auth_mode(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
    run = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "lifecycle.py"), "--auth-mode", "all", "--home", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=3600,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "authorization_code: passed; client_credentials: passed; bearer_token: passed" in output
    # Each mode did what applies to it, and only that.
    assert "Token endpoint calls: 2 (1 code exchange, 1 refresh); refresh-token reuses: 0" in output
    assert "obtained_by=refresh_token (forced)" in output
    assert "Client-credentials token calls: 2 (first use, forced renewal); refresh-token grants: 0." in output
    assert "skipped: the connection uses a fixed bearer token, which is never renewed." in output
    assert "Token endpoint calls: 0." in output
    assert len(re.findall(r"Secret scan of all task output: 0 of \d+ secrets found", output)) == 3
    assert len(re.findall(r"500 assets \(MediaType:Image\) over 5 pages", output)) == 3
    # One upload and one metadata update, checked at the stand-in (the authorization-code mode runs them).
    assert re.search(
        r"uploaded lifecycle-photo\.jpg \(262144 bytes, single call\): Success, .*stored the same bytes", output
    )
    assert (
        "1 row, 1 ok, 0 failed: CoreField.Title := 'Lifecycle photo'" in output and "the stand-in holds both" in output
    )
