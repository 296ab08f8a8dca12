"""Token stores for tests and benchmarks that run the OAuth layer without Airflow.

They implement the ``TokenStore`` protocol of ``airflow_provider_orangelogic.oauth.manager``, which the
provider's ``VariableTokenStore`` implements for real deployments.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from airflow_provider_orangelogic.oauth.tokens import TokenPair


class MemoryTokenStore:
    """The pair in memory, shared by the threads of one process."""

    def __init__(self, name: str = "memory") -> None:
        self.name = name
        self.description = f"memory store {name!r}"
        self.text: str | None = None
        self.writes = 0
        self._lock = threading.Lock()

    def load(self) -> TokenPair | None:
        with self._lock:
            text = self.text
        return None if text is None else TokenPair.from_json(text, source=self.description)

    def save(self, pair: TokenPair) -> None:
        with self._lock:
            self.text = pair.to_json()
            self.writes += 1

    def check_writable(self) -> None:
        return None


class FileTokenStore:
    """The pair in a file shared by processes; each write is an atomic replace, like a DB row update."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.name = f"file-{self.path.name}"
        self.description = f"file {self.path}"

    def load(self) -> TokenPair | None:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return None
        return TokenPair.from_json(text, source=self.description)

    def save(self, pair: TokenPair) -> None:
        tmp = self.path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(pair.to_json())
        os.replace(tmp, self.path)

    def check_writable(self) -> None:
        return None
