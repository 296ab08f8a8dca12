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

A task fails without retrying when its grant is gone (refresh token expired or revoked): a person
must authorize again and run `orangelogic_token_exchange`; the failure message has the URL.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, conf

from airflow_provider_orangelogic.operators.orangelogic import OrangeLogicRefreshTokenOperator

REFRESH_CONN_IDS = [
    conn_id.strip()
    for conn_id in conf.get("orangelogic", "refresh_conn_ids", fallback="orangelogic_default").split(",")
    if conn_id.strip()
]
REFRESH_INTERVAL = timedelta(seconds=conf.getfloat("orangelogic", "refresh_interval_seconds", fallback=1800))

with DAG(
    dag_id="orangelogic_token_refresh",
    description="Refresh Orange Logic token pairs before they expire.",
    doc_md=__doc__,
    schedule=REFRESH_INTERVAL,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["orangelogic", "oauth"],
    default_args={
        "retries": 2,
        "retry_delay": min(timedelta(minutes=2), REFRESH_INTERVAL / 3),
    },
) as dag:
    OrangeLogicRefreshTokenOperator.partial(task_id="refresh_tokens").expand(orangelogic_conn_id=REFRESH_CONN_IDS)
