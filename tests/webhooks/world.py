"""A running Airflow for the webhook suite and benchmark: the e2e harness's embedded deployment (API server
with two workers, scheduler, DAG processor, LocalExecutor, SQLite) plus the stand-in as Orange Logic.

Built from tests/e2e's parts (deployment.py, processes.py, services.py, rest.py); the only difference from
``start_embedded`` is the DAG folder, which also gets tests/webhooks/dags.
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from airflow_provider_orangelogic.api.webhooks import SECRET_HEADER
from airflow_provider_orangelogic.testing.sandbox import SQLITE_SETTINGS
from tests.e2e.deployment import (
    AirflowHost,
    Deployment,
    DeploymentSecrets,
    connect_api,
    control_plane_settings,
    start_control_plane,
    write_passwords_file,
)
from tests.e2e.processes import ProcessSet, free_port, wait_for
from tests.e2e.rest import TERMINAL_RUN_STATES
from tests.e2e.services import StandInServer

DAGS = Path(__file__).resolve().parent / "dags"
CONN_ID = "ol_webhooks"
CREATED_DAG, EDITED_DAG, POLL_DAG = "ol_webhook_created", "ol_webhook_edited", "ol_webhook_poll"


@dataclass
class WebhookWorld:
    deployment: Deployment
    stand_in: StandInServer
    secret: str

    @property
    def url(self) -> str:
        return f"{self.deployment.api.base_url}/orangelogic/webhooks/{CONN_ID}"

    def post(
        self,
        body: Any,
        *,
        secret: str | None = "",
        in_query: bool = False,
        session: requests.Session | None = None,
        conn_id: str = CONN_ID,
    ) -> requests.Response:
        """POST a webhook as Orange Logic would; ``secret=""`` means the right one, None none at all."""
        secret = self.secret if secret == "" else secret
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        params = {}
        if secret is not None and in_query:
            params["secret"] = secret
        elif secret is not None:
            headers[SECRET_HEADER] = secret
        url = f"{self.deployment.api.base_url}/orangelogic/webhooks/{conn_id}"
        return (session or requests).post(url, data=data, headers=headers, params=params, timeout=120)

    def asset_id(self, kind: str) -> int | None:
        uri = f"orangelogic://{CONN_ID}/{kind}"
        assets = self.deployment.api.call("GET", "/api/v2/assets", params={"uri_pattern": uri})["assets"]
        found = [asset["id"] for asset in assets if asset["uri"] == uri]
        return found[0] if found else None

    def asset_events(self, kind: str) -> list[dict[str, Any]]:
        # Airflow 3.3's listing answers 500 while a DAG run the events created is queued (its start_date is
        # None and AssetEventResponse requires one): ask again until the runs have started.
        return wait_for(
            lambda: self._asset_events(kind), what=f"the events of {kind}", timeout=120, servers=self.deployment.servers
        )

    def _asset_events(self, kind: str) -> list[dict[str, Any]]:
        asset_id = self.asset_id(kind)
        events: list[dict[str, Any]] = []
        while True:
            page = self.deployment.api.call(
                "GET",
                "/api/v2/assets/events",
                params={"asset_id": asset_id, "limit": 100, "offset": len(events), "order_by": "timestamp"},
            )
            events.extend(page["asset_events"])
            if len(events) >= page["total_entries"] or not page["asset_events"]:
                return sorted(events, key=lambda e: e["id"])

    def finished_runs(self, dag_id: str) -> list[dict[str, Any]]:
        return [run for run in self.deployment.api.dag_runs(dag_id) if run["state"] in TERMINAL_RUN_STATES]

    def wait_for_finished_runs(self, dag_id: str, count: int, timeout: float = 300) -> list[dict[str, Any]]:
        def enough() -> list[dict[str, Any]] | None:
            runs = self.finished_runs(dag_id)
            return runs if len(runs) >= count else None

        return wait_for(
            enough,
            what=f"{count} finished runs of {dag_id}",
            timeout=timeout,
            interval=0.5,
            servers=self.deployment.servers,
        )

    def fetched(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        value = self.deployment.api.xcom(dag_id, run_id, "fetch_metadata")
        return json.loads(value) if isinstance(value, str) else value

    def task_start(self, dag_id: str, run_id: str, task_id: str = "fetch_metadata") -> str | None:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}"
        return self.deployment.api.call("GET", path).get("start_date")


def start_world(root: Path, servers: ProcessSet, *, max_seconds: float) -> WebhookWorld:
    stand_in = StandInServer.start(
        servers, directory=root / "stand-in", access_lifetime=3600, refresh_lifetime=7200, max_seconds=max_seconds
    )
    secrets_ = DeploymentSecrets.generate()
    api_port = free_port()
    settings = control_plane_settings(
        api_port=api_port,
        secrets_=secrets_,
        database_url=f"sqlite:///{root / 'airflow.db'}",
        executor="LocalExecutor",
        passwords_file=write_passwords_file(root / "passwords.json", secrets_),
    )
    settings.update(SQLITE_SETTINGS)
    host = AirflowHost(root, "embedded", settings)
    for dag_file in DAGS.glob("*.py"):
        shutil.copy2(dag_file, host.dags / dag_file.name)
    start_control_plane(host, servers, max_seconds=max_seconds)
    deployment = Deployment(
        name="embedded",
        shape="LocalExecutor, SQLite; api-server (2 workers), scheduler, dag-processor",
        control=host,
        workers=[],
        api=connect_api(api_port, secrets_, servers),
        servers=servers,
    )
    deployment.service_logs.append(root / "stand-in")
    secret = "wh-" + secrets.token_urlsafe(32)
    deployment.api.create_connection(
        {
            "connection_id": CONN_ID,
            "conn_type": "orangelogic",
            "host": stand_in.url,
            "login": stand_in.client_id,
            "password": stand_in.client_secret,
            "extra": json.dumps({"auth_mode": "client_credentials", "webhook_secret": secret}),
        }
    )
    world = WebhookWorld(deployment, stand_in, secret)
    for dag_id in (CREATED_DAG, EDITED_DAG, POLL_DAG):
        wait_for(lambda d=dag_id: deployment.api.dag_is_parsed(d), what=f"DAG {dag_id}", timeout=300, servers=servers)
    for kind in ("created", "edited"):
        wait_for(lambda k=kind: world.asset_id(k), what=f"asset {kind}", timeout=120, servers=servers)
    deployment.api.set_paused(CREATED_DAG, False)
    return world


def event(event_id: str, *, kind: str = "AssetCreated", identifier: str = "OL0000001", record_id: str = "1") -> dict:
    """A webhook body in the default shape (webhook_payload_fields' default)."""
    return {
        "EventID": event_id,
        "EventType": kind,
        "SystemIdentifier": identifier,
        "RecordID": record_id,
        "Timestamp": "2026-12-07T08:00:00Z",
    }


def post_with_retries(world: WebhookWorld, body: Any, session: requests.Session, attempts: int = 6) -> int:
    """What Orange Logic does: the first try and up to five retries while the answer is 5xx."""
    status = 0
    for attempt in range(attempts):
        try:
            status = world.post(body, session=session).status_code
        except requests.RequestException:
            status = 599
        if status < 500:
            return status
        time.sleep(min(5.0, 0.5 * 2**attempt))
    return status
