"""What the connection form's Test button reports, per auth mode: the first thing that is wrong.

Airflow's ``POST /api/v2/connections/test`` (every 3.x) builds the connection from the form under a random
temporary id (``transient_conn_id``, exported as ``AIRFLOW_CONN_<ID>``) and calls the hook with it, so the
hook would look for the pair in ``orangelogic_token_<temporary id>``, which never exists. The connection
being edited is ``test_body.connection_id`` in that endpoint's frame: ``edited_connection_id`` finds it
there (only when the frame's temporary id is the hook's), and the check reads that connection's pair.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import requests

from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.core.errors import OrangeLogicError, ReauthorizationRequired, TokenStoreError
from airflow_provider_orangelogic.core.fields import AUTHORIZATION_CODE, BEARER_TOKEN
from airflow_provider_orangelogic.hooks.messages import BEARER_TOKEN_REJECTED

if TYPE_CHECKING:
    from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook

# A code no server will accept: asking the token endpoint to exchange it tells bad client
# credentials (invalid_client) from good ones (invalid_grant) without spending anything.
PROBE_CODE = "airflow-connection-test"
BAD_CREDENTIALS = "Bad credentials: Orange Logic rejected the client ID or client secret."


def edited_connection_id(conn_id: str) -> str | None:
    """The id of the connection Airflow's Test endpoint is testing under the temporary ``conn_id``, if it is."""
    frame = sys._getframe(1)
    while frame is not None:
        names = frame.f_locals
        if names.get("transient_conn_id") == conn_id and "test_body" in names:
            edited = getattr(names["test_body"], "connection_id", None)
            return edited if isinstance(edited, str) and edited else None
        frame = frame.f_back
    return None


def _for_the_edited_connection(hook: OrangeLogicHook) -> tuple[OrangeLogicHook, str]:
    """A hook reading the form's settings and the edited connection's token pair; and where that pair is."""
    from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook
    from airflow_provider_orangelogic.hooks.variable_store import VariableTokenStore, default_variable_key

    edited = None if hook._token_store is not None else edited_connection_id(hook.orangelogic_conn_id)
    if edited is None or edited == hook.orangelogic_conn_id:
        return hook, ""
    key = hook.settings.token_variable or default_variable_key(edited)
    checked = OrangeLogicHook(
        hook.orangelogic_conn_id,
        token_store=VariableTokenStore(key, edited),
        retry=hook.retry,
        lock_dir=hook.lock_dir,
        wait_for_refresh=hook.wait_for_refresh,
    )
    return checked, (
        f" (the pair of connection {edited!r}; Airflow ran this test under the temporary id "
        f"{hook.orangelogic_conn_id!r})"
    )


def check_connection(hook: OrangeLogicHook) -> tuple[bool, str]:
    try:
        settings = hook.settings
    except OrangeLogicError as err:
        return False, str(err)
    try:
        # Only "does it answer" matters: the body is never read (a server could drip it for ever).
        requests.get(
            settings.base_url,
            timeout=min(settings.timeout, 10),
            verify=settings.verify_ssl,
            allow_redirects=False,
            stream=True,
        ).close()
    except requests.exceptions.SSLError:
        return False, f"Host {settings.base_url} answered, but its TLS certificate was not accepted."
    except requests.exceptions.RequestException as err:
        return False, f"Host {settings.base_url} is unreachable ({type(err).__name__})."
    if hook.auth_mode == BEARER_TOKEN:
        return _check_bearer_token(hook)
    if hook.auth_mode == AUTHORIZATION_CODE:
        problem = _credentials_problem(hook)
        if problem:
            return False, problem
    try:
        hook, whose = _for_the_edited_connection(hook)
    except OrangeLogicError as err:
        return False, str(err)
    return _check_stored_tokens(hook, whose)


def _credentials_problem(hook: OrangeLogicHook) -> str | None:
    try:
        hook.grant.exchange(PROBE_CODE)  # type: ignore[attr-defined]
    except ReauthorizationRequired as err:
        return BAD_CREDENTIALS if err.client_rejected else None
    except OrangeLogicError as err:
        return f"The token endpoint did not answer as expected: {err}"
    return None


def _check_bearer_token(hook: OrangeLogicHook) -> tuple[bool, str]:
    try:
        response = hook.request(
            "GET", endpoints.SEARCH, params={"format": "json", "countperpage": 1}, check_response=False
        )
    except OrangeLogicError as err:
        return False, str(err)
    if response.status_code == 401:
        return False, BEARER_TOKEN_REJECTED
    if not response.ok:
        return False, f"The Search API answered HTTP {response.status_code} to the bearer token."
    return True, f"Connected to {hook.settings.base_url} with the bearer token (it does not expire)."


def _check_stored_tokens(hook: OrangeLogicHook, whose: str = "") -> tuple[bool, str]:
    from airflow_provider_orangelogic.plugins import page_url

    where = f" Looked in {hook.token_store.description}{whose}."
    try:
        if hook.auth_mode != AUTHORIZATION_CODE:
            hook.get_access_token()  # client credentials: getting a token is the test
        status = hook.token_status()
    except ReauthorizationRequired as err:
        return False, BAD_CREDENTIALS if err.client_rejected else str(err)
    except TokenStoreError as err:
        return False, f"Host and credentials are fine, but: {err}{whose}"
    except OrangeLogicError as err:
        return False, str(err)
    if not status.get("refresh_token_valid", True):
        return False, (
            f"Host and credentials are fine, but the refresh token expired at "
            f"{status['refresh_token_expires_at']}: re-authorization needed. Press Re-authorize on the Orange Logic "
            f"page ({page_url()}).{where}"
        )
    refresh = f", refresh token at {status['refresh_token_expires_at']}" if hook.auth_mode == AUTHORIZATION_CODE else ""
    return (
        True,
        f"Connected to {hook.settings.base_url}. Access token expires at {status['access_token_expires_at']}"
        f"{refresh}.{where}",
    )
