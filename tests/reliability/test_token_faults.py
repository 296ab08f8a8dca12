"""Faults at the token endpoint: retried and succeeded, or failed clearly with the stored pair
byte-for-byte unchanged. Each case runs against the strict stand-in over real sockets."""

from __future__ import annotations

import socket
import time

import pytest

from airflow_provider_orangelogic.core.errors import ReauthorizationRequired, TokenEndpointError
from tests.conftest import CLIENT_SECRET, REDIRECT_URI, MemoryStore, make_manager


@pytest.fixture
def authorized(stand_in, tmp_path):
    store = MemoryStore()
    manager = make_manager(stand_in.url, store, tmp_path)
    manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    return manager, store


def assert_no_secret(stand_in, text):
    assert not [s for s in [*stand_in.issued_secrets(), CLIENT_SECRET] if s in text]


RETRIED = [
    ("500 once", dict(kind="status", status=500)),
    ("502 once", dict(kind="status", status=502, body="html")),
    ("503 twice", dict(kind="status", status=503, count=2)),
    ("504 once", dict(kind="status", status=504, body="text")),
    ("429 with Retry-After", dict(kind="status", status=429, retry_after=1)),
    ("429 without Retry-After", dict(kind="status", status=429)),
    ("connection reset before processing", dict(kind="reset")),
]


@pytest.mark.parametrize(("name", "fault"), RETRIED, ids=[n for n, _ in RETRIED])
def test_transient_fault_is_retried_and_refresh_succeeds(stand_in, authorized, name, fault):
    """Transient token-endpoint fault: retried inside the call, then the refresh succeeds"""
    manager, store = authorized
    before = store.text
    fault = dict(fault)
    stand_in.add_fault("token", fault.pop("kind"), count=fault.pop("count", 1), **fault)
    started = time.monotonic()
    if name.startswith("connection reset"):
        # The server cannot have acted, but the client cannot know: it fails at once, pair kept,
        # and the next attempt (an Airflow retry) succeeds with the same, unspent token.
        with pytest.raises(TokenEndpointError) as info:
            manager.refresh(force=True)
        assert store.text == before
        assert_no_secret(stand_in, str(info.value))
    result = manager.refresh(force=True)
    assert result.refreshed and store.text != before
    if "Retry-After" in name and "without" not in name:
        assert time.monotonic() - started >= 1.0
    counters = stand_in.counters()
    assert counters["refresh_token_reuses"] == 0 and counters["grants_revoked"] == 0


FAILED = [
    ("500 persistent", dict(kind="status", status=500, count=10), TokenEndpointError, "kept failing"),
    ("502 persistent", dict(kind="status", status=502, count=10), TokenEndpointError, "HTTP 502"),
    ("503 persistent", dict(kind="status", status=503, count=10), TokenEndpointError, "HTTP 503"),
    ("504 persistent", dict(kind="status", status=504, count=10), TokenEndpointError, "HTTP 504"),
    ("429 persistent", dict(kind="status", status=429, count=10), TokenEndpointError, "HTTP 429"),
    ("HTML error page", dict(kind="status", status=500, body="html", count=10), TokenEndpointError, "HTML page"),
    ("HTML 400 from a proxy", dict(kind="status", status=400, body="html"), TokenEndpointError, "HTML page"),
    ("200 with a non-JSON body", dict(kind="non_json"), TokenEndpointError, "instead of JSON"),
    # The answer comes 60 s after a 0.5 s client timeout: a timeout however slow the machine is.
    ("read timeout", dict(kind="slow", delay=60), TokenEndpointError, "ReadTimeout"),
    (
        "invalid_grant",
        dict(kind="status", status=400, error="invalid_grant"),
        ReauthorizationRequired,
        "refresh token is expired, revoked or already used",
    ),
    (
        "invalid_client",
        dict(kind="status", status=401, error="invalid_client"),
        ReauthorizationRequired,
        "client ID or client secret is not accepted",
    ),
    (
        "unauthorized_client",
        dict(kind="status", status=400, error="unauthorized_client"),
        ReauthorizationRequired,
        "client ID or client secret",
    ),
]


