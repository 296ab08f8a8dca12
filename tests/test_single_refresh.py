"""Never the same refresh token twice: many threads and processes, one strict stand-in."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest

from airflow_provider_orangelogic.core.errors import ReauthorizationRequired
from tests.conftest import REDIRECT_URI, FileStore, MemoryStore, make_manager


def test_32_threads_at_expiry_cause_one_refresh(stand_in, tmp_path):
    stand_in.configure(access_lifetime=1)
    store = MemoryStore()
    setup = make_manager(stand_in.url, store, tmp_path, refresh_on_demand=True)
    setup.exchange_code(stand_in.authorize(REDIRECT_URI))
    time.sleep(1.1)  # every caller now holds an expired token
    managers = [make_manager(stand_in.url, store, tmp_path, refresh_on_demand=True) for _ in range(32)]
    barrier = threading.Barrier(len(managers))
    tokens, errors = [], []

    def worker(manager):
        barrier.wait()
        try:
            tokens.append(manager.access_token())
        except Exception as err:  # collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(m,)) for m in managers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
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
    barrier = threading.Barrier(len(managers))

    def worker(manager):
        barrier.wait()
        manager.refresh(force=True)

    threads = [threading.Thread(target=worker, args=(m,)) for m in managers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    counters = stand_in.counters()
    assert 1 <= counters["refresh_token_grants"] <= 16
    assert counters["refresh_token_reuses"] == 0 and counters["grants_revoked"] == 0
    # The last stored pair still works: the grant is alive.
    assert setup.refresh(force=True).refreshed


def _process_worker(url, store_path, lock_dir, start_at, force, queue):
    from pathlib import Path

    manager = make_manager(url, FileStore(store_path), Path(lock_dir).parent, refresh_on_demand=True)
    manager.lock_dir = lock_dir
    time.sleep(max(0.0, start_at - time.time()))
    try:
        if force:
            manager.refresh(force=True)
        queue.put(("ok", manager.access_token()))
    except Exception as err:
        queue.put(("error", f"{type(err).__name__}: {err}"))


def _authorized_file_store(stand_in, tmp_path):
    store_path = tmp_path / "pair.json"
    setup = make_manager(stand_in.url, FileStore(store_path), tmp_path, refresh_on_demand=True)
    setup.exchange_code(stand_in.authorize(REDIRECT_URI))
    return setup, store_path


def _run_workers(stand_in, tmp_path, store_path, count, *, start_in, force):
    """Start ``count`` spawned processes that all act at the same moment; return their results."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    start_at = time.time() + start_in  # once every process has imported everything
    args = (stand_in.url, str(store_path), str(tmp_path / "locks"), start_at, force, queue)
    procs = [ctx.Process(target=_process_worker, args=args) for _ in range(count)]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(30)
    assert [kind for kind, _ in results] == ["ok"] * count, results
    return results


def test_processes_at_expiry_cause_one_refresh(stand_in, tmp_path):
    stand_in.configure(access_lifetime=2)
    _, store_path = _authorized_file_store(stand_in, tmp_path)
    results = _run_workers(stand_in, tmp_path, store_path, 6, start_in=3, force=False)  # after expiry
    assert len({token for _, token in results}) == 1
    counters = stand_in.counters()
    assert counters["refresh_token_grants"] == 1
    assert counters["refresh_token_reuses"] == 0 and counters["grants_revoked"] == 0


def test_processes_forcing_refreshes_never_reuse(stand_in, tmp_path):
    _, store_path = _authorized_file_store(stand_in, tmp_path)
    _run_workers(stand_in, tmp_path, store_path, 4, start_in=2, force=True)
    counters = stand_in.counters()
    assert counters["refresh_token_reuses"] == 0 and counters["grants_revoked"] == 0
    assert 1 <= counters["refresh_token_grants"] <= 4


def test_without_the_lock_the_strict_server_revokes(stand_in, tmp_path):
    """The failure the protocol prevents: two callers presenting one refresh token."""
    store = MemoryStore()
    manager = make_manager(stand_in.url, store, tmp_path)
    pair = manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    manager.client.refresh(pair.refresh_token)
    with pytest.raises(ReauthorizationRequired, match="already used"):
        manager.client.refresh(pair.refresh_token)
    counters = stand_in.counters()
    assert counters["refresh_token_reuses"] == 1 and counters["grants_revoked"] == 1
