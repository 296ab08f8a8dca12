"""The Test button reads the pair of the connection being edited, not that of Airflow's temporary id."""

from __future__ import annotations

import pytest

from airflow_provider_orangelogic.hooks import connection_check, variable_store
from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook
from airflow_provider_orangelogic.oauth.state import MemoryStateRecordStore
from airflow_provider_orangelogic.oauth.stores import MemoryTokenStore
from airflow_provider_orangelogic.testing.browser import follow_authorization
from tests.conftest import FAST_RETRY, set_env_connection

TEMPORARY_ID = "Zq81xYwA"  # what Airflow's get_random_string() makes


@pytest.fixture
def stores(stand_in, monkeypatch):
    """Airflow's test endpoint exports the form as AIRFLOW_CONN_<temporary id>; Variables live in memory."""
    set_env_connection(monkeypatch, TEMPORARY_ID, stand_in.url)
    by_key: dict[str, MemoryTokenStore] = {}

    def variable(key, conn_id, **_):
        store = by_key.setdefault(key, MemoryTokenStore(key))
        store.description = f"Airflow Variable {key!r}"
        return store

    monkeypatch.setattr(variable_store, "VariableTokenStore", variable)
    return by_key


def airflow_test_endpoint(test_body, hook):
    """The shape of airflow/api_fastapi/core_api/routes/public/connections.py:test_connection (3.0 to 3.3)."""
    transient_conn_id = TEMPORARY_ID
    assert transient_conn_id == hook.orangelogic_conn_id
    return hook.test_connection()


def test_the_edited_connections_pair_is_found(stand_in, stores, tmp_path):
    edited = OrangeLogicHook(
        TEMPORARY_ID,
        token_store=stores.setdefault("orangelogic_token_ol_real", MemoryTokenStore("orangelogic_token_ol_real")),
        retry=FAST_RETRY,
        lock_dir=str(tmp_path),
        state_store=MemoryStateRecordStore(),
    )
    edited.exchange_code(follow_authorization(edited.get_authorization_url()).location)

    hook = OrangeLogicHook(TEMPORARY_ID, retry=FAST_RETRY, lock_dir=str(tmp_path))
    ok, message = airflow_test_endpoint(type("Body", (), {"connection_id": "ol_real"})(), hook)
    assert ok, message
    assert message.endswith(
        "Looked in Airflow Variable 'orangelogic_token_ol_real' (the pair of connection 'ol_real'; Airflow ran this "
        f"test under the temporary id '{TEMPORARY_ID}')."
    )
    assert f"orangelogic_token_{TEMPORARY_ID}" not in stores  # nothing read or written under the temporary id


def test_a_missing_pair_points_to_the_page(stand_in, stores, tmp_path):
    hook = OrangeLogicHook(TEMPORARY_ID, retry=FAST_RETRY, lock_dir=str(tmp_path))
    ok, message = airflow_test_endpoint(type("Body", (), {"connection_id": "ol_new"})(), hook)
    assert not ok
    assert "No token pair is stored in Airflow Variable 'orangelogic_token_ol_new' yet." in message
    assert "press Authorize on the Orange Logic page" in message and "(the pair of connection 'ol_new'" in message


def test_outside_the_test_endpoint_the_hooks_own_id_is_used():
    assert connection_check.edited_connection_id("anything") is None
