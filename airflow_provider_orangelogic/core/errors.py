"""Exceptions raised by the Orange Logic OAuth layer.

Every message says what is wrong and what to do about it, and never carries a secret: the
client secret, authorization codes and tokens are never formatted into a message.
"""

from __future__ import annotations


class OrangeLogicError(Exception):
    """Base class of every error this provider raises on purpose."""


class ConfigurationError(OrangeLogicError, ValueError):
    """The connection or an argument is invalid; nothing was sent or stored."""


class TokenStoreError(OrangeLogicError):
    """The stored token pair is missing, unreadable, for another host, or shadowed: a person must act."""


class TokenStoreUnavailable(TokenStoreError):
    """The store or the refresher could not be reached in time; a later retry may succeed."""


class ReauthorizationRequired(OrangeLogicError):
    """The grant is gone (refresh token expired, revoked or rejected): a person must authorize again.

    Retrying cannot help, so the Airflow adapters turn this into ``AirflowFailException``.
    """


class TokenEndpointError(OrangeLogicError):
    """The token endpoint failed in a way that may pass (5xx, 429, network); the stored pair is intact."""


class OrangeLogicAPIError(OrangeLogicError):
    """An Orange Logic API call failed after retries."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
