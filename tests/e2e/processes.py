"""Servers started by the end-to-end suite: each in its own session, bounded in time, stopped as a tree.

Every server runs under ``timeout(1)``, which is the leader of the server's process group: if the
test run is killed before its fixtures can stop anything, ``timeout`` still kills the group when
the budget runs out, so nothing started here outlives the run for long. Fixtures stop servers
earlier, walking the whole process tree, because Airflow puts each task process in a process group
of its own where a signal to the server's group would not reach it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import psutil

T = TypeVar("T")
# After its budget, timeout(1) sends SIGTERM to the group, then SIGKILL this many seconds later.
KILL_AFTER_SECONDS = 15


class ServerDied(RuntimeError):
    """A server exited while the suite still needed it."""


@dataclass
class ManagedProcess:
    """One server: its ``timeout`` wrapper process, and where its output goes."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    stop_signal: int = signal.SIGTERM

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            raise ServerDied(
                f"{self.name} exited with status {self.popen.returncode}; see {self.log_path}:\n{self.tail()}"
            )

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = 30.0) -> None:
        """Signal the whole tree, wait up to ``grace`` seconds, then kill whatever is left."""
        tree = _process_tree(self.pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, self.stop_signal)
        for process in tree:
            with contextlib.suppress(psutil.Error):
                process.send_signal(self.stop_signal)
        _, survivors = psutil.wait_procs(tree, timeout=grace)
        for process in survivors:
            with contextlib.suppress(psutil.Error):
                process.kill()
        psutil.wait_procs(survivors, timeout=10)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)


def _process_tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def start_process(
    name: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    max_seconds: float,
    user: str | None = None,
    stop_signal: int = signal.SIGTERM,
) -> ManagedProcess:
    """Start ``argv`` in a new session under ``timeout``; its stdout and stderr go to ``log_path``."""
    timeout_bin = shutil.which("timeout")
    if timeout_bin is None:
        raise RuntimeError("timeout(1) from coreutils is needed to bound the servers' lifetime")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [timeout_bin, f"--kill-after={KILL_AFTER_SECONDS}", str(int(max_seconds)), *argv]
    with open(log_path, "ab") as log:
        popen = subprocess.Popen(
            command,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=user,
        )
    return ManagedProcess(name, popen, log_path, stop_signal)


@dataclass
class ProcessSet:
    """The servers of one deployment, stopped in the reverse order of their start."""

    processes: list[ManagedProcess] = field(default_factory=list)

    def add(self, process: ManagedProcess) -> ManagedProcess:
        self.processes.append(process)
        return process

    def check_alive(self) -> None:
        for process in self.processes:
            process.check_alive()

    def stop_all(self) -> None:
        while self.processes:
            self.processes.pop().stop()


def free_port() -> int:
    """A TCP port nobody listens on right now (the suite's servers bind it moments later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(
    probe: Callable[[], T | None],
    *,
    what: str,
    timeout: float,
    interval: float = 0.5,
    servers: ProcessSet | None = None,
) -> T:
    """Call ``probe`` until it returns something other than None; fail early if a server died."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if servers is not None:
            servers.check_alive()
        try:
            result = probe()
        except Exception as err:  # a server still starting answers with errors; keep polling
            last_error = err
        else:
            if result is not None:
                return result
        time.sleep(interval)
    detail = f" (last error: {type(last_error).__name__}: {last_error})" if last_error else ""
    raise TimeoutError(f"Timed out after {timeout:.0f} s waiting for {what}{detail}")
