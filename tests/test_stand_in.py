"""Tests of the Orange Logic stand-in server, always over real loopback sockets."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from airflow_provider_orangelogic.testing import OrangeLogicStandIn, StandInConfig

REPO_ROOT = Path(__file__).resolve().parents[1]
TOKEN_PATH = "/webapi/security/oauth2/token_48I_v1"
SEARCH_PATH = "/API/search/v4.0/search"
AUTH_PATH = "/oauth2/auth"
REDIRECT_URI = StandInConfig().redirect_uris[0]
CLIENT_ID = StandInConfig().client_id
CLIENT_SECRET = StandInConfig().client_secret
TIMEOUT = 5


@pytest.fixture
def standin() -> Iterator[OrangeLogicStandIn]:
    with OrangeLogicStandIn() as server:
        yield server


# ---- helpers ----------------------------------------------------------------------------------


def token_request(
    standin: OrangeLogicStandIn, grant_type: str, code: str, encoding: str = "form", **overrides: str
) -> requests.Response:
    params = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant_type": grant_type,
        "code": code,
        **overrides,
    }
    body = {"json": params} if encoding == "json" else {"data": params}
    return requests.post(standin.url + TOKEN_PATH, timeout=TIMEOUT, **body)


def first_pair(standin: OrangeLogicStandIn, encoding: str = "form") -> dict[str, Any]:
    response = token_request(standin, "authorization_code", standin.authorize(), encoding)
    assert response.status_code == 200, response.text
    return response.json()


def refresh(standin: OrangeLogicStandIn, refresh_token: str, encoding: str = "form") -> requests.Response:
    return token_request(standin, "refresh_token", refresh_token, encoding)


def search(standin: OrangeLogicStandIn, access_token: str | None = None, **params: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
    params.setdefault("format", "json")
    return requests.get(standin.url + SEARCH_PATH, params=params, headers=headers, timeout=TIMEOUT)


def auth_request(standin: OrangeLogicStandIn, **params: str) -> requests.Response:
    query = {"client_id": CLIENT_ID, "response_type": "code", "redirect_uri": REDIRECT_URI, **params}
    query = {name: value for name, value in query.items() if value is not None}
    return requests.get(standin.url + AUTH_PATH, params=query, allow_redirects=False, timeout=TIMEOUT)


def assert_oauth_error(response: requests.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert "error_description" in response.json()


# ---- authorization endpoint ---------------------------------------------------------------------


def test_auth_redirects_with_code_and_state_unchanged(standin: OrangeLogicStandIn) -> None:
    response = auth_request(standin, state="a b&c=d/é")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    query = parse_qs(location.query)
    assert query["state"] == ["a b&c=d/é"]
    assert token_request(standin, "authorization_code", query["code"][0]).status_code == 200
    assert standin.counters()["auth_requests"] == 1
    assert standin.counters()["codes_issued"] == 1


def test_auth_without_state_omits_it(standin: OrangeLogicStandIn) -> None:
    response = auth_request(standin)
    assert response.status_code == 302
    assert set(parse_qs(urlsplit(response.headers["Location"]).query)) == {"code"}


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
    response = requests.post(standin.url + TOKEN_PATH, timeout=TIMEOUT, **body)
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
        standin.url + TOKEN_PATH,
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
    standin.configure(access_lifetime=0.2)
    pair = first_pair(standin)
    assert pair["expires_in"] == 0
    assert search(standin, pair["access_token"]).status_code == 200
    time.sleep(0.3)
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


# ---- search endpoint ------------------------------------------------------------------------------


@pytest.fixture
def access_token(standin: OrangeLogicStandIn) -> str:
    return first_pair(standin)["access_token"]


def test_search_pages_through_catalogue(standin: OrangeLogicStandIn, access_token: str) -> None:
    sizes, identifiers = [], []
    next_pages = []
    for page in range(1, 5):
        answer = search(standin, access_token, pagenumber=page).json()["APIResponse"]
        assert answer["GlobalInfo"]["TotalCount"] == 250
        next_pages.append(answer["GlobalInfo"]["NextPage"])
        sizes.append(len(answer["Items"]))
        identifiers += [item["SystemIdentifier"] for item in answer["Items"]]
    assert sizes == [100, 100, 50, 0]
    assert identifiers == [f"OL{n:07d}" for n in range(1, 251)]
    assert "pagenumber=2" in next_pages[0]
    assert next_pages[2] == next_pages[3] == ""
    # NextPage is a usable link.
    follow = requests.get(next_pages[0], headers={"Authorization": f"Bearer {access_token}"}, timeout=TIMEOUT).json()
    assert follow["APIResponse"]["Items"][0]["SystemIdentifier"] == "OL0000101"
    counters = standin.counters()
    assert counters["search_pages_served"] == 5
    assert counters["search_items_served"] == 350


def test_search_page_size_is_capped_and_validated(standin: OrangeLogicStandIn, access_token: str) -> None:
    standin.configure(catalogue_size=1500)
    assert len(search(standin, access_token, countperpage=5000).json()["APIResponse"]["Items"]) == 1000
    assert len(search(standin, access_token, countperpage=7).json()["APIResponse"]["Items"]) == 7
    for bad in ({"countperpage": "0"}, {"countperpage": "many"}, {"pagenumber": "0"}):
        response = search(standin, access_token, **bad)
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"


def test_search_fields_filter(standin: OrangeLogicStandIn, access_token: str) -> None:
    items = search(standin, access_token, fields="MediaType, filesize,Nonsense", countperpage=4).json()
    items = items["APIResponse"]["Items"]
    assert [set(item) for item in items] == [{"SystemIdentifier", "MediaType", "FileSize"}] * 4
    assert [item["MediaType"] for item in items] == ["Image", "Video", "Audio", "Document"]
    assert all(isinstance(item["FileSize"], int) for item in items)
    default = search(standin, access_token, countperpage=1).json()["APIResponse"]["Items"]
    assert default == [{"SystemIdentifier": "OL0000001", "Title": "Asset 1"}]


@pytest.mark.parametrize(
    ("query", "total"),
    [
        ("", 250),
        ("*", 250),
        ("MediaType:Image", 63),
        ("mediatype:Video", 63),
        ("MediaType:Document", 62),
        ("MediaType:image", 0),
        ("SystemIdentifier:OL0000007", 1),
        ("Title:Asset 250", 1),
        ("Title:Asset 251", 0),
    ],
)
def test_search_query(standin: OrangeLogicStandIn, access_token: str, query: str, total: int) -> None:
    answer = search(standin, access_token, query=query, fields="MediaType,Title", countperpage=1000)
    answer = answer.json()["APIResponse"]
    assert answer["GlobalInfo"]["TotalCount"] == total
    assert len(answer["Items"]) == total
    if query.lower().startswith("mediatype:") and total:
        assert {item["MediaType"] for item in answer["Items"]} == {query.split(":")[1]}


@pytest.mark.parametrize("query", ["MediaType=Image", "Colour:Red", "a b c"])
def test_search_rejects_unknown_query_syntax(standin: OrangeLogicStandIn, access_token: str, query: str) -> None:
    response = search(standin, access_token, query=query)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_search_defaults_to_xml(standin: OrangeLogicStandIn, access_token: str) -> None:
    response = requests.get(
        standin.url + SEARCH_PATH,
        params={"countperpage": 3, "query": "MediaType:Audio"},
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "APIResponse"
    assert root.findtext("GlobalInfo/TotalCount") == "62"
    assert [item.findtext("SystemIdentifier") for item in root.iter("Item")] == [
        "OL0000003",
        "OL0000007",
        "OL0000011",
    ]


def test_search_by_post_form(standin: OrangeLogicStandIn, access_token: str) -> None:
    response = requests.post(
        standin.url + SEARCH_PATH,
        data={"query": "MediaType:Video", "format": "json", "countperpage": "2", "pagenumber": "2"},
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
    items = response.json()["APIResponse"]["Items"]
    assert [item["SystemIdentifier"] for item in items] == ["OL0000010", "OL0000014"]


def test_search_without_global_info(standin: OrangeLogicStandIn, access_token: str) -> None:
    standin.configure(global_info=False)
    answer = search(standin, access_token, countperpage=2).json()
    assert set(answer["APIResponse"]) == {"Items"}


@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer not-a-token", "Basic abc"])
def test_search_requires_valid_bearer(
    standin: OrangeLogicStandIn, access_token: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = requests.get(standin.url + SEARCH_PATH, params={"format": "json"}, headers=headers, timeout=TIMEOUT)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert standin.counters()["unauthorized"] == 1
    assert standin.counters()["search_pages_served"] == 0


def test_search_pages_through_100000_assets_quickly(standin: OrangeLogicStandIn, access_token: str) -> None:
    standin.configure(catalogue_size=100_000)
    started = time.monotonic()
    seen = 0
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {access_token}"
        for page in range(1, 102):
            response = session.get(
                standin.url + SEARCH_PATH,
                params={"format": "json", "countperpage": 1000, "pagenumber": page, "fields": "Title"},
                timeout=TIMEOUT,
            )
            items = response.json()["APIResponse"]["Items"]
            if not items:
                break
            seen += len(items)
    assert seen == 100_000
    assert items == []
    assert time.monotonic() - started < 10


# ---- faults ---------------------------------------------------------------------------------------


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
            standin.url + SEARCH_PATH,
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
            standin.url + TOKEN_PATH,
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


# ---- control endpoints ----------------------------------------------------------------------------


def test_control_endpoints(standin: OrangeLogicStandIn) -> None:
    url = standin.url + "/_standin"
    code = requests.get(f"{url}/authorize", params={"state": "s"}, timeout=TIMEOUT).json()["code"]
    pair = token_request(standin, "authorization_code", code).json()

    counters = requests.get(f"{url}/counters", timeout=TIMEOUT).json()
    assert counters["codes_issued"] == 1
    assert counters["token_success"] == 1
    assert counters["requests"] == 1  # control calls are not counted
    assert requests.get(f"{url}/issued", timeout=TIMEOUT).json() == [
        code,
        pair["access_token"],
        pair["refresh_token"],
    ]

    fault = {"endpoint": "token", "kind": "status", "count": 2, "status": 503}
    assert requests.post(f"{url}/faults", json=fault, timeout=TIMEOUT).json() == {"ok": True}
    assert refresh(standin, pair["refresh_token"]).status_code == 503
    assert requests.delete(f"{url}/faults", timeout=TIMEOUT).status_code == 200
    assert refresh(standin, pair["refresh_token"]).status_code == 200

    bad_fault = requests.post(f"{url}/faults", json={"endpoint": "token", "kind": "nope"}, timeout=TIMEOUT)
    assert bad_fault.status_code == 400

    configured = requests.post(f"{url}/configure", json={"send_expires_in": False}, timeout=TIMEOUT)
    assert configured.status_code == 200
    assert standin.config.send_expires_in is False
    assert requests.post(f"{url}/configure", json={"colour": "red"}, timeout=TIMEOUT).status_code == 400
    assert requests.post(f"{url}/configure", json={"strict": "yes"}, timeout=TIMEOUT).status_code == 400
    redirects = {"redirect_uris": ["http://127.0.0.1:9/cb"]}
    assert requests.post(f"{url}/configure", json=redirects, timeout=TIMEOUT).status_code == 200
    assert standin.config.redirect_uris == ("http://127.0.0.1:9/cb",)
    rejected = requests.get(f"{url}/authorize", params={"redirect_uri": REDIRECT_URI}, timeout=TIMEOUT)
    assert rejected.status_code == 400

    assert requests.post(f"{url}/reset", timeout=TIMEOUT).json() == {"ok": True}
    assert set(standin.counters().values()) == {0}
    # Grants are forgotten; issued secrets are kept so logs can still be scanned for them.
    assert_oauth_error(refresh(standin, pair["refresh_token"]), 400, "invalid_grant")
    assert pair["access_token"] in standin.issued_secrets()


def test_unknown_path_and_wrong_method(standin: OrangeLogicStandIn) -> None:
    assert requests.get(standin.url + "/nowhere", timeout=TIMEOUT).status_code == 404
    response = requests.get(standin.url + TOKEN_PATH, timeout=TIMEOUT)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


def test_configure_rejects_unknown_and_invalid_values(standin: OrangeLogicStandIn) -> None:
    with pytest.raises(ValueError):
        standin.configure(colour="red")
    with pytest.raises(ValueError):
        standin.configure(access_lifetime=-1)
    with pytest.raises(ValueError):
        standin.configure(redirect_uris="http://127.0.0.1/cb")


# ---- lifecycle --------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "", "localhost", "::", "::1", "192.168.1.10"])
def test_non_loopback_bind_is_refused(host: str) -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        OrangeLogicStandIn(host=host)


def test_url_and_stop_closes_keep_alive_connections() -> None:
    standin = OrangeLogicStandIn().start()
    url = standin.url
    assert url == f"http://127.0.0.1:{standin.port}"
    with requests.Session() as session:
        assert session.get(url + "/_standin/counters", timeout=TIMEOUT).status_code == 200
        standin.stop()
        standin.stop()  # idempotent
        with pytest.raises(requests.exceptions.ConnectionError):
            session.get(url + "/_standin/counters", timeout=TIMEOUT)
    with pytest.raises(RuntimeError):
        _ = standin.url


def test_serve_forever_for_stops_by_itself() -> None:
    standin = OrangeLogicStandIn()
    started = time.monotonic()
    assert standin.serve_forever_for(0.3) is False
    assert 0.3 <= time.monotonic() - started < 2


# ---- command line -----------------------------------------------------------------------------------


def start_cli(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], int]:
    port_file = tmp_path / "port"
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_orangelogic.testing", "--port-file", str(port_file), *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 10
    while not port_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"stand-in did not start: {process.communicate()}")
        time.sleep(0.05)
    return process, int(port_file.read_text())


def test_cli_serves_and_stops_after_max_runtime(tmp_path: Path) -> None:
    started = time.monotonic()
    process, port = start_cli(
        tmp_path, "--max-runtime", "5", "--client-id", "cli-client", "--client-secret", "cli-secret-xyz"
    )
    try:
        url = f"http://127.0.0.1:{port}"
        code = requests.get(url + "/_standin/authorize", timeout=TIMEOUT).json()["code"]
        params = {
            "client_id": "cli-client",
            "client_secret": "cli-secret-xyz",
            "grant_type": "authorization_code",
            "code": code,
        }
        pair = requests.post(url + TOKEN_PATH, data=params, timeout=TIMEOUT).json()
        stdout, stderr = process.communicate(timeout=15)
    finally:
        process.kill()
    assert process.returncode == 0
    assert 4.5 <= time.monotonic() - started < 15
    assert stdout == f"Orange Logic stand-in listening on {url}\n"
    for secret in ("cli-secret-xyz", code, pair["access_token"], pair["refresh_token"]):
        assert secret not in stdout + stderr


def test_cli_stops_on_sigterm(tmp_path: Path) -> None:
    process, port = start_cli(tmp_path, "--max-runtime", "60", "--lenient", "--no-expires-in")
    try:
        counters = requests.get(f"http://127.0.0.1:{port}/_standin/counters", timeout=TIMEOUT)
        assert counters.status_code == 200
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == 0
