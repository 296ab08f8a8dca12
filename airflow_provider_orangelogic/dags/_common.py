"""What the DAG factories share: start date, default arguments, callbacks.

A factory's ``on_failure_callback`` is set on every task (through ``default_args``), not on the DAG: a
task's callback gets the failure itself, ``context["exception"]``, whose message says what happened,
since when, what to do and where (see README "Alerts"); a DAG-level callback only learns that the run
failed. It is called once per failed task instance, after its last retry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pendulum
from airflow.sdk import Param

DEFAULT_CONN_ID = "orangelogic_default"
START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")

# A callable taking the context, a notifier (also a callable), or a list of them: what DAG() accepts.
Callback = Callable[..., Any] | Sequence[Callable[..., Any]]


def conn_id_param(conn_id: str, description: str) -> Param:
    """The trigger form's *conn_id* field, titled the same in every factory."""
    return Param(conn_id, type="string", minLength=1, title="Orange Logic connection id", description=description)


def concurrency_param(concurrency: int, in_flight: str) -> Param:
    """The trigger form's *concurrency* field: 1 to 10 requests at once, as every API module allows."""
    return Param(concurrency, type="integer", minimum=1, maximum=10, description=f"{in_flight} in flight at most.")


def manual_dag_arguments(
    description: str,
    doc_md: str | None,
    *,
    default_args: Mapping[str, Any] | None,
    on_failure_callback: Callback | None,
    tags: Sequence[str],
    dag_kwargs: Mapping[str, Any],
) -> dict[str, Any]:
    """``dag_arguments`` of a data job run by hand, one run at a time, unless ``dag_kwargs`` say otherwise."""
    return dag_arguments(
        base_default_args={},
        default_args=default_args,
        on_failure_callback=on_failure_callback,
        tags=tags,
        extra={"description": description, "doc_md": doc_md, "schedule": None, "max_active_runs": 1, **dag_kwargs},
    )


def dag_arguments(
    *,
    base_default_args: Mapping[str, Any],
    default_args: Mapping[str, Any] | None,
    on_failure_callback: Callback | None,
    tags: Sequence[str],
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    """The keyword arguments common to the factories' DAG() calls; ``extra`` (the caller's) wins.

    ``on_failure_callback`` goes to every task (``default_args``); one given in ``default_args`` wins.
    """
    callbacks = {} if on_failure_callback is None else {"on_failure_callback": on_failure_callback}
    arguments: dict[str, Any] = {
        "start_date": START_DATE,
        "catchup": False,
        "tags": list(tags),
        "default_args": {**base_default_args, **callbacks, **(default_args or {})},
    }
    arguments.update(extra)
    return arguments
