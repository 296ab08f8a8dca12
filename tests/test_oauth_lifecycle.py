"""The pure OAuth layer against the stand-in over real sockets: exchange, refresh, errors."""

from __future__ import annotations

import pytest

from airflow_provider_orangelogic.api.session import new_session
from airflow_provider_orangelogic.core.errors import (
    ReauthorizationRequired,
    TokenEndpointError,
    TokenStoreError,
)
from airflow_provider_orangelogic.oauth.token_endpoint import TokenEndpointClient, new_state
from airflow_provider_orangelogic.testing.browser import follow_authorization
from tests.conftest import (
    CLIENT_SECRET,
    FAST_RETRY,
    REDIRECT_URI,
    MemoryStore,
    SteppedClock,
    make_manager,
    make_settings,
)


def authorize(stand_in, client, state=None):
    """Follow the authorization URL like a browser would, and check the state came back."""
    state = state or new_state()
    redirect = follow_authorization(client.authorization_url(state=state), timeout=30)  # raises unless redirected
    assert redirect.status == 302
    assert redirect.state == state
    assert redirect.location.startswith(REDIRECT_URI)
    return redirect.code


@pytest.mark.parametrize("encoding", ["form", "json"])
def test_exchange_then_refresh_both_encodings(stand_in, tmp_path, encoding):
    store = MemoryStore()
    manager = make_manager(stand_in.url, store, tmp_path, token_request_encoding=encoding)
    code = authorize(stand_in, manager.grant)
    first = manager.exchange_code(code)
    assert first.obtained_by == "authorization_code" and first.host == stand_in.url
    result = manager.refresh(force=True)
    assert result.refreshed and result.pair.obtained_by == "refresh_token"
    assert result.pair.refresh_token != first.refresh_token
    assert stand_in.counters()["refresh_token_grants"] == 1
    assert manager.read() == result.pair


def test_policy_skips_fresh_pair(stand_in, tmp_path):
    manager = make_manager(stand_in.url, MemoryStore(), tmp_path)
    manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    result = manager.refresh()
    assert not result.refreshed and "fresh enough" in result.reason
    assert stand_in.counters()["refresh_token_grants"] == 0


def test_policy_refreshes_past_threshold(stand_in, tmp_path):
    clock = SteppedClock()
    manager = make_manager(stand_in.url, MemoryStore(), tmp_path, clock=clock)
    manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    clock.advance(0.4 * stand_in.config.access_lifetime)
    assert not manager.refresh().refreshed  # more than half the lifetime left: the default threshold
    clock.advance(0.2 * stand_in.config.access_lifetime)
    assert manager.refresh().refreshed


def test_invalid_grant_keeps_the_stored_pair(stand_in, tmp_path):
    store = MemoryStore()
    manager = make_manager(stand_in.url, store, tmp_path)
    manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    before = store.text
    stand_in.add_fault("token", "status", status=400, error="invalid_grant")
    with pytest.raises(ReauthorizationRequired, match="A person must authorize again") as info:
        manager.refresh(force=True)
    assert store.text == before
    assert CLIENT_SECRET not in str(info.value)


def test_invalid_client_says_credentials(stand_in, tmp_path):
    settings = make_settings(stand_in.url)
    client = TokenEndpointClient(settings, retry=FAST_RETRY)
    stand_in.configure(client_secret="another-secret")
    with pytest.raises(ReauthorizationRequired, match="client ID or client secret is not accepted"):
        client.authorization_code_grant("whatever-code")


def test_transient_errors_are_retried_then_succeed(stand_in, tmp_path):
    store = MemoryStore()
    manager = make_manager(stand_in.url, store, tmp_path)
    manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    stand_in.add_fault("token", "status", count=2, status=503, body="html")
    stand_in.add_fault("token", "status", status=429, retry_after=0)
    assert manager.refresh(force=True).refreshed
    assert stand_in.counters()["refresh_token_reuses"] == 0


def test_persistent_5xx_raises_and_keeps_pair(stand_in, tmp_path):
    store = MemoryStore()
    manager = make_manager(stand_in.url, store, tmp_path)
    manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    before = store.text
    stand_in.add_fault("token", "status", count=10, status=502, body="html")
    with pytest.raises(TokenEndpointError, match=r"kept failing .*HTTP 502"):
        manager.refresh(force=True)
    assert store.text == before


