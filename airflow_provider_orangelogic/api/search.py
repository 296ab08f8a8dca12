"""Paging through Orange Logic's Search API without holding more than one page in memory."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import requests

from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.core.errors import OrangeLogicAPIError

SEARCH_ENDPOINT = endpoints.SEARCH
DEFAULT_FIELDS = ("SystemIdentifier", "Title", "MediaType")
MAX_PAGE_SIZE = 1000

log = logging.getLogger(__name__)


def iter_search(
    request: Callable[..., requests.Response],
    query: str,
    *,
    fields: Sequence[str] = DEFAULT_FIELDS,
    page_size: int = 100,
    max_pages: int | None = None,
    endpoint: str = SEARCH_ENDPOINT,
    on_page: Callable[[int, int], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield every item matching ``query``, fetching one page at a time.

    Stops on an empty or short page: ``GlobalInfo`` (total count, next page link) is only sent to
    users with a particular security function, so it is never relied on. Each page with items is
    logged and reported to ``on_page(page_number, items_on_page)``; an empty page that only ends
    the search is neither.
    """
    if not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be an integer between 1 and {MAX_PAGE_SIZE}, not {page_size!r}.")
    field_list = ",".join(fields)
    page, total = 1, 0
    while max_pages is None or page <= max_pages:
        response = request(
            "GET",
            endpoint,
            params={
                "query": query,
                "fields": field_list,
                "format": "json",
                "countperpage": page_size,
                "pagenumber": page,
            },
        )
        items = _items(response, page)
        if items:
            total += len(items)
            log.info("Search page %d: %d asset(s), %d so far.", page, len(items), total)
            if on_page is not None:
                on_page(page, len(items))
        yield from items
        if len(items) < page_size:
            pages = page if items else page - 1
            log.info("Search %r done: %d asset(s) on %d page(s).", query, total, pages)
            return
        page += 1


def _items(response: requests.Response, page: int) -> list[dict[str, Any]]:
    try:
        payload = response.json()
        items = payload["APIResponse"]["Items"]
    except (ValueError, KeyError, TypeError):
        raise OrangeLogicAPIError(
            f"Search page {page} is not the expected JSON ({{'APIResponse': {{'Items': [...]}}}}); "
            f"got {response.headers.get('Content-Type', 'an unknown content type')}.",
            status_code=response.status_code,
        ) from None
    if items is None:
        return []
    if not isinstance(items, list):
        raise OrangeLogicAPIError(f"Search page {page}: 'Items' is not a list.", status_code=response.status_code)
    return items
