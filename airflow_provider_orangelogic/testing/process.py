"""The stand-in as a separate process (``python -m airflow_provider_orangelogic.testing``), driven over HTTP.

A separate process rather than a thread when the caller must not share its GIL with the server (benchmarks)
or lives in another process tree (Airflow tasks). ``--max-runtime`` makes it stop by itself even if the
caller dies.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests

HTTP_TIMEOUT = 30.0


class StandInProcess:
    """Start the stand-in on 127.0.0.1 in a subprocess; stop it with ``stop()`` or a ``with`` block."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        catalogue_size: int = 250,
        access_lifetime: float | None = None,
        max_runtime: float = 1800.0,
        lenient: bool = False,
    ) -> None:
        self.redirect_uri = redirect_uri
        self._workdir = tempfile.TemporaryDirectory(prefix="orangelogic-standin-")
        port_file = Path(self._workdir.name) / "port"
        command = [
            sys.executable, "-m", "airflow_provider_orangelogic.testing",
            "--client-id", client_id, "--client-secret", client_secret, "--redirect-uri", redirect_uri,
            "--catalogue-size", str(catalogue_size), "--port-file", str(port_file),
            "--max-runtime", str(max_runtime),
        ]  # fmt: skip
        if access_lifetime is not None:
            command += ["--access-lifetime", str(access_lifetime)]
        if lenient:
            command.append("--lenient")
        self._log = open(Path(self._workdir.name) / "standin.log", "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
            command, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the stand-in did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{int(port_file.read_text())}"
        self._control = requests.Session()

    def _call(self, method: str, name: str, payload: Mapping[str, Any] | None = None) -> Any:
        response = self._control.request(method, f"{self.url}/_standin/{name}", json=payload, timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        return response.json()

    def counters(self) -> dict[str, int]:
        return self._call("GET", "counters")

    def issued_secrets(self) -> list[str]:
        return self._call("GET", "issued")

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
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        self._workdir.cleanup()

    def __enter__(self) -> StandInProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
