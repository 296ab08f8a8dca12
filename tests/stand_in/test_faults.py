"""Injected faults: each kind over HTTP, their order and scope, and the refusal of bad ones."""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
import requests

from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.testing import OrangeLogicStandIn
from airflow_provider_orangelogic.testing.stand_in import faults
from airflow_provider_orangelogic.testing.stand_in.faults import (
    FAULTS,
    DropFields,
    ExpiresIn,
    Fault,
    NonJson,
    Reset,
    Slow,
    Status,
)
from airflow_provider_orangelogic.testing.stand_in.messages import Response
from tests.stand_in.helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    TIMEOUT,
    assert_oauth_error,
    first_pair,
    refresh,
    search,
    token_request,
)


def test_status_fault_html_with_retry_after(standin: OrangeLogicStandIn) -> None:
    standin.add_fault("token", "status", status=503, body="html", retry_after=7)
    response = token_request(standin, "authorization_code", standin.authorize())
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<html" in response.text
    # One use only; the code was not consumed by the faulted request.
    assert token_request(standin, "authorization_code", standin.authorize()).status_code == 200
    assert standin.counters()["faults_injected"] == 1


def test_status_fault_json_and_text(standin: OrangeLogicStandIn) -> None:
    standin.add_fault("token", "status", status=400, error="invalid_grant", error_description="nope")
    standin.add_fault("token", "status", status=429, retry_after=1)
    standin.add_fault("token", "status", status=502, body="text")
    code = standin.authorize()
    first = token_request(standin, "authorization_code", code)
    assert first.status_code == 400
    assert first.json() == {"error": "invalid_grant", "error_description": "nope"}
    second = token_request(standin, "authorization_code", code)
    assert second.status_code == 429
    assert second.headers["Retry-After"] == "1"
    assert second.json()["error"] == "temporarily_unavailable"
    third = token_request(standin, "authorization_code", code)
    assert third.status_code == 502
    assert third.headers["Content-Type"].startswith("text/plain")
    assert third.text == "502 Bad Gateway"
    assert token_request(standin, "authorization_code", code).status_code == 200


def test_fault_count_is_consumed_in_order(standin: OrangeLogicStandIn, access_token: str) -> None:
    standin.add_fault("search", "status", count=2, status=500)
    standin.add_fault("search", "status", status=401)
    statuses = [search(standin, access_token).status_code for _ in range(4)]
    assert statuses == [500, 500, 401, 200]
    assert standin.counters()["faults_injected"] == 3


def test_any_fault_hits_both_endpoints(standin: OrangeLogicStandIn, access_token: str) -> None:
    standin.add_fault("any", "status", count=2, status=504)
    assert search(standin, access_token).status_code == 504
    assert token_request(standin, "authorization_code", standin.authorize()).status_code == 504
    assert search(standin, access_token).status_code == 200


def test_token_only_fault_on_any_skips_search(standin: OrangeLogicStandIn, access_token: str) -> None:
    standin.add_fault("any", "drop_fields", fields=["refresh_token"])
    assert search(standin, access_token).status_code == 200
    assert standin.counters()["faults_injected"] == 0
    assert "refresh_token" not in first_pair(standin)


