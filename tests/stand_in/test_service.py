"""Routing and the /_standin/... control endpoints other processes drive the stand-in with."""

from __future__ import annotations

import requests

from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.testing import OrangeLogicStandIn
from tests.stand_in.helpers import REDIRECT_URI, TIMEOUT, assert_oauth_error, refresh, token_request


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
    response = requests.get(standin.url + endpoints.TOKEN, timeout=TIMEOUT)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
