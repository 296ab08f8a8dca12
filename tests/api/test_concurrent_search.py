"""api/search.py against the stand-in over real sockets: sequential and concurrent paging, back-off, failures.

The session and retry loop are the ones the hook uses (``new_session``, ``send_with_retries``); a fixed
bearer token keeps the OAuth layer out of the way (tests/hooks covers the hook end to end).
"""

from __future__ import annotations

import time

import pytest
import requests

from airflow_provider_orangelogic.api.search import (
    MAX_CONCURRENCY,
    RateController,
    SearchPageError,
    SearchStats,
    iter_search,
)
from airflow_provider_orangelogic.api.session import FixedToken, new_session, send_with_retries
from airflow_provider_orangelogic.core.errors import TokenStoreError
from airflow_provider_orangelogic.core.retry import RetryPolicy
from airflow_provider_orangelogic.testing.stand_in.catalogue import asset
from tests.conftest import FAST_RETRY

SEARCH = "/API/search/v4.0/search"
BEARER = "search-bearer-token"
FIELDS = ("SystemIdentifier", "Title")


@pytest.fixture
def api(stand_in):
    """``request(method, endpoint, **kwargs)`` as the hook's, and the URLs of every request sent."""
    stand_in.configure(bearer_tokens=[BEARER], catalogue_size=1000)
    session = new_session(FixedToken(BEARER))
    base = stand_in.url
    sent: list[str] = []
    session.hooks["response"].append(lambda response, **_: sent.append(response.request.url))

    def request(method, endpoint, retry=FAST_RETRY, **kwargs):
        return send_with_retries(session, method, base + endpoint, retry=retry, timeout=10, **kwargs)

    request.sent = sent
    yield request
    session.close()


def expected(numbers, fields=FIELDS):
    return [{name: asset(n)[name] for name in ("SystemIdentifier", *fields)} for n in numbers]


def page_url(base: str, page: int, page_size: int, query: str = "*", fields=FIELDS) -> str:
    params = {
        "query": query,
        "fields": ",".join(fields),
        "format": "json",
        "countperpage": page_size,
        "pagenumber": page,
    }
    return requests.Request("GET", base + SEARCH, params=params).prepare().url


# -- sequential: unchanged ----------------------------------------------------------------------


@pytest.mark.parametrize("size", [1000, 1050])
def test_sequential_search_sends_exactly_the_requests_it_always_sent(stand_in, api, size):
    """Default concurrency 1: page 1, 2, ... until a short (or empty) page; the same URLs as before."""
    stand_in.configure(catalogue_size=size)
    items = list(iter_search(api, "*", fields=FIELDS, page_size=100))
    assert items == expected(range(1, size + 1))
    pages = size // 100 + 1  # a full last page is followed by one empty page: GlobalInfo is not used
    assert api.sent == [page_url(stand_in.url, page, 100) for page in range(1, pages + 1)]
    assert stand_in.counters()["search_peak_in_flight"] == 1


# -- concurrent: order, end, memory ---------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [2, 4, 8])
@pytest.mark.parametrize("global_info", [True, False])
@pytest.mark.parametrize("size", [0, 1, 99, 100, 1000, 1050])
def test_concurrent_search_yields_every_item_in_page_order(stand_in, api, concurrency, global_info, size):
    stand_in.configure(catalogue_size=size, global_info=global_info)
    stats = SearchStats()
    pages = []
    items = list(
        iter_search(
            api,
            "*",
            fields=FIELDS,
            page_size=100,
            concurrency=concurrency,
            stats=stats,
            on_page=lambda page, n: pages.append((page, n)),
        )
    )
    assert items == expected(range(1, size + 1))
    full, rest = divmod(size, 100)
    assert pages == [(page, 100) for page in range(1, full + 1)] + ([(full + 1, rest)] if rest else [])
    assert stats.items == size and stats.pages == len(pages)
    needed = full + 1 if (rest or not global_info or size == 0) else full  # TotalCount spares the empty page
    requested = stand_in.counters()["search_requests"]
    # Pages past the end: only those already in flight when the end was found, at most concurrency - 1.
    assert needed <= requested <= needed + concurrency - 1
    assert stats.peak_held <= concurrency and stand_in.counters()["search_peak_in_flight"] <= concurrency


def test_total_count_ends_the_search_without_a_request_past_it(stand_in, api):
    stand_in.configure(catalogue_size=1000, global_info=True)
    items = list(iter_search(api, "*", fields=FIELDS, page_size=100, concurrency=4))
    assert len(items) == 1000
    assert stand_in.counters()["search_requests"] == 10  # pages 1-10; page 11 is known to be empty
    assert page_url(stand_in.url, 11, 100) not in api.sent


