"""The browser suite's world: a real Airflow API server (SQLite, two workers, SimpleAuthManager with an admin
and a viewer), the stand-in as Orange Logic, and Debian's Chromium driven by Playwright.

Chromium comes from the Debian package (``scripts/ui/prereqs.sh``, run by ``scripts/test.sh``), never from a
Playwright download: Playwright is given its ``executable_path``. Screenshots of every step go to
``.screenshots/ui/`` (gitignored), emptied at the start of each run.
"""

from __future__ import annotations

import json
import secrets
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from airflow_provider_orangelogic.testing import OrangeLogicStandIn, StandInConfig
from airflow_provider_orangelogic.testing.sandbox import AirflowSandbox
from tests.e2e.processes import ManagedProcess, free_port, start_process, wait_for
from tests.e2e.rest import AirflowApi
from tests.prereqs import require

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / ".screenshots" / "ui"
CLIENT_ID = "ui-client"
CLIENT_SECRET = "ui-client-secret-7Hq2"
ADMIN, VIEWER = "ui-admin", "ui-viewer"
#: The webhook secret of ol_env, a connection defined by an environment variable (the page cannot rotate it).
ENV_WEBHOOK_SECRET = secrets.token_urlsafe(32)
SERVER_BUDGET_SECONDS = 1200
# A laptop screen.
VIEWPORT = {"width": 1366, "height": 768}


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class UiAirflow:
    """The running world, and what the tests need to drive and inspect it."""

    url: str
    stand_in: OrangeLogicStandIn
    sandbox: AirflowSandbox
    api_server: ManagedProcess
    passwords: dict[str, str]
    admin_api: AirflowApi
    callbacks: list[str] = field(default_factory=list)  # every callback address the browser opened

    @property
    def callback_uri(self) -> str:
        return f"{self.url}/orangelogic/callback"

    def token_status(self, conn_id: str) -> dict:
        code = (
            "import json\nfrom airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook\n"
            f"print('RESULT=' + json.dumps(OrangeLogicHook({conn_id!r}).token_status()))"
        )
        out = self.sandbox.python(code).stdout
        return json.loads([line for line in out.splitlines() if line.startswith("RESULT=")][-1][7:])

    def add_connection(self, conn_id: str, **extra: object) -> None:
        self.admin_api.call(
            "POST",
            "/api/v2/connections",
            ok=(201,),
            json={
                "connection_id": conn_id,
                "conn_type": "orangelogic",
                "host": self.stand_in.url,
                "login": CLIENT_ID,
                "password": CLIENT_SECRET,
                "extra": json.dumps(extra) if extra else None,
            },
        )

    def delete_connection(self, conn_id: str) -> None:
        self.admin_api.call("DELETE", f"/api/v2/connections/{conn_id}", ok=(204,))


@pytest.fixture(scope="session")
def ui_airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiAirflow]:
    root = tmp_path_factory.mktemp("ui-airflow")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = StandInConfig(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=(f"{url}/orangelogic/callback",)
    )
    passwords = {ADMIN: secrets.token_urlsafe(12), VIEWER: secrets.token_urlsafe(12)}
    passwords_file = root / "passwords.json"
    passwords_file.write_text(json.dumps(passwords))
    passwords_file.chmod(0o600)
    with OrangeLogicStandIn(config) as stand_in:
        sandbox = AirflowSandbox(
            root / "home",
            root / "dags",
            extra_env={
                "AIRFLOW__CORE__AUTH_MANAGER": (
                    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin,{VIEWER}:viewer",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
                "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
                "AIRFLOW__API__BASE_URL": url,
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(port),
                # Two workers: Authorize and its callback may land on different processes.
                "AIRFLOW__API__WORKERS": "2",
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(48),
                "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
                "ORANGELOGIC_LOCK_DIR": str(root / "locks"),
                "AIRFLOW_CONN_OL_ENV": json.dumps(
                    {
                        "conn_type": "orangelogic",
                        "host": stand_in.url,
                        "login": CLIENT_ID,
                        "password": CLIENT_SECRET,
                        "extra": {"webhook_secret": ENV_WEBHOOK_SECRET},
                    }
                ),
            },
        )
        (root / "dags").mkdir()
        sandbox.migrate()
        server = start_process(
            "api-server",
            [sys.executable, "-m", "airflow", "api-server"],
            env=sandbox.env,
            cwd=root,
            log_path=root / "api-server.log",
            max_seconds=SERVER_BUDGET_SECONDS,
        )
        try:

            def healthy() -> bool | None:
                server.check_alive()
                return True if requests.get(f"{url}/api/v2/monitor/health", timeout=10).ok else None

            wait_for(healthy, what="the API server", timeout=400, interval=1)
            admin_api = AirflowApi(url, ADMIN, passwords[ADMIN])
            admin_api.log_in()
            world = UiAirflow(url, stand_in, sandbox, server, passwords, admin_api)
            world.add_connection("ol_ui")
            world.add_connection("ol_gone")
            world.add_connection("ol_machine", auth_mode="client_credentials")
            yield world
        finally:
            server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    executable = chromium_path()
    require("ui", executable is not None, "Debian's chromium", "scripts/ui/prereqs.sh installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's own sandbox cannot start.
        instance = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield instance
        finally:
            instance.close()


class Screenshots:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def take(self, page: object, name: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
        return path


@pytest.fixture(scope="session")
def shots() -> Screenshots:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return Screenshots(SCREENSHOTS)


def log_in(page: object, world: UiAirflow, user: str, *, next_path: str = "/orangelogic/") -> None:
    """Sign in through Airflow's login page, as a person would, starting from ``next_path``."""
    page.goto(f"{world.url}{next_path}")  # type: ignore[attr-defined]
    page.get_by_label("Username").fill(user)  # type: ignore[attr-defined]
    page.get_by_label("Password").fill(world.passwords[user])  # type: ignore[attr-defined]
    page.get_by_role("button", name="Sign in").click()  # type: ignore[attr-defined]
    page.wait_for_url(f"{world.url}{next_path}", timeout=60_000)  # type: ignore[attr-defined]


def watch_callbacks(page: object, world: UiAirflow) -> None:
    def seen(request: object) -> None:
        if "/orangelogic/callback?" in request.url:  # type: ignore[attr-defined]
            world.callbacks.append(request.url)  # type: ignore[attr-defined]

    page.on("request", seen)  # type: ignore[attr-defined]


def wait_until(probe, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.2)
