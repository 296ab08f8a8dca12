"""Every name whose import differs between the supported Airflow minors (3.0 to 3.3), in one place.

hooks/, operators/ and dags/ import these from here and nothing version-dependent from Airflow
directly. What moved where (read off each minor's newest patch: 3.0.6, 3.1.8, 3.2.2, 3.3.2):

================================  ===========================  ==============================
name                              3.0 / 3.1                    3.2+
================================  ===========================  ==============================
AirflowFailException,             ``airflow.exceptions``       ``airflow.sdk.exceptions``
AirflowNotFoundException          (not in the Task SDK yet)    (the same classes)
BaseHook                          3.0: ``airflow.hooks.base``  ``airflow.sdk``
                                  3.1: ``airflow.sdk``
conf                              ``airflow.configuration``    ``airflow.sdk`` (the Task SDK's
                                                               parser; reads airflow.cfg and
                                                               ``AIRFLOW__*`` alike)
SecretCache (in tasks)            3.0: none, Variables are     ``airflow.sdk``
                                  never cached in tasks;
                                  3.1: ``airflow.sdk``
connection form                   hook methods                 ``conn-fields`` /
                                  (``get_connection_form_      ``ui-field-behaviour`` in the
                                  widgets``, ``get_ui_field_   provider info (the methods are
                                  behaviour``)                 skipped when those exist)
================================  ===========================  ==============================

The same on every minor: ``airflow.sdk`` BaseOperator, DAG, Param, Variable, Connection, BaseNotifier;
``airflow.sdk.log.mask_secret``; ``airflow.sdk.execution_time.supervisor.ensure_secrets_backend_loaded``;
``airflow.models`` Variable and Connection for code running outside a task.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import version as _distribution_version
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.log import mask_secret

try:  # Airflow 3.2+
    from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException
except ImportError:  # Airflow 3.0, 3.1
    from airflow.exceptions import AirflowFailException, AirflowNotFoundException  # type: ignore[no-redef]

try:  # Airflow 3.1+
    from airflow.sdk import BaseHook
except ImportError:  # Airflow 3.0
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef,attr-defined]

try:  # Airflow 3.2+
    from airflow.sdk import conf
except ImportError:  # Airflow 3.0, 3.1
    from airflow.configuration import conf  # type: ignore[no-redef]


def _major_minor(text: str) -> tuple[int, int]:
    parts = text.split(".")
    return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)


AIRFLOW_VERSION: tuple[int, int] = _major_minor(_distribution_version("apache-airflow-core"))

# From 3.2 on Airflow builds the connection form from the provider info and ignores the hook methods.
DECLARATIVE_CONNECTION_FORM: bool = AIRFLOW_VERSION >= (3, 2)


def invalidate_cached_variable(key: str) -> None:
    """Drop a Variable from the Task SDK's secrets cache (3.1+); 3.0 has no such cache in tasks."""
    try:
        from airflow.sdk import SecretCache
    except ImportError:
        return
    SecretCache.invalidate_variable(key)


def mask_everywhere(value: str) -> None:
    """Mask ``value`` for the Task SDK's logging and for Airflow's own (the API server's access log and logs).

    3.1+ keep a second secrets masker in ``airflow._shared.secrets_masker`` for the core; 3.0 has only the
    Task SDK's. The Orange Logic page's callback uses this for the authorization code.
    """
    mask_secret(value)
    try:  # Airflow 3.1+
        from airflow._shared.secrets_masker import mask_secret as mask_in_core
    except ImportError:  # Airflow 3.0
        return
    mask_in_core(value)


def secrets_backends() -> Iterable[Any]:
    """The secrets backends Airflow reads, in its order (the same call on every supported minor)."""
    from airflow.sdk.execution_time.supervisor import ensure_secrets_backend_loaded

    return ensure_secrets_backend_loaded()


__all__ = [
    "AIRFLOW_VERSION",
    "DECLARATIVE_CONNECTION_FORM",
    "AirflowFailException",
    "AirflowNotFoundException",
    "BaseHook",
    "BaseOperator",
    "conf",
    "invalidate_cached_variable",
    "mask_everywhere",
    "mask_secret",
    "secrets_backends",
]


def known_breakage() -> str | None:
    """A dependency release known to break this Airflow minor, with the pin that fixes it; None if none.

    Airflow 3.0 and 3.1 set an attribute on cryptography's MultiFernet (``airflow/models/crypto.py``), which
    cryptography 51 made a Rust class: storing any encrypted Connection or Variable then fails with an
    AttributeError deep inside Airflow. 3.2.0 fixed it upstream. docs/compatibility.md lists the pins.
    """
    if AIRFLOW_VERSION >= (3, 2):
        return None
    try:
        cryptography_major = int(_distribution_version("cryptography").split(".")[0])
    except Exception:  # not installed or an odd version string: nothing known to warn about
        return None
    if cryptography_major < 51:
        return None
    return (
        f"Airflow {'.'.join(map(str, AIRFLOW_VERSION))} cannot encrypt Connections or Variables with "
        f"cryptography {_distribution_version('cryptography')} ('MultiFernet' object has no attribute "
        "'is_encrypted'), so the token pair cannot be stored. Install 'cryptography<51' (or the project's "
        "constraints file for this Airflow version), or upgrade to Airflow 3.2+."
    )


_breakage_warned = False


def warn_of_known_breakage(log: Any) -> None:
    """Log :func:`known_breakage` once per process (the first hook built), so the fix is in the task log."""
    global _breakage_warned
    if _breakage_warned:
        return
    _breakage_warned = True
    if problem := known_breakage():
        log.warning(problem)


def daily_data_intervals() -> Any:
    """A daily schedule whose runs span a day, ``[midnight, next midnight)`` UTC, on every 3.x.

    A cron string on Airflow 3 gives runs a single point in time (CronTriggerTimetable) unless
    ``[scheduler] create_cron_data_intervals`` is set, which would leave incremental runs an empty window.
    """
    try:  # Airflow 3.2+ (the Task SDK's definition)
        from airflow.sdk import CronDataIntervalTimetable
    except ImportError:  # Airflow 3.0, 3.1
        from airflow.timetables.interval import CronDataIntervalTimetable  # type: ignore[no-redef]
    return CronDataIntervalTimetable("0 0 * * *", timezone="UTC")
