"""OrangeLogicHook in-process: a real connection (from the environment), a memory token store, the stand-in.

The Airflow-run proofs (Variables, DAGs, the Task SDK) are in tests/integration; these check the
hook's own behaviour quickly and directly.
"""

from __future__ import annotations

import json

import pytest

from airflow_provider_orangelogic.hooks.orangelogic import (
    OrangeLogicConfigurationError,
    OrangeLogicHook,
    OrangeLogicReauthorizationRequired,
)
from airflow_provider_orangelogic.oauth.state import MemoryStateRecordStore
from airflow_provider_orangelogic.oauth.stores import MemoryTokenStore
from airflow_provider_orangelogic.testing.browser import follow_authorization
from tests.conftest import CLIENT_ID, FAST_RETRY, set_env_connection

CONN_ID = "orangelogic_unit"


@pytest.fixture
def connection(stand_in, monkeypatch):
    def set_connection(**changes):
        set_env_connection(monkeypatch, CONN_ID, stand_in.url, **changes)

    set_connection()
    return set_connection


def make_hook(tmp_path, store=None) -> OrangeLogicHook:
    return OrangeLogicHook(
        CONN_ID,
        token_store=store or MemoryTokenStore(),
        state_store=MemoryStateRecordStore(),
        retry=FAST_RETRY,
        lock_dir=str(tmp_path),
        wait_for_refresh=1,
    )


def test_a_given_token_store_holds_the_pair(stand_in, connection, tmp_path):
    store = MemoryTokenStore("unit-store")
    hook = make_hook(tmp_path, store)
    summary = hook.exchange_code(follow_authorization(hook.get_authorization_url()).location)
    assert summary["token_store"] == "memory store 'unit-store'" and "token_variable" not in summary
    assert store.writes == 1 and json.loads(store.text)["obtained_by"] == "authorization_code"
    status = hook.token_status()
    assert status["access_token_valid"] and status["refresh_token_valid"] and not status["needs_refresh"]
    assert hook.get_access_token() == json.loads(store.text)["access_token"]


def test_request_and_search_use_the_stored_token(stand_in, connection, tmp_path):
    hook = make_hook(tmp_path)
    hook.exchange_code(follow_authorization(hook.get_authorization_url()).location)
    pages = []
    assets = list(hook.search("MediaType:Image", page_size=50, on_page=lambda page, n: pages.append(n)))
    assert assets and all(asset["MediaType"] == "Image" for asset in assets)
    assert sum(pages) == len(assets) and pages[-1] < 50
    assert hook.request("GET", "/API/search/v4.0/search", params={"format": "json"}).status_code == 200


def test_forced_refresh_rotates_the_pair_in_the_given_store(stand_in, connection, tmp_path):
    store = MemoryTokenStore()
    hook = make_hook(tmp_path, store)
    hook.exchange_code(follow_authorization(hook.get_authorization_url()).location)
    first = json.loads(store.text)
    assert not hook.refresh_tokens()["refreshed"]
    summary = hook.refresh_tokens(force=True)
    assert summary["refreshed"] and summary["obtained_by"] == "refresh_token"
    assert json.loads(store.text)["refresh_token"] != first["refresh_token"]
    assert stand_in.counters()["refresh_token_reuses"] == 0


def test_a_refused_grant_fails_the_task_with_the_way_back(stand_in, connection, tmp_path):
    store = MemoryTokenStore()
    hook = make_hook(tmp_path, store)
    hook.exchange_code(follow_authorization(hook.get_authorization_url()).location)
    before = store.text
    stand_in.add_fault("token", "status", status=400, error="invalid_grant")
    with pytest.raises(OrangeLogicReauthorizationRequired) as caught:
        hook.refresh_tokens(force=True)
    assert caught.value.oauth_error == "invalid_grant"
    assert "run the orangelogic_token_exchange DAG with the address the browser landed on" in str(caught.value)
    assert f"{stand_in.url}/oauth2/auth?client_id={CLIENT_ID}" in str(caught.value)
    assert store.text == before  # a failed refresh never overwrites a good pair


def test_no_pair_yet_names_the_store_and_the_dag(stand_in, connection, tmp_path):
    hook = make_hook(tmp_path, MemoryTokenStore("empty"))
    ok, message = hook.test_connection()
    assert not ok
    assert "No token pair is stored in memory store 'empty'" in message and "orangelogic_token_exchange" in message


def test_test_connection_tells_bad_credentials_from_missing_tokens(stand_in, connection, tmp_path):
    connection(password="not-the-secret")
    ok, message = make_hook(tmp_path).test_connection()
    assert (ok, message) == (False, "Bad credentials: Orange Logic rejected the client ID or client secret.")


def test_test_connection_reports_the_expiry_when_all_is_well(stand_in, connection, tmp_path):
    hook = make_hook(tmp_path)
    hook.exchange_code(follow_authorization(hook.get_authorization_url()).location)
    ok, message = hook.test_connection()
    assert ok and message.startswith(f"Connected to {stand_in.url}. Access token expires at ")


def test_a_connection_of_another_type_is_refused(stand_in, connection, tmp_path):
    connection(conn_type="http")
    with pytest.raises(OrangeLogicConfigurationError, match="has type 'http'; OrangeLogicHook needs"):
        make_hook(tmp_path).get_access_token()
