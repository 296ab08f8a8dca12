"""
### Orange Logic: keep token pairs fresh

Runs every 30 minutes (configurable) and refreshes, for each configured connection, the pair
whose access token has less than half of its lifetime left (the connection's
*refresh_threshold*). With Orange Logic's 24-hour access tokens a pair is renewed about 12 hours
before it expires, so a day of failed runs still leaves every consumer a valid token, and each
refresh also renews the 30-day refresh token, so the grant never lapses while this DAG runs.

This DAG is the one place that presents refresh tokens. Keep it unpaused; it allows one active
run at a time so two runs never refresh the same grant together.

**Configuration** (airflow.cfg section `[orangelogic]` or environment variables):

- `refresh_conn_ids` (`AIRFLOW__ORANGELOGIC__REFRESH_CONN_IDS`): comma-separated connection ids,
  default `orangelogic_default`;
- `refresh_interval_seconds` (`AIRFLOW__ORANGELOGIC__REFRESH_INTERVAL_SECONDS`): default 1800. Keep
  it well under half the access token's lifetime.

**Refresh now**: trigger the DAG with the *force* parameter ticked (or
`airflow dags trigger orangelogic_token_refresh --conf '{"force": true}'`) to refresh every
configured pair even if its access token is still fresh.

Each mapped task is labelled by its connection id (`refresh_tokens [orangelogic_default]`), and logs
the new expiry times of both tokens.

A task fails without retrying when its grant is gone (refresh token expired or revoked): a person
must authorize again on the Orange Logic page; the failure message has the link. The failure
message of any refresh (the grant gone, or the host down after the retries) says what happened,
since when (the stored pair's renewal and expiry times), what to do and where: attach alerting with
the factory's `on_failure_callback`, which every task calls with that failure as
`context["exception"]`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Param

from airflow_provider_orangelogic.compat import conf
from airflow_provider_orangelogic.core import config
from airflow_provider_orangelogic.dags._common import Callback, dag_arguments
from airflow_provider_orangelogic.operators.orangelogic import OrangeLogicRefreshTokenOperator

DAG_ID = "orangelogic_token_refresh"


def configured_conn_ids() -> list[str]:
    """``[orangelogic] refresh_conn_ids`` as a list (default ``orangelogic_default``)."""
    option = config.REFRESH_CONN_IDS
    return config.split_conn_ids(conf.get(config.SECTION, option.name, fallback=option.default) or "")


def configured_interval() -> timedelta:
    """``[orangelogic] refresh_interval_seconds`` (default 1800)."""
    option = config.REFRESH_INTERVAL_SECONDS
    return timedelta(seconds=conf.getfloat(config.SECTION, option.name, fallback=float(option.default or 1800)))


def token_refresh_dag(
    *,
    dag_id: str = DAG_ID,
    conn_ids: Sequence[str] | None = None,
    interval: timedelta | float | None = None,
    retries: int = 2,
    retry_delay: timedelta | None = None,
    tags: Sequence[str] = ("orangelogic", "oauth"),
    on_failure_callback: Callback | None = None,
    default_args: Mapping[str, Any] | None = None,
    **dag_kwargs: Any,
) -> DAG:
    """The scheduled DAG refreshing each connection's pair when due (always with its *force* param).

    :param conn_ids: The connections to keep fresh, one mapped task each; default
        ``[orangelogic] refresh_conn_ids``.
    :param interval: The schedule, a timedelta or seconds; default ``[orangelogic] refresh_interval_seconds``.
    :param retries: Task retries for transient failures (a grant that is gone fails at once, without retry).
    :param retry_delay: Default: a third of the interval, at most 2 minutes.
    :param on_failure_callback: Called (a callable or notifier, or a list) by each task that fails after its
        last retry, with the failure in ``context["exception"]`` (its message names the connection, since when,
        what to do and the re-authorize link): attach your alerting here, since tokens lapse while this DAG fails.
    :param default_args: Merged over the DAG's own (retries, retry_delay), e.g. for a task-level
        ``on_failure_callback`` or ``on_retry_callback``.
    :param dag_kwargs: Any other ``DAG`` argument (description, doc_md, owner_links, ...).
    """
    conn_ids = configured_conn_ids() if conn_ids is None else [c for c in conn_ids if c]
    if interval is None:
        interval = configured_interval()
    elif not isinstance(interval, timedelta):
        interval = timedelta(seconds=float(interval))
    arguments = dag_arguments(
        base_default_args={
            "retries": retries,
            "retry_delay": retry_delay if retry_delay is not None else min(timedelta(minutes=2), interval / 3),
        },
        default_args=default_args,
        on_failure_callback=on_failure_callback,
        tags=tags,
        extra={
            "description": "Refresh Orange Logic token pairs before they expire.",
            "doc_md": __doc__,
            "schedule": interval,
            "max_active_runs": 1,
            **dag_kwargs,
        },
    )
    with DAG(
        dag_id=dag_id,
        params={
            "force": Param(
                False,
                type="boolean",
                title="Force refresh",
                description="Refresh now even if the access token is still fresh.",
            ),
        },
        **arguments,
    ) as dag:
        OrangeLogicRefreshTokenOperator.partial(
            task_id="refresh_tokens",
            force="{{ params.force }}",
            # Each mapped task shows as "refresh_tokens [<conn id>]" in the UI, not "[0]", "[1]".
            map_index_template="{{ task.orangelogic_conn_id }}",
        ).expand(orangelogic_conn_id=conn_ids)
    return dag
