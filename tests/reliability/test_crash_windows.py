"""kill -9 of the refreshing process at each step: what survives, and what the next refresh does.

The refresher runs in its own process (tests/reliability/_refresher.py) against the strict stand-in;
the test kills it with SIGKILL at the step under test, then runs a normal refresh from a new process
on the same host (same lock directory, so the same rescue journal).

Each kill waits for the event that opens its window (the child blocked on the lock, its request
received, its store write begun) and the window stays open until the kill, so no outcome depends
on how fast the machine is.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from airflow_provider_orangelogic.core.errors import ReauthorizationRequired
from airflow_provider_orangelogic.oauth.locking import refresh_lock
from tests.conftest import REDIRECT_URI, FileStore, make_manager

REPO = Path(__file__).resolve().parents[2]
# A deadline for events (a child starting, a file appearing), never a margin an outcome depends on.
PATIENCE = 300.0
# Run the refresher with its pause at the store write lasting until it is killed, not 30 s.
REFRESHER = (
    "import sys, threading, types\n"
    "import tests.reliability._refresher as refresher\n"
    "refresher.time = types.SimpleNamespace(sleep=lambda seconds: threading.Event().wait())\n"
    "refresher.main()\n"
)


@pytest.fixture
def children():
    """Processes started by a test; killed at teardown if an assertion left one running."""
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(PATIENCE)
        if proc.stdout:
            proc.stdout.close()


def start_refresher(children: list, url: str, store: Path, locks: Path, mode: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", REFRESHER, url, str(store), str(locks), mode],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    children.append(proc)
    return proc


def wait_for(predicate, timeout: float = PATIENCE) -> None:
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
    proc.wait(PATIENCE)


def has_lock_file_open(proc: subprocess.Popen, locks: Path) -> bool:
    """True once the child opened a lock file in ``locks``: it is at the lock (blocked, since we hold it)."""
    try:
        files = psutil.Process(proc.pid).open_files()
        return any(Path(f.path).parent == locks.resolve() and f.path.endswith(".lock") for f in files)
    except psutil.NoSuchProcess:
        return False


def read_request(conn: socket.socket) -> bytes:
    """One whole HTTP request (headers and Content-Length body) from ``conn``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, "the client hung up before sending a whole request"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        0,
    )
    while len(body) < length:
        chunk = conn.recv(65536)
        assert chunk, "the client hung up in the middle of its request"
        body += chunk
    return head + b"\r\n\r\n" + body


def test_kill_before_the_request(stand_in, setup, children):
    """Killed before presenting the refresh token: the pair survives, the next refresh succeeds"""
    manager, store_path, locks = setup
    before = store_path.read_bytes()
    with refresh_lock(FileStore(store_path).name, lock_dir=str(locks)):  # hold it: the child blocks
        proc = start_refresher(children, stand_in.url, store_path, locks, "plain")
        wait_for(lambda: "STARTED" in (proc.stdout.readline() or ""))
        wait_for(lambda: has_lock_file_open(proc, locks))  # it is waiting for the lock we hold
        kill(proc)
    assert store_path.read_bytes() == before
    assert stand_in.counters()["refresh_token_grants"] == 0
    assert manager.refresh(force=True).refreshed
    assert stand_in.counters()["grants_revoked"] == 0


def test_kill_while_the_server_is_answering(stand_in, setup, children):
    """Killed after sending, before the answer arrived: the pair survives but its refresh token is spent"""
    manager, store_path, locks = setup
    # The child talks to a socket of ours, which takes its request and never answers: it is killed
    # while waiting, then the request goes on to the stand-in, which acts on it (the server finished
    # anyway). The stored pair names our socket as its host, as the child's connection does.
    with socket.create_server(("127.0.0.1", 0)) as front:
        front.settimeout(PATIENCE)
        front_url = f"http://127.0.0.1:{front.getsockname()[1]}"
        original = store_path.read_text()
        store_path.write_text(original.replace(stand_in.url, front_url))
        before = store_path.read_bytes()
        proc = start_refresher(children, front_url, store_path, locks, "plain")
        conn, _ = front.accept()
        with conn:
            conn.settimeout(PATIENCE)
            request = read_request(conn)
            kill(proc)  # the request is sent, the answer not received
        assert b"grant_type=refresh_token" in request or b'"refresh_token"' in request
        host, port = stand_in.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=PATIENCE) as upstream:
            upstream.sendall(request)
            wait_for(lambda: stand_in.counters()["refresh_token_grants"] == 1)  # the server finished anyway
    assert store_path.read_bytes() == before
    store_path.write_text(store_path.read_text().replace(front_url, stand_in.url))
    # The worst case: only a person can recover (docs/reliability.md says how).
    with pytest.raises(ReauthorizationRequired, match="A person must authorize again"):
        manager.refresh(force=True)


@pytest.mark.parametrize(
    "mode", ["slow_save", "torn_save"], ids=["after the answer, before the write", "during the write"]
)
def test_kill_between_answer_and_store(stand_in, setup, children, mode):
    """Killed after the server answered: the rescue journal keeps the new pair; the next refresh stores it"""
    manager, store_path, locks = setup
    before = store_path.read_bytes()
    proc = start_refresher(children, stand_in.url, store_path, locks, mode)
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
