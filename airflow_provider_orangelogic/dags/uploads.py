"""
### Orange Logic: upload files from object storage

Uploads every file at *source* (a file, or the files in a directory: `file:///...`, `s3://bucket/prefix`,
`gs://...`) into the Orange Logic folder *folder_record_id* with `ObjectStorageToOrangeLogicOperator`.
Small files go in one call each, several at once; large ones (64 MiB and up by default) through the
Multi-Part Upload API, in chunks, resumable: a run that died part-way is resumed by the next run without
sending the finished chunks again (the progress lives in an `orangelogic_upload_...` Variable until the
file is complete). Each file's identifier, record ID, status and version go to XCom and, when
*report_path* is given, to a JSON Lines report. Triggered manually, with the files to upload as params.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import DAG, Param

from airflow_provider_orangelogic.dags._common import (
    DEFAULT_CONN_ID,
    Callback,
    concurrency_param,
    conn_id_param,
    manual_dag_arguments,
)
from airflow_provider_orangelogic.operators.uploads import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MULTIPART_THRESHOLD,
    ObjectStorageToOrangeLogicOperator,
)

DAG_ID = "orangelogic_storage_to_orangelogic"


def storage_to_orangelogic_dag(
    *,
    dag_id: str = DAG_ID,
    conn_id: str = DEFAULT_CONN_ID,
    source: str = "",
    folder_record_id: str = "",
    report_path: str = "",
    concurrency: int = 4,
    multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    storage_conn_id: str | None = None,
    tags: Sequence[str] = ("orangelogic", "example"),
    on_failure_callback: Callback | None = None,
    default_args: Mapping[str, Any] | None = None,
    **dag_kwargs: Any,
) -> DAG:
    """Files in object storage uploaded into an Orange Logic folder; *conn_id*, *source*, *folder_record_id*,
    *report_path* and *concurrency* are params with these defaults (manually triggered unless ``schedule=``).

    :param multipart_threshold: Files of this many bytes or more go through the Multi-Part Upload API.
    :param chunk_size: Bytes per multi-part chunk, a multiple of 131072.
    :param storage_conn_id: The object store's connection, when the URL names none.
    :param on_failure_callback: Called by a task that fails after its last retry (README "Alerts").
    :param default_args: Merged over the DAG's own (which has none).
    :param dag_kwargs: Any other ``DAG`` argument (schedule, description, doc_md, ...).
    """
    arguments = manual_dag_arguments(
        "Upload files from object storage into an Orange Logic folder.",
        __doc__,
        default_args=default_args,
        on_failure_callback=on_failure_callback,
        tags=tags,
        dag_kwargs=dag_kwargs,
    )
    with DAG(
        dag_id=dag_id,
        params={
            "conn_id": conn_id_param(conn_id, "The orangelogic connection to upload with (Admin > Connections)."),
            "source": Param(
                source, type="string", minLength=1, description="A file or directory URL: file:///..., s3://..."
            ),
            "folder_record_id": Param(
                folder_record_id, type="string", minLength=1, description="The RecordID of the Orange Logic folder."
            ),
            "report_path": Param(
                report_path, type="string", description="Optional: a JSON Lines report URL, one line per file."
            ),
            "concurrency": concurrency_param(concurrency, "Chunks or small files in flight"),
        },
        **arguments,
    ) as dag:
        ObjectStorageToOrangeLogicOperator(
            task_id="upload",
            source="{{ params.source }}",
            folder_record_id="{{ params.folder_record_id }}",
            report_path="{{ params.report_path or '' }}",
            concurrency="{{ params.concurrency }}",
            multipart_threshold=multipart_threshold,
            chunk_size=chunk_size,
            orangelogic_conn_id="{{ params.conn_id }}",
            storage_conn_id=storage_conn_id,
        )
    return dag