def test_a_total_count_too_high_is_not_relied_on(stand_in, api, monkeypatch):
    """TotalCount only ever stops the search early; a short page still ends it."""
    stand_in.configure(catalogue_size=250, global_info=True)
    real_json = requests.Response.json

    def inflated(self, **kwargs):
        payload = real_json(self, **kwargs)
        payload["APIResponse"]["GlobalInfo"]["TotalCount"] = 1_000_000
        return payload

    monkeypatch.setattr(requests.Response, "json", inflated)
    items = list(iter_search(api, "*", fields=FIELDS, page_size=100, concurrency=4))
    assert items == expected(range(1, 251))
    assert 3 <= stand_in.counters()["search_requests"] <= 3 + 3


def test_max_pages_is_respected(stand_in, api):
    items = list(iter_search(api, "*", fields=FIELDS, page_size=10, max_pages=7, concurrency=4))
    assert items == expected(range(1, 71))
    assert stand_in.counters()["search_requests"] == 7
    assert list(iter_search(api, "*", page_size=10, max_pages=0, concurrency=4)) == []


@pytest.mark.parametrize("concurrency", [1, 3, 6])
def test_memory_is_bounded_by_concurrency_pages(stand_in, api, concurrency):
    """While the consumer holds page p, no page after p + concurrency - 1 has been asked for."""
    stats = SearchStats()
    consumed_page = 0
    items = iter_search(api, "*", fields=FIELDS, page_size=20, concurrency=concurrency, stats=stats)
    for index, item in enumerate(items):
        page = index // 20 + 1
        if page != consumed_page:  # the first item of a page: give the workers time to run ahead if they would
            consumed_page = page
            time.sleep(0.01)
            assert stand_in.counters()["search_requests"] <= page + concurrency - 1
        assert item["SystemIdentifier"] == asset(index + 1)["SystemIdentifier"]
    assert consumed_page == 50
    assert stats.peak_held <= concurrency
    assert stats.peak_held == concurrency  # and it does use what it was given


def test_an_abandoned_search_stops_asking(stand_in, api):
    items = iter_search(api, "*", fields=FIELDS, page_size=10, concurrency=4)
    first = [next(items) for _ in range(15)]
    items.close()
    time.sleep(0.2)
    assert first == expected(range(1, 16))
    assert stand_in.counters()["search_requests"] <= 2 + 3  # the page being read, and at most 3 more


def test_bad_arguments_are_refused(api):
    for concurrency in (0, MAX_CONCURRENCY + 1, 2.0, True, "4"):
        with pytest.raises(ValueError, match="concurrency must be an integer"):
            next(iter_search(api, "*", concurrency=concurrency))


# -- back-off ---------------------------------------------------------------------------------


def test_rate_limited_search_backs_off_and_settles(stand_in, api):
    """The stand-in allows 2 requests at once; asked for 8, the search learns 2 and mostly stays there."""
    stand_in.configure(
        catalogue_size=4000, search_max_in_flight=2, search_latency=0.005, search_retry_after=0.05, global_info=False
    )
    stats = SearchStats()
    throttles_at_page: list[int] = []
    items = iter_search(
        api,
        "*",
        fields=FIELDS,
        page_size=20,
        concurrency=8,
        stats=stats,
        on_page=lambda page, n: throttles_at_page.append(stats.throttled),
    )
    assert list(items) == expected(range(1, 4001))
    refused = stand_in.counters()["search_429"]
    assert refused >= 1  # it did meet the limit...
    assert stats.throttled == refused  # ...each 429 was heard and retried, none failed the search
    assert stand_in.counters()["search_peak_in_flight"] == 2
    # ...and settled: the first half of the 200 pages had the learning; the second half at most one probe.
    assert throttles_at_page[-1] - throttles_at_page[99] <= 2
    assert refused <= 10
    assert stats.final_concurrency <= 2


def test_503_with_retry_after_also_lowers_the_pace(stand_in, api):
    stand_in.configure(catalogue_size=400)
    items = iter_search(api, "*", fields=FIELDS, page_size=20, concurrency=6)
    first = next(items)
    stand_in.add_fault("search", "status", count=3, status=503, retry_after=0.05)
    stats_items = [first, *items]
    assert stats_items == expected(range(1, 401))
    assert stand_in.counters()["faults_injected"] == 3


