"""An Airflow connection read into ``OrangeLogicSettings``, with errors a person can act on."""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_orangelogic.core.errors import ConfigurationError
from airflow_provider_orangelogic.core.fields import CONN_TYPE
from airflow_provider_orangelogic.core.settings import OrangeLogicSettings
from airflow_provider_orangelogic.hooks import _airflow_context
from airflow_provider_orangelogic.hooks.errors import OrangeLogicConfigurationError


def settings_from_connection(conn_id: str, conn_type: str = CONN_TYPE) -> OrangeLogicSettings:
    """Read connection ``conn_id`` (Task SDK in a task, metadata DB outside), mask its secret, check its fields."""
    conn = _airflow_context.get_connection(conn_id)
    _airflow_context.mask(conn.password)
    if conn.conn_type and conn.conn_type != conn_type:
        raise OrangeLogicConfigurationError(
            f"Connection {conn_id!r} has type {conn.conn_type!r}; OrangeLogicHook needs "
            f"a connection of type {conn_type!r} (Orange Logic)."
        )
    try:
        return OrangeLogicSettings.from_connection_fields(
            conn_id=conn_id, host=conn.host, login=conn.login, password=conn.password, extra=_extra_of(conn)
        )
    except ConfigurationError as err:
        raise OrangeLogicConfigurationError(str(err)) from None


def _extra_of(conn: Any) -> Any:
    # Airflow's extra_dejson turns unreadable JSON into {} with a log line; a user deserves an error.
    raw = conn.extra
    if not raw:
        return {}
    try:
        return json.loads(raw) if isinstance(raw, str) else raw
    except (ValueError, RecursionError):  # RecursionError: nested too deeply for the parser
        raise OrangeLogicConfigurationError(
            f"Connection {conn.conn_id!r}: Extra is not valid JSON (or is nested too deeply); enter a flat JSON "
            "object of the fields in docs/connection.md, or leave it empty."
        ) from None