def test_read_timeout_is_not_retried_with_the_same_token(stand_in, tmp_path):
    store = MemoryStore()
    make_manager(stand_in.url, store, tmp_path).exchange_code(stand_in.authorize(REDIRECT_URI))
    # A short client timeout only for the refresh, against an answer 30 s late: a timeout however
    # slow the machine is, and the exchange before it keeps the default timeout.
    manager = make_manager(stand_in.url, store, tmp_path, timeout=2)
    stand_in.add_fault("token", "slow", delay=30)
    calls = stand_in.counters()["token_requests"]
    with pytest.raises(TokenEndpointError, match="ReadTimeout"):
        manager.refresh(force=True)
    assert stand_in.counters()["token_requests"] == calls + 1


def test_missing_pair_and_other_host_are_clear(stand_in, tmp_path):
    store = MemoryStore("orangelogic_token_x")
    manager = make_manager(stand_in.url, store, tmp_path)
    with pytest.raises(TokenStoreError, match=r"No token pair is stored .*Authorize again: open the authorization"):
        manager.access_token()
    manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    moved = make_manager("https://dam.other.example", store, tmp_path)
    with pytest.raises(TokenStoreError, match=r"was issued by http://127.0.0.1.*now points to https://dam.other"):
        moved.access_token()


def test_reused_code_is_refused(stand_in, tmp_path):
    manager = make_manager(stand_in.url, MemoryStore(), tmp_path)
    code = stand_in.authorize(REDIRECT_URI)
    manager.exchange_code(code)
    with pytest.raises(ReauthorizationRequired, match="authorization code is invalid, expired or already used"):
        manager.exchange_code(code)


def test_session_sends_bearer_and_recovers_from_401_after_foreign_refresh(stand_in, tmp_path):
    store = MemoryStore()
    consumer = make_manager(stand_in.url, store, tmp_path)
    refresher = make_manager(stand_in.url, store, tmp_path)
    refresher.exchange_code(stand_in.authorize(REDIRECT_URI))
    session = new_session(consumer)
    url = stand_in.url + "/API/search/v4.0/search"
    assert session.get(url, params={"format": "json"}).status_code == 200
    refresher.refresh(force=True)  # the consumer's cached token is now revoked by rotation
    answer = session.get(url, params={"format": "json"})
    assert answer.status_code == 200 and len(answer.history) == 1 and answer.history[0].status_code == 401


def test_expired_token_waits_then_says_what_to_do(stand_in, tmp_path):
    clock = SteppedClock()
    manager = make_manager(stand_in.url, MemoryStore(), tmp_path, clock=clock)
    manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    clock.advance(stand_in.config.access_lifetime + 1)
    with pytest.raises(TokenStoreError, match=r"was not renewed within 2 s\. Check that whatever refreshes"):
        manager.access_token()
    assert stand_in.counters()["refresh_token_grants"] == 0


def test_refresh_token_expired_needs_reauthorization(stand_in, tmp_path):
    clock = SteppedClock()
    manager = make_manager(stand_in.url, MemoryStore(), tmp_path, clock=clock, default_refresh_token_lifetime=3600)
    manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    clock.advance(stand_in.config.access_lifetime + 1)  # both tokens expired
    with pytest.raises(ReauthorizationRequired, match=r"refresh token .* expired"):
        manager.refresh()
    assert stand_in.counters()["refresh_token_grants"] == 0


def test_401_while_the_refresher_is_storing_waits_for_the_new_pair(stand_in, tmp_path):
    """The server retires the old access token at refresh; the refresher stores the pair a moment later."""
    import threading

    from airflow_provider_orangelogic.oauth.tokens import pair_from_response

    store = MemoryStore()
    refresher = make_manager(stand_in.url, store, tmp_path)
    current = refresher.exchange_code(stand_in.authorize(REDIRECT_URI))
    consumer = make_manager(stand_in.url, store, tmp_path)
    session = new_session(consumer)
    url = stand_in.url + "/API/search/v4.0/search"
    assert session.get(url, params={"format": "json"}).status_code == 200
    # The old access token is rejected from now on.
    payload = refresher.grant.endpoint.refresh_token_grant(current.refresh_token)
    new_pair = pair_from_response(
        payload,
        grant="refresh_token",
        host=stand_in.url,
        now=current.obtained_at,
        access_lifetime=86400,
        refresh_lifetime=86400,
        previous=current,
    )
    threading.Timer(0.6, store.save, args=(new_pair,)).start()
    answer = session.get(url, params={"format": "json"})
    assert answer.status_code == 200 and [r.status_code for r in answer.history] == [401]
