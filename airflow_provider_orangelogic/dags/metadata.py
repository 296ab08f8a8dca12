"""
### Orange Logic: update metadata from rows

Writes field values onto assets with `OrangeLogicUpdateMetadataOperator` over the DataTable API v2.2:
one row per asset, read from a JSON Lines or CSV object (*source*: `file:///...`, `s3://...`, `gs://...`)
or given inline as a JSON list (*rows*). A row names its asset (`RecordID`, `CoreField.Identifier` /
`SystemIdentifier`, ...) and the fields to write, each with its operator (`:=` set, `+=` add existing tags,
`++=` add and create, `-=` remove); see docs/metadata.md.

Every row runs; a row that fails (read-only or unknown field, unknown tag, asset not found) is reported by
row number, key and field, and the task fails at the end if any did (unless *fail_on_error* is off). With
*dry_run* nothing is sent: the calls are logged and returned. The summary goes to XCom; a JSON Lines report
of every row is written next to the source (`<source>.report.jsonl`) unless *report_path* says otherwise.
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
from airflow_provider_orangelogic.operators.metadata import OrangeLogicUpdateMetadataOperator

DAG_ID = "orangelogic_update_metadata"
# The report: the given path, else next to the source (none for inline rows).
REPORT_TEMPLATE = "{{ params.report_path or ((params.source ~ '.report.jsonl') if params.source else '') }}"


def update_metadata_dag(
    *,
    dag_id: str = DAG_ID,
    conn_id: str = DEFAULT_CONN_ID,
    source: str = "",
    document_type: str = "All",
    subtype: str = "Default",
    action: str = "Update",
    concurrency: int = 4,
    verify: bool = False,
    fail_on_error: bool = True,
    storage_conn_id: str | None = None,
    options: Mapping[str, Any] | None = None,
    tags: Sequence[str] = ("orangelogic", "example"),
    on_failure_callback: Callback | None = None,
    default_args: Mapping[str, Any] | None = None,
    **dag_kwargs: Any,
) -> DAG:
    """One metadata update per run (manually triggered unless ``schedule=`` is given); params *conn_id*,
    *source*, *rows*, *action*, *concurrency*, *dry_run*, *fail_fast* and *report_path*.

    :param source: The default rows object (a JSON Lines or CSV URL); a run may name another, or give *rows*.
    :param document_type: ``All`` (any media type; needs the security function that bypasses permissions) or
        ``Image``, ``Video``, ...; with *subtype* (``Default`` or a custom subtype's API name).
    :param verify: Read each asset back after writing it (twice the calls; catches silently ignored fields).
    :param fail_on_error: Fail the task (after every row ran) when a row failed.
    :param storage_conn_id: The object store's connection, when the URLs name none.
    :param options: Other ``update_metadata`` keywords (remove_operator, read_only_fields, known_fields, ...).
    :param on_failure_callback: Called by a task that fails after its last retry.
    :param default_args: Merged over the DAG's own (which has none).
    :param dag_kwargs: Any other ``DAG`` argument (schedule, description, doc_md, ...).
    """
    arguments = manual_dag_arguments(
        "Write metadata rows (JSON Lines, CSV or inline) onto Orange Logic assets.",
        __doc__,
        default_args=default_args,
        on_failure_callback=on_failure_callback,
        tags=tags,
        dag_kwargs={"render_template_as_native_obj": True, **dag_kwargs},
    )
    with DAG(
        dag_id=dag_id,
        params={
            "conn_id": conn_id_param(conn_id, "The orangelogic connection to write with (Admin > Connections)."),
            "source": Param(
                source,
                type="string",
                title="Rows object",
                description="A JSON Lines (.jsonl) or CSV (.csv) URL: file:///..., s3://..., gs://... Empty: use rows.",
            ),
            "rows": Param(
                [], type="array", title="Inline rows", description="Rows as a JSON list (when source is empty)."
            ),
            "action": Param(action, type="string", enum=["Update", "CreateOrUpdate"], description="DataTable action."),
            "concurrency": concurrency_param(concurrency, "Rows in flight"),
            "dry_run": Param(False, type="boolean", description="Log the calls without sending them."),
            "fail_fast": Param(False, type="boolean", description="Stop at the first failed row."),
            "report_path": Param(
                "", type="string", description="Where the per-row JSON Lines report goes (default: next to source)."
            ),
        },
        **arguments,
    ) as dag:
        OrangeLogicUpdateMetadataOperator(
            task_id="update_metadata",
            rows="{{ params.rows if not params.source else None }}",
            source="{{ params.source or None }}",
            report_path=REPORT_TEMPLATE,
            document_type=document_type,
            subtype=subtype,
            action="{{ params.action }}",
            concurrency="{{ params.concurrency }}",
            dry_run="{{ params.dry_run }}",
            fail_fast="{{ params.fail_fast }}",
            fail_on_error=fail_on_error,
            verify=verify,
            orangelogic_conn_id="{{ params.conn_id }}",
            storage_conn_id=storage_conn_id,
            options=dict(options or {}),
        )
    return dag
