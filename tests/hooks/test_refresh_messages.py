"""What a person reads about a refresh: the log line of a good one, the failure message of a bad one.

The failure message is what an alert sends (``on_failure_callback`` gets it as ``context["exception"]``),
so it must stand alone: which connection, what happened, since when, what to do, and the link to the
connection on the Orange Logic page. The Airflow-run proof (a real callback in ``airflow dags test``) is
tests/integration/test_alerts.py.
"""

from __future__ import annotations

import json
import socket

import pendulum
import pytest

from airflow_provider_orangelogic.core.errors import TokenEndpointError
from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook, OrangeLogicReauthorizationRequired
from airflow_provider_orangelogic.oauth.state import MemoryStateRecordStore
from airflow_provider_orangelogic.oauth.stores import MemoryTokenStore
from airflow_provider_orangelogic.plugins import connection_page_url
from airflow_provider_orangelogic.testing.browser import follow_authorization
from tests.conftest import FAST_RETRY, set_env_connection

CONN_ID = "ol_messages"
BASE_URL = "https://airflow.example.com"
LINK = f"{BASE_URL}/orangelogic/#conn-{CONN_ID}"


@pytest.fixture
def connection(stand_in, monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", BASE_URL + "/")

    def set_connection(**changes):
        set_env_connection(monkeypatch, CONN_ID, stand_in.url, **changes)

    set_connection()
    return set_connection


def authorized_hook(tmp_path, store: MemoryTokenStore) -> OrangeLogicHook:
    hook = OrangeLogicHook(
        CONN_ID,
        token_store=store,
        state_store=MemoryStateRecordStore(),
        retry=FAST_RETRY,
        lock_dir=str(tmp_path),
        wait_for_refresh=1,
    )
    hook.exchange_code(follow_authorization(hook.get_authorization_url()).location)
    return hook


def stored(store: MemoryTokenStore) -> dict:
    return json.loads(store.text)


def test_the_link_points_at_the_connection_on_the_orange_logic_page(connection):
    assert connection_page_url(CONN_ID) == LINK


def test_the_refresh_log_line_gives_both_new_expiry_times(stand_in, connection, tmp_path, capsys):
    store = MemoryTokenStore()
    hook = authorized_hook(tmp_path, store)
    capsys.readouterr()
    hook.refresh_tokens(force=True)
    logged = capsys.readouterr().out  # the hook logs through Airflow's logging: the task log (here stdout)
    pair = stored(store)
    access = pendulum.parse(pair["access_token_expires_at"]).to_iso8601_string()
    refresh = pendulum.parse(pair["refresh_token_expires_at"]).to_iso8601_string()
    assert (
        f"Refreshed the token pair in memory store 'memory' (forced); the access token now expires at {access}, "
        f"the refresh token at {refresh}."
    ) in logged


def test_a_refused_grant_says_what_since_when_what_to_do_and_where(stand_in, connection, tmp_path):
    store = MemoryTokenStore()
    hook = authorized_hook(tmp_path, store)
    pair = stored(store)
    stand_in.add_fault("token", "status", status=400, error="invalid_grant", error_description="revoked")
    with pytest.raises(OrangeLogicReauthorizationRequired) as caught:  # an AirflowFailException: no retry
        hook.refresh_tokens(force=True)
    message = str(caught.value)
    assert message.startswith(f"Orange Logic connection {CONN_ID!r}: the token refresh failed at ")
    assert message.startswith(f"Orange Logic connection {CONN_ID!r}: the token refresh failed at ")
    assert "; a person must authorize again. The stored pair was last renewed at " in message
    assert "Details: Orange Logic refused the refresh_token grant (HTTP 400" in message
    assert f"The stored pair was last renewed at {pendulum.parse(pair['obtained_at']).to_iso8601_string()}" in message
    assert f"its refresh token at {pendulum.parse(pair['refresh_token_expires_at']).to_iso8601_string()}" in message
    assert "(a refresh is next due at " in message  # forced: not due yet
    assert f"Re-authorize {CONN_ID} at {LINK}. Details: " in message
    assert caught.value.oauth_error == "invalid_grant" and caught.value.status_code == 400


def test_an_expired_refresh_token_gives_its_expiry(stand_in, connection, tmp_path):
    store = MemoryTokenStore()
    hook = authorized_hook(tmp_path, store)
    record = stored(store)
    expired = "2026-01-02T03:04:05Z"
    store.text = json.dumps({**record, "refresh_token_expires_at": expired, "access_token_expires_at": expired})
    calls = stand_in.counters()["token_requests"]
    with pytest.raises(OrangeLogicReauthorizationRequired) as caught:
        hook.refresh_tokens()
    message = str(caught.value)
    assert "expired at 2026-01-02T03:04:05Z. A person must authorize again." in message
    assert f"Re-authorize {CONN_ID} at {LINK}. Details: " in message
    assert "(a refresh is overdue since " in message
    assert stand_in.counters()["token_requests"] == calls  # nothing presented


def test_a_host_that_is_down_says_what_to_check_and_when_it_becomes_urgent(stand_in, connection, tmp_path):
    store = MemoryTokenStore()
    authorized_hook(tmp_path, store)
    with socket.socket() as probe:  # a port nobody listens on: connection refused, as for a host that is down
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    store.text = json.dumps({**stored(store), "host": dead})
    connection(host=dead)
    pair = stored(store)
    down = OrangeLogicHook(
        CONN_ID, token_store=store, state_store=MemoryStateRecordStore(), retry=FAST_RETRY, lock_dir=str(tmp_path)
    )
    with pytest.raises(TokenEndpointError) as caught:
        down.refresh_tokens(force=True)
    assert not isinstance(caught.value, OrangeLogicReauthorizationRequired)  # Airflow retries the task
    message = str(caught.value)
    assert message.startswith(f"Orange Logic connection {CONN_ID!r}: the token refresh failed at ")
    assert "Details: Could not refresh at " in message and "ConnectionError" in message
    assert (
        f"its access token expires at {pendulum.parse(pair['access_token_expires_at']).to_iso8601_string()}" in message
    )
    assert f"Check that {dead} is up and reachable from the workers." in message
    assert (
        f"If refreshing still fails when the refresh token expires, a person must re-authorize at {LINK}. " in message
    )
