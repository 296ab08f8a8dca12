"""Codes and grants over HTTP: the authorization page, the token endpoint, rotation, reuse, expiry."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.testing import OrangeLogicStandIn
from airflow_provider_orangelogic.testing.browser import follow_authorization
from tests.stand_in.helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    TIMEOUT,
    assert_oauth_error,
    auth_request,
    auth_url,
    first_pair,
    refresh,
    search,
    token_request,
)

# ---- authorization endpoint ---------------------------------------------------------------------


def test_auth_redirects_with_code_and_state_unchanged(standin: OrangeLogicStandIn) -> None:
    redirect = follow_authorization(auth_url(standin, state="a b&c=d/é"), timeout=TIMEOUT)
    assert redirect.status == 302
    location = urlsplit(redirect.location)
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    query = parse_qs(location.query)
    assert query["state"] == ["a b&c=d/é"]
    assert token_request(standin, "authorization_code", redirect.code).status_code == 200
    assert standin.counters()["auth_requests"] == 1
    assert standin.counters()["codes_issued"] == 1


def test_auth_without_state_omits_it(standin: OrangeLogicStandIn) -> None:
    redirect = follow_authorization(auth_url(standin), timeout=TIMEOUT)
    assert redirect.status == 302
    assert set(parse_qs(urlsplit(redirect.location).query)) == {"code"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"client_id": "someone-else"}, "client_id"),
        ({"response_type": "token"}, "response_type"),
        ({"redirect_uri": "https://evil.example/callback"}, "not registered"),
        ({"redirect_uri": REDIRECT_URI + "/extra"}, "not registered"),
        ({"redirect_uri": None}, "missing"),
    ],
)
def test_auth_rejects_bad_requests_without_redirecting(
    standin: OrangeLogicStandIn, overrides: dict[str, Any], message: str
) -> None:
    response = auth_request(standin, state="s", **overrides)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.headers["Content-Type"].startswith("text/html")
    assert message in response.text
    assert standin.counters()["codes_issued"] == 0


def test_authorize_helper_refuses_unregistered_redirect(standin: OrangeLogicStandIn) -> None:
    with pytest.raises(ValueError, match="not registered"):
        standin.authorize("https://evil.example/callback")


# ---- token endpoint -------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["form", "json"])
def test_code_then_refresh_grant(standin: OrangeLogicStandIn, encoding: str) -> None:
    pair = first_pair(standin, encoding)
    assert set(pair) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert pair["token_type"] == "Bearer"
    assert pair["expires_in"] == 86400

    response = refresh(standin, pair["refresh_token"], encoding)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    renewed = response.json()
    assert renewed["access_token"] != pair["access_token"]
    assert renewed["refresh_token"] != pair["refresh_token"]

    # The new access token supersedes the old one of the same grant.
    assert search(standin, pair["access_token"]).status_code == 401
    assert search(standin, renewed["access_token"]).status_code == 200
    counters = standin.counters()
    assert counters["authorization_code_grants"] == 1
    assert counters["refresh_token_grants"] == 1
    assert counters["token_success"] == 2
    assert counters["token_requests"] == 2


@pytest.mark.parametrize("encoding", ["form", "json"])
@pytest.mark.parametrize("param", ["client_id", "client_secret", "grant_type", "code"])
@pytest.mark.parametrize("value", [None, ""])
def test_missing_or_empty_parameter_is_invalid_request(
    standin: OrangeLogicStandIn, encoding: str, param: str, value: str | None
) -> None:
    params = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "grant_type": "authorization_code"}
    params["code"] = standin.authorize()
    params[param] = value  # type: ignore[assignment]
    params = {name: v for name, v in params.items() if v is not None}
    body = {"json": params} if encoding == "json" else {"data": params}
    response = requests.post(standin.url + endpoints.TOKEN, timeout=TIMEOUT, **body)
    assert_oauth_error(response, 400, "invalid_request")
    assert param in response.json()["error_description"]
    assert standin.counters()["token_errors"] == 1


@pytest.mark.parametrize("overrides", [{"client_secret": "wrong"}, {"client_id": "other-client"}])
def test_wrong_client_credentials(standin: OrangeLogicStandIn, overrides: dict[str, str]) -> None:
    response = token_request(standin, "authorization_code", standin.authorize(), **overrides)
    assert_oauth_error(response, 401, "invalid_client")


def test_unsupported_grant_type(standin: OrangeLogicStandIn) -> None:
    response = token_request(standin, "password", standin.authorize())
    assert_oauth_error(response, 400, "unsupported_grant_type")


def test_malformed_json_body_is_invalid_request(standin: OrangeLogicStandIn) -> None:
    response = requests.post(
        standin.url + endpoints.TOKEN,
        data=b"{not json",
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert_oauth_error(response, 400, "invalid_request")


def test_unknown_code_and_refresh_token_are_invalid_grant(standin: OrangeLogicStandIn) -> None:
    assert_oauth_error(token_request(standin, "authorization_code", "nope"), 400, "invalid_grant")
    assert_oauth_error(refresh(standin, "nope"), 400, "invalid_grant")


def test_code_is_one_time_and_reuse_revokes_grant_in_strict_mode(standin: OrangeLogicStandIn) -> None:
    code = standin.authorize()
    pair = token_request(standin, "authorization_code", code).json()
    assert_oauth_error(token_request(standin, "authorization_code", code), 400, "invalid_grant")
    counters = standin.counters()
    assert counters["code_reuses"] == 1
    assert counters["grants_revoked"] == 1
    assert search(standin, pair["access_token"]).status_code == 401
    assert_oauth_error(refresh(standin, pair["refresh_token"]), 400, "invalid_grant")


def test_code_reuse_in_lenient_mode_keeps_grant(standin: OrangeLogicStandIn) -> None:
    standin.configure(strict=False)
    code = standin.authorize()
    pair = token_request(standin, "authorization_code", code).json()
    assert_oauth_error(token_request(standin, "authorization_code", code), 400, "invalid_grant")
    assert standin.counters()["grants_revoked"] == 0
    assert search(standin, pair["access_token"]).status_code == 200


def test_code_expires(standin: OrangeLogicStandIn) -> None:
    standin.configure(code_lifetime=0.2)
    code = standin.authorize()
    time.sleep(0.3)
    response = token_request(standin, "authorization_code", code)
    assert_oauth_error(response, 400, "invalid_grant")
    assert "expired" in response.json()["error_description"]


def test_strict_refresh_token_reuse_revokes_whole_grant(standin: OrangeLogicStandIn) -> None:
    pair = first_pair(standin)
    renewed = refresh(standin, pair["refresh_token"]).json()

    assert_oauth_error(refresh(standin, pair["refresh_token"]), 400, "invalid_grant")
    counters = standin.counters()
    assert counters["refresh_token_reuses"] == 1
    assert counters["grants_revoked"] == 1
    # Everything descending from the grant is dead now, including the newest pair.
    assert search(standin, renewed["access_token"]).status_code == 401
    assert_oauth_error(refresh(standin, renewed["refresh_token"]), 400, "invalid_grant")
    # Reusing again is counted, but the grant is revoked only once.
    refresh(standin, pair["refresh_token"])
    assert standin.counters()["refresh_token_reuses"] == 2
    assert standin.counters()["grants_revoked"] == 1


def test_concurrent_reuse_lets_exactly_one_refresh_through(standin: OrangeLogicStandIn) -> None:
    pair = first_pair(standin)
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(lambda _: refresh(standin, pair["refresh_token"]).status_code, range(8)))
    assert statuses == [200] + [400] * 7
    counters = standin.counters()
    assert counters["refresh_token_grants"] == 1
    assert counters["refresh_token_reuses"] == 7
    assert counters["grants_revoked"] == 1


def test_lenient_mode_allows_refresh_token_reuse(standin: OrangeLogicStandIn) -> None:
    standin.configure(strict=False)
    pair = first_pair(standin)
    first = refresh(standin, pair["refresh_token"])
    second = refresh(standin, pair["refresh_token"])
    assert first.status_code == second.status_code == 200
    assert refresh(standin, first.json()["refresh_token"]).status_code == 200
    assert standin.counters()["grants_revoked"] == 0


def test_without_rotation_refresh_answer_has_no_refresh_token(standin: OrangeLogicStandIn) -> None:
    standin.configure(rotate_refresh_token=False)
    pair = first_pair(standin)
    assert "refresh_token" in pair  # the first pair always carries one
    first = refresh(standin, pair["refresh_token"])
    assert first.status_code == 200
    assert "refresh_token" not in first.json()
    # Still strict mode, yet the unrotated token stays usable.
    second = refresh(standin, pair["refresh_token"])
    assert second.status_code == 200
    assert search(standin, first.json()["access_token"]).status_code == 401
    assert search(standin, second.json()["access_token"]).status_code == 200
    assert standin.counters()["grants_revoked"] == 0


def test_refresh_token_expires(standin: OrangeLogicStandIn) -> None:
    standin.configure(refresh_lifetime=0.2)
    pair = first_pair(standin)
    time.sleep(0.3)
    response = refresh(standin, pair["refresh_token"])
    assert_oauth_error(response, 400, "invalid_grant")
    assert "expired" in response.json()["error_description"]


def test_access_token_expires(standin: OrangeLogicStandIn) -> None:
    valid = first_pair(standin)
    assert search(standin, valid["access_token"]).status_code == 200
    # A separate grant whose token is born expired: no race with how fast the machine answers.
    standin.configure(access_lifetime=0)
    pair = first_pair(standin)
    assert pair["expires_in"] == 0
    response = search(standin, pair["access_token"])
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert "expired" in response.json()["error_description"]


def test_expires_in_can_be_omitted(standin: OrangeLogicStandIn) -> None:
    standin.configure(send_expires_in=False)
    pair = first_pair(standin)
    assert "expires_in" not in pair
    assert "expires_in" not in refresh(standin, pair["refresh_token"]).json()


def test_issued_secrets_lists_codes_and_tokens(standin: OrangeLogicStandIn) -> None:
    code = standin.authorize()
    pair = token_request(standin, "authorization_code", code).json()
    renewed = refresh(standin, pair["refresh_token"]).json()
    expected = [code, pair["access_token"], pair["refresh_token"], renewed["access_token"], renewed["refresh_token"]]
    assert standin.issued_secrets() == expected
    assert len(set(expected)) == 5
