"""Exceptions raised by the provider.

Every message says what is wrong and what to do about it, and never carries a secret: the
client secret, authorization codes and tokens are never formatted into a message. Callers branch
on the structured fields (``oauth_error``, ``status_code``), never on message text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from urllib.parse import quote, quote_plus

# OAuth 2.0 error codes (RFC 6749, section 5.2) that mean the client itself is not accepted.
CLIENT_REJECTED_ERRORS = frozenset({"invalid_client", "unauthorized_client"})
# Every error code RFC 6749 (sections 4.1.2.1 and 5.2) and RFC 6750 (section 3.1) define: the only
# values of a server's ``error`` field that reach a message or ``oauth_error``. Anything else may be
# the server echoing what it was sent.
KNOWN_OAUTH_ERRORS = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "unsupported_response_type",
        "invalid_scope",
        "access_denied",
        "server_error",
        "temporarily_unavailable",
        "invalid_token",
        "insufficient_scope",
    }
)
REDACTED = "***"


def known_oauth_error(value: object) -> str | None:
    """``value`` when it is an OAuth error code of RFC 6749/6750, else None (never echo anything else)."""
    return value if isinstance(value, str) and value in KNOWN_OAUTH_ERRORS else None


def secret_forms(secret: str) -> Iterator[str]:
    """``secret`` as it may come back in a server's text: raw, URL-encoded (``quote`` with and without
    ``/`` kept, ``quote_plus`` as in form bodies, upper- and lower-case hex), and JSON-escaped
    (ASCII-only or not, with ``/`` escaped as some servers do). Each form once, longest first."""
    forms = {secret}
    for encoded in (quote(secret, safe=""), quote(secret), quote_plus(secret), quote_plus(secret, safe="/")):
        forms.add(encoded)
        forms.add(re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), encoded))
    for ensure_ascii in (True, False):
        escaped = json.dumps(secret, ensure_ascii=ensure_ascii)[1:-1]
        forms.add(escaped)
        forms.add(escaped.replace("/", "\\/"))
    yield from sorted((form for form in forms if form), key=len, reverse=True)


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every form (``secret_forms``) of every non-empty secret replaced by ``***``.

    Use it wherever a server's text (an error field, a body, a header) reaches a message.
    """
    forms = {form for secret in secrets if secret for form in secret_forms(secret)}
    if not text or not forms:
        return text
    pattern = "|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True))
    return re.sub(pattern, REDACTED, text)


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


class ResponseLimitExceeded(OrangeLogicAPIError):
    """An answer took longer than the call's overall deadline, or was larger than its size cap.

    Not retried: a server that drips or floods is not a passing blip, and waiting again would hold a
    worker slot (or the refresh lock) for longer still. The Airflow task's own retries try later.
    """
