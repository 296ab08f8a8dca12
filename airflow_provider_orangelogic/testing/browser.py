"""What a person's browser does during the one-time authorization, for tests and scripts.

Opens the authorization URL, lets the stand-in (or any server that approves without a login
page) redirect, and reads ``code`` from the address the browser lands on, checking that the
``state`` that comes back is the one that was sent. Standard library only, like the stand-in.
"""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit


class AuthorizationFailed(RuntimeError):
    """The authorization page did not redirect back with a code and the state that was sent."""


@dataclass(frozen=True)
class Redirect:
    """Where the browser landed after approving: the full address and its ``code``/``state``."""

    location: str
    code: str
    state: str
    status: int = 302  # the redirect's HTTP status


def follow_authorization(authorization_url: str, *, timeout: float = 30.0) -> Redirect:
    """Open ``authorization_url`` and return the redirect it answers with; raise if it does not."""
    parts = urlsplit(authorization_url)
    sent_state = parse_qs(parts.query).get("state", [None])[0]
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    target = f"{parts.path or '/'}?{parts.query}" if parts.query else parts.path or "/"
    connection = connection_class(parts.netloc, timeout=timeout)
    try:
        connection.request("GET", target)
        answer = connection.getresponse()
        body = answer.read(500).decode("utf-8", errors="replace")
        location = answer.getheader("Location")
    finally:
        connection.close()
    if answer.status not in (301, 302, 303, 307) or not location:
        raise AuthorizationFailed(f"the authorization page answered {answer.status}, not a redirect: {body[:200]}")
    landing = parse_qs(urlsplit(location).query)
    if "code" not in landing:
        raise AuthorizationFailed(f"the redirect carries no code: {landing.get('error', ['no error either'])[0]}")
    state = landing.get("state", [""])[0]
    if sent_state is not None and state != sent_state:
        raise AuthorizationFailed("the redirect carried another state than the one sent (CSRF check)")
    return Redirect(location=location, code=landing["code"][0], state=state, status=answer.status)


def authorize_like_a_browser(authorization_url: str, *, timeout: float = 30.0) -> str:
    """The authorization code a person would copy from the redirect address (state checked)."""
    return follow_authorization(authorization_url, timeout=timeout).code
