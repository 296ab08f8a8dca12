"""Never the same refresh token twice: many threads and processes, one strict stand-in.

No outcome here depends on how fast the machine is: "at expiry" is made by giving the callers a
clock two days ahead (the 24-hour access token from the exchange has expired, its 30-day refresh
token has not) rather than by sleeping past a lifetime of a second or two, and callers start
together on an event once every one of them is ready, not at a wall-clock instant.
"""

from __future__ import annotations

import time

import pytest

from airflow_provider_orangelogic.core.errors import ReauthorizationRequired
from airflow_provider_orangelogic.oauth.manager import TokenManager
from tests.concurrency import run_processes_together, run_threads_together
from tests.conftest import REDIRECT_URI, FileStore, MemoryStore, make_manager

# How far ahead the callers' clock runs: past the 24-hour access token, within the 30-day refresh token.
TWO_DAYS_LATER = 2 * 86400


def make_manager_later(seconds: float, url: str, store, tmp_path, **extra) -> TokenManager:
    """make_manager, with the manager's injectable clock ``seconds`` ahead of the real one."""
    return make_manager(url, store, tmp_path, clock=lambda: time.time() + seconds, **extra)


def test_32_threads_at_expiry_cause_one_refresh(stand_in, tmp_path):
    store = MemoryStore()
    setup = make_manager(stand_in.url, store, tmp_path, refresh_on_demand=True)
    setup.exchange_code(stand_in.authorize(REDIRECT_URI))
    # Two days later every caller holds an expired token; the refreshed one lasts 24 h on their clock.
    managers = [
        make_manager_later(TWO_DAYS_LATER, stand_in.url, store, tmp_path, refresh_on_demand=True) for _ in range(32)
    ]
    tokens, errors = run_threads_together([manager.access_token for manager in managers])
    counters = stand_in.counters()
    assert errors == []
    assert len(set(tokens)) == 1 and len(tokens) == 32
    assert counters["refresh_token_grants"] == 1
    assert counters["refresh_token_reuses"] == 0 and counters["grants_revoked"] == 0


def test_forced_refreshes_from_threads_are_serialised(stand_in, tmp_path):
    store = MemoryStore()
    setup = make_manager(stand_in.url, store, tmp_path)
    setup.exchange_code(stand_in.authorize(REDIRECT_URI))
    managers = [make_manager(stand_in.url, store, tmp_path) for _ in range(16)]
    _, errors = run_threads_together([lambda manager=manager: manager.refresh(force=True) for manager in managers])
    assert errors == []
    counters = stand_in.counters()
    assert 1 <= counters["refresh_token_grants"] <= 16
    assert counters["refresh_token_reuses"] == 0 and counters["grants_revoked"] == 0
    # The last stored pair still works: the grant is alive.
    assert setup.refresh(force=True).refreshed


def _refresher_process(url, store_path, lock_dir, clock_ahead, force):
    from pathlib import Path

    manager = make_manager_later(clock_ahead, url, FileStore(store_path), Path(lock_dir).parent, refresh_on_demand=True)
    manager.lock_dir = lock_dir

    def action():
        if force:
            manager.refresh(force=True)
        return manager.access_token()

    return action


def _authorized_file_store(stand_in, tmp_path):
    store_path = tmp_path / "pair.json"
    setup = make_manager(stand_in.url, FileStore(store_path), tmp_path, refresh_on_demand=True)
    setup.exchange_code(stand_in.authorize(REDIRECT_URI))
    return setup, store_path


def _run_workers(stand_in, tmp_path, store_path, count, *, clock_ahead, force):
    """``count`` spawned processes that all act at once when every one is ready; their access tokens."""
    args = (stand_in.url, str(store_path), str(tmp_path / "locks"), clock_ahead, force)
    return run_processes_together(_refresher_process, args, count)


def test_processes_at_expiry_cause_one_refresh(stand_in, tmp_path):
    _, store_path = _authorized_file_store(stand_in, tmp_path)
    results = _run_workers(stand_in, tmp_path, store_path, 6, clock_ahead=TWO_DAYS_LATER, force=False)
    assert len(set(results)) == 1 and len(results) == 6
    counters = stand_in.counters()
    assert counters["refresh_token_grants"] == 1
    assert counters["refresh_token_reuses"] == 0 and counters["grants_revoked"] == 0


def test_processes_forcing_refreshes_never_reuse(stand_in, tmp_path):
    _, store_path = _authorized_file_store(stand_in, tmp_path)
    _run_workers(stand_in, tmp_path, store_path, 4, clock_ahead=0, force=True)
    counters = stand_in.counters()
    assert counters["refresh_token_reuses"] == 0 and counters["grants_revoked"] == 0
    assert 1 <= counters["refresh_token_grants"] <= 4


def test_without_the_lock_the_strict_server_revokes(stand_in, tmp_path):
    """The failure the protocol prevents: two callers presenting one refresh token."""
    store = MemoryStore()
    manager = make_manager(stand_in.url, store, tmp_path)
    pair = manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    manager.grant.endpoint.refresh_token_grant(pair.refresh_token)
    with pytest.raises(ReauthorizationRequired, match="already used"):
        manager.grant.endpoint.refresh_token_grant(pair.refresh_token)
    counters = stand_in.counters()
    assert counters["refresh_token_reuses"] == 1 and counters["grants_revoked"] == 1
