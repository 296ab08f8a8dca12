"""What the three DAG factories share: start date, default arguments, callbacks."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pendulum

DEFAULT_CONN_ID = "orangelogic_default"
START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")

# A callable taking the context, a notifier (also a callable), or a list of them: what DAG() accepts.
Callback = Callable[..., Any] | Sequence[Callable[..., Any]]


def dag_arguments(
    *,
    base_default_args: Mapping[str, Any],
    default_args: Mapping[str, Any] | None,
    on_failure_callback: Callback | None,
    tags: Sequence[str],
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    """The keyword arguments common to the factories' DAG() calls; ``extra`` (the caller's) wins."""
    arguments: dict[str, Any] = {
        "start_date": START_DATE,
        "catchup": False,
        "tags": list(tags),
        "default_args": {**base_default_args, **(default_args or {})},
    }
    if on_failure_callback is not None:
        arguments["on_failure_callback"] = on_failure_callback
    arguments.update(extra)
    return arguments
