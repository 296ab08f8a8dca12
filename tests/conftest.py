"""Shared fixtures: the stand-in server over real sockets, and pure in-memory/file token stores."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path

import pytest

# In-process Airflow imports (hook modules, secrets backends) must not touch ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="orangelogic-tests-airflow-"))

from airflow_provider_orangelogic.oauth.client import OrangeLogicOAuthClient
from airflow_provider_orangelogic.oauth.manager import TokenManager
from airflow_provider_orangelogic.oauth.retry import RetryPolicy
from airflow_provider_orangelogic.oauth.settings import OrangeLogicSettings
from airflow_provider_orangelogic.oauth.tokens import TokenPair
from airflow_provider_orangelogic.testing import OrangeLogicStandIn, StandInConfig
from airflow_provider_orangelogic.testing.sandbox import AirflowSandbox

REPO = Path(__file__).resolve().parents[1]

CLIENT_ID = "standin-client"
CLIENT_SECRET = "standin-secret-Zq8"
REDIRECT_URI = "http://127.0.0.1:8080/orangelogic/callback"
FAST_RETRY = RetryPolicy(max_attempts=4, backoff_base=0.01, backoff_max=0.05, max_retry_after=2)


@pytest.fixture
def stand_in():
    config = StandInConfig(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=(REDIRECT_URI,))
    with OrangeLogicStandIn(config) as server:
        yield server


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    """A real Airflow: SQLite metadata DB in a temporary AIRFLOW_HOME, the example DAGs, the real CLI."""
    box = AirflowSandbox(tmp_path_factory.mktemp("airflow_home"), REPO / "dags_examples")
    box.migrate()
    return box


def make_settings(url: str, **extra) -> OrangeLogicSettings:
    return OrangeLogicSettings.from_connection_fields(
        conn_id="test",
        host=url,
        login=CLIENT_ID,
        password=CLIENT_SECRET,
        extra={"redirect_uri": REDIRECT_URI, **extra},
    )


class MemoryStore:
    """A TokenStore in a dict: the pure-logic tests' stand-in for the Airflow Variable."""

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


class FileStore:
    """A TokenStore in a file, shared by processes (atomic replace, like a DB row update)."""

    def __init__(self, path: str | os.PathLike) -> None:
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


def make_manager(url: str, store, tmp_path, **extra) -> TokenManager:
    settings = make_settings(url, **extra)
    return TokenManager(
        settings,
        OrangeLogicOAuthClient(settings, retry=FAST_RETRY),
        store,
        lock_dir=str(tmp_path / "locks"),
        wait_for_refresh=2,
    )


def stored_json(store) -> dict:
    return json.loads(store.text) if isinstance(store, MemoryStore) else json.loads(store.path.read_text())
