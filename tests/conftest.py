"""Shared fixtures: the stand-in server over real sockets, and pure in-memory/file token stores."""

from __future__ import annotations

import atexit
import dataclasses
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

# In-process Airflow imports (hook modules, secrets backends) must not touch ~/airflow.
if "AIRFLOW_HOME" not in os.environ:
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="orangelogic-tests-airflow-")
    atexit.register(shutil.rmtree, os.environ["AIRFLOW_HOME"], ignore_errors=True)

from airflow_provider_orangelogic.core.retry import RetryPolicy
from airflow_provider_orangelogic.core.settings import OrangeLogicSettings
from airflow_provider_orangelogic.oauth.grants import grant_for
from airflow_provider_orangelogic.oauth.manager import TokenManager
from airflow_provider_orangelogic.oauth.stores import FileTokenStore, MemoryTokenStore
from airflow_provider_orangelogic.oauth.token_endpoint import TokenEndpointClient
from airflow_provider_orangelogic.testing import OrangeLogicStandIn, StandInConfig
from airflow_provider_orangelogic.testing.sandbox import AirflowSandbox
from tests.e2e.figures import PUBLISHED, Figures, details, markdown_table

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


def set_env_connection(monkeypatch, conn_id: str, url: str, **changes) -> None:
    """Define ``conn_id`` as an orangelogic connection to the stand-in at ``url`` (AIRFLOW_CONN_<ID>)."""
    fields = {
        "conn_type": "orangelogic",
        "host": url,
        "login": CLIENT_ID,
        "password": CLIENT_SECRET,
        "extra": {"redirect_uri": REDIRECT_URI},
        **changes,
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))


def make_settings(url: str, **extra) -> OrangeLogicSettings:
    return OrangeLogicSettings.from_connection_fields(
        conn_id="test",
        host=url,
        login=CLIENT_ID,
        password=CLIENT_SECRET,
        extra={"redirect_uri": REDIRECT_URI, **extra},
    )


# Short names for the stores the tests use everywhere.
MemoryStore = MemoryTokenStore
FileStore = FileTokenStore


class SteppedClock:
    """Wall-clock time plus an offset the test moves forward: expiry without waiting for it."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def make_manager(url: str, store, tmp_path, *, clock=time.time, **extra) -> TokenManager:
    settings = make_settings(url, **extra)
    return TokenManager(
        settings,
        grant_for(settings, TokenEndpointClient(settings, retry=FAST_RETRY)),
        store,
        lock_dir=str(tmp_path / "locks"),
        wait_for_refresh=2,
        clock=clock,
    )


def stored_json(store) -> dict:
    return json.loads(store.text) if isinstance(store, MemoryStore) else json.loads(store.path.read_text())


# The end-to-end figures (tests/e2e) at the end of the output. Under pytest-xdist the worker that ran
# the suite hands them to the controller, which prints them: only it writes the terminal summary.
E2E_FIGURES = "orangelogic_e2e_figures"


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[E2E_FIGURES] = [dataclasses.asdict(figures) for figures in PUBLISHED]


def pytest_testnodedown(node, error) -> None:  # pytest-xdist, on the controller
    PUBLISHED.extend(Figures(**figures) for figures in node.workeroutput.get(E2E_FIGURES, []))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not PUBLISHED:
        return
    terminalreporter.write_sep("=", "Orange Logic end-to-end deployments (docs/deployments.md)")
    terminalreporter.write_line(markdown_table(PUBLISHED))
    for figures in PUBLISHED:
        terminalreporter.write_line("- " + details(figures))


# pytest-xdist (--dist loadfile, scripts/test.sh) hands out a test file at a time, in collection order:
# the longest files go first, so that no worker is left running one of them alone at the end.
LONGEST_FIRST = (
    "tests/compat/",
    "tests/e2e/",
    "tests/integration/test_main_job.py",
    "tests/integration/test_airflow_lifecycle.py",
    "tests/integration/test_airflow_surface.py",
    "tests/integration/test_alerts.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next((i for i, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix)), len(LONGEST_FIRST))

    items.sort(key=rank)  # stable: the order within a file, and of the e2e deployments, is kept
