"""What a person reads around the refresh and search DAGs, in a real Airflow (`airflow dags test`).

- an alert: a refresh DAG made by the factory with ``on_failure_callback``; the callback gets the failure
  (``context["exception"]``) whose message has the re-authorize link and the refresh token's expiry;
- the refresh log line with both new expiry times, and the mapped tasks labelled by connection id;
- the trigger forms: the Params' titles and descriptions as the API server reads them, and the search
  DAG's retries.

Its own sandbox: the DAG folder holds the example DAG files and one DAG with a callback.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import textwrap
from pathlib import Path

import pendulum
import pytest

from airflow_provider_orangelogic.testing.browser import follow_authorization
from airflow_provider_orangelogic.testing.sandbox import AirflowSandbox
from tests.integration.conftest import add_orangelogic_connection, hook_call

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
BASE_URL = "http://airflow.example.com:8080"
REVOKED, FINE = "ol_alert_revoked", "ol_alert_fine"
ALERTED_DAG = "ol_alerted_refresh"

ALERTED_DAG_FILE = f'''
"""A refresh DAG with alerting, as a user writes it (airflow, dag)."""
import json
import os

from airflow_provider_orangelogic.dags import token_refresh_dag


def alert(context):
    ti = context["ti"]
    with open(os.environ["OL_ALERTS"], "a", encoding="utf-8") as alerts:
        record = {{"task_id": ti.task_id, "map_index": ti.map_index, "exception": str(context["exception"])}}
        alerts.write(json.dumps(record) + "\\n")


dag = token_refresh_dag(dag_id={ALERTED_DAG!r}, conn_ids=[{REVOKED!r}, {FINE!r}], on_failure_callback=alert)
'''


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    dags = tmp_path_factory.mktemp("alert_dags")
    for example in (REPO / "dags_examples").glob("*.py"):
        shutil.copy(example, dags / example.name)
    (dags / "ol_alerted_refresh.py").write_text(ALERTED_DAG_FILE)
    sandbox = AirflowSandbox(tmp_path_factory.mktemp("alert_home"), dags, {"AIRFLOW__API__BASE_URL": BASE_URL})
    sandbox.migrate()
    return sandbox


def authorize(box: AirflowSandbox, stand_in, conn_id: str) -> dict:
    add_orangelogic_connection(box, conn_id, stand_in.url)
    landed = follow_authorization(hook_call(box, conn_id, "get_authorization_url()"), timeout=120).location
    hook_call(box, conn_id, f"exchange_code({landed!r})")
    return hook_call(box, conn_id, "token_status()")


@pytest.fixture(scope="module")
def alerted_run(box, stand_in, tmp_path_factory):
    revoked = authorize(box, stand_in, REVOKED)
    # The server forgets every grant issued so far, as when an admin revokes the app's access: REVOKED's
    # refresh token is refused (invalid_grant) whichever mapped task asks first; FINE, authorized after,
    # refreshes. (A one-shot fault would hit whichever task the run happens to start first.)
    stand_in.reset()
    fine = authorize(box, stand_in, FINE)
    alerts = tmp_path_factory.mktemp("alerts") / "alerts.jsonl"
    run = box.dags_test(ALERTED_DAG, {"force": True}, check=False, env={"OL_ALERTS": str(alerts)})
    return {
        "output": run.stdout + run.stderr,
        "alerts": [json.loads(line) for line in alerts.read_text().splitlines()] if alerts.exists() else [],
        "revoked": revoked,
        "fine": fine,
        "after": hook_call(box, FINE, "token_status()"),
    }


def iso(text: str) -> str:
    return pendulum.parse(text).to_iso8601_string()


def test_the_alert_callback_gets_the_link_and_the_expiry(alerted_run):
    (alert,) = alerted_run["alerts"]  # one failed task instance: the one whose grant is gone
    assert alert["task_id"] == "refresh_tokens" and alert["map_index"] == 0
    message = alert["exception"]
    assert message.startswith(f"Orange Logic connection {REVOKED!r}: the token refresh failed at ")
    assert "a person must authorize again" in message
    assert f"its refresh token at {iso(alerted_run['revoked']['refresh_token_expires_at'])}" in message
    assert f"The stored pair was last renewed at {iso(alerted_run['revoked']['obtained_at'])}" in message
    assert f"Re-authorize {REVOKED} at {BASE_URL}/orangelogic/#conn-{REVOKED}. Details: " in message


def test_the_refresh_log_line_gives_both_expiry_times(alerted_run):
    after = alerted_run["after"]
    assert after["obtained_by"] == "refresh_token"
    assert (
        f"Refreshed the token pair in Airflow Variable 'orangelogic_token_{FINE}' (forced); the access token now "
        f"expires at {iso(after['access_token_expires_at'])}, the refresh token at "
        f"{iso(after['refresh_token_expires_at'])}."
    ) in alerted_run["output"]


def test_mapped_refresh_tasks_are_labelled_by_connection_id(alerted_run, box):
    with sqlite3.connect(box.home / "airflow.db") as db:
        rows = db.execute(
            "SELECT map_index, rendered_map_index, state FROM task_instance WHERE dag_id = ? AND task_id = ?",
            (ALERTED_DAG, "refresh_tokens"),
        ).fetchall()
    assert sorted(rows) == [(0, REVOKED, "failed"), (1, FINE, "success")]


def params_as_served(box: AirflowSandbox, dag_id: str) -> dict:
    """The DAG's params as the API server reads them (the serialized DAG): what the trigger form shows."""
    code = textwrap.dedent(
        f"""
        import json
        from airflow.models.serialized_dag import SerializedDagModel
        dag = SerializedDagModel.get_dag({dag_id!r})
        print("RESULT=" + json.dumps({{
            "params": {{k: v.dump() for k, v in dag.params.items()}},  # as GET /api/v2/dags/<id>/details
            "retries": {{t.task_id: t.retries for t in dag.tasks}},
            "retry_delay": {{t.task_id: t.retry_delay.total_seconds() for t in dag.tasks}},
        }}, default=str))
        """
    )
    box.airflow("dags", "reserialize")
    out = box.python(code).stdout
    return json.loads(next(ln for ln in out.splitlines() if ln.startswith("RESULT=")).removeprefix("RESULT="))


def test_search_trigger_form_has_titles_and_the_search_retries(box):
    served = params_as_served(box, "orangelogic_search_example")
    params = served["params"]
    for name, title in (
        ("conn_id", "Orange Logic connection id"),
        ("page_size", "Page size"),
        ("query", "Search query"),
    ):
        assert params[name]["schema"]["title"] == title, name
        assert params[name]["description"], name
    assert "1 to 1000" in params["page_size"]["description"]
    assert served["retries"] == {"search_assets": 2, "report": 2}
    assert set(served["retry_delay"].values()) == {120.0}


def test_exchange_trigger_form_explains_the_connection_id(box):
    params = params_as_served(box, "orangelogic_token_exchange")["params"]
    assert params["conn_id"]["schema"]["title"] == "Orange Logic connection id"
    assert "the new token pair is stored for it" in params["conn_id"]["description"]