def test_a_retry_after_above_the_limit_fails_the_page(stand_in, api):
    stand_in.configure(catalogue_size=400)
    items = iter_search(api, "*", fields=FIELDS, page_size=20, concurrency=4)
    assert len([next(items) for _ in range(40)]) == 40
    stand_in.add_fault("search", "status", count=50, status=429, retry_after=3600)
    with pytest.raises(SearchPageError, match=r"Search page \d+ failed: .*HTTP 429") as caught:
        list(items)
    assert caught.value.status_code == 429 and caught.value.page >= 3


# -- failures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_page_failing_after_retries_fails_the_search_naming_it(stand_in, api, concurrency):
    stand_in.configure(catalogue_size=400)
    yielded = []
    items = iter_search(api, "*", fields=FIELDS, page_size=20, concurrency=concurrency)
    yielded.append(next(items))
    stand_in.add_fault("search", "status", count=100, status=503)
    with pytest.raises(SearchPageError) as caught:
        yielded.extend(items)
    error = caught.value
    assert str(error).startswith(f"Search page {error.page} failed: ") and "HTTP 503" in str(error)
    assert error.status_code == 503
    # Every page before the failed one was yielded whole, none after it.
    assert yielded == expected(range(1, (error.page - 1) * 20 + 1))


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_bad_page_fails_with_its_number(stand_in, api, concurrency):
    def request(method, endpoint, params, **kwargs):
        if params["pagenumber"] == 7:  # the server refuses this page: 400, not retried
            params = {**params, "query": "Nonsense(("}
        return api(method, endpoint, params=params, **kwargs)

    yielded = []
    with pytest.raises(SearchPageError, match=r"^Search page 7 failed: .*HTTP 400") as caught:
        yielded.extend(iter_search(request, "*", fields=FIELDS, page_size=20, concurrency=concurrency))
    assert caught.value.page == 7 and caught.value.status_code == 400
    assert yielded == expected(range(1, 121))


def test_errors_for_a_person_keep_their_type(stand_in, api):
    def request(method, endpoint, params, **kwargs):
        if params["pagenumber"] == 3:
            raise TokenStoreError("No token pair is stored.")
        return api(method, endpoint, params=params, **kwargs)

    with pytest.raises(TokenStoreError) as caught:
        list(iter_search(request, "*", page_size=20, concurrency=4))
    assert "(while fetching search page 3)" in caught.value.__notes__


def test_a_transport_failure_names_the_page(stand_in, api):
    items = iter_search(
        lambda *a, **k: api(*a, retry=RetryPolicy(max_attempts=2, backoff_base=0.01), **k),
        "*",
        page_size=20,
        concurrency=3,
    )
    next(items)
    stand_in.stop()
    with pytest.raises(SearchPageError, match=r"Search page \d+ failed: .*ConnectionError"):
        list(items)


# -- the controller on its own ------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_controller_slow_start_then_halves_once_per_round():
    controller = RateController(8)
    assert controller.window == 1
    for expected_window in (2, 3, 4, 5):
        controller.succeeded()
        assert controller.window == expected_window
    epoch = controller.epoch
    controller.throttled(epoch, accepted=4)  # the 5th request was refused while 4 were served
    assert (controller.window, controller.ceiling, controller.decreases) == (2, 4, 1)
    controller.throttled(epoch, accepted=3)  # same round: no second halving, but a lower ceiling
    assert (controller.window, controller.ceiling, controller.decreases) == (2, 3, 1)
    for _ in range(2):
        controller.succeeded()  # additive: +1 per window's worth of pages
    assert controller.window == 3
    for _ in range(controller.probe_after - 1):
        controller.succeeded()
    assert controller.window == 3  # never above what the server has shown it accepts...


def test_controller_probes_rarely_and_ever_more_rarely():
    controller = RateController(4, probe_after=10)
    controller.throttled(controller.epoch, accepted=2)
    for _ in range(20):
        controller.succeeded()
    assert controller.ceiling == 3  # ...except a probe after probe_after quiet pages
    controller.throttled(controller.epoch, accepted=2)
    assert controller.ceiling == 2 and controller.probe_after == 20
    for _ in range(15):
        controller.succeeded()
    assert controller.ceiling == 2


def test_controller_pauses_for_retry_after():
    clock = Clock()
    controller = RateController(4, clock=clock)
    assert controller.pause() == 0
    controller.throttled(controller.epoch, accepted=1, retry_after=2.5)
    assert controller.pause() == 2.5
    clock.now += 2
    assert controller.pause() == pytest.approx(0.5)
    clock.now += 1
    assert controller.pause() == 0
