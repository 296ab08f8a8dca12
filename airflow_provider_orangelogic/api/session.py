"""An authenticated ``requests`` session for the Orange Logic API.

Modelled on ``requests.auth.HTTPDigestAuth``: the auth object sets the header on every request
and, on a 401, asks its token source once for a newer token and resends the request once.

The access token only ever goes to one origin (scheme, host and port: the connection's host). The
auth object attaches it to requests for that origin only, retries a 401 only for a request that
carried it there, and the session follows a redirect only when it stays on the origin that sent it
(a redirect elsewhere is not followed and :func:`send_with_retries` raises).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

from airflow_provider_orangelogic.core.errors import OrangeLogicAPIError
from airflow_provider_orangelogic.core.retry import RetryEvent, RetryPolicy, call_with_retries, is_transient, read_body

log = logging.getLogger(__name__)

USER_AGENT = "airflow-provider-orangelogic"
# The largest API answer read (decoded); a search page of 1000 assets with a few fields is far smaller.
MAX_BODY_BYTES = 10 * 1024 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, "int | None"]


def origin_of(url: str) -> Origin:
    """``(scheme, host, port)`` of ``url``, lower-cased, with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: an origin nothing else matches
        return scheme, (parts.hostname or "").lower(), -1
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def describe_origin(origin: Origin) -> str:
    scheme, host, port = origin
    return f"{scheme}://{host}" + ("" if port == _DEFAULT_PORTS.get(scheme) else f":{port}")


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
    """Send ``Authorization: Bearer <token>`` to one origin; on a 401 from it, retry once with a newer token.

    :param base_url: The only origin the token is sent to (the connection's host). None pins the
        origin of the first request authenticated.
    """

    def __init__(self, tokens: AccessTokenSource, base_url: str | None = None) -> None:
        self.tokens = tokens
        self.origin: Origin | None = origin_of(base_url) if base_url else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        here = origin_of(request.url or "")
        if self.origin is None:
            self.origin = here
        if here != self.origin:
            log.warning(
                "Not sending the access token to %s: it is only sent to %s.",
                describe_origin(here),
                describe_origin(self.origin),
            )
            return request
        token = self.tokens.access_token()
        request.headers["Authorization"] = f"Bearer {token}"
        request.register_hook("response", self._handle_401)
        return request

    def _handle_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        request = response.request
        if response.status_code != 401 or getattr(request, "_orangelogic_retried", False):
            return response
        sent = request.headers.get("Authorization", "")
        # Only a request that carried our token to our origin is retried with one. The hook travels
        # with the request through redirects, and requests strips the header on the way to another
        # origin: a 401 from there must not be answered with the token.
        if not sent.startswith("Bearer ") or origin_of(request.url or "") != self.origin:
            return response
        rejected = sent.removeprefix("Bearer ")
        newer = self.tokens.token_after_unauthorized(rejected)
        if newer is None:
            return response
        log.info("The API answered 401; retrying once with the token another worker stored meanwhile.")
        # Not drained (the answer may be streamed, and a 401's body is not worth waiting for): closing
        # drops the connection, and the pool opens another.
        response.close()
        retry = request.copy()
        retry.headers["Authorization"] = f"Bearer {newer}"
        retry._orangelogic_retried = True  # type: ignore[attr-defined]
        second = response.connection.send(retry, **kwargs)
        second.history.append(response)
        second.request = retry
        return second


class SameOriginSession(requests.Session):
    """A ``requests.Session`` that follows a redirect only when it stays on the origin that sent it.

    A redirect to another scheme, host or port is not followed: the 3xx answer is returned as is
    (:func:`send_with_retries` turns it into an error naming where it pointed).
    """

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        target = super().get_redirect_target(resp)
        if target is None:
            return None
        here, there = origin_of(resp.url), origin_of(urljoin(resp.url, target))
        if there != here:
            log.warning(
                "Not following a redirect from %s to another origin, %s.", describe_origin(here), describe_origin(there)
            )
            return None
        return target


def new_session(
    tokens: AccessTokenSource, *, verify: bool = True, pool_size: int = 10, base_url: str | None = None
) -> requests.Session:
    """A pooled session that authenticates every request to ``base_url``'s origin with the stored access token.

    Without ``base_url`` the origin of the first request is the one the token is sent to.
    """
    session = SameOriginSession()
    session.auth = OrangeLogicBearerAuth(tokens, base_url)
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
    max_body_bytes: int = MAX_BODY_BYTES,
    body_factory: Callable[[], Any] | None = None,
    **kwargs: Any,
) -> requests.Response:
    """Send one API request, retrying connection errors, timeouts, 5xx and 429 with backoff.

    Other 4xx answers are returned at once: retrying a bad request only repeats the mistake.
    The caller decides what a non-2xx answer means (``raise_for_status`` or its own handling).
    ``on_retry`` hears of each retry (status, Retry-After) before the wait, e.g. to slow down.

    Each attempt must have its whole answer within ``retry.call_deadline`` seconds and
    ``max_body_bytes`` bytes, else :class:`ResponseLimitExceeded` (not retried). With
    ``stream=True`` the caller reads the body itself, and these limits are its own to keep.
    A redirect to another origin is not followed: :class:`OrangeLogicAPIError`.

    ``body_factory`` makes the request body afresh for each attempt (``data=``): a streamed body
    (a file read block by block) is consumed by the attempt that sends it.
    """
    kwargs.setdefault("timeout", min(timeout, retry.call_deadline))
    # Per request: a session's verify=False loses to REQUESTS_CA_BUNDLE in requests' merge of settings.
    kwargs.setdefault("verify", session.verify)
    caller_streams = bool(kwargs.pop("stream", False))
    what = f"{method} {url}"

    def send() -> requests.Response:
        deadline = time.monotonic() + retry.call_deadline
        if body_factory is not None:
            kwargs["data"] = body_factory()
        response = session.request(method, url, stream=True, **kwargs)
        if caller_streams:
            return response
        return read_body(response, deadline=deadline, max_bytes=max_body_bytes, what=what)

    try:
        response = call_with_retries(send, policy=retry, what=what, resend_after=is_transient, on_retry=on_retry)
    except requests.exceptions.RequestException as err:
        raise OrangeLogicAPIError(
            f"{what} failed: {type(err).__name__}, after retries where a retry was safe. Check that the "
            "Orange Logic host is reachable from the worker."
        ) from None
    if response.is_redirect and kwargs.get("allow_redirects", True):
        there = describe_origin(origin_of(urljoin(response.url, response.headers["Location"])))
        response.close()
        raise OrangeLogicAPIError(
            f"{what} was redirected (HTTP {response.status_code}) to another origin, {there}. Redirects are "
            f"followed only within {describe_origin(origin_of(url))}, so that the access token never leaves it: "
            "check the connection's host (scheme, name and port).",
            status_code=response.status_code,
        )
    return response
