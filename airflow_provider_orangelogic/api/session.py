"""An authenticated ``requests`` session for the Orange Logic API.

Modelled on ``requests.auth.HTTPDigestAuth``: the auth object sets the header on every request
and, on a 401, asks its token source once for a newer token and resends the request once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter

from airflow_provider_orangelogic.core.errors import OrangeLogicAPIError
from airflow_provider_orangelogic.core.retry import RetryEvent, RetryPolicy, call_with_retries, is_transient

log = logging.getLogger(__name__)

USER_AGENT = "airflow-provider-orangelogic"


class AccessTokenSource(Protocol):
    def access_token(self) -> str: ...

    def token_after_unauthorized(self, rejected: str) -> str | None: ...


class FixedToken:
    """The token source of a non-expiring bearer token created in Orange Logic: nothing to renew."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def access_token(self) -> str:
        return self._token

    def token_after_unauthorized(self, rejected: str) -> str | None:
        return None


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
    on_retry: Callable[[RetryEvent], None] | None = None,
    **kwargs: Any,
) -> requests.Response:
    """Send one API request, retrying connection errors, timeouts, 5xx and 429 with backoff.

    Other 4xx answers are returned at once: retrying a bad request only repeats the mistake.
    The caller decides what a non-2xx answer means (``raise_for_status`` or its own handling).
    ``on_retry`` hears of each retry (status, Retry-After) before the wait, e.g. to slow down.
    """
    kwargs.setdefault("timeout", timeout)
    try:
        return call_with_retries(
            lambda: session.request(method, url, **kwargs),
            policy=retry,
            what=f"{method} {url}",
            resend_after=is_transient,
            on_retry=on_retry,
        )
    except requests.exceptions.RequestException as err:
        raise OrangeLogicAPIError(
            f"{method} {url} failed: {type(err).__name__}, after retries where a retry was safe. Check that the "
            "Orange Logic host is reachable from the worker."
        ) from None
