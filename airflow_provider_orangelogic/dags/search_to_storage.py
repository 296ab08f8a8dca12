"""
### Orange Logic: land a search in object storage

Runs an Orange Logic search with `OrangeLogicSearchToStorageOperator` (several pages in flight,
slowing down when the server answers 429) and writes every matching asset as one JSON object per
line to `<base_path>/orangelogic_search/<run date>.jsonl` (`.jsonl.gz` with *gzip*): one file per
run date. The file is written under a temporary name and renamed at the end, so a failed run never
leaves a half file under the final name; a rerun of the same date replaces it. The path and the
number of assets go to XCom for the next task (e.g. a warehouse load).

*base_path* is any `ObjectStoragePath` URL: `file:///...` works as is; `s3://bucket/prefix` and
`gs://bucket/prefix` need the Amazon or Google provider (and, unless the URL names it as
`s3://conn_id@bucket/prefix`, the factory's `storage_conn_id`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Param

from airflow_provider_orangelogic.compat import daily_data_intervals
from airflow_provider_orangelogic.dags._common import (
    DEFAULT_CONN_ID,
    Callback,
    concurrency_param,
    conn_id_param,
    dag_arguments,
)
from airflow_provider_orangelogic.operators.search_to_storage import OrangeLogicSearchToStorageOperator

DAG_ID = "orangelogic_search_to_storage"
DEFAULT_BASE_PATH = (Path(tempfile.gettempdir()) / "orangelogic").as_uri()
DEFAULT_FIELDS = ("SystemIdentifier", "Title", "MediaType", "CreateDate", "EditDate", "FileSize")
# One file per run date: the logical date when the run has one, else the date it ran (manual runs).
PATH_TEMPLATE = (
    "{{ params.base_path.rstrip('/') }}/orangelogic_search/"
    "{{ (dag_run.logical_date or dag_run.run_after) | ds }}.jsonl{{ '.gz' if params.gzip else '' }}"
)
# Incremental: one file per data interval, named for its start (a rerun or backfill of it replaces it).
INCREMENTAL_PATH_TEMPLATE = (
    "{{ params.base_path.rstrip('/') }}/orangelogic_search/"
    "{{ data_interval_start.strftime('%Y-%m-%dT%H%M%SZ') }}.jsonl{{ '.gz' if params.gzip else '' }}"
)


def search_to_storage_dag(
    *,
    dag_id: str = DAG_ID,
    conn_id: str = DEFAULT_CONN_ID,
    query: str = "*",
    fields: Sequence[str] = DEFAULT_FIELDS,
    page_size: int = 100,
    concurrency: int = 4,
    base_path: str = DEFAULT_BASE_PATH,
    gzip: bool = False,
    storage_conn_id: str | None = None,
    incremental: bool = False,
    date_field: str = "EditDate",
    tags: Sequence[str] = ("orangelogic", "example"),
    on_failure_callback: Callback | None = None,
    default_args: Mapping[str, Any] | None = None,
    **dag_kwargs: Any,
) -> DAG:
    """A search landed as JSON Lines, one file per run date; *conn_id*, *query*, *page_size*,
    *concurrency*, *base_path* and *gzip* params with these defaults (manually triggered unless
    ``schedule=`` is given, e.g. ``"@daily"``).

    :param fields: The asset fields written to each line.
    :param base_path: Where the files go (default: ``orangelogic`` in the system temp dir).
    :param storage_conn_id: The object store's connection, when the URL names none.
    :param incremental: Land only what changed in each run's data interval (by *date_field*), one file
        per interval; scheduled daily on a data-interval timetable (``CronDataIntervalTimetable``, UTC)
        unless ``schedule=`` says otherwise. Consecutive runs and backfills have no gap and no duplicate.
    :param date_field: The date an incremental run filters on (``EditDate``: the last edit).
    :param on_failure_callback: Called (a callable or notifier, or a list) by a task that fails after its
        last retry, with the failure in ``context["exception"]``.
    :param default_args: Merged over the DAG's own (which has none).
    :param dag_kwargs: Any other ``DAG`` argument (schedule, description, doc_md, ...).
    """
    arguments = dag_arguments(
        base_default_args={},
        default_args=default_args,
        on_failure_callback=on_failure_callback,
        tags=tags,
        extra={
            "description": "Land an Orange Logic search in object storage as JSON Lines, one file per run date.",
            "doc_md": __doc__,
            "schedule": daily_data_intervals() if incremental else None,
            "max_active_runs": 1,
            **dag_kwargs,
        },
    )
    with DAG(
        dag_id=dag_id,
        params={
            "conn_id": conn_id_param(
                conn_id,
                "The orangelogic connection to search with (Admin > Connections).",
            ),
            "query": Param(query, type="string", title="Search query", description="An Orange Logic search query."),
            "page_size": Param(
                page_size,
                type="integer",
                minimum=1,
                maximum=1000,
                title="Page size",
                description="Assets per Search API call, 1 to 1000.",
            ),
            "concurrency": concurrency_param(concurrency, "Search pages in flight"),
            "base_path": Param(
                base_path, type="string", minLength=1, description="file:///..., s3://bucket/prefix, gs://..."
            ),
            "gzip": Param(gzip, type="boolean", description="Compress the file (.jsonl.gz)."),
        },
        **arguments,
    ) as dag:
        OrangeLogicSearchToStorageOperator(
            task_id="search_to_storage",
            path=INCREMENTAL_PATH_TEMPLATE if incremental else PATH_TEMPLATE,
            incremental=incremental,
            date_field=date_field,
            query="{{ params.query }}",
            fields=list(fields),
            page_size="{{ params.page_size }}",
            concurrency="{{ params.concurrency }}",
            orangelogic_conn_id="{{ params.conn_id }}",
            storage_conn_id=storage_conn_id,
        )
    return dag
