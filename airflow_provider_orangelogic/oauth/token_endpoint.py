"""HTTP calls to Orange Logic's OAuth endpoints: the authorization URL and the token endpoint."""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import requests

from airflow_provider_orangelogic.core.errors import (
    ConfigurationError,
    ReauthorizationRequired,
    TokenEndpointError,
)
from airflow_provider_orangelogic.core.retry import RetryPolicy, is_retryable_status
from airflow_provider_orangelogic.core.settings import OrangeLogicSettings
from airflow_provider_orangelogic.oauth.tokens import GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN

log = logging.getLogger(__name__)

# OAuth errors that no retry can fix: the grant or the client credentials are not accepted.
FATAL_OAUTH_ERRORS = frozenset({"invalid_grant", "invalid_client", "unauthorized_client"})
MAX_CODE_LENGTH = 4096


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


class OrangeLogicOAuthClient:
    """Calls the token endpoint for one connection. Stateless: storing the pair is the caller's job.

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

    def exchange_code(self, code: str) -> dict[str, Any]:
        return self._request_token(GRANT_AUTHORIZATION_CODE, validate_code(code))

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        return self._request_token(GRANT_REFRESH_TOKEN, refresh_token)

    def _request_token(self, grant_type: str, code: str) -> dict[str, Any]:
        params = {
            "client_id": self.settings.client_id,
            "client_secret": self.settings.client_secret,
            "grant_type": grant_type,
            # Orange Logic carries the refresh token in "code" too, not in "refresh_token".
            "code": code,
        }
        body: dict[str, Any] = {"json": params} if self.settings.token_request_encoding == "json" else {"data": params}
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._session.post(
                    self.settings.token_url,
                    headers={"Accept": "application/json"},
                    timeout=self.settings.timeout,
                    verify=self.settings.verify_ssl,
                    allow_redirects=False,
                    **body,
                )
            except requests.exceptions.ConnectionError as err:
                if not _never_reached_server(err) or attempt >= self.retry.max_attempts:
                    raise TokenEndpointError(self._transport_message(grant_type, err)) from None
                log.warning("Token endpoint unreachable (attempt %d), retrying: %s", attempt, type(err).__name__)
                self.retry.sleep(attempt)
                continue
            except requests.exceptions.Timeout as err:
                raise TokenEndpointError(self._transport_message(grant_type, err)) from None
            except requests.exceptions.RequestException as err:
                raise TokenEndpointError(self._transport_message(grant_type, err)) from None

            if response.status_code == 200:
                return self._json_body(response)
            if is_retryable_status(response.status_code) and attempt < self.retry.max_attempts:
                delay = self.retry.delay(attempt, response)
                log.warning(
                    "Token endpoint answered %d (attempt %d of %d); retrying in %.1f s.",
                    response.status_code,
                    attempt,
                    self.retry.max_attempts,
                    delay,
                )
                time.sleep(delay)
                continue
            raise self._error_for(grant_type, response, sent=(code, self.settings.client_secret))

    def _transport_message(self, grant_type: str, err: Exception) -> str:
        what = "exchange the authorization code" if grant_type == GRANT_AUTHORIZATION_CODE else "refresh"
        hint = (
            " The server may have acted on the request; the stored pair was left as it was."
            if isinstance(err, (requests.exceptions.ReadTimeout, requests.exceptions.ChunkedEncodingError))
            or not _never_reached_server(err)
            else ""
        )
        return (
            f"Could not {what} at {self.settings.token_url}: {type(err).__name__} "
            f"(timeout {self.settings.timeout:g} s).{hint} Check that the host is reachable from the worker."
        )

    def _json_body(self, response: requests.Response) -> dict[str, Any]:
        try:
            payload = response.json()
        except ValueError:
            raise TokenEndpointError(
                f"The token endpoint {self.settings.token_url} answered 200 with a "
                f"{response.headers.get('Content-Type', 'non-JSON')} body instead of JSON. Check that "
                "token_endpoint is right and that no proxy rewrites the answer."
            ) from None
        if not isinstance(payload, dict):
            raise TokenEndpointError("The token endpoint answered 200 but not with a JSON object.")
        return payload

    def _error_for(self, grant_type: str, response: requests.Response, sent: tuple[str, ...]) -> Exception:
        error, description = _oauth_error(response)
        for secret in sent:
            # Some servers echo what they were sent; never let it reach a log or a message.
            if description and secret:
                description = description.replace(secret, "***")
        detail = f"HTTP {response.status_code}"
        if error:
            detail += f" {error}"
        if description:
            detail += f": {description[:300]}"
        if error in FATAL_OAUTH_ERRORS or (response.status_code == 401 and not error):
            reason = (
                "the client ID or client secret is not accepted; check Login and Password of the connection"
                if error in ("invalid_client", "unauthorized_client") or response.status_code == 401
                else (
                    "the authorization code is invalid, expired or already used"
                    if grant_type == GRANT_AUTHORIZATION_CODE
                    else "the refresh token is expired, revoked or already used"
                )
            )
            return ReauthorizationRequired(
                f"Orange Logic refused the {grant_type} grant ({detail}): {reason}. A person must authorize "
                "again: open the authorization URL, approve, and run the orangelogic_token_exchange DAG "
                "with the new code."
            )
        if is_retryable_status(response.status_code):
            return TokenEndpointError(
                f"The token endpoint kept failing ({detail}) after {self.retry.max_attempts} attempts; the "
                "stored pair is unchanged. The task will retry."
            )
        return TokenEndpointError(
            f"The token endpoint rejected the request ({detail}). Check token_endpoint and "
            "token_request_encoding ('form' or 'json') on the connection."
        )


def _never_reached_server(err: Exception) -> bool:
    """True when the request surely never reached the server (no TCP connection was made)."""
    if isinstance(err, requests.exceptions.ConnectTimeout):
        return True
    text = repr(err)
    return any(
        marker in text
        for marker in (
            "NewConnectionError",
            "Connection refused",
            "Name or service not known",
            "NameResolutionError",
            "nodename nor servname",
        )
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
