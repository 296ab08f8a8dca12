"""Grants: how a connection gets a new token pair when the stored one is due.

``TokenManager`` runs the refresh protocol (lock, re-read, rescue journal, store) around
``Grant.renew``, so adding an auth mode means adding a ``Grant`` here, not touching the protocol.
The authorization-code grant is renewed with its refresh token; the client-credentials grant with
the client secret. A fixed bearer token is never renewed and needs no grant (``api.session``'s
``FixedToken``).
"""

from __future__ import annotations

from typing import Any, Protocol

from pendulum import DateTime

from airflow_provider_orangelogic.core.errors import ConfigurationError
from airflow_provider_orangelogic.core.fields import AUTHORIZATION_CODE, CLIENT_CREDENTIALS
from airflow_provider_orangelogic.core.settings import OrangeLogicSettings
from airflow_provider_orangelogic.oauth.token_endpoint import TokenEndpointClient
from airflow_provider_orangelogic.oauth.tokens import GRANT_CLIENT_CREDENTIALS, GRANT_REFRESH_TOKEN, TokenPair


class Grant(Protocol):
    """What the refresh protocol needs from an auth mode."""

    #: Recorded as the new pair's ``obtained_by``.
    renewed_by: str
    #: True when a renewal spends nothing (no single-use token), so any caller may renew, even with
    #: nothing stored yet; False when renewals are left to the one refresher (the refresh DAG).
    renews_on_demand: bool

    def renewable(self, pair: TokenPair, now: DateTime) -> bool:
        """False when only a person can get a new pair (e.g. the refresh token expired)."""

    def renew(self, pair: TokenPair | None) -> dict[str, Any]:
        """Ask the token endpoint for the pair that follows ``pair``; returns the server's answer."""


class AuthorizationCodeGrant:
    """A person approves once and the code is exchanged; the pair is renewed with its refresh token."""

    renewed_by = GRANT_REFRESH_TOKEN
    renews_on_demand = False

    def __init__(self, endpoint: TokenEndpointClient) -> None:
        self.endpoint = endpoint

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.endpoint!r})"

    def authorization_url(self, state: str | None = None, redirect_uri: str | None = None) -> str:
        """The URL a person opens to approve the application and get a code."""
        return self.endpoint.authorization_url(state=state, redirect_uri=redirect_uri)

    def exchange(self, code: str) -> dict[str, Any]:
        """Trade the code a person brought back for the first pair."""
        return self.endpoint.authorization_code_grant(code)

    def renewable(self, pair: TokenPair, now: DateTime) -> bool:
        return pair.refresh_token_valid(now)

    def renew(self, pair: TokenPair | None) -> dict[str, Any]:
        if pair is None:
            raise ValueError("The authorization-code grant renews only a stored pair.")
        return self.endpoint.refresh_token_grant(pair.refresh_token)


class ClientCredentialsGrant:
    """No person and no refresh token: the client ID and secret get a new access token when needed."""

    renewed_by = GRANT_CLIENT_CREDENTIALS
    renews_on_demand = True

    def __init__(self, endpoint: TokenEndpointClient) -> None:
        self.endpoint = endpoint

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.endpoint!r})"

    def renewable(self, pair: TokenPair, now: DateTime) -> bool:
        return True

    def renew(self, pair: TokenPair | None) -> dict[str, Any]:
        return self.endpoint.client_credentials_grant()


def grant_for(
    settings: OrangeLogicSettings, endpoint: TokenEndpointClient
) -> AuthorizationCodeGrant | ClientCredentialsGrant:
    """The grant of the connection's ``auth_mode``; a bearer-token connection has none (ConfigurationError)."""
    if settings.auth_mode == CLIENT_CREDENTIALS:
        return ClientCredentialsGrant(endpoint)
    if settings.auth_mode == AUTHORIZATION_CODE:
        return AuthorizationCodeGrant(endpoint)
    raise ConfigurationError(
        f"auth_mode {settings.auth_mode} uses a fixed bearer token: there is no token to obtain or renew."
    )
