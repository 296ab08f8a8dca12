"""Every auth_mode through Airflow's own DAG runs: the refresh DAG handles each connection by its mode.

The exchange DAG refuses a connection that needs no authorization, and the search pipeline works
with client credentials (the first call obtains the token) and with a fixed bearer token.
"""

from __future__ import annotations

import pytest

from tests.integration.conftest import (
    CLIENT_SECRET,
    add_orangelogic_connection,
    authorize_in_browser,
    hook_call,
)

pytestmark = pytest.mark.integration
BEARER = "bearer-created-in-orange-logic-7Qx"
MODES = {"ol_mode_code": "authorization_code", "ol_mode_cc": "client_credentials", "ol_mode_bearer": "bearer_token"}


@pytest.fixture(scope="module")
def connections(sandbox, stand_in):
    stand_in.configure(bearer_tokens=[BEARER])
    add_orangelogic_connection(sandbox, "ol_mode_code", stand_in.url)
    add_orangelogic_connection(sandbox, "ol_mode_cc", stand_in.url, auth_mode="client_credentials")
    sandbox.add_connection(
        "ol_mode_bearer",
        conn_type="orangelogic",
        host=stand_in.url,
        password=BEARER,
        extra={"auth_mode": "bearer_token"},
    )
    code = authorize_in_browser(hook_call(sandbox, "ol_mode_code", "get_authorization_url()"))
    sandbox.dags_test("orangelogic_token_exchange", {"code": code, "conn_id": "ol_mode_code"})
    yield MODES
    stand_in.configure(bearer_tokens=[])


def test_the_refresh_dag_handles_each_connection_by_its_mode(sandbox, stand_in, connections):
    before = stand_in.counters()
    run = sandbox.dags_test(
        "orangelogic_token_refresh",
        {"force": True},
        env={"AIRFLOW__ORANGELOGIC__REFRESH_CONN_IDS": ",".join(connections)},
    )
    output = run.stdout + run.stderr
    after = stand_in.counters()
    assert "Refreshed the token pair in Airflow Variable 'orangelogic_token_ol_mode_code'" in output
    assert "Renewed the access token in Airflow Variable 'orangelogic_token_ol_mode_cc'" in output
    assert "Nothing to refresh for ol_mode_bearer: the connection uses a fixed bearer token" in output
    assert after["refresh_token_grants"] - before["refresh_token_grants"] == 1
    assert after["client_credentials_grants"] - before["client_credentials_grants"] == 1
    assert hook_call(sandbox, "ol_mode_cc", "token_status()")["obtained_by"] == "client_credentials"
    secrets = [*stand_in.issued_secrets(), CLIENT_SECRET, BEARER]
    assert not [secret for secret in secrets if secret in output]


@pytest.mark.parametrize("conn_id", ["ol_mode_cc", "ol_mode_bearer"])
def test_the_search_pipeline_works_without_a_browser_step(sandbox, stand_in, connections, conn_id):
    run = sandbox.dags_test("orangelogic_search_example", {"conn_id": conn_id, "query": "MediaType:Audio"})
    assert run.returncode == 0 and " assets" in run.stdout
    assert not [secret for secret in (BEARER, CLIENT_SECRET) if secret in run.stdout + run.stderr]


def test_the_exchange_dag_refuses_a_connection_that_needs_no_code(sandbox, connections):
    run = sandbox.dags_test("orangelogic_token_exchange", {"code": "anything", "conn_id": "ol_mode_cc"}, check=False)
    output = run.stdout + run.stderr
    assert "uses auth_mode client_credentials, which needs no authorization by a person" in output
