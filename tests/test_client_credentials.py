"""The client-credentials grant against the stand-in over real sockets: obtain, cache, renew, contend.

"At expiry" is made with the managers' injectable clock (two days ahead of the 24-hour token), never
by sleeping past a short lifetime, and concurrent callers start together on a barrier or an event.
"""

from __future__ import annotations

import time

import pendulum
import pytest

from airflow_provider_orangelogic.api.session import new_session
from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.core.errors import ReauthorizationRequired
from airflow_provider_orangelogic.oauth.tokens import GRANT_CLIENT_CREDENTIALS, TokenPair
from tests.concurrency import run_processes_together, run_threads_together
from tests.conftest import FileStore, MemoryStore, SteppedClock, make_manager

CC = {"auth_mode": "client_credentials"}
TWO_DAYS = 2 * 86400


def test_first_call_obtains_a_token_then_it_is_reused_until_it_expires(stand_in, tmp_path):
    clock = SteppedClock()
    store = MemoryStore()
    manager = make_manager(stand_in.url, store, tmp_path, clock=clock, **CC)
    first = manager.access_token()
    assert manager.access_token() == first
    assert make_manager(stand_in.url, store, tmp_path, **CC).access_token() == first  # another task: cached
    counters = stand_in.counters()
    assert counters["client_credentials_grants"] == 1 and counters["token_requests"] == 0
    pair = manager.read()
    assert pair.obtained_by == GRANT_CLIENT_CREDENTIALS and pair.refresh_token == ""
    clock.advance(TWO_DAYS)
    second = manager.access_token()
    assert second != first and stand_in.counters()["client_credentials_grants"] == 2


@pytest.mark.parametrize(("encoding", "shape"), [("form", "snake"), ("json", "camel"), ("form", "camel")])
def test_both_encodings_and_both_answer_shapes(stand_in, tmp_path, encoding, shape):
    stand_in.configure(client_credentials_answer=shape, access_lifetime=7200)
    manager = make_manager(stand_in.url, MemoryStore(), tmp_path, token_request_encoding=encoding, **CC)
    manager.access_token()
    pair = manager.read()
    # expiresInSeconds arrives as the string "7200": it is still the lifetime, not the 24-hour fallback.
    assert pair.access_lifetime == 7200


def test_a_401_gets_one_renewal_and_one_retry(stand_in, tmp_path):
    store = MemoryStore()
    now = pendulum.now("UTC")
    store.save(
        TokenPair(
            access_token="revoked-by-the-server",
            refresh_token="",
            token_type="Bearer",
            access_token_expires_at=now.add(hours=20),
            refresh_token_expires_at=now.add(hours=20),
            obtained_at=now,
            obtained_by=GRANT_CLIENT_CREDENTIALS,
            host=stand_in.url,
        )
    )
    manager = make_manager(stand_in.url, store, tmp_path, **CC)
    answer = new_session(manager).get(stand_in.url + endpoints.SEARCH, params={"format": "json"}, timeout=30)
    assert answer.status_code == 200 and [r.status_code for r in answer.history] == [401]
    assert stand_in.counters()["client_credentials_grants"] == 1
    assert manager.read().access_token != "revoked-by-the-server"


def test_an_instance_that_does_not_allow_client_credentials_says_so(stand_in, tmp_path):
    stand_in.configure(client_credentials_enabled=False)
    store = MemoryStore()
    with pytest.raises(ReauthorizationRequired) as caught:
        make_manager(stand_in.url, store, tmp_path, **CC).access_token()
    assert caught.value.oauth_error == "unauthorized_client"
    assert "client credentials are not allowed for this client" in str(caught.value)
    assert store.text is None


def test_32_threads_at_expiry_renew_once(stand_in, tmp_path):
    store = MemoryStore()
    make_manager(stand_in.url, store, tmp_path, **CC).access_token()
    managers = [
        make_manager(stand_in.url, store, tmp_path, clock=lambda: time.time() + TWO_DAYS, **CC) for _ in range(32)
    ]
    tokens, errors = run_threads_together([manager.access_token for manager in managers])
    assert errors == [] and len(tokens) == 32 and len(set(tokens)) == 1
    assert stand_in.counters()["client_credentials_grants"] == 2  # the setup's, then one renewal


def _four_threads_in_a_process(url, store_path, tmp_path):
    manager = make_manager(url, FileStore(store_path), tmp_path, clock=lambda: time.time() + TWO_DAYS, **CC)

    def action():
        tokens, errors = run_threads_together([manager.access_token] * 4)
        if errors:
            raise errors[0]
        return tokens

    return action


def test_processes_and_threads_on_one_host_renew_once(stand_in, tmp_path):
    store_path = tmp_path / "pair.json"
    make_manager(stand_in.url, FileStore(store_path), tmp_path, **CC).access_token()
    batches = run_processes_together(_four_threads_in_a_process, (stand_in.url, str(store_path), tmp_path), 4)
    tokens = {token for batch in batches for token in batch}
    assert len(tokens) == 1 and sum(len(batch) for batch in batches) == 16
    assert stand_in.counters()["client_credentials_grants"] == 2  # setup + one renewal for 16 callers
