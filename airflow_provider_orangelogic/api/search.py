"""Paging through Orange Logic's Search API: one page at a time, or up to N pages in flight.

``concurrency=1`` (the default) fetches page after page. A higher ``concurrency`` keeps up to that
many pages in flight on worker threads and still yields items in page order, holding at most
``concurrency`` pages at once (in flight, fetched early, or being yielded). How many it actually
keeps in flight is set by :class:`RateController` (``api/pacing.py``): 429 and 503 answers lower
it, quiet pages raise it again, never above what the server has shown it accepts. Retries stay in
the one retry loop (``core/retry.py``); the controller only listens to it through its ``on_retry``
callback.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests

from airflow_provider_orangelogic.api.pacing import THROTTLE_STATUS, RateController
from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.core.errors import OrangeLogicAPIError, OrangeLogicError
from airflow_provider_orangelogic.core.retry import RetryEvent

SEARCH_ENDPOINT = endpoints.SEARCH
DEFAULT_FIELDS = ("SystemIdentifier", "Title", "MediaType")
MAX_PAGE_SIZE = 1000
# The hook's session pools 10 connections per host (api/session.py new_session): more threads than
# that would open and drop a connection per request.
MAX_CONCURRENCY = 10
# A search that has not ended after this many pages fails (``page_limit``): a server that always
# answers with a full page must not be paged forever. 100,000 pages of 1000 are 100 million assets.
DEFAULT_PAGE_LIMIT = 100_000
# The field whose values identify assets: a page with the same ones as the page before is a repeat.
ID_FIELD = "SystemIdentifier"

log = logging.getLogger(__name__)


class SearchPageError(OrangeLogicAPIError):
    """One page of a search failed (after the retries the policy allows); ``page`` says which."""

    def __init__(self, message: str, *, page: int, status_code: int | None = None) -> None:
        super().__init__(message, status_code=status_code)
        self.page = page


@dataclass
class SearchStats:
    """What a search did, filled in as it runs (pass one to ``iter_search(stats=...)``)."""

    pages: int = 0  # pages with items, yielded
    items: int = 0
    requests: int = 0  # pages requested (each counted once, however often it was retried)
    throttled: int = 0  # 429/503 answers that were retried
    peak_in_flight: int = 0  # page requests in progress at once (including those waiting to retry)
    peak_held: int = 0  # pages held at once: in flight, fetched ahead, or being yielded
    final_concurrency: int = 1  # the controller's window when the search ended


def iter_search(
    request: Callable[..., requests.Response],
    query: str,
    *,
    fields: Sequence[str] = DEFAULT_FIELDS,
    page_size: int = 100,
    max_pages: int | None = None,
    endpoint: str = SEARCH_ENDPOINT,
    on_page: Callable[[int, int], None] | None = None,
    concurrency: int = 1,
    stats: SearchStats | None = None,
    page_limit: int = DEFAULT_PAGE_LIMIT,
) -> Iterator[dict[str, Any]]:
    """Yield every item matching ``query`` in page order.

    Stops on an empty or short page: ``GlobalInfo`` (total count, next page link) is only sent to
    users with a particular security function, so it is never relied on; with ``concurrency`` > 1 a
    ``TotalCount`` that is sent also ends the search (no request for the empty page after a full last
    one). Each page with items is logged and reported to ``on_page(page_number, items_on_page)``; an
    empty page that only ends the search is neither. A page that still fails after retries raises
    :class:`SearchPageError` naming it (errors meaning "a person must act" pass through unchanged).

    A search that would not end raises :class:`SearchPageError` instead: a full page with the same
    asset IDs (``SystemIdentifier``) as the page before (a server ignoring ``pagenumber``); in page
    by page mode, a full page past the last one ``TotalCount`` allows (the page after it is still
    requested, as it always was, to confirm the end); and a search still going after ``page_limit``
    pages (``max_pages`` stops early on purpose and quietly; ``page_limit`` is the safety net).

    :param concurrency: Pages in flight at most (1 to ``MAX_CONCURRENCY``); ``request`` is then
        called from worker threads with an extra ``on_retry`` keyword (``send_with_retries`` and
        ``OrangeLogicHook.request`` take it), so it must be safe to call from several threads.
    :param page_limit: The most pages a search may take (default ``DEFAULT_PAGE_LIMIT``).
    """
    if not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be an integer between 1 and {MAX_PAGE_SIZE}, not {page_size!r}.")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be an integer between 1 and {MAX_CONCURRENCY}, not {concurrency!r}.")
    if isinstance(page_limit, bool) or not isinstance(page_limit, int) or page_limit < 1:
        raise ValueError(f"page_limit must be a positive integer, not {page_limit!r}.")
    field_list = ",".join(fields)
    stats = stats if stats is not None else SearchStats()

    def params(page: int) -> dict[str, Any]:
        return {
            "query": query,
            "fields": field_list,
            "format": "json",
            "countperpage": page_size,
            "pagenumber": page,
        }

    if concurrency > 1:
        yield from _iter_concurrently(
            request, query, params, page_size, max_pages, endpoint, on_page, concurrency, stats, page_limit
        )
        return
    page, total, previous = 1, 0, None
    while max_pages is None or page <= max_pages:
        stats.requests += 1
        stats.peak_in_flight = stats.peak_held = 1
        items, total_count = _parse(_send(request, endpoint, params(page), page), page)
        previous = _check_not_repeated(items, page, previous)
        if items:
            total += len(items)
            _report(stats, page, items, total, on_page)
        yield from items
        if len(items) < page_size:
            pages = page if items else page - 1
            log.info("Search %r done: %d asset(s) on %d page(s).", query, total, pages)
            return
        if total_count is not None and page > _pages_for(total_count, page_size):
            raise SearchPageError(
                f"Search page {page} is full, but the server's TotalCount ({total_count}) ends the results on page "
                f"{_pages_for(total_count, page_size)}: the server's paging is inconsistent; stopped rather than page "
                "on without end.",
                page=page,
            )
        _check_page_limit(page, page_limit, max_pages)
        page += 1


def _pages_for(total_count: int, page_size: int) -> int:
    return max(1, -(-total_count // page_size))


def _check_page_limit(page: int, page_limit: int, max_pages: int | None) -> None:
    """Raise once a search that has not ended reaches ``page_limit`` pages (unless ``max_pages`` ends it there)."""
    if page >= page_limit and (max_pages is None or max_pages > page):
        raise SearchPageError(
            f"The search had still not ended after {page_limit} pages (page_limit): the server keeps sending full "
            "pages. Narrow the query, pass max_pages to stop early on purpose, or raise page_limit.",
            page=page,
        )


def _check_not_repeated(items: list[Any], page: int, previous: str | None) -> str | None:
    """The digest of a page's asset IDs; raise if a page has exactly the IDs of the page before it.

    Pages whose items do not all carry ``SystemIdentifier`` are not compared (identical pages of,
    say, only ``MediaType`` are legitimate); ``TotalCount`` and ``page_limit`` still end those.
    """
    ids = [item.get(ID_FIELD) if isinstance(item, dict) else None for item in items]
    if not ids or any(value is None for value in ids):
        return None
    digest = hashlib.sha256(json.dumps(ids, default=str).encode()).hexdigest()
    if digest == previous:
        raise SearchPageError(
            f"Search page {page} holds the same assets as page {page - 1}: the server seems to ignore the page "
            "number, so the search would never end; stopped.",
            page=page,
        )
    return digest


def _report(
    stats: SearchStats, page: int, items: list[Any], total: int, on_page: Callable[[int, int], None] | None
) -> None:
    stats.pages += 1
    stats.items = total
    log.info("Search page %d: %d asset(s), %d so far.", page, len(items), total)
    if on_page is not None:
        on_page(page, len(items))


def _send(
    request: Callable[..., requests.Response], endpoint: str, params: dict[str, Any], page: int, **extra: Any
) -> requests.Response:
    """One page's request; a failure becomes a SearchPageError naming the page."""
    try:
        response = request("GET", endpoint, params=params, **extra)
    except OrangeLogicAPIError as err:
        raise SearchPageError(f"Search page {page} failed: {err}", page=page, status_code=err.status_code) from err
    except OrangeLogicError as err:  # "a person must act" and the like: keep the type the caller branches on
        err.add_note(f"(while fetching search page {page})")
        raise
    if not response.ok:
        raise SearchPageError(
            f"Search page {page} failed: {endpoint} answered HTTP {response.status_code} after retries.",
            page=page,
            status_code=response.status_code,
        )
    return response


