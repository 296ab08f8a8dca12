"""The stand-in as a separate process (``python -m airflow_provider_orangelogic.testing``), driven over HTTP.

A separate process rather than a thread when the caller must not share its GIL with the server (benchmarks)
or lives in another process tree (Airflow tasks). ``--max-runtime`` makes it stop by itself even if the
caller dies; ``timeout_grace`` adds timeout(1) above it, which kills its whole process group should it hang.

The client secret is set through the control endpoint once the stand-in listens, so that it never appears on
a command line (which ``ps`` shows to every user).
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests

HTTP_TIMEOUT = 30.0
# Under timeout(1): how long after its SIGTERM a stand-in that still runs gets SIGKILL.
KILL_AFTER_SECONDS = 15


class StandInProcess:
    """Start the stand-in on 127.0.0.1 in a subprocess; stop it with ``stop()`` or a ``with`` block.

    ``log_path``: where its output goes (appended; default: a temporary file removed by ``stop()``).
    ``new_session``: run it in a session and process group of its own, so that signals meant for the
    caller's group (Ctrl-C) do not reach it and ``stop()`` signals its whole group.
    ``timeout_grace``: run it under timeout(1), which ends it ``timeout_grace`` seconds after
    ``max_runtime`` should have stopped it (for a hung stand-in, or one whose caller was killed).
    ``search_latency``, ``search_max_in_flight``, ``search_retry_after``: the search pacing of
    :class:`StandInConfig` (``configure()`` changes them while it runs).
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        catalogue_size: int = 250,
        access_lifetime: float | None = None,
        refresh_lifetime: float | None = None,
        search_latency: float | None = None,
        search_max_in_flight: int | None = None,
        search_retry_after: float | None = None,
        max_runtime: float = 1800.0,
        lenient: bool = False,
        log_path: Path | None = None,
        new_session: bool = False,
        timeout_grace: float | None = None,
        start_timeout: float = 30.0,
    ) -> None:
        self.redirect_uri = redirect_uri
        self.new_session = new_session
        self._workdir = tempfile.TemporaryDirectory(prefix="orangelogic-standin-")
        port_file = Path(self._workdir.name) / "port"
        self.log_path = Path(log_path) if log_path is not None else Path(self._workdir.name) / "standin.log"
        command = [
            sys.executable, "-m", "airflow_provider_orangelogic.testing",
            "--client-id", client_id, "--redirect-uri", redirect_uri,
            "--catalogue-size", str(catalogue_size), "--port-file", str(port_file),
            "--max-runtime", str(max_runtime),
        ]  # fmt: skip
        for option, value in (
            ("--access-lifetime", access_lifetime),
            ("--refresh-lifetime", refresh_lifetime),
            ("--search-latency", search_latency),
            ("--search-max-in-flight", search_max_in_flight),
            ("--search-retry-after", search_retry_after),
        ):
            if value is not None:
                command += [option, str(value)]
        if lenient:
            command.append("--lenient")
        if timeout_grace is not None:
            limit = math.ceil(max_runtime + timeout_grace)
            command = [_timeout_binary(), f"--kill-after={KILL_AFTER_SECONDS}", str(limit), *command]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:  # the child has its own copy of the descriptor
            self.process = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=new_session
            )
        self._control = requests.Session()
        try:
            self.url = f"http://127.0.0.1:{self._wait_for_port(port_file, start_timeout)}"
            self.configure(client_secret=client_secret)
        except BaseException:
            self.stop()
            raise

    def _wait_for_port(self, port_file: Path, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the stand-in did not start; its output ({self.log_path}):\n{self.log_tail()}")
            time.sleep(0.02)
        return int(port_file.read_text())

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:])

    def _call(self, method: str, name: str, payload: Mapping[str, Any] | None = None) -> Any:
        response = self._control.request(method, f"{self.url}/_standin/{name}", json=payload, timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        return response.json()

    def counters(self) -> dict[str, int]:
        return self._call("GET", "counters")

    def issued_secrets(self) -> list[str]:
        return self._call("GET", "issued")

    def uploads(self) -> dict[str, Any]:
        """Upload items and uploaded assets (``GET /_standin/uploads``)."""
        return self._call("GET", "uploads")

    def configure(self, **changes: Any) -> None:
        self._call("POST", "configure", changes)

    def reset(self) -> None:
        self._call("POST", "reset")

    def authorize(self) -> str:
        response = self._control.get(
            f"{self.url}/_standin/authorize", params={"redirect_uri": self.redirect_uri}, timeout=HTTP_TIMEOUT
        )
        response.raise_for_status()
        return response.json()["code"]

    def stop(self) -> None:
        """Stop the stand-in (SIGTERM, then SIGKILL after 10 s) and remove its temporary files. Safe to call twice."""
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait()
        self._control.close()
        self._workdir.cleanup()

    def _signal(self, signum: int) -> None:
        if self.new_session:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)
        else:
            self.process.send_signal(signum)

    def __enter__(self) -> StandInProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _timeout_binary() -> str:
    binary = shutil.which("timeout")
    if binary is None:
        raise RuntimeError("timeout(1) from coreutils is needed to bound the stand-in's lifetime")
    return binary
