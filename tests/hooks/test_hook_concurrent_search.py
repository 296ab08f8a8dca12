"""OrangeLogicHook.search(concurrency=...) in-process: the hook's own session, token manager and retry loop."""

from __future__ import annotations

import pytest

from airflow_provider_orangelogic.api.search import SearchPageError
from airflow_provider_orangelogic.oauth.stores import MemoryTokenStore
from airflow_provider_orangelogic.testing.browser import follow_authorization
from tests.hooks.test_orangelogic_hook import connection, make_hook  # noqa: F401 - the fixture

FIELDS = ("SystemIdentifier", "MediaType")


def authorized_hook(tmp_path, store=None):
    hook = make_hook(tmp_path, store)
    hook.exchange_code(follow_authorization(hook.get_authorization_url()).location)
    return hook


def test_concurrent_search_matches_the_sequential_one(stand_in, connection, tmp_path):  # noqa: F811
    stand_in.configure(catalogue_size=2000)
    hook = authorized_hook(tmp_path)
    sequential = list(hook.search("MediaType:Video", fields=FIELDS, page_size=25))
    pages = []
    concurrent = list(
        hook.search("MediaType:Video", fields=FIELDS, page_size=25, concurrency=5, on_page=lambda p, n: pages.append(p))
    )
    assert concurrent == sequential and len(concurrent) == 500
    assert pages == list(range(1, 21))


def test_throttling_reaches_the_hooks_searches(stand_in, connection, tmp_path):  # noqa: F811
    stand_in.configure(catalogue_size=1500, search_max_in_flight=2, search_latency=0.005, search_retry_after=0.05)
    hook = authorized_hook(tmp_path)
    items = list(hook.search("*", fields=FIELDS, page_size=25, concurrency=6))
    assert [item["SystemIdentifier"] for item in items] == [f"OL{n:07d}" for n in range(1, 1501)]
    counters = stand_in.counters()
    assert counters["search_429"] >= 1 and counters["search_peak_in_flight"] == 2


def test_the_token_expiring_mid_search_is_renewed_once(stand_in, connection, tmp_path):  # noqa: F811
    """Threads sharing the hook's token manager when the access token expires: one refresh, no reuse."""
    connection(extra={"redirect_uri": "http://127.0.0.1:8080/orangelogic/callback", "refresh_on_demand": True})
    stand_in.configure(catalogue_size=3000, access_lifetime=1, search_latency=0.04)
    store = MemoryTokenStore()
    hook = authorized_hook(tmp_path, store)
    stand_in.configure(access_lifetime=3600)  # the pair from the exchange lives 1 s; the renewed one an hour
    items = list(hook.search("*", fields=FIELDS, page_size=10, concurrency=6))  # 300 pages: about 2 s
    assert len(items) == 3000
    counters = stand_in.counters()
    assert counters["refresh_token_grants"] >= 1 and counters["refresh_token_reuses"] == 0
    assert counters["grants_revoked"] == 0


def test_a_failing_page_fails_the_hooks_search_naming_it(stand_in, connection, tmp_path):  # noqa: F811
    hook = authorized_hook(tmp_path)
    items = hook.search("*", fields=FIELDS, page_size=10, concurrency=3)
    next(items)
    stand_in.add_fault("search", "status", count=100, status=500)
    failed = r"^Search page \d+ failed: GET /API/search/v4.0/search answered HTTP 500"
    with pytest.raises(SearchPageError, match=failed):
        list(items)