def _parse(response: requests.Response, page: int) -> tuple[list[dict[str, Any]], int | None]:
    """A page's items, and ``GlobalInfo.TotalCount`` when the server sent a usable one."""
    try:
        payload = response.json()
        answer = payload["APIResponse"]
        items = answer["Items"]
    except (ValueError, KeyError, TypeError):
        raise SearchPageError(
            f"Search page {page} is not the expected JSON ({{'APIResponse': {{'Items': [...]}}}}); "
            f"got {response.headers.get('Content-Type', 'an unknown content type')}.",
            page=page,
            status_code=response.status_code,
        ) from None
    if items is None:
        items = []
    if not isinstance(items, list):
        raise SearchPageError(
            f"Search page {page}: 'Items' is not a list.", page=page, status_code=response.status_code
        )
    info = answer.get("GlobalInfo") if isinstance(answer, dict) else None
    total = info.get("TotalCount") if isinstance(info, dict) else None
    try:
        total = int(total) if total is not None and not isinstance(total, bool) else None
    except (TypeError, ValueError):
        total = None
    return items, total if total is not None and total >= 0 else None


class _Cancelled(Exception):
    """Raised in a worker's retry loop once the search has ended: stop retrying a page nobody needs."""


def _iter_concurrently(
    request: Callable[..., requests.Response],
    query: str,
    params: Callable[[int], dict[str, Any]],
    page_size: int,
    max_pages: int | None,
    endpoint: str,
    on_page: Callable[[int, int], None] | None,
    concurrency: int,
    stats: SearchStats,
    page_limit: int = DEFAULT_PAGE_LIMIT,
) -> Iterator[dict[str, Any]]:
    controller = RateController(concurrency)
    lock = threading.Lock()
    stop = threading.Event()
    in_flight = 0  # page requests in progress
    retrying = 0  # of which throttled at least once: not being served
    # The last page that can hold items: max_pages or page_limit, then the first short page or TotalCount
    # when seen. Reaching page_limit without either having ended the search is an error.
    last: list[float] = [min(max_pages if max_pages is not None else float("inf"), page_limit)]
    ended_by_data = [False]

    def end_at(page: float) -> None:
        with lock:
            if page <= last[0]:
                ended_by_data[0] = True
            last[0] = min(last[0], page)

    def fetch(page: int) -> list[dict[str, Any]] | None:
        nonlocal in_flight, retrying
        while (wait := controller.pause()) > 0 and not stop.is_set():
            stop.wait(wait)
        if stop.is_set() or page > last[0]:
            return None  # the end was found meanwhile: never sent
        with lock:
            in_flight += 1
            stats.requests += 1
            stats.peak_in_flight = max(stats.peak_in_flight, in_flight)
        epoch, refused = controller.epoch, False

        def on_retry(event: RetryEvent) -> None:
            nonlocal epoch, refused, retrying
            if event.status_code in THROTTLE_STATUS:
                with lock:
                    stats.throttled += 1
                    retrying += not refused
                    refused = True
                    accepted = in_flight - retrying
                controller.throttled(epoch, accepted, event.retry_after)
            if stop.is_set():
                raise _Cancelled
            epoch = controller.epoch  # the next attempt goes out in the current round

        try:
            response = _send(request, endpoint, params(page), page, on_retry=on_retry)
        finally:
            with lock:
                in_flight -= 1
                retrying -= refused
        items, total = _parse(response, page)
        if len(items) < page_size:
            end_at(page)
        if total is not None:
            end_at(max(1, -(-total // page_size)))
        controller.succeeded()
        return items

    executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="orangelogic-search")
    held: dict[int, Future[list[dict[str, Any]] | None]] = {}
    next_page, page, total, finished, previous = 1, 1, 0, False, None
    try:
        while True:
            while next_page <= last[0] and len(held) < controller.window:
                held[next_page] = executor.submit(fetch, next_page)
                next_page += 1
            stats.peak_held = max(stats.peak_held, len(held))
            future = held.pop(page, None)  # None only when max_pages < 1 or TotalCount shrank meanwhile
            items = (future.result() if future is not None else None) or []
            previous = _check_not_repeated(items, page, previous)
            if items:
                total += len(items)
                _report(stats, page, items, total, on_page)
            yield from items
            if len(items) == page_size and page >= last[0] and not ended_by_data[0]:
                _check_page_limit(page, page_limit, max_pages)
            if len(items) < page_size or page >= last[0]:
                finished = True
                pages = page if items else page - 1
                log.info(
                    "Search %r done: %d asset(s) on %d page(s); up to %d page request(s) at once, "
                    "%d throttled answer(s).",
                    query,
                    total,
                    pages,
                    stats.peak_in_flight,
                    stats.throttled,
                )
                return
            page += 1
    finally:
        stats.final_concurrency = controller.window
        stop.set()
        # After the last page, wait for the few requests still out (at most concurrency - 1); after an
        # error or an abandoned search, do not: a worker may be sleeping out a Retry-After.
        executor.shutdown(wait=finished, cancel_futures=True)