@pytest.mark.parametrize(("name", "fault", "error", "message"), FAILED, ids=[f[0] for f in FAILED])
def test_failure_is_clear_and_keeps_the_pair(stand_in, tmp_path, name, fault, error, message):
    """Token-endpoint failure: a clear error, the stored pair byte-for-byte unchanged"""
    store = MemoryStore()
    manager = make_manager(stand_in.url, store, tmp_path)
    manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    before = store.text
    if fault["kind"] == "slow":
        # Only the read-timeout case gets a short client timeout; the others keep the default 30 s,
        # so a busy machine answering slowly never turns their fault into a timeout.
        manager = make_manager(stand_in.url, store, tmp_path, timeout=0.5)
    fault = dict(fault)
    stand_in.add_fault("token", fault.pop("kind"), count=fault.pop("count", 1), **fault)
    with pytest.raises(error) as info:
        manager.refresh(force=True)
    assert message in str(info.value)
    assert store.text == before
    assert_no_secret(stand_in, str(info.value))


def test_connection_refused_keeps_the_pair(stand_in, tmp_path):
    """Connection refused: retried, then a clear error; pair unchanged"""
    store = MemoryStore()
    make_manager(stand_in.url, store, tmp_path).exchange_code(stand_in.authorize(REDIRECT_URI))
    before = store.text
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    moved = make_manager(f"http://127.0.0.1:{port}", store, tmp_path)
    store.text = before.replace(stand_in.url, f"http://127.0.0.1:{port}")
    expected = store.text
    with pytest.raises(TokenEndpointError, match="ConnectionError"):
        moved.refresh(force=True)
    assert store.text == expected


def test_answer_lost_after_server_rotated(stand_in, authorized):
    """Connection reset after the server rotated the pair: clear error, pair kept, re-authorization named"""
    manager, store = authorized
    before = store.text
    stand_in.add_fault("token", "reset", process=True)
    with pytest.raises(TokenEndpointError, match="may have acted on the request"):
        manager.refresh(force=True)
    assert store.text == before
    # The stored refresh token is spent on the server: the next attempt needs a person.
    with pytest.raises(ReauthorizationRequired, match="A person must authorize again"):
        manager.refresh(force=True)


def test_answer_without_access_token_keeps_the_grant(stand_in, authorized):
    """200 without access_token: the new refresh token is stored, the next refresh completes the pair"""
    manager, _ = authorized
    stand_in.add_fault("token", "drop_fields", fields=["access_token"])
    with pytest.raises(TokenEndpointError, match="new refresh token was stored"):
        manager.refresh(force=True)
    assert manager.read().access_token == ""
    assert manager.refresh().refreshed and manager.read().access_token
    assert stand_in.counters()["refresh_token_reuses"] == 0


def test_answer_without_refresh_token_keeps_the_old_one(stand_in, authorized):
    """200 without refresh_token: the new access token is stored with the old refresh token and expiry"""
    manager, _ = authorized
    before = manager.read()
    stand_in.add_fault("token", "drop_fields", fields=["refresh_token"])
    after = manager.refresh(force=True).pair
    assert after.access_token != before.access_token
    assert (after.refresh_token, after.refresh_token_expires_at) == (
        before.refresh_token,
        before.refresh_token_expires_at,
    )


@pytest.mark.parametrize(
    "value", [None, 0, -5, "abc", 10**12], ids=["missing", "zero", "negative", "non-numeric", "absurdly large"]
)
def test_bad_expires_in_falls_back_to_24_hours(stand_in, authorized, value):
    """expires_in unusable: the pair is stored with the 24-hour fallback lifetime"""
    manager, _ = authorized
    stand_in.add_fault("token", "expires_in", value=value)
    pair = manager.refresh(force=True).pair
    assert pair.access_lifetime == 86400


def test_reused_authorization_code(stand_in, tmp_path):
    """Reused authorization code: refused, nothing stored"""
    code = stand_in.authorize(REDIRECT_URI)
    make_manager(stand_in.url, MemoryStore(), tmp_path).exchange_code(code)
    store = MemoryStore("second")
    with pytest.raises(ReauthorizationRequired, match="authorization code is invalid, expired or already used"):
        make_manager(stand_in.url, store, tmp_path).exchange_code(code)
    assert store.text is None


def test_expired_authorization_code(stand_in, tmp_path):
    """Expired authorization code: refused, nothing stored"""
    stand_in.configure(code_lifetime=0.2)
    code = stand_in.authorize(REDIRECT_URI)
    time.sleep(0.4)
    store = MemoryStore()
    with pytest.raises(ReauthorizationRequired, match="authorization code is invalid, expired"):
        make_manager(stand_in.url, store, tmp_path).exchange_code(code)
    assert store.text is None
