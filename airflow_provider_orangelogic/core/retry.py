"""Exponential backoff with full jitter, honouring ``Retry-After``: one policy for every HTTP call."""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass

import requests

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a call that failed in a way that may pass."""

    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    # A Retry-After longer than this is not worth blocking a worker slot for: fail and let the
    # Airflow task retry instead.
    max_retry_after: float = 120.0

    def delay(self, attempt: int, response: requests.Response | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        retry_after = parse_retry_after(response.headers.get("Retry-After")) if response is not None else None
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not cryptography

    def sleep(self, attempt: int, response: requests.Response | None = None) -> None:
        time.sleep(self.delay(attempt, response))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header given as seconds or as an HTTP date; None if unusable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def is_retryable_status(status_code: int) -> bool:
    return status_code in RETRYABLE_STATUS
