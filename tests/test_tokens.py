"""The stored token record and the parsing of token endpoint answers."""

from __future__ import annotations

import json

import pendulum
import pytest

from airflow_provider_orangelogic.core.errors import TokenEndpointError
from airflow_provider_orangelogic.core.retry import RetryPolicy, parse_retry_after
from airflow_provider_orangelogic.oauth.tokens import TokenPair, pair_from_response

NOW = pendulum.datetime(2026, 11, 28, 12, 0, tz="UTC")


def make(payload, grant="authorization_code", previous=None):
    return pair_from_response(
        payload,
        grant=grant,
        host="https://dam.example.com",
        now=NOW,
        access_lifetime=86400,
        refresh_lifetime=30 * 86400,
        previous=previous,
    )


def test_expiry_from_expires_in_and_fallbacks():
    pair = make({"access_token": "A1", "refresh_token": "R1", "token_type": "Bearer", "expires_in": 7200})
    assert pair.access_token_expires_at == NOW.add(hours=2)
    assert pair.refresh_token_expires_at == NOW.add(days=30)
    assert pair.obtained_by == "authorization_code" and pair.host == "https://dam.example.com"


@pytest.mark.parametrize("expires_in", [None, 0, -5, "abc", 10**12, True, float("nan")])
def test_unusable_expires_in_falls_back_to_24_hours(expires_in):
    payload = {"access_token": "A1", "refresh_token": "R1"}
    if expires_in is not None:
        payload["expires_in"] = expires_in
    assert make(payload).access_token_expires_at == NOW.add(hours=24)


def test_refresh_without_new_refresh_token_keeps_old_one_and_its_expiry():
    first = make({"access_token": "A1", "refresh_token": "R1"})
    later = pair_from_response(
        {"access_token": "A2"},
        grant="refresh_token",
        host=first.host,
        now=NOW.add(hours=12),
        access_lifetime=86400,
        refresh_lifetime=30 * 86400,
        previous=first,
    )
    assert later.refresh_token == "R1"
    assert later.refresh_token_expires_at == first.refresh_token_expires_at
    assert later.access_token == "A2" and later.obtained_by == "refresh_token"


@pytest.mark.parametrize(
    "payload",
    [[], "text", {"refresh_token": "R"}, {"access_token": "", "refresh_token": "R"}, {"access_token": "A"}],
)
def test_unusable_answers_raise(payload):
    with pytest.raises(TokenEndpointError):
        make(payload)


def test_record_round_trip_and_repr_hides_tokens():
    pair = make({"access_token": "ACCESS-SECRET", "refresh_token": "REFRESH-SECRET", "expires_in": 60})
    assert TokenPair.from_json(pair.to_json(), source="V") == pair
    record = json.loads(pair.to_json())
    assert record["access_token_expires_at"] == "2026-11-28T12:01:00Z"
    for text in (repr(pair), json.dumps(pair.summary(NOW))):
        assert "ACCESS-SECRET" not in text and "REFRESH-SECRET" not in text
    assert pair.summary(NOW)["access_token_seconds_left"] == 60


def test_refresh_policy_threshold():
    pair = make({"access_token": "A", "refresh_token": "R", "expires_in": 100})
    assert not pair.needs_refresh(NOW.add(seconds=49), 0.5)
    assert pair.needs_refresh(NOW.add(seconds=51), 0.5)
    assert pair.access_token_valid(NOW.add(seconds=99).timestamp())
    assert not pair.access_token_valid(NOW.add(seconds=99).timestamp(), leeway=5)


def test_retry_after_parsing_and_backoff_bounds():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("garbage") is None
    assert parse_retry_after(None) is None
    assert 0 <= parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") <= 0.0  # a past date means "now"
    policy = RetryPolicy(backoff_base=1, backoff_max=4)
    assert all(0 <= policy.delay(attempt) <= min(4, 2 ** (attempt - 1)) for attempt in range(1, 8))
