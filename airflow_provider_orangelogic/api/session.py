"""An authenticated ``requests`` session for the Orange Logic API.

Modelled on ``requests.auth.HTTPDigestAuth``: the auth object sets the header on every request
and, on a 401, asks its token source once for a newer token and resends the request once.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter

from airflow_provider_orangelogic.core.errors import OrangeLogicAPIError
from airflow_provider_orangelogic.core.retry import RetryPolicy, is_retryable_status

log = logging.getLogger(__name__)

USER_AGENT = "airflow-provider-orangelogic"
# A connection dropped mid-body surfaces as ChunkedEncodingError, not ConnectionError.
_TRANSIENT_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


class AccessTokenSource(Protocol):
    def access_token(self) -> str: ...

    def token_after_unauthorized(self, rejected: str) -> str | None: ...


class OrangeLogicBearerAuth(requests.auth.AuthBase):
    """Send ``Authorization: Bearer <token>``; on a 401, retry once with a newer stored token."""

    def __init__(self, tokens: AccessTokenSource) -> None:
        self.tokens = tokens

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self.tokens.access_token()
        request.headers["Authorization"] = f"Bearer {token}"
        request.register_hook("response", self._handle_401)
        return request

    def _handle_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if response.status_code != 401 or getattr(response.request, "_orangelogic_retried", False):
            return response
        rejected = response.request.headers.get("Authorization", "").removeprefix("Bearer ")
        newer = self.tokens.token_after_unauthorized(rejected)
        if newer is None:
            return response
        log.info("The API answered 401; retrying once with the token another worker stored meanwhile.")
        # Drain and release the connection before reusing it, as HTTPDigestAuth does.
        response.content  # noqa: B018
        response.close()
        retry = response.request.copy()
        retry.headers["Authorization"] = f"Bearer {newer}"
        retry._orangelogic_retried = True  # type: ignore[attr-defined]
        second = response.connection.send(retry, **kwargs)
        second.history.append(response)
        second.request = retry
        return second


def new_session(tokens: AccessTokenSource, *, verify: bool = True, pool_size: int = 10) -> requests.Session:
    """A pooled session that authenticates every request with the stored access token."""
    session = requests.Session()
    session.auth = OrangeLogicBearerAuth(tokens)
    session.verify = verify
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept"] = "application/json"
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def send_with_retries(
    session: requests.Session,
    method: str,
    url: str,
    *,
    retry: RetryPolicy,
    timeout: float,
    **kwargs: Any,
) -> requests.Response:
    """Send one API request, retrying connection errors, timeouts, 5xx and 429 with backoff.

    Other 4xx answers are returned at once: retrying a bad request only repeats the mistake.
    The caller decides what a non-2xx answer means (``raise_for_status`` or its own handling).
    """
    kwargs.setdefault("timeout", timeout)
    attempt = 0
    while True:
        attempt += 1
        try:
            response = session.request(method, url, **kwargs)
        except _TRANSIENT_ERRORS as err:
            if attempt >= retry.max_attempts:
                raise OrangeLogicAPIError(
                    f"{method} {url} failed after {attempt} attempts: {type(err).__name__}. Check that the "
                    "Orange Logic host is reachable from the worker."
                ) from None
            log.warning("%s %s: %s (attempt %d); retrying.", method, url, type(err).__name__, attempt)
            retry.sleep(attempt)
            continue
        if is_retryable_status(response.status_code) and attempt < retry.max_attempts:
            delay = retry.delay(attempt, response)
            log.warning(
                "%s %s answered %d (attempt %d of %d); retrying in %.1f s.",
                method,
                url,
                response.status_code,
                attempt,
                retry.max_attempts,
                delay,
            )
            response.close()
            time.sleep(delay)
            continue
        return response
