"""StandInProcess: the stand-in as a subprocess, as the benchmarks, scripts and the end-to-end suite start it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests

from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.testing.process import StandInProcess
from tests.stand_in.helpers import TIMEOUT

SECRET = "process-secret-Qx81"


def test_own_group_under_timeout_with_the_secret_off_the_command_line(tmp_path: Path) -> None:
    log_path = tmp_path / "logs" / "stand-in.out"
    with StandInProcess(
        client_id="process-client",
        client_secret=SECRET,
        redirect_uri="http://127.0.0.1:9/cb",
        access_lifetime=30,
        refresh_lifetime=90,
        max_runtime=60,
        log_path=log_path,
        new_session=True,
        timeout_grace=5,
    ) as stand_in:
        command = [str(part) for part in stand_in.process.args]
        assert Path(command[0]).name == "timeout" and "65" in command
        assert not [part for part in command if SECRET in part]
        assert os.getpgid(stand_in.process.pid) == stand_in.process.pid  # timeout(1) leads its own group
        params = {"client_id": "process-client", "client_secret": SECRET, "grant_type": "authorization_code"}
        answer = requests.post(
            stand_in.url + endpoints.TOKEN, data={**params, "code": stand_in.authorize()}, timeout=TIMEOUT
        )
        assert answer.status_code == 200 and answer.json()["expires_in"] == 30
        secrets = [*stand_in.issued_secrets(), SECRET]
    assert stand_in.process.poll() is not None
    assert log_path.read_text().startswith("Orange Logic stand-in listening on ")
    assert not [secret for secret in secrets if secret in log_path.read_text()]


def test_a_stand_in_that_cannot_start_says_why(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"did not start(.|\n)*error: catalogue_size"):
        StandInProcess(client_id="c", client_secret="s", redirect_uri="http://127.0.0.1:9/cb", catalogue_size=-1)
