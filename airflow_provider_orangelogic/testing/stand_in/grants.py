"""Codes and grants: issuing them, refresh token rotation, reuse detection and revocation.

Orange Logic's token endpoint takes four parameters (``client_id``, ``client_secret``,
``grant_type``, ``code``), in a form or a JSON body, and reads the refresh token from ``code``.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from airflow_provider_orangelogic.testing.stand_in.config import StandInConfig
from airflow_provider_orangelogic.testing.stand_in.messages import (
    NO_STORE,
    Request,
    Response,
    error_response,
    first_values,
    is_json,
    json_object,
)

GRANT_TYPES = ("authorization_code", "refresh_token")
TOKEN_PARAMS = ("client_id", "client_secret", "grant_type", "code")
CLIENT_CREDENTIALS_PARAMS = ("client_id", "client_secret", "grant_type")


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def response(self) -> Response:
        return error_response(self.status, self.error, self.description, NO_STORE)


@dataclass
class Grant:
    """One authorization: the family of tokens descending from one authorization code."""

    client_id: str
    access_token: str
    access_expires: float
    # Refresh tokens that may still be presented, mapped to their (monotonic) expiry.
    refresh_tokens: dict[str, float]
    # Strict mode only: refresh tokens already exchanged; presenting one again is theft evidence.
    rotated_out: set[str] = field(default_factory=set)
    revoked: bool = False


@dataclass
class Code:
    client_id: str
    redirect_uri: str
    expires: float
    # Set once exchanged; a second exchange is a reuse (RFC 6749 section 4.1.2).
    grant: Grant | None = None


def authorization_problem(config: StandInConfig, client_id: str | None, redirect_uri: str | None) -> str | None:
    """Why an authorization request must be refused, or None if it may proceed."""
    if client_id != config.client_id:
        return f"Unknown client_id {client_id!r}."
    if not redirect_uri:
        return "The redirect_uri parameter is missing."
    if redirect_uri not in config.redirect_uris:
        return f"The redirect_uri {redirect_uri!r} is not registered for this client."
    return None


def token_params(request: Request, required: tuple[str, ...] = TOKEN_PARAMS) -> dict[str, str]:
    """The token parameters from a form or JSON body; raises invalid_request."""
    if is_json(request):
        try:
            data = json_object(request.body)
        except ValueError as exc:
            raise OAuthError(400, "invalid_request", str(exc)) from None
        params = {name: value for name, value in data.items() if isinstance(value, str)}
    else:
        try:
            parsed = parse_qs(request.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise OAuthError(400, "invalid_request", "body is not UTF-8") from None
        repeated = sorted(name for name, values in parsed.items() if len(values) > 1)
        if repeated:
            raise OAuthError(400, "invalid_request", f"repeated parameters: {', '.join(repeated)}")
        params = first_values(parsed)
    missing = [name for name in required if not params.get(name)]
    if missing:
        raise OAuthError(400, "invalid_request", f"missing required parameters: {', '.join(missing)}")
    return params


def _authenticate_client(config: StandInConfig, params: dict[str, str]) -> None:
    if params["client_id"] != config.client_id or not secrets.compare_digest(
        params["client_secret"].encode(), config.client_secret.encode()
    ):
        raise OAuthError(401, "invalid_client", "client authentication failed")


def token_payload(config: StandInConfig, access: str, refresh: str | None) -> dict[str, Any]:
    payload: dict[str, Any] = {"access_token": access}
    if refresh is not None:
        payload["refresh_token"] = refresh
    payload["token_type"] = "Bearer"
    if config.send_expires_in:
        payload["expires_in"] = int(config.access_lifetime)
    return payload


class GrantBook:
    """Every code and grant of one stand-in. Not thread-safe: the caller holds its lock around each call.

    ``counters`` and ``issued`` are the caller's; ``issued`` collects every secret handed out.
    """

    def __init__(self, counters: dict[str, int], issued: list[str]) -> None:
        self._counters = counters
        self._issued = issued
        self._codes: dict[str, Code] = {}
        self._access: dict[str, Grant] = {}
        self._refresh: dict[str, Grant] = {}

    def issue_code(self, config: StandInConfig, client_id: str, redirect_uri: str) -> str:
        """Issue a code for an already validated authorization request."""
        code = secrets.token_urlsafe(24)
        self._codes[code] = Code(client_id, redirect_uri, time.monotonic() + config.code_lifetime)
        self._issued.append(code)
        self._counters["codes_issued"] += 1
        return code

    def grant_tokens(self, config: StandInConfig, params: dict[str, str]) -> dict[str, Any]:
        """The token answer for checked ``token_params``; raises OAuthError."""
        _authenticate_client(config, params)
        grant_type = params["grant_type"]
        if grant_type not in GRANT_TYPES:
            raise OAuthError(400, "unsupported_grant_type", f"grant_type {grant_type!r}")
        if grant_type == "authorization_code":
            return self._exchange_code(config, params["client_id"], params["code"])
        return self._exchange_refresh(config, params["client_id"], params["code"])

    def client_credentials(self, config: StandInConfig, params: dict[str, str]) -> dict[str, Any]:
        """A new access token for the client alone (no refresh token); raises OAuthError."""
        _authenticate_client(config, params)
        if params["grant_type"] != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type", f"grant_type {params['grant_type']!r}")
        if not config.client_credentials_enabled:
            raise OAuthError(400, "unauthorized_client", "client credentials are not allowed for this client")
        access, access_expires = self._new_secret(time.monotonic(), config.access_lifetime)
        self._access[access] = Grant(params["client_id"], access, access_expires, {})
        self._counters["client_credentials_grants"] += 1
        if config.client_credentials_answer == "camel":
            return {"accessToken": access, "expiresInSeconds": str(int(config.access_lifetime))}
        return {"access_token": access, "token_type": "Bearer", "expires_in": int(config.access_lifetime)}

    def bearer_problem(self, header: str | None, fixed_tokens: tuple[str, ...] = ()) -> str | None:
        """Why an ``Authorization`` header does not grant access, or None if it does."""
        scheme, _, token = (header or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return "missing bearer token"
        if token in fixed_tokens:
            return None
        grant = self._access.get(token)
        if grant is None or grant.access_token != token:
            return "unknown access token"
        if grant.revoked:
            return "grant revoked"
        if time.monotonic() >= grant.access_expires:
            return "access token expired"
        return None

    def _exchange_code(self, config: StandInConfig, client_id: str, code: str) -> dict[str, Any]:
        now = time.monotonic()
        record = self._codes.get(code)
        if record is None or record.client_id != client_id:
            raise OAuthError(400, "invalid_grant", "unknown authorization code")
        if record.grant is not None:
            self._counters["code_reuses"] += 1
            if config.strict:
                # A replayed code may mean it was intercepted: distrust what it produced.
                self._revoke(record.grant)
            raise OAuthError(400, "invalid_grant", "authorization code already used")
        if now >= record.expires:
            raise OAuthError(400, "invalid_grant", "authorization code expired")
        access, access_expires = self._new_secret(now, config.access_lifetime)
        refresh, refresh_expires = self._new_secret(now, config.refresh_lifetime)
        grant = Grant(client_id, access, access_expires, {refresh: refresh_expires})
        record.grant = grant
        self._access[access] = grant
        self._refresh[refresh] = grant
        self._counters["authorization_code_grants"] += 1
        return token_payload(config, access, refresh)

    def _exchange_refresh(self, config: StandInConfig, client_id: str, token: str) -> dict[str, Any]:
        now = time.monotonic()
        grant = self._refresh.get(token)
        if grant is None or grant.client_id != client_id:
            raise OAuthError(400, "invalid_grant", "unknown refresh token")
        if token in grant.rotated_out:
            self._counters["refresh_token_reuses"] += 1
            self._revoke(grant)
            raise OAuthError(400, "invalid_grant", "refresh token already used; grant revoked")
        if grant.revoked:
            raise OAuthError(400, "invalid_grant", "grant revoked")
        expires = grant.refresh_tokens.get(token)
        if expires is None:
            raise OAuthError(400, "invalid_grant", "refresh token no longer valid")
        if now >= expires:
            del grant.refresh_tokens[token]
            raise OAuthError(400, "invalid_grant", "refresh token expired")
        # A new access token supersedes the old one of the same grant.
        self._access.pop(grant.access_token, None)
        grant.access_token, grant.access_expires = self._new_secret(now, config.access_lifetime)
        self._access[grant.access_token] = grant
        new_refresh = None
        if config.rotate_refresh_token:
            new_refresh, new_expires = self._new_secret(now, config.refresh_lifetime)
            grant.refresh_tokens[new_refresh] = new_expires
            self._refresh[new_refresh] = grant
            if config.strict:
                del grant.refresh_tokens[token]
                grant.rotated_out.add(token)
        self._counters["refresh_token_grants"] += 1
        return token_payload(config, grant.access_token, new_refresh)

    def _new_secret(self, now: float, lifetime: float) -> tuple[str, float]:
        value = secrets.token_urlsafe(32)
        self._issued.append(value)
        return value, now + lifetime

    def _revoke(self, grant: Grant) -> None:
        if not grant.revoked:
            grant.revoked = True
            self._counters["grants_revoked"] += 1
