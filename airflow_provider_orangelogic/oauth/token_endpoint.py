"""Orange Logic's OAuth endpoints: the authorization URL and one stateless call per grant type.

Modelled on google-auth's ``oauth2/_client.py``: each method sends one token request and returns
the server's JSON answer; holding and storing the pair is the caller's job (``TokenManager``).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import requests

from airflow_provider_orangelogic.core.errors import (
    CLIENT_REJECTED_ERRORS,
    ConfigurationError,
    ReauthorizationRequired,
    ResponseLimitExceeded,
    TokenEndpointError,
    known_oauth_error,
    redact,
)
from airflow_provider_orangelogic.core.retry import (
    RetryPolicy,
    call_with_retries,
    is_retryable_status,
    is_transient,
    never_reached_server,
    read_body,
)
from airflow_provider_orangelogic.core.settings import OrangeLogicSettings
from airflow_provider_orangelogic.oauth.tokens import (
    GRANT_AUTHORIZATION_CODE,
    GRANT_CLIENT_CREDENTIALS,
    GRANT_REFRESH_TOKEN,
)

log = logging.getLogger(__name__)

# OAuth errors that no retry can fix: the grant or the client credentials are not accepted.
FATAL_OAUTH_ERRORS = frozenset({"invalid_grant", "invalid_client", "unauthorized_client"})
MAX_CODE_LENGTH = 4096
# The largest token answer read: a pair and a few fields fit in a fraction of it.
MAX_ANSWER_BYTES = 64 * 1024


def new_state() -> str:
    """An unguessable ``state`` value for the authorization request (CSRF protection)."""
    return secrets.token_urlsafe(24)


def validate_code(code: Any) -> str:
    """Check an authorization code a person pasted; the message never repeats the code."""
    if not isinstance(code, str) or not code.strip():
        raise ConfigurationError(
            "The authorization code is empty. Open the authorization URL, approve, and copy the value of "
            "'code' from the address the browser lands on."
        )
    code = code.strip()
    if len(code) > MAX_CODE_LENGTH:
        raise ConfigurationError(
            f"The authorization code is {len(code)} characters long, more than any code Orange Logic "
            "issues; copy only the value of the 'code' parameter from the redirect address."
        )
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in code):
        raise ConfigurationError(
            "The authorization code contains spaces, line breaks or control characters; copy only the "
            "value of the 'code' parameter from the redirect address."
        )
    return code


class TokenEndpointClient:
    """Sends token requests for one connection. Stateless: storing the pair is the caller's job.

    A token request is retried only when the server cannot have acted on it (it answered 429 or
    5xx, or the connection was never made). After a read timeout or a connection dropped mid-answer
    the server may already have issued a pair and retired the code or refresh token, so sending the
    same value again could be taken for reuse; such failures are raised at once.
    """

    def __init__(
        self,
        settings: OrangeLogicSettings,
        *,
        session: requests.Session | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.settings = settings
        self._session = session or requests.Session()
        self.retry = retry or RetryPolicy()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.settings.base_url!r}, client_id={self.settings.client_id!r})"

    def authorization_url(self, state: str | None = None, redirect_uri: str | None = None) -> str:
        """The URL a person opens in a browser to approve the application and get a code."""
        redirect_uri = redirect_uri or self.settings.redirect_uri
        if not redirect_uri:
            raise ConfigurationError(
                "The connection has no redirect_uri: set it to the redirect URI registered on the "
                "OAuth Client Application account in Orange Logic."
            )
        query = urlencode(
            {
                "client_id": self.settings.client_id,
                "response_type": "code",
                "redirect_uri": redirect_uri,
                "state": state or new_state(),
            }
        )
        return f"{self.settings.authorize_url}?{query}"

    def authorization_code_grant(self, code: str) -> dict[str, Any]:
        """Trade an authorization code for the first pair; returns the server's answer."""
        return self._request(GRANT_AUTHORIZATION_CODE, validate_code(code))

    def refresh_token_grant(self, refresh_token: str) -> dict[str, Any]:
        """Trade a refresh token for a new pair; returns the server's answer."""
        # Orange Logic's quirk: the refresh token travels in "code" too, not in "refresh_token".
        return self._request(GRANT_REFRESH_TOKEN, refresh_token)

    def client_credentials_grant(self) -> dict[str, Any]:
        """Get an access token with the client ID and secret alone; returns the server's answer."""
        # Nothing is spent by this request, so it may be sent again after any transport error.
        return self._request(
            GRANT_CLIENT_CREDENTIALS, None, url=self.settings.client_credentials_url, resend_after=is_transient
        )

    def _request(
        self,
        grant_type: str,
        code: str | None,
        *,
        url: str | None = None,
        resend_after: Callable[[BaseException], bool] = never_reached_server,
    ) -> dict[str, Any]:
        url = url or self.settings.token_url
        params = {
            "client_id": self.settings.client_id,
            "client_secret": self.settings.client_secret,
            "grant_type": grant_type,
        }
        if code is not None:
            params["code"] = code
        body: dict[str, Any] = {"json": params} if self.settings.token_request_encoding == "json" else {"data": params}

        def send() -> requests.Response:
            # The whole answer within the deadline and the size cap: this may run inside the refresh lock.
            deadline = time.monotonic() + self.retry.call_deadline
            response = self._session.post(
                url,
                headers={"Accept": "application/json"},
                timeout=min(self.settings.timeout, self.retry.call_deadline),
                verify=self.settings.verify_ssl,
                allow_redirects=False,
                stream=True,
                **body,
            )
            return read_body(response, deadline=deadline, max_bytes=MAX_ANSWER_BYTES, what="The token endpoint")

        sent = (code or "", self.settings.client_secret)
        try:
            response = call_with_retries(send, policy=self.retry, what="The token endpoint", resend_after=resend_after)
        except requests.exceptions.RequestException as err:
            raise TokenEndpointError(self._transport_message(grant_type, url, err)) from None
        except ResponseLimitExceeded as err:
            raise TokenEndpointError(
                f"{err} (call_deadline {self.retry.call_deadline:g} s, at most {MAX_ANSWER_BYTES} bytes) The server "
                "may have acted on the request; the stored pair was left as it was. The task will retry.",
                status_code=err.status_code,
            ) from None
        if response.status_code == 200:
            return self._json_body(response, url, sent)
        raise self._error_for(grant_type, response, sent=sent)

    def _transport_message(self, grant_type: str, url: str, err: Exception) -> str:
        what = {
            GRANT_AUTHORIZATION_CODE: "exchange the authorization code",
            GRANT_CLIENT_CREDENTIALS: "get a client-credentials token",
        }.get(grant_type, "refresh")
        hint = (
            ""
            if never_reached_server(err)
            else " The server may have acted on the request; the stored pair was left as it was."
        )
        return (
            f"Could not {what} at {url}: {type(err).__name__} "
            f"(timeout {self.settings.timeout:g} s).{hint} Check that the host is reachable from the worker."
        )

    def _json_body(self, response: requests.Response, url: str, sent: tuple[str, ...]) -> dict[str, Any]:
        try:
            payload = response.json()
        except RecursionError:
            raise TokenEndpointError(
                f"The token endpoint {url} answered 200 with JSON nested too deeply to be a token answer. Check "
                "that token_endpoint is right and that no proxy rewrites the answer.",
                status_code=200,
            ) from None
        except ValueError:
            content_type = redact(response.headers.get("Content-Type", "non-JSON"), sent)[:100]
            raise TokenEndpointError(
                f"The token endpoint {url} answered 200 with a "
                f"{content_type} body instead of JSON. Check that "
                "token_endpoint is right and that no proxy rewrites the answer.",
                status_code=200,
            ) from None
        if not isinstance(payload, dict):
            raise TokenEndpointError("The token endpoint answered 200 but not with a JSON object.", status_code=200)
        return payload

    def _error_for(self, grant_type: str, response: requests.Response, sent: tuple[str, ...]) -> Exception:
        error, description = _oauth_error(response)
        # Some servers echo what they were sent, raw or encoded; never let it reach a log or a message.
        # ``error`` is shown only when it is an OAuth error code, the description only redacted.
        error = known_oauth_error(error)
        if description:
            description = redact(description, sent)
        detail = f"HTTP {response.status_code}"
        if error:
            detail += f" {error}"
        if description:
            detail += f": {description[:300]}"
        fields = {"oauth_error": error, "description": description, "status_code": response.status_code}
        if error in FATAL_OAUTH_ERRORS or (response.status_code == 401 and not error):
            client_rejected = error in CLIENT_REJECTED_ERRORS or response.status_code == 401
            reason = (
                "the client ID or client secret is not accepted; check Login and Password of the connection"
                if client_rejected
                else (
                    "the authorization code is invalid, expired or already used"
                    if grant_type == GRANT_AUTHORIZATION_CODE
                    else "client credentials are not allowed for this client"
                    if grant_type == GRANT_CLIENT_CREDENTIALS
                    else "the refresh token is expired, revoked or already used"
                )
            )
            return ReauthorizationRequired(
                f"Orange Logic refused the {grant_type} grant ({detail}): {reason}. A person must authorize again.",
                **fields,
            )
        if is_retryable_status(response.status_code):
            return TokenEndpointError(
                f"The token endpoint kept failing ({detail}) after {self.retry.max_attempts} attempts or asked "
                "to wait longer than max_retry_after; the stored pair is unchanged. The task will retry.",
                **fields,
            )
        return TokenEndpointError(
            f"The token endpoint rejected the request ({detail}). Check token_endpoint and "
            "token_request_encoding ('form' or 'json') on the connection.",
            **fields,
        )


def _oauth_error(response: requests.Response) -> tuple[str | None, str | None]:
    """The OAuth ``error``/``error_description`` of an answer, tolerating HTML and plain text bodies."""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        error = payload.get("error")
        description = payload.get("error_description") or payload.get("message")
        return (str(error) if error else None, str(description) if description else None)
    content_type = response.headers.get("Content-Type", "")
    kind = "an HTML page" if "html" in content_type or response.text.lstrip()[:1] == "<" else "a text body"
    return None, f"the server sent {kind} instead of an OAuth error"
