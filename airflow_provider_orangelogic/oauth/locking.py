"""The lock that serialises refreshes of one grant among threads and processes on one host.

Threads share a ``threading.Lock`` per lock name; processes share an ``flock`` on a file in a
lock directory. Deployments spanning several hosts need one refresher per grant on top of this
(see docs/token-lifecycle.md): no lock here reaches another machine.

The lock directory also holds the rescue journal (a token pair in transit), so it is private:
a real directory owned by the effective user with mode 0700, checked on every use
(``private_dir``), never the shared system temp dir by default.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import secrets
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from airflow_provider_orangelogic.core.config import LOCK_DIR, LOCK_DIR_ENV
from airflow_provider_orangelogic.core.errors import ConfigurationError, TokenStoreUnavailable

log = logging.getLogger(__name__)

# How the setting is named in messages: every way a person can set it.
LOCK_DIR_SETTING = f"[orangelogic] {LOCK_DIR.name} ({LOCK_DIR.env_var}, or {LOCK_DIR_ENV})"

_thread_locks: dict[str, threading.Lock] = {}
_registry_guard = threading.Lock()
_announced: set[str] = set()
# Where a configured default comes from: the Airflow layer plugs in its [orangelogic] lock_dir reader.
_configured_lock_dir: Callable[[], str | None] | None = None

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def set_configured_lock_dir(source: Callable[[], str | None] | None) -> None:
    """Let the Airflow layer supply the configured lock directory (``[orangelogic] lock_dir``)."""
    global _configured_lock_dir
    _configured_lock_dir = source


@dataclass(frozen=True)
class LockDir:
    """The lock directory in use and what chose it."""

    path: str
    source: str  # "the lock_dir argument", "[orangelogic] lock_dir", an environment variable, or the default

    @property
    def explicit(self) -> bool:
        """True when a person or program chose it (so every process can be given the same one)."""
        return self.source != PRIVATE_DEFAULT


PRIVATE_DEFAULT = "the private per-user default"


def private_default_lock_dir() -> str:
    """The per-user default: ``$AIRFLOW_HOME/orangelogic/locks``, else ``$XDG_RUNTIME_DIR/airflow-orangelogic/locks``,
    else ``~/.cache/airflow-orangelogic/locks`` (``$XDG_CACHE_HOME`` if set). Never the shared temp dir."""
    airflow_home = os.environ.get("AIRFLOW_HOME", "").strip()
    if airflow_home:
        return os.path.join(os.path.expanduser(airflow_home), "orangelogic", "locks")
    runtime = os.environ.get("XDG_RUNTIME_DIR", "").strip()
    if runtime and os.path.isabs(runtime):
        return os.path.join(runtime, "airflow-orangelogic", "locks")
    cache = os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.join(str(Path.home()), ".cache")
    return os.path.join(cache, "airflow-orangelogic", "locks")


def resolve_lock_dir(lock_dir: str | None = None) -> LockDir:
    """The lock directory: the argument, else ``[orangelogic] lock_dir`` (through the Airflow layer, or its
    environment variable), else ``$ORANGELOGIC_LOCK_DIR``, else the private per-user default."""
    if lock_dir:
        return LockDir(os.fspath(lock_dir), "the lock_dir argument")
    configured = _configured_lock_dir() if _configured_lock_dir else None
    if configured:
        return LockDir(configured, f"[orangelogic] {LOCK_DIR.name}")
    for variable in (LOCK_DIR.env_var, LOCK_DIR_ENV):
        value = os.environ.get(variable, "").strip()
        if value:
            return LockDir(value, variable)
    return LockDir(private_default_lock_dir(), PRIVATE_DEFAULT)


def default_lock_dir() -> str:
    """The lock directory when none is passed (see ``resolve_lock_dir``)."""
    return resolve_lock_dir().path


def announce(choice: LockDir) -> None:
    """Log the lock directory in use at INFO, once per process and directory."""
    with _registry_guard:
        if choice.path in _announced:
            return
        _announced.add(choice.path)
    log.info("Orange Logic refresh locks and rescue journal: %s (from %s).", choice.path, choice.source)


def under_temp_dir(path: str) -> bool:
    """True if ``path`` lies in a temp dir that may differ between processes (TMPDIR, systemd PrivateTmp)."""
    real = os.path.realpath(path)
    temps = {os.path.realpath(tempfile.gettempdir()), "/tmp", "/var/tmp"}  # noqa: S108 (a check, not a use)
    return any(real == t or real.startswith(t.rstrip("/") + "/") for t in temps)


def _unsafe(path: str, problem: str, fix: str) -> ConfigurationError:
    return ConfigurationError(
        f"The Orange Logic lock directory {path} {problem}. It holds the refresh locks and the rescue journal "
        f"(a new token pair until it is stored), so it must be a real directory (not a symbolic link) owned by "
        f"the user running Airflow (uid {os.geteuid()}) with mode 0700. {fix} The directory is chosen by "
        f"{LOCK_DIR_SETTING}; every process refreshing the same grant on this host must use the same one."
    )


@contextlib.contextmanager
def private_dir(path: str) -> Iterator[int]:
    """A descriptor of ``path``, created with mode 0700 if missing, after checking that it is private.

    Refused with ConfigurationError: a symbolic link, not a directory, owned by another user, or open to
    group or others. Files are then opened relative to the descriptor, so the checked directory is the
    one used even if its path is swapped afterwards.
    """
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except FileExistsError:
        pass  # a dangling symlink or a file: reported below
    except OSError as err:
        raise _unsafe(
            path,
            f"cannot be created ({err.strerror})",
            "Create it (mkdir -m 700) as the user running Airflow, or choose a directory that user can create.",
        ) from None
    try:
        fd = os.open(path, _DIR_FLAGS)
    except OSError as err:
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            mode = 0
        if stat.S_ISLNK(mode):
            problem, fix = "is a symbolic link", "Point the setting at the real directory, or remove the link."
        elif mode and not stat.S_ISDIR(mode):
            problem, fix = "is not a directory", "Remove it, or point the setting elsewhere."
        else:
            problem, fix = f"cannot be opened ({err.strerror})", "Give the user running Airflow access to it."
        raise _unsafe(path, problem, fix) from None
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid():
            raise _unsafe(
                path,
                f"is owned by uid {st.st_uid}, not by this user",
                "Another user may have created it first: use a directory of your own (the default is under "
                "AIRFLOW_HOME), or have it removed.",
            )
        if st.st_mode & 0o077:
            raise _unsafe(
                path,
                f"has mode {stat.S_IMODE(st.st_mode):04o}, open to other users",
                f"Run chmod 700 {path} (and remove any files in it you did not expect).",
            )
    except BaseException:
        os.close(fd)
        raise
    try:
        yield fd
    finally:
        os.close(fd)


def create_temp(dir_fd: int, prefix: str) -> tuple[int, str]:
    """mkstemp relative to a directory descriptor: a new file (O_EXCL, O_NOFOLLOW, mode 0600), never an old one."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(100):
        name = f".{prefix}.{secrets.token_hex(8)}.tmp"
        try:
            return os.open(name, flags, 0o600, dir_fd=dir_fd), name
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file for {prefix}")


