"""The lock that serialises refreshes of one grant among threads and processes on one host.

Threads share a ``threading.Lock`` per lock name; processes share an ``flock`` on a file in a
lock directory. Deployments spanning several hosts need one refresher per grant on top of this
(see docs/token-lifecycle.md): no lock here reaches another machine.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator

from airflow_provider_orangelogic.core.config import LOCK_DIR_ENV
from airflow_provider_orangelogic.core.errors import TokenStoreUnavailable

_thread_locks: dict[str, threading.Lock] = {}
_registry_guard = threading.Lock()
# Where a configured default comes from: the Airflow layer plugs in its [orangelogic] lock_dir reader.
_configured_lock_dir: Callable[[], str | None] | None = None


def set_configured_lock_dir(source: Callable[[], str | None] | None) -> None:
    """Let the Airflow layer supply the configured lock directory (``[orangelogic] lock_dir``)."""
    global _configured_lock_dir
    _configured_lock_dir = source


def default_lock_dir() -> str:
    """The lock directory when none is passed: the configured one, else ``$ORANGELOGIC_LOCK_DIR``, else a
    folder in the system temp dir."""
    configured = _configured_lock_dir() if _configured_lock_dir else None
    return (
        configured or os.environ.get(LOCK_DIR_ENV) or os.path.join(tempfile.gettempdir(), "airflow-orangelogic-locks")
    )


def _thread_lock(name: str) -> threading.Lock:
    with _registry_guard:
        return _thread_locks.setdefault(name, threading.Lock())


@contextlib.contextmanager
def refresh_lock(name: str, *, lock_dir: str | None = None, timeout: float = 300.0) -> Iterator[None]:
    """Hold the host-wide refresh lock for ``name``; raise TokenStoreUnavailable after ``timeout`` seconds."""
    directory = lock_dir or default_lock_dir()
    os.makedirs(directory, mode=0o700, exist_ok=True)
    # Hash the name so any Variable key maps to a safe file name.
    path = os.path.join(directory, hashlib.sha256(name.encode()).hexdigest()[:32] + ".lock")
    deadline = time.monotonic() + timeout
    thread_lock = _thread_lock(name)
    if not thread_lock.acquire(timeout=timeout):
        raise TokenStoreUnavailable(f"Timed out after {timeout:g} s waiting for another thread refreshing {name}.")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            # Poll quickly first: a refresh holds the lock for one HTTP round trip, often milliseconds.
            delay = 0.001
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise TokenStoreUnavailable(
                            f"Timed out after {timeout:g} s waiting for another process refreshing {name} "
                            f"(lock file {path})."
                        ) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.05)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    finally:
        thread_lock.release()