def test_slow_fault_trips_client_timeout_then_recovers(standin: OrangeLogicStandIn, access_token: str) -> None:
    standin.add_fault("search", "slow", delay=0.5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(
            standin.url + endpoints.SEARCH,
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=(TIMEOUT, 0.2),
        )
    standin.add_fault("search", "slow", delay=0.3)
    started = time.monotonic()
    assert search(standin, access_token).status_code == 200
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize("mode", ["rst", "eof"])
def test_reset_fault_breaks_connection_mid_response(standin: OrangeLogicStandIn, mode: str) -> None:
    standin.add_fault("token", "reset", mode=mode)
    code = standin.authorize()
    with requests.Session() as session, pytest.raises(requests.exceptions.RequestException):
        session.post(
            standin.url + endpoints.TOKEN,
            data={
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "grant_type": "authorization_code",
                "code": code,
            },
            timeout=TIMEOUT,
        )
    # Not processed: the code is still good.
    assert token_request(standin, "authorization_code", code).status_code == 200


def test_reset_after_processing_loses_rotated_refresh_token(standin: OrangeLogicStandIn) -> None:
    pair = first_pair(standin)
    standin.add_fault("token", "reset", process=True)
    with pytest.raises(requests.exceptions.RequestException):
        refresh(standin, pair["refresh_token"])
    # The server rotated the token, so the client's retry with it is a reuse.
    assert_oauth_error(refresh(standin, pair["refresh_token"]), 400, "invalid_grant")
    assert standin.counters()["grants_revoked"] == 1


def test_reset_fault_on_search(standin: OrangeLogicStandIn, access_token: str) -> None:
    standin.add_fault("search", "reset")
    with pytest.raises(requests.exceptions.RequestException):
        search(standin, access_token)
    assert search(standin, access_token).status_code == 200


def test_non_json_fault(standin: OrangeLogicStandIn) -> None:
    standin.add_fault("token", "non_json")
    response = token_request(standin, "authorization_code", standin.authorize())
    assert response.status_code == 200
    assert response.text.startswith("OK <html>")
    with pytest.raises(ValueError):
        response.json()


def test_drop_fields_fault_still_advances_grant(standin: OrangeLogicStandIn) -> None:
    pair = first_pair(standin)
    standin.add_fault("token", "drop_fields", fields=["access_token", "expires_in"])
    response = refresh(standin, pair["refresh_token"])
    assert response.status_code == 200
    assert set(response.json()) == {"refresh_token", "token_type"}
    # The unseen access token replaced the old one, and the refresh token was rotated.
    assert search(standin, pair["access_token"]).status_code == 401
    assert refresh(standin, response.json()["refresh_token"]).status_code == 200
    assert len(standin.issued_secrets()) == 1 + 2 + 2 + 2


@pytest.mark.parametrize("value", [0, -5, "abc", 10**12, None])
def test_expires_in_fault(standin: OrangeLogicStandIn, value: Any) -> None:
    standin.add_fault("token", "expires_in", value=value)
    response = token_request(standin, "authorization_code", standin.authorize())
    assert response.status_code == 200
    body = response.json()
    if value is None:
        assert "expires_in" not in body
    else:
        assert body["expires_in"] == value
    assert "access_token" in body


def test_clear_faults(standin: OrangeLogicStandIn, access_token: str) -> None:
    standin.add_fault("search", "status", count=5)
    standin.clear_faults()
    assert search(standin, access_token).status_code == 200


@pytest.mark.parametrize(
    ("args", "options"),
    [
        (("auth", "status"), {}),
        (("token", "explode"), {}),
        (("token", "status", 0), {}),
        (("token", "status"), {"statuss": 500}),
        (("token", "status"), {"status": 99}),
        (("token", "status"), {"body": "xml"}),
        (("search", "drop_fields"), {}),
        (("search", "expires_in"), {"value": 1}),
        (("token", "slow"), {"delay": -1}),
        (("token", "reset"), {"mode": "gentle"}),
    ],
)
def test_invalid_faults_are_refused(standin: OrangeLogicStandIn, args: tuple[Any, ...], options: dict) -> None:
    with pytest.raises(ValueError):
        standin.add_fault(*args, **options)


# ---- one class per kind -------------------------------------------------------------------------------


def test_registry_has_one_class_per_kind_with_its_options() -> None:
    assert list(FAULTS)[:6] == ["status", "slow", "reset", "non_json", "drop_fields", "expires_in"]
    for kind, cls in FAULTS.items():
        assert cls.kind == kind and cls.__doc__ and issubclass(cls, Fault)
        assert cls.options() == {field.name: field.default for field in dataclasses.fields(cls)}
        cls()  # the defaults are valid
    assert {kind for kind, cls in FAULTS.items() if cls.token_only} == {"drop_fields", "expires_in"}


@pytest.mark.parametrize(
    ("status", "endpoint", "error"),
    [
        (401, "token", "invalid_client"),
        (401, "search", "invalid_token"),
        (429, "token", "temporarily_unavailable"),
        (503, "search", "temporarily_unavailable"),
        (404, "search", "invalid_request"),
        (500, "token", "server_error"),
    ],
)
def test_status_fault_default_error(status: int, endpoint: str, error: str) -> None:
    response = Status(status=status).before(endpoint)
    assert response.status == status and json.loads(response.body)["error"] == error
    assert Status(status=599, body="text").before(endpoint).body == b"599 Error"


def test_slow_fault_sleeps_then_lets_the_request_through() -> None:
    started = time.monotonic()
    assert Slow(delay=0.05).before("token") is None
    assert time.monotonic() - started >= 0.05


def test_reset_fault_aborts_before_or_after_processing() -> None:
    answer = Response(200, b"{}")
    assert Reset(mode="eof").before("token") == Response(200, abort="eof")
    assert Reset(process=True).before("token") is None
    assert Reset(process=True).after(answer).abort == "rst"


def test_non_json_fault_replaces_the_answer() -> None:
    response = NonJson().before("search")
    assert response.status == 200 and response.body.startswith(b"OK <html>")


def test_drop_fields_and_expires_in_rewrite_a_token_answer() -> None:
    payload = {"access_token": "a", "refresh_token": "r", "token_type": "Bearer", "expires_in": 60}
    DropFields(fields=["refresh_token", "nonexistent"]).rewrite(payload)
    assert payload == {"access_token": "a", "token_type": "Bearer", "expires_in": 60}
    ExpiresIn(value="soon").rewrite(payload)
    assert payload["expires_in"] == "soon"
    ExpiresIn().rewrite(payload)
    assert "expires_in" not in payload


def test_a_new_class_is_a_new_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faults, "FAULTS", dict(faults.FAULTS))  # the class below registers in this copy

    @dataclass(frozen=True)
    class Teapot(Fault):
        """Answer 418 with ``note`` as the body."""

        kind: ClassVar[str] = "teapot"
        note: str = "short and stout"

        def before(self, endpoint: str) -> Response:
            return Response(418, self.note.encode(), "text/plain")

    assert faults.FAULTS["teapot"] is Teapot
    assert "teapot(note=" in faults.describe_faults()
    with pytest.raises(TypeError):

        @dataclass(frozen=True)
        class AnotherTeapot(Fault):
            kind: ClassVar[str] = "teapot"

    with OrangeLogicStandIn() as standin:
        standin.add_fault("token", "teapot", note="spout")
        response = token_request(standin, "authorization_code", standin.authorize())
        assert (response.status_code, response.text) == (418, "spout")
        with pytest.raises(ValueError, match="unknown options"):
            standin.add_fault("token", "teapot", handle=True)
