"""The parts of Airflow's public REST API (and the UI's connection-form endpoint) the suite drives."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import requests

TERMINAL_RUN_STATES = frozenset({"success", "failed"})


class AirflowApiError(RuntimeError):
    def __init__(self, method: str, path: str, response: requests.Response) -> None:
        super().__init__(f"{method} {path} answered {response.status_code}: {response.text[:500]}")
        self.status_code = response.status_code


class AirflowApi:
    """A user of the API server, authenticated with a JWT from the auth manager's token endpoint."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._username = username
        self._password = password
        self._session = requests.Session()

    def log_in(self) -> None:
        """POST /auth/token (SimpleAuthManager) and send the JWT as a bearer token from now on."""
        response = self._session.post(
            f"{self.base_url}/auth/token",
            json={"username": self._username, "password": self._password},
            timeout=30,
        )
        if response.status_code != 201:
            raise AirflowApiError("POST", "/auth/token", response)
        self._session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def call(self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any) -> Any:
        response = self._session.request(method, f"{self.base_url}{path}", timeout=60, **kwargs)
        if response.status_code not in ok:
            raise AirflowApiError(method, path, response)
        return response.json() if response.content else None

    # -- health and DAGs ------------------------------------------------------------------------

    def healthy(self) -> bool | None:
        health = self.call("GET", "/api/v2/monitor/health")
        return True if health["metadatabase"]["status"] == "healthy" else None

    def dag_is_parsed(self, dag_id: str) -> bool | None:
        try:
            self.call("GET", f"/api/v2/dags/{dag_id}")
        except AirflowApiError as err:
            if err.status_code == 404:
                return None
            raise
        return True

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.call("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": paused})

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        run = self.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
        return run["dag_run_id"]

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")

    def dag_runs(self, dag_id: str, **filters: Any) -> list[dict[str, Any]]:
        params = {"limit": 1000, "order_by": "run_after", **filters}
        return self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns", params=params)["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances"
        return self.call("GET", path, params={"limit": 1000})["task_instances"]

    def tries(self, dag_id: str, run_id: str, task_id: str, map_index: int) -> list[dict[str, Any]]:
        """Every try of one (mapped) task instance, failed ones included, with its start and end."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}/{map_index}/tries"
        return self.call("GET", path)["task_instances"]

    def xcom(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> Any:
        run = quote(run_id, safe="")
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run}/taskInstances/{task_id}/xcomEntries/return_value"
        return self.call("GET", path, params={"map_index": map_index, "deserialize": True})["value"]

    # -- connections and variables --------------------------------------------------------------

    def create_connection(self, connection: dict[str, Any]) -> None:
        self.call("POST", "/api/v2/connections", ok=(201,), json=connection)

    def connection_form_metadata(self) -> list[dict[str, Any]]:
        """What the UI's connection form is built from (Airflow 3: GET /ui/connections/hook_meta)."""
        return self.call("GET", "/ui/connections/hook_meta")

    def variable(self, key: str) -> dict[str, Any]:
        return self.call("GET", f"/api/v2/variables/{quote(key, safe='')}")
