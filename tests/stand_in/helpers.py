"""What the stand-in tests share: the default client, and requests to each endpoint."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import requests

from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.testing import OrangeLogicStandIn, StandInConfig

REDIRECT_URI = StandInConfig().redirect_uris[0]
CLIENT_ID = StandInConfig().client_id
CLIENT_SECRET = StandInConfig().client_secret
TIMEOUT = 5


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
    return requests.post(standin.url + endpoints.TOKEN, timeout=TIMEOUT, **body)


def first_pair(standin: OrangeLogicStandIn, encoding: str = "form") -> dict[str, Any]:
    response = token_request(standin, "authorization_code", standin.authorize(), encoding)
    assert response.status_code == 200, response.text
    return response.json()


def refresh(standin: OrangeLogicStandIn, refresh_token: str, encoding: str = "form") -> requests.Response:
    return token_request(standin, "refresh_token", refresh_token, encoding)


def search(standin: OrangeLogicStandIn, access_token: str | None = None, **params: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
    params.setdefault("format", "json")
    return requests.get(standin.url + endpoints.SEARCH, params=params, headers=headers, timeout=TIMEOUT)


def auth_url(standin: OrangeLogicStandIn, **params: str | None) -> str:
    """The authorization URL a client would send a person to (``None`` leaves a parameter out)."""
    query = {"client_id": CLIENT_ID, "response_type": "code", "redirect_uri": REDIRECT_URI, **params}
    query = {name: value for name, value in query.items() if value is not None}
    return f"{standin.url}{endpoints.AUTHORIZE}?{urlencode(query)}"


def auth_request(standin: OrangeLogicStandIn, **params: str | None) -> requests.Response:
    return requests.get(auth_url(standin, **params), allow_redirects=False, timeout=TIMEOUT)


def assert_oauth_error(response: requests.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert "error_description" in response.json()
