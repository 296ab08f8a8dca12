"""kill -9 of the refreshing process at each step: what survives, and what the next refresh does.

The refresher runs in its own process (tests/reliability/_refresher.py) against the strict stand-in;
the test kills it with SIGKILL at the step under test, then runs a normal refresh from a new process
on the same host (same lock directory, so the same rescue journal).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airflow_provider_orangelogic.core.errors import ReauthorizationRequired
from airflow_provider_orangelogic.oauth.locking import refresh_lock
from tests.conftest import REDIRECT_URI, FileStore, make_manager

REPO = Path(__file__).resolve().parents[2]


def start_refresher(url: str, store: Path, locks: Path, mode: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.reliability._refresher", url, str(store), str(locks), mode],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def setup(stand_in, tmp_path):
    store_path, locks = tmp_path / "pair.json", tmp_path / "locks"
    manager = make_manager(stand_in.url, FileStore(store_path), tmp_path)
    manager.lock_dir = str(locks)
    manager.journal.path = locks / manager.journal.path.name
    manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    return manager, store_path, locks


def kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)


def test_kill_before_the_request(stand_in, setup):
    """Killed before presenting the refresh token: the pair survives, the next refresh succeeds"""
    manager, store_path, locks = setup
    before = store_path.read_bytes()
    with refresh_lock(FileStore(store_path).name, lock_dir=str(locks)):  # hold it: the child blocks
        proc = start_refresher(stand_in.url, store_path, locks, "plain")
        wait_for(lambda: "STARTED" in (proc.stdout.readline() or ""))
        time.sleep(0.5)
        kill(proc)
    assert store_path.read_bytes() == before
    assert stand_in.counters()["refresh_token_grants"] == 0
    assert manager.refresh(force=True).refreshed
    assert stand_in.counters()["grants_revoked"] == 0


def test_kill_while_the_server_is_answering(stand_in, setup):
    """Killed after sending, before the answer arrived: the pair survives but its refresh token is spent"""
    manager, store_path, locks = setup
    before = store_path.read_bytes()
    stand_in.add_fault("token", "slow", delay=2.0)
    proc = start_refresher(stand_in.url, store_path, locks, "plain")
    wait_for(lambda: stand_in.counters()["token_requests"] >= 2)  # exchange + this refresh
    kill(proc)
    wait_for(lambda: stand_in.counters()["refresh_token_grants"] == 1)  # the server finished anyway
    assert store_path.read_bytes() == before
    # The worst case: only a person can recover (docs/reliability.md says how).
    with pytest.raises(ReauthorizationRequired, match="A person must authorize again"):
        manager.refresh(force=True)


@pytest.mark.parametrize(
    "mode", ["slow_save", "torn_save"], ids=["after the answer, before the write", "during the write"]
)
def test_kill_between_answer_and_store(stand_in, setup, mode):
    """Killed after the server answered: the rescue journal keeps the new pair; the next refresh stores it"""
    manager, store_path, locks = setup
    before = store_path.read_bytes()
    proc = start_refresher(stand_in.url, store_path, locks, mode)
    wait_for(lambda: store_path.with_suffix(".saving").exists())
    kill(proc)
    assert store_path.read_bytes() == before  # the store write is atomic: old pair, never half a pair
    grants = stand_in.counters()["refresh_token_grants"]
    result = manager.refresh(force=True)
    assert result.refreshed and result.reason == "stored a pair saved before a crash"
    counters = stand_in.counters()
    assert counters["refresh_token_grants"] == grants  # no second presentation of the spent token
    assert counters["refresh_token_reuses"] == 0 and counters["grants_revoked"] == 0
    assert manager.refresh(force=True).refreshed  # and the grant lives on
