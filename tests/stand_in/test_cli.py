"""python -m airflow_provider_orangelogic.testing: serving, stopping, and never printing a secret."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.testing.__main__ import build_parser
from airflow_provider_orangelogic.testing.stand_in import FAULTS
from tests.stand_in.helpers import TIMEOUT

REPO_ROOT = Path(__file__).resolve().parents[2]


def start_cli(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], int]:
    port_file = tmp_path / "port"
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_orangelogic.testing", "--port-file", str(port_file), *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 10
    while not port_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"stand-in did not start: {process.communicate()}")
        time.sleep(0.05)
    return process, int(port_file.read_text())


def test_cli_serves_and_stops_after_max_runtime(tmp_path: Path) -> None:
    started = time.monotonic()
    process, port = start_cli(
        tmp_path, "--max-runtime", "5", "--client-id", "cli-client", "--client-secret", "cli-secret-xyz"
    )
    try:
        url = f"http://127.0.0.1:{port}"
        code = requests.get(url + "/_standin/authorize", timeout=TIMEOUT).json()["code"]
        params = {
            "client_id": "cli-client",
            "client_secret": "cli-secret-xyz",
            "grant_type": "authorization_code",
            "code": code,
        }
        pair = requests.post(url + endpoints.TOKEN, data=params, timeout=TIMEOUT).json()
        stdout, stderr = process.communicate(timeout=15)
    finally:
        process.kill()
    assert process.returncode == 0
    assert 4.5 <= time.monotonic() - started < 15
    assert stdout == f"Orange Logic stand-in listening on {url}\n"
    for secret in ("cli-secret-xyz", code, pair["access_token"], pair["refresh_token"]):
        assert secret not in stdout + stderr


def test_cli_stops_on_sigterm(tmp_path: Path) -> None:
    process, port = start_cli(tmp_path, "--max-runtime", "60", "--lenient", "--no-expires-in")
    try:
        counters = requests.get(f"http://127.0.0.1:{port}/_standin/counters", timeout=TIMEOUT)
        assert counters.status_code == 200
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == 0


def test_help_lists_every_fault_kind_from_the_registry() -> None:
    text = build_parser().format_help()
    for kind, cls in FAULTS.items():
        assert f"\n{kind}(" in text
        assert all(f"{name}=" in text for name in cls.options())
