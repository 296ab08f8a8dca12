"""Who may do what on the Orange Logic page: Airflow's own users and connection permissions.

Plugin apps get no authentication from Airflow: routes resolve the user with Airflow's ``GetUserDep`` and ask
the auth manager ``is_authorized_connection``, as Airflow's connection endpoints do.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request

from airflow_provider_orangelogic.compat import conf
from airflow_provider_orangelogic.plugins import airflow_base_url

log = logging.getLogger(__name__)


def _connection_details(conn_id: str) -> Any:
    from airflow.api_fastapi.auth.managers.models.resource_details import ConnectionDetails

    if conf.getboolean("core", "multi_team", fallback=False):  # 3.1+; 3.0 has no teams
        from airflow.models.connection import Connection

        return ConnectionDetails(conn_id=conn_id, team_name=Connection.get_team_name(conn_id))
    return ConnectionDetails(conn_id=conn_id)


def may(user: Any, method: str, conn_id: str) -> bool:
    """What Airflow's ``requires_access_connection(method)`` decides, for this connection and user.

    Called directly rather than as that dependency: with ``[core] multi_team`` on it reads the team from a
    JSON request body, and these are form posts.
    """
    from airflow.api_fastapi.app import get_auth_manager

    try:
        return bool(
            get_auth_manager().is_authorized_connection(method=method, details=_connection_details(conn_id), user=user)
        )
    except Exception:
        log.exception("The auth manager could not decide on connection %s; refusing.", conn_id)
        return False


async def optional_login(request: Request) -> Any:
    """The Airflow user the request is signed in as (cookie or bearer token), or None; never raises."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(COOKIE_NAME_JWT_TOKEN)
    if not token:
        return None
    try:
        return await get_auth_manager().get_user_from_token(token)
    except Exception:
        return None


OptionalLoginDep = Annotated[Any, Depends(optional_login)]


def user_id(user: Any) -> str:
    return str(user.get_id())


def user_name(user: Any) -> str:
    try:
        return str(user.get_name())
    except Exception:
        return user_id(user)


def cross_site(request: Request) -> bool:
    """True for a form post from another site (CSRF): Airflow's cookie is SameSite=Lax, this double-checks."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False
    allowed = {request.headers.get("host", ""), urlsplit(airflow_base_url()).netloc}
    return urlsplit(origin).netloc not in allowed - {""}
