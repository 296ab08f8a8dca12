"""
### Orange Logic: export files to object storage

Exports the files of Orange Logic assets (a search, or a list of identifiers) in the chosen formats (`TRX`
original, `TR1` medium, `TR4`/`TR7` thumbnails) with `OrangeLogicToObjectStorageOperator`: presigned links
in batch, each file streamed to `<base_path>/orangelogic_files/<run date>/` with several in flight, links
asked for again when they expire or a format is still being generated, and a `manifest.jsonl` beside the
files (record ID, identifier, format, path, bytes, sha256, status, error). A failed file is recorded in the
manifest and the others go on. The counts and the manifest's path go to XCom; presigned URLs never do.

*base_path* is any `ObjectStoragePath` URL: `file:///...` as is; `s3://` and `gs://` need the Amazon or
Google provider (and the factory's `storage_conn_id` unless the URL names one).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Param

from airflow_provider_orangelogic.dags._common import (
    DEFAULT_CONN_ID,
    Callback,
    concurrency_param,
    conn_id_param,
    manual_dag_arguments,
)
from airflow_provider_orangelogic.operators.files_out import OrangeLogicToObjectStorageOperator

DAG_ID = "orangelogic_to_storage"
DEFAULT_BASE_PATH = (Path(tempfile.gettempdir()) / "orangelogic").as_uri()
# One folder per run date: the logical date when the run has one, else the date it ran (manual runs).
FOLDER_TEMPLATE = (
    "{{ params.base_path.rstrip('/') }}/orangelogic_files/{{ (dag_run.logical_date or dag_run.run_after) | ds }}"
)


def orangelogic_to_storage_dag(
    *,
    dag_id: str = DAG_ID,
    conn_id: str = DEFAULT_CONN_ID,
    query: str = "MediaType:Image",
    identifiers: Sequence[str] = (),
    formats: Sequence[str] = ("TRX",),
    file_name: str = "{identifier}_{format}{ext}",
    concurrency: int = 4,
    base_path: str = DEFAULT_BASE_PATH,
    storage_conn_id: str | None = None,
    fail_on_failures: bool = False,
    tags: Sequence[str] = ("orangelogic", "example"),
    on_failure_callback: Callback | None = None,
    default_args: Mapping[str, Any] | None = None,
    export_options: Mapping[str, Any] | None = None,
    **dag_kwargs: Any,
) -> DAG:
    """Files of a search (or of *identifiers*, when given: they win over *query*) exported to object storage;
    *conn_id*, *query*, *identifiers*, *formats*, *concurrency* and *base_path* params with these defaults
    (manually triggered unless ``schedule=`` is given).

    :param file_name: The name template of each file (identifier, record_id, format, ext, title).
    :param storage_conn_id: The object store's connection, when the URL names none.
    :param fail_on_failures: Fail the task (after the manifest) when any file failed.
    :param export_options: Other ``export_files`` keywords (checksum, batch_size, link_attempts, links).
    :param dag_kwargs: Any other ``DAG`` argument (schedule, description, doc_md, ...).
    """
    arguments = manual_dag_arguments(
        "Export Orange Logic files (originals, renditions) to object storage, with a manifest.",
        __doc__,
        default_args=default_args,
        on_failure_callback=on_failure_callback,
        tags=tags,
        dag_kwargs=dag_kwargs,
    )
    with DAG(
        dag_id=dag_id,
        params={
            "conn_id": conn_id_param(conn_id, "The orangelogic connection to export with (Admin > Connections)."),
            "query": Param(query, type="string", title="Search query", description="Assets whose files to export."),
            "identifiers": Param(
                list(identifiers),
                type="array",
                items={"type": "string"},
                description="Record IDs or identifiers instead of the query (used when not empty).",
            ),
            "formats": Param(
                list(formats),
                type="array",
                items={"type": "string"},
                minItems=1,
                description="Format codes: TRX (original), TR1, TR4, TR7, ...",
            ),
            "concurrency": concurrency_param(concurrency, "Files in flight"),
            "base_path": Param(
                base_path, type="string", minLength=1, description="file:///..., s3://bucket/prefix, gs://..."
            ),
        },
        **arguments,
    ) as dag:
        OrangeLogicToObjectStorageOperator(
            task_id="export_files",
            path=FOLDER_TEMPLATE,
            # Identifiers when given, else the query: the operator takes one of the two.
            identifiers="{{ params.identifiers | join(',') if params.identifiers else '' }}",
            query="{{ '' if params.identifiers else params.query }}",
            formats="{{ params.formats | join(',') }}",
            file_name=file_name,
            concurrency="{{ params.concurrency }}",
            orangelogic_conn_id="{{ params.conn_id }}",
            storage_conn_id=storage_conn_id,
            fail_on_failures=fail_on_failures,
            export_options=dict(export_options or {}),
        )
    return dag
