"""The same hook API in every auth_mode: client credentials and a fixed bearer token, in-process."""

from __future__ import annotations

import json

import pytest

from airflow_provider_orangelogic.core.errors import OrangeLogicAPIError
from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicConfigurationError, OrangeLogicHook
from airflow_provider_orangelogic.oauth.stores import MemoryTokenStore
from tests.conftest import CLIENT_ID, CLIENT_SECRET, FAST_RETRY

CONN_ID = "orangelogic_modes"
BEARER = "fixed-bearer-token-from-orange-logic"


@pytest.fixture
def connection(stand_in, monkeypatch):
    def set_connection(auth_mode, **changes):
        fields = {
            "conn_type": "orangelogic",
            "host": stand_in.url,
            "login": CLIENT_ID,
            "password": CLIENT_SECRET,
            "extra": {"auth_mode": auth_mode},
            **changes,
        }
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(fields))

    return set_connection


def make_hook(tmp_path, store=None) -> OrangeLogicHook:
    return OrangeLogicHook(CONN_ID, token_store=store or MemoryTokenStore(), retry=FAST_RETRY, lock_dir=str(tmp_path))


def test_client_credentials_needs_no_authorization(stand_in, connection, tmp_path):
    connection("client_credentials")
    store = MemoryTokenStore()
    hook = make_hook(tmp_path, store)
    assert hook.test_connection() == (
        True,
        f"Connected to {stand_in.url}. Access token expires at {hook.token_status()['access_token_expires_at']}. "
        "Looked in memory store 'memory'.",
    )
    assets = list(hook.search("MediaType:Video", page_size=40))
    assert assets and {asset["MediaType"] for asset in assets} == {"Video"}
    assert stand_in.counters()["client_credentials_grants"] == 1  # the Test button's token, then reused
    status = hook.token_status()
    assert status["auth_mode"] == "client_credentials" and status["access_token_valid"]
    renewed = hook.refresh_tokens(force=True)
    assert renewed["refreshed"] and renewed["obtained_by"] == "client_credentials"
    assert stand_in.counters()["client_credentials_grants"] == 2
    with pytest.raises(OrangeLogicConfigurationError, match="auth_mode client_credentials, which needs no"):
        hook.get_authorization_url()
    with pytest.raises(OrangeLogicConfigurationError, match="no authorization URL or code to exchange"):
        hook.exchange_code("some-code")


def test_client_credentials_with_a_wrong_secret_says_bad_credentials(stand_in, connection, tmp_path):
    connection("client_credentials", password="wrong")
    assert make_hook(tmp_path).test_connection() == (
        False,
        "Bad credentials: Orange Logic rejected the client ID or client secret.",
    )


def test_bearer_token_mode_stores_nothing_and_renews_nothing(stand_in, connection, tmp_path):
    stand_in.configure(bearer_tokens=[BEARER])
    connection("bearer_token", login=None, password=BEARER)
    store = MemoryTokenStore()
    hook = make_hook(tmp_path, store)
    assert hook.test_connection() == (
        True,
        f"Connected to {stand_in.url} with the bearer token (it does not expire).",
    )
    assert hook.request("GET", "/API/search/v4.0/search", params={"format": "json"}).status_code == 200
    assert hook.get_access_token() == BEARER
    summary = hook.refresh_tokens()
    assert summary == {
        "conn_id": CONN_ID,
        "auth_mode": "bearer_token",
        "refreshed": False,
        "reason": "the connection uses a fixed bearer token, which is never renewed",
    }
    assert hook.token_status()["auth_mode"] == "bearer_token"
    assert store.writes == 0 and stand_in.counters()["token_requests"] == 0


def test_a_revoked_bearer_token_is_named_as_such(stand_in, connection, tmp_path):
    connection("bearer_token", login=None, password=BEARER)  # not (or no longer) known to the server
    hook = make_hook(tmp_path)
    with pytest.raises(OrangeLogicAPIError, match="the bearer token was rejected: it was probably revoked") as caught:
        hook.request("GET", "/API/search/v4.0/search", params={"format": "json"})
    assert caught.value.status_code == 401 and BEARER not in str(caught.value)
    ok, message = hook.test_connection()
    assert not ok and message.startswith("Orange Logic rejected the bearer token: it was probably revoked.")


def test_each_mode_says_what_it_is_missing(stand_in, connection, tmp_path):
    connection("bearer_token", login=None, password=None)
    with pytest.raises(OrangeLogicConfigurationError, match=r"Bearer token \(password\) is empty\. Put the bearer"):
        make_hook(tmp_path).get_access_token()
    connection("client_credentials", login=None)
    with pytest.raises(OrangeLogicConfigurationError, match=r"Client ID \(login\) is empty"):
        make_hook(tmp_path).get_access_token()
    connection("token_exchange")
    with pytest.raises(OrangeLogicConfigurationError, match="auth_mode"):
        make_hook(tmp_path).get_access_token()
