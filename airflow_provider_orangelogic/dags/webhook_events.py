"""Event-driven DAGs on Orange Logic changes (docs/webhooks.md).

``webhook_events_dag()`` is scheduled on ``orangelogic_asset(conn_id, event)``: it runs when the webhook
endpoint (``/orangelogic/webhooks/<conn_id>``) or the polling fallback records an event on that asset, reads
each triggering event's extra (``event_id``, ``event_type``, ``identifier``, ``record_id``, ``time``,
``source``) and fetches the asset's metadata through ``OrangeLogicHook.search`` on its SystemIdentifier.
Several events recorded before the run starts arrive together in one run.

``webhook_polling_dag()`` is the fallback for instances without webhooks: every ``interval`` it searches for
assets whose EditDate lies in the run's data interval (half-open, ``api/windows.py``) and records one event
per asset on the same assets with the same extra (event ID ``poll:<identifier>@<EditDate>``), through an
asset alias, so the DAGs scheduled on them do not care which source fired.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, AssetAlias, task

from airflow_provider_orangelogic.api.webhooks import CREATED, DELETED
from airflow_provider_orangelogic.assets import orangelogic_asset
from airflow_provider_orangelogic.dags._common import DEFAULT_CONN_ID, Callback, dag_arguments

METADATA_FIELDS = ("SystemIdentifier", "RecordID", "Title", "MediaType", "CreateDate", "EditDate")


def triggering_extras(context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The extra of every asset event that triggered this run, oldest first, as plain dicts."""
    events = context.get("triggering_asset_events") or {}
    extras = []
    for key in events:
        for event in events[key]:
            extras.append((str(getattr(event, "timestamp", "")), dict(getattr(event, "extra", None) or {})))
    return [extra for _, extra in sorted(extras, key=lambda pair: pair[0])]


def webhook_events_dag(
    *,
    conn_id: str = DEFAULT_CONN_ID,
    event: str = CREATED,
    dag_id: str | None = None,
    fields: Sequence[str] = METADATA_FIELDS,
    retries: int = 2,
    retry_delay: timedelta = timedelta(minutes=1),
    tags: Sequence[str] = ("orangelogic", "example", "webhooks"),
    on_failure_callback: Callback | None = None,
    default_args: Mapping[str, Any] | None = None,
    **dag_kwargs: Any,
) -> DAG:
    """A DAG run per batch of ``event`` changes of *conn_id*'s assets; its task returns what it fetched.

    The task's XCom: ``[{"extra": <the event's extra>, "metadata": <the asset's Search fields, or None>}]``
    (None for a deletion, or when the asset is no longer found).

    :param event: ``created``, ``edited`` or ``deleted``.
    :param fields: The Search fields fetched for each asset.
    :param dag_kwargs: Any other ``DAG`` argument (description, max_active_runs, ...).
    """
    asset = orangelogic_asset(conn_id, event)
    arguments = dag_arguments(
        base_default_args={"retries": retries, "retry_delay": retry_delay},
        default_args=default_args,
        on_failure_callback=on_failure_callback,
        tags=tags,
        extra={
            "description": f"Runs when Orange Logic reports {event} assets of {conn_id} ({asset.uri}).",
            "doc_md": __doc__,
            "schedule": [asset],
            **dag_kwargs,
        },
    )
    wanted = list(fields)

    with DAG(dag_id=dag_id or f"orangelogic_{event}_{conn_id}", **arguments) as dag:

        @task(task_id="fetch_metadata")
        def fetch_metadata(**context: Any) -> list[dict[str, Any]]:
            from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook

            hook = OrangeLogicHook(conn_id)
            fetched = []
            for extra in triggering_extras(context):
                metadata = None
                identifier = extra.get("identifier")
                if identifier and extra.get("event_type") and event != DELETED:
                    found = hook.search(f"SystemIdentifier:{identifier}", fields=wanted, page_size=1, max_pages=1)
                    metadata = next(iter(found), None)
                fetched.append({"extra": extra, "metadata": metadata})
            return fetched

        fetch_metadata()
    return dag


def _data_intervals(interval: timedelta) -> Any:
    # A bare timedelta gives Airflow 3 runs a single point in time (no window to search).
    try:
        from airflow.sdk import DeltaDataIntervalTimetable
    except ImportError:  # pragma: no cover - older Task SDKs
        from airflow.timetables.interval import DeltaDataIntervalTimetable  # type: ignore[no-redef]
    return DeltaDataIntervalTimetable(interval)


def polling_alias(conn_id: str) -> AssetAlias:
    """The alias the polling DAG records its events through (one event per changed asset)."""
    return AssetAlias(name=f"orangelogic_{conn_id}_polled", group="orangelogic")


def webhook_polling_dag(
    *,
    conn_id: str = DEFAULT_CONN_ID,
    query: str = "*",
    interval: timedelta = timedelta(minutes=5),
    date_field: str = "EditDate",
    dag_id: str | None = None,
    retries: int = 2,
    retry_delay: timedelta = timedelta(minutes=1),
    tags: Sequence[str] = ("orangelogic", "webhooks"),
    on_failure_callback: Callback | None = None,
    default_args: Mapping[str, Any] | None = None,
    **dag_kwargs: Any,
) -> DAG:
    """Every ``interval``: the assets edited in the data interval become events on ``orangelogic_asset``.

    An asset created in the interval (CreateDate equal to its EditDate) is a ``created`` event, any other an
    ``edited`` one (polling cannot see deletions). The events are recorded when the task succeeds: a retried
    task records them once. The task's XCom: ``{"created": n, "edited": n}``.

    :param query: Narrows the search (``*``: every asset).
    :param interval: The data interval, and so how late a change is seen at most (plus the run's own time).
    """
    alias = polling_alias(conn_id)
    arguments = dag_arguments(
        base_default_args={"retries": retries, "retry_delay": retry_delay},
        default_args=default_args,
        on_failure_callback=on_failure_callback,
        tags=tags,
        extra={
            "description": f"Polls Orange Logic ({conn_id}) for edited assets and records them as asset events.",
            "doc_md": __doc__,
            "schedule": _data_intervals(interval),
            "max_active_runs": 1,
            **dag_kwargs,
        },
    )

    with DAG(dag_id=dag_id or f"orangelogic_poll_{conn_id}", **arguments) as dag:

        @task(task_id="record_changes", outlets=[alias])
        def record_changes(**context: Any) -> dict[str, int]:
            from airflow_provider_orangelogic.api.webhooks import polled_event
            from airflow_provider_orangelogic.api.windows import ModifiedWindow
            from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook

            window = ModifiedWindow(context["data_interval_start"], context["data_interval_end"], date_field)
            fields = ["SystemIdentifier", "RecordID", "CreateDate", date_field]
            counts = {"created": 0, "edited": 0}
            seen: set[str] = set()
            for item in OrangeLogicHook(conn_id).search(query, fields=fields, modified=window):
                change = polled_event(item, date_field)
                if change is None or change.event_id in seen:
                    continue
                seen.add(change.event_id)
                context["outlet_events"][alias].add(orangelogic_asset(conn_id, change.kind), extra=change.extra())
                counts[change.kind] += 1
            return counts

        record_changes()
    return dag
