"""The stand-in on its socket: loopback only, start, stop, and stopping by itself."""

from __future__ import annotations

import time

import pytest
import requests

from airflow_provider_orangelogic.testing import OrangeLogicStandIn
from tests.stand_in.helpers import TIMEOUT


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
    assert time.monotonic() - started >= 0.3  # an upper bound would measure the machine, not the stand-in
