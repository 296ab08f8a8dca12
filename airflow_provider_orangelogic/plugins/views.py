"""What the Orange Logic page shows: where things are, and each connection's view (status, verdict, banner)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import Request

from airflow_provider_orangelogic.compat import AirflowNotFoundException
from airflow_provider_orangelogic.core.errors import OrangeLogicError, TokenStoreError
from airflow_provider_orangelogic.core.fields import AUTHORIZATION_CODE, BEARER_TOKEN, CLIENT_CREDENTIALS
from airflow_provider_orangelogic.plugins import CALLBACK_PATH, URL_PREFIX, access, airflow_base_url
from airflow_provider_orangelogic.plugins.page import (
    ACTION,
    DUE,
    NEUTRAL,
    OK,
    Banner,
    ConnectionView,
    time_left,
    when,
)


def root_path() -> str:
    """The path part of ``[api] base_url`` ("" at the server's root)."""
    return urlsplit(airflow_base_url()).path.rstrip("/")


def page_path() -> str:
    return f"{root_path()}{URL_PREFIX}/"


def airflow_path() -> str:
    return f"{root_path()}/"


def callback_uri(request: Request) -> str:
    """This app's callback as the browser reaches it: from ``[api] base_url`` when set, else the request."""
    base = airflow_base_url()
    if base:
        return f"{base}{CALLBACK_PATH}"
    host = request.headers.get("host") or request.url.netloc
    return f"{request.url.scheme}://{host}{CALLBACK_PATH}"


def webhook_url(conn_id: str, request: Request) -> str:
    """Where Orange Logic posts the webhooks of ``conn_id``."""
    return f"{callback_uri(request).removesuffix(CALLBACK_PATH)}{URL_PREFIX}/webhooks/{conn_id}"


def redirect_uri_for(settings: Any, request: Request) -> tuple[str, str]:
    """(redirect URI to authorize with, why there is none).

    The connection's Redirect URI wins when it points at a callback of this page (e.g. the public address
    behind a proxy); one pointing elsewhere would send the code somewhere this page never sees.
    """
    configured = (settings.redirect_uri or "").strip()
    if not configured:
        return callback_uri(request), ""
    if urlsplit(configured).path.rstrip("/").endswith(CALLBACK_PATH):
        return configured, ""
    return "", (
        f"The connection's Redirect URI is {configured}, which is not this page's callback: Orange Logic would send "
        f"the code there. To authorize here, set it to {callback_uri(request)} (or clear it) and register that "
        "address on the OAuth Client Application account in Orange Logic."
    )


def orangelogic_conn_ids() -> list[str]:
    from airflow_provider_orangelogic.status import orangelogic_conn_ids as conn_ids

    return conn_ids()


def hook_for(conn_id: str) -> Any:
    from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook

    return OrangeLogicHook(conn_id)


def connection_view(conn_id: str, user: Any, request: Request) -> ConnectionView | None:
    """What the page shows of one connection, or None when the user may not read it."""
    if not access.may(user, "GET", conn_id):
        return None
    view = ConnectionView(conn_id, may_edit=access.may(user, "PUT", conn_id))
    hook = hook_for(conn_id)
    try:
        settings = hook.settings
    except (OrangeLogicError, AirflowNotFoundException) as err:
        view.verdict, view.headline, view.problem = ACTION, "Connection needs fixing", str(err)
        return view
    view.host, view.client_id, view.auth_mode = settings.base_url, settings.client_id or "", settings.auth_mode
    if settings.webhook_secret:  # only how many are set: the secrets themselves never reach the page
        view.webhook_url = webhook_url(conn_id, request)
        view.webhook_secrets = len(settings.webhook_secret.split())
    if settings.auth_mode == BEARER_TOKEN:
        view.client_id = ""  # unused in this mode; the token itself is the Password and never shown
    if settings.auth_mode == AUTHORIZATION_CODE:
        view.can_authorize = True
        view.redirect_uri, view.redirect_problem = redirect_uri_for(settings, request)
    try:
        status = hook.token_status()
    except TokenStoreError as err:
        if settings.auth_mode == AUTHORIZATION_CODE and _nothing_stored(hook):
            view.verdict, view.headline = ACTION, "Not authorized yet"
            view.problem = "No token pair is stored yet: press Authorize."
        else:
            view.verdict, view.headline, view.problem = ACTION, "Token pair unusable", str(err)
        return view
    except OrangeLogicError as err:
        view.verdict, view.headline, view.problem = ACTION, "Error", str(err)
        return view
    view.status = status
    view.verdict, view.headline, view.problem = _verdict(settings.auth_mode, status)
    return view


def _nothing_stored(hook: Any) -> bool:
    try:
        return hook.token_store.load() is None
    except Exception:
        return False


def _verdict(auth_mode: str, status: dict[str, Any]) -> tuple[str, str, str]:
    if auth_mode == BEARER_TOKEN:
        return OK, "Fixed bearer token", ""
    if auth_mode == CLIENT_CREDENTIALS:
        if status.get("note"):
            return NEUTRAL, "No token yet", "The first task (or Test) gets one with the client ID and secret."
        if not status.get("access_token_valid"):
            return NEUTRAL, "Renewed on next use", ""
        return OK, "Access token valid", ""
    if not status.get("refresh_token_valid", True):
        return ACTION, "Re-authorization needed", "The refresh token expired: press Re-authorize."
    if not status.get("access_token_valid"):
        return DUE, "Access token expired", "The refresh DAG (orangelogic_token_refresh) renews it."
    if status.get("needs_refresh"):
        return DUE, "Due for refresh", "The refresh DAG renews it on its next run."
    return OK, "Authorized", ""


def authorized_banner(conn_id: str, views: list[ConnectionView]) -> Banner | None:
    """The outcome of a callback, told from the stored pair itself (a crafted ?authorized= shows nothing new)."""
    view = next((view for view in views if view.conn_id == conn_id), None)
    status = view.status if view else {}
    if not status.get("obtained_at") or status.get("obtained_by") != AUTHORIZATION_CODE:
        return None
    return Banner(
        OK,
        f"{conn_id} is authorized",
        f"New token pair stored at {when(status['obtained_at'])}: the access token expires at "
        f"{when(status.get('access_token_expires_at'))} (in {time_left(status.get('access_token_seconds_left'))}), "
        f"the refresh token at {when(status.get('refresh_token_expires_at'))} "
        f"(in {time_left(status.get('refresh_token_seconds_left'))}).",
        conn_id,
    )
