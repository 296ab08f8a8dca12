"""DAGs of the webhook suite (tests/webhooks): an airflow DAG file built from the provider's factories."""

from datetime import datetime, timedelta, timezone

from airflow_provider_orangelogic.dags import webhook_events_dag, webhook_polling_dag

CONN_ID = "ol_webhooks"

# Unpaused by the suite: one run per batch of "created" events, fetching each asset's metadata.
created = webhook_events_dag(conn_id=CONN_ID, event="created", dag_id="ol_webhook_created", retries=0)
# Left paused: its asset takes the 1,000-event burst, which is counted on the asset, not in runs.
edited = webhook_events_dag(conn_id=CONN_ID, event="edited", dag_id="ol_webhook_edited", retries=0)
# Triggered by the suite with a logical date inside the stand-in's catalogue (2020 on), hence the start date.
poll = webhook_polling_dag(
    conn_id=CONN_ID,
    dag_id="ol_webhook_poll",
    interval=timedelta(hours=6),
    retries=0,
    start_date=datetime(2019, 1, 1, tzinfo=timezone.utc),
)
