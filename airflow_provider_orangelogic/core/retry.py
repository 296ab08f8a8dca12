"""One retry loop for every HTTP call: exponential backoff with full jitter, honouring ``Retry-After``.

The token endpoint and the API differ in one thing only, what may be sent again after a transport
error, so callers pass that rule (``resend_after``) and map the outcome to their own errors.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
import urllib3.exceptions
from urllib3.exceptions import NewConnectionError

from airflow_provider_orangelogic.core.errors import ResponseLimitExceeded

log = logging.getLogger(__name__)

# One HTTP request, from connecting to the last byte of the body, ends within this many seconds.
DEFAULT_CALL_DEADLINE = 120.0
_READ_CHUNK = 64 * 1024

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
# A connection dropped mid-body surfaces as ChunkedEncodingError, not ConnectionError.
TRANSIENT_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a call that failed in a way that may pass."""

    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    # A server asking to wait longer than this is not waited for: the call gives up with that
    # answer (and the Airflow task retries later) instead of holding a worker slot or a lock.
    max_retry_after: float = 120.0
    # Per-read timeouts alone let a server that sends a byte now and then hold a call (and the refresh
    # lock) forever: each attempt must also have its whole answer within this many seconds (checked
    # between reads, so it may run over by at most one read timeout). Not retried when exceeded.
    call_deadline: float = DEFAULT_CALL_DEADLINE

    def delay(self, attempt: int, response: requests.Response | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        retry_after = parse_retry_after(response.headers.get("Retry-After")) if response is not None else None
        if retry_after is not None:
            return retry_after
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not cryptography

    def sleep(self, attempt: int, response: requests.Response | None = None) -> None:
        time.sleep(self.delay(attempt, response))


@dataclass(frozen=True)
class RetryEvent:
    """What ``call_with_retries`` tells its ``on_retry`` callback before it waits and tries again."""

    what: str
    attempt: int  # the attempt that failed, counting from 1
    delay: float  # seconds the loop waits before the next attempt
    status_code: int | None = None  # the answer's status; None after a transport error
    retry_after: float | None = None  # the server's Retry-After in seconds, when it sent a usable one
    error: BaseException | None = None  # the transport error, if that is what failed


def read_body(response: requests.Response, *, deadline: float, max_bytes: int, what: str) -> requests.Response:
    """Read the body of a ``stream=True`` answer into ``response.content``, within limits.

    ``deadline`` is a ``time.monotonic()`` instant; reads return as soon as any data has arrived
    (``read1``), so a server dripping a byte at a time is caught at the deadline rather than after the
    whole body. More than ``max_bytes`` (decoded) ends the read too. Either way the connection is
    closed and :class:`ResponseLimitExceeded` raised; transport errors surface as ``requests``
    raises them when it reads a body itself (so retry rules are unchanged).
    """
    raw = response.raw
    if raw is None:  # an adapter that answered without a stream (tests, custom transports): nothing to read
        return response
    read = getattr(raw, "read1", None)  # urllib3 >= 2.3; older ones block until a whole chunk arrives
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            if time.monotonic() > deadline:
                response.close()
                raise ResponseLimitExceeded(
                    f"{what} did not send its whole answer within the call deadline (call_deadline); only "
                    f"{size} byte(s) arrived. The server is too slow or stalling; the call was abandoned.",
                    status_code=response.status_code,
                )
            chunk = read(_READ_CHUNK, decode_content=True) if read else raw.read(_READ_CHUNK, decode_content=True)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                response.close()
                raise ResponseLimitExceeded(
                    f"{what} sent an answer larger than {max_bytes} bytes, the most accepted for it; the call "
                    "was abandoned.",
                    status_code=response.status_code,
                )
            chunks.append(chunk)
    except urllib3.exceptions.ProtocolError as err:
        raise requests.exceptions.ChunkedEncodingError(err) from err
    except urllib3.exceptions.DecodeError as err:
        raise requests.exceptions.ContentDecodingError(err) from err
    except urllib3.exceptions.ReadTimeoutError as err:
        raise requests.exceptions.ConnectionError(err) from err
    except urllib3.exceptions.SSLError as err:
        raise requests.exceptions.SSLError(err) from err
    response._content = b"".join(chunks)  # what ``response.content`` returns from now on
    response._content_consumed = True
    return response


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


def never_reached_server(err: BaseException) -> bool:
    """True when the request surely never reached the server: no TCP connection was made."""
    if isinstance(err, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(err, requests.exceptions.ConnectionError):
        return False
    # requests wraps urllib3's MaxRetryError, whose ``reason`` says what failed; name resolution
    # and refused connections are both NewConnectionError.
    cause = err.args[0] if err.args else None
    return isinstance(getattr(cause, "reason", cause), NewConnectionError)


def is_transient(err: BaseException) -> bool:
    """Connection errors, timeouts and dropped bodies: worth another attempt for an idempotent call."""
    return isinstance(err, TRANSIENT_ERRORS)


def call_with_retries(
    send: Callable[[], requests.Response],
    *,
    policy: RetryPolicy,
    what: str,
    resend_after: Callable[[BaseException], bool] = is_transient,
    on_retry: Callable[[RetryEvent], None] | None = None,
) -> requests.Response:
    """Call ``send`` until it answers with a non-retryable status or the attempts run out.

    A transport error is retried only while ``resend_after(err)`` says the request may be sent
    again; otherwise, or on the last attempt, it is raised unchanged for the caller to explain.
    A 429/5xx answer is retried; the last one is returned, as is one whose ``Retry-After`` asks
    for longer than ``policy.max_retry_after``.

    ``on_retry`` hears of each retry before the wait (e.g. a rate limiter lowering its pace on a
    429); an exception it raises ends the loop and reaches the caller (a way to give up early).
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            response = send()
        except requests.exceptions.RequestException as err:
            if attempt >= policy.max_attempts or not resend_after(err):
                raise
            log.warning("%s: %s (attempt %d of %d); retrying.", what, type(err).__name__, attempt, policy.max_attempts)
            if on_retry is None:
                policy.sleep(attempt)
            else:
                delay = policy.delay(attempt)
                on_retry(RetryEvent(what, attempt, delay, error=err))
                time.sleep(delay)
            continue
        if not is_retryable_status(response.status_code) or attempt >= policy.max_attempts:
            return response
        delay = policy.delay(attempt, response)
        if delay > policy.max_retry_after:
            log.warning(
                "%s answered %d asking to wait %.0f s, more than max_retry_after (%.0f s); giving up for now.",
                what,
                response.status_code,
                delay,
                policy.max_retry_after,
            )
            return response
        log.warning(
            "%s answered %d (attempt %d of %d); retrying in %.1f s.",
            what,
            response.status_code,
            attempt,
            policy.max_attempts,
            delay,
        )
        response.close()
        if on_retry is not None:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            on_retry(RetryEvent(what, attempt, delay, status_code=response.status_code, retry_after=retry_after))
        time.sleep(delay)
