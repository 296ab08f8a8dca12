"""The few places where the provider must know whether it runs inside an Airflow task.

Inside a task (Task SDK), Variables and Connections come through the supervisor and the API
server. Outside (CLI, a Python shell, the API server's Test button) ``airflow.sdk`` cannot reach
the metadata DB, so the core models are used instead.
"""

from __future__ import annotations

import sys
from typing import Any

from airflow_provider_orangelogic.compat import AirflowNotFoundException, BaseHook, conf, mask_secret
from airflow_provider_orangelogic.core import config
from airflow_provider_orangelogic.core.errors import secret_forms
from airflow_provider_orangelogic.oauth import journal, locking


def in_task() -> bool:
    runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    return getattr(runner, "SUPERVISOR_COMMS", None) is not None


def get_connection(conn_id: str) -> Any:
    """The Airflow connection ``conn_id``, from the Task SDK in a task and from the metadata DB outside."""
    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        if in_task():
            raise
    from airflow.models.connection import Connection

    return Connection.get_connection_from_secrets(conn_id)


def mask(*secrets: str | None) -> None:
    """Register values with Airflow's secrets masker, in the task and in its supervisor.

    Each in every form a server might echo it in (raw, URL-encoded, plus-encoded, JSON-escaped:
    ``core.errors.secret_forms``), since Airflow's masker matches the raw value only.
    """
    for secret in secrets:
        if secret:
            for form in secret_forms(secret):
                mask_secret(form)


def configured_lock_dir() -> str | None:
    """``[orangelogic] lock_dir`` (or ``AIRFLOW__ORANGELOGIC__LOCK_DIR``); None when empty or unset."""
    try:
        value = conf.get(config.SECTION, config.LOCK_DIR.name, fallback="")
    except Exception:  # an unreadable config must not break a refresh: fall back like an unset option
        return None
    return value.strip() or None


# The hook passes no lock_dir unless given one: the refresh lock then takes the configured directory.
locking.set_configured_lock_dir(configured_lock_dir)


def fernet_keys() -> list[str]:
    """``[core] fernet_key`` as a list (comma-separated while rotating); empty when unset or unreadable."""
    try:
        value = conf.get("core", "fernet_key", fallback="") or ""
    except Exception:
        return []
    return [key.strip() for key in value.split(",") if key.strip()]


# The rescue journal is encrypted and authenticated with Airflow's Fernet key when one is set.
journal.set_journal_keys(fernet_keys)
