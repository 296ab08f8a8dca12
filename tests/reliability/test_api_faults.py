"""Faults at the Search API, through the same session and retry policy the hook uses."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_orangelogic.api.search import iter_search
from airflow_provider_orangelogic.api.session import new_session, send_with_retries
from airflow_provider_orangelogic.core.errors import OrangeLogicAPIError
from tests.conftest import FAST_RETRY, REDIRECT_URI, MemoryStore, make_manager

SEARCH = "/API/search/v4.0/search"


# Only the read-timeout case gets a short client timeout, against an answer 30 s late; every other
# call keeps 30 s, so a busy machine answering slowly never turns a fault into a timeout.
CALL_TIMEOUT = 30.0
SHORT_TIMEOUT = 2.0


@pytest.fixture
def api(stand_in, tmp_path):
    store = MemoryStore()
    manager = make_manager(stand_in.url, store, tmp_path)
    manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    session = new_session(manager)
    base = stand_in.url

    def call(method="GET", endpoint=SEARCH, timeout=CALL_TIMEOUT, **kwargs):
        kwargs.setdefault("params", {"format": "json", "countperpage": 5})
        return send_with_retries(session, method, base + endpoint, retry=FAST_RETRY, timeout=timeout, **kwargs)

    return call, manager, store


RETRIED = [
    ("500 then OK", dict(kind="status", status=500)),
    ("502 HTML then OK", dict(kind="status", status=502, body="html")),
    ("503 twice then OK", dict(kind="status", status=503, count=2)),
    ("504 then OK", dict(kind="status", status=504)),
    ("429 with Retry-After then OK", dict(kind="status", status=429, retry_after=1)),
    ("429 without Retry-After then OK", dict(kind="status", status=429)),
    ("read timeout then OK", dict(kind="slow", delay=30.0)),
    ("connection reset then OK", dict(kind="reset")),
]


@pytest.mark.parametrize(("name", "fault"), RETRIED, ids=[n for n, _ in RETRIED])
def test_transient_api_fault_is_retried(stand_in, api, name, fault):
    """Transient API fault: retried with backoff, the call succeeds"""
    call, _, store = api
    before = store.text
    fault = dict(fault)
    kind = fault.pop("kind")
    stand_in.add_fault("search", kind, count=fault.pop("count", 1), **fault)
    answer = call(timeout=SHORT_TIMEOUT if kind == "slow" else CALL_TIMEOUT)
    assert answer.status_code == 200 and len(answer.json()["APIResponse"]["Items"]) == 5
    assert store.text == before


def test_persistent_5xx_gives_up_with_the_answer(stand_in, api):
    """Persistent 503: gives up after the configured attempts and returns the last answer"""
    call, _, _ = api
    stand_in.add_fault("search", "status", count=10, status=503)
    assert call().status_code == 503
    assert stand_in.counters()["search_requests"] == FAST_RETRY.max_attempts


def test_4xx_is_not_retried(stand_in, api):
    """400 from the API: not retried (retrying a bad request repeats the mistake)"""
    call, _, _ = api
    answer = call(params={"format": "json", "query": "Nonsense(("})
    assert answer.status_code == 400 and stand_in.counters()["search_requests"] == 1


def test_unreachable_api_raises_clearly(stand_in, api):
    """Connection refused at the API: retried, then an OrangeLogicAPIError naming the cause"""
    call, _, _ = api
    stand_in.stop()
    with pytest.raises(OrangeLogicAPIError, match="ConnectionError"):
        call()


def test_401_with_a_token_the_store_says_is_valid(stand_in, api):
    """401 although the stored token is unexpired: one re-read of the store, then the 401 is returned"""
    call, _manager, store = api
    before = store.text
    stand_in.reset()  # the server forgets every grant: our token is unknown there
    answer = call()
    assert answer.status_code == 401 and not answer.history
    assert stand_in.counters()["unauthorized"] == 1  # no blind retry with the same token
    assert store.text == before


def test_pager_stops_on_short_page_without_global_info(stand_in, api):
    """Search without GlobalInfo: the pager stops on the short last page"""
    call, _, _ = api
    stand_in.configure(global_info=False, catalogue_size=23)

    def request(method, endpoint, **kwargs):
        return call(method, endpoint, **kwargs)

    items = list(iter_search(request, "*", page_size=5))
    assert len(items) == 23 and stand_in.counters()["search_pages_served"] == 5


def test_pager_raises_on_xml_answer(stand_in, api):
    """Search answering XML instead of JSON: a clear OrangeLogicAPIError"""
    call, _, _ = api

    def request(method, endpoint, **kwargs):
        kwargs["params"] = {k: v for k, v in kwargs["params"].items() if k != "format"}
        return call(method, endpoint, **kwargs)

    with pytest.raises(OrangeLogicAPIError, match="not the expected JSON"):
        next(iter_search(request, "*", page_size=5))


def test_session_is_a_real_requests_session(api):
    """The hook's session is a plain requests.Session (pooling, hooks, adapters work as usual)"""
    _, manager, _ = api
    assert isinstance(new_session(manager), requests.Session)