def _thread_lock(name: str) -> threading.Lock:
    with _registry_guard:
        return _thread_locks.setdefault(name, threading.Lock())


def _open_lock_file(dir_fd: int, file_name: str, path: str) -> int:
    # O_NONBLOCK: a FIFO in its place cannot hang the open; O_NOFOLLOW: a symlink cannot redirect it.
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(file_name, flags, 0o600, dir_fd=dir_fd)
    except OSError as err:
        raise TokenStoreUnavailable(f"Cannot open the refresh lock file {path} ({err.strerror}).") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
        os.close(fd)
        raise ConfigurationError(
            f"The refresh lock file {path} is not a regular file owned by this user; remove it. "
            f"(The lock directory is chosen by {LOCK_DIR_SETTING}.)"
        )
    return fd


@contextlib.contextmanager
def refresh_lock(name: str, *, lock_dir: str | None = None, timeout: float = 300.0) -> Iterator[None]:
    """Hold the host-wide refresh lock for ``name``; raise TokenStoreUnavailable after ``timeout`` seconds."""
    directory = lock_dir or default_lock_dir()
    # Hash the name so any Variable key maps to a safe file name.
    file_name = hashlib.sha256(name.encode()).hexdigest()[:32] + ".lock"
    path = os.path.join(directory, file_name)
    deadline = time.monotonic() + timeout
    thread_lock = _thread_lock(name)
    if not thread_lock.acquire(timeout=timeout):
        raise TokenStoreUnavailable(f"Timed out after {timeout:g} s waiting for another thread refreshing {name}.")
    try:
        with private_dir(directory) as dir_fd:
            fd = _open_lock_file(dir_fd, file_name, path)
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
