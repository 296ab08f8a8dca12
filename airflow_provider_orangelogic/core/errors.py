"""Exceptions raised by the provider.

Every message says what is wrong and what to do about it, and never carries a secret: the
client secret, authorization codes and tokens are never formatted into a message. Callers branch
on the structured fields (``oauth_error``, ``status_code``), never on message text.
"""

from __future__ import annotations

# OAuth 2.0 error codes (RFC 6749, section 5.2) that mean the client itself is not accepted.
CLIENT_REJECTED_ERRORS = frozenset({"invalid_client", "unauthorized_client"})


class OrangeLogicError(Exception):
    """Base class of every error this provider raises on purpose."""


class ConfigurationError(OrangeLogicError, ValueError):
    """The connection or an argument is invalid; nothing was sent or stored."""


class TokenStoreError(OrangeLogicError):
    """The stored token pair is missing, unreadable, for another host, or shadowed: a person must act."""


class TokenStoreUnavailable(TokenStoreError):
    """The store or the refresher could not be reached in time; a later retry may succeed."""


class _TokenAnswer(OrangeLogicError):
    """Carries what the token endpoint said, for callers that branch on it.

    :param oauth_error: the OAuth ``error`` code the server sent, if any (e.g. ``invalid_grant``).
    :param description: the server's ``error_description``, already redacted of anything sent.
    :param status_code: the HTTP status, or None when no answer arrived.
    """

    def __init__(
        self,
        message: str,
        *,
        oauth_error: str | None = None,
        description: str | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.oauth_error = oauth_error
        self.description = description
        self.status_code = status_code

    @property
    def client_rejected(self) -> bool:
        """True when the server refused the client ID or secret (not the grant)."""
        return self.oauth_error in CLIENT_REJECTED_ERRORS or (self.status_code == 401 and not self.oauth_error)


class TokenEndpointError(_TokenAnswer):
    """The token endpoint failed in a way that may pass (5xx, 429, network); the stored pair is intact."""


class ReauthorizationRequired(_TokenAnswer):
    """The grant is gone (refresh token expired, revoked or rejected) or the client is refused.

    Retrying cannot help: a person must act, so the Airflow adapters turn this into
    ``AirflowFailException`` and add where to authorize again.
    """


class OrangeLogicAPIError(OrangeLogicError):
    """An Orange Logic API call failed after retries."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
