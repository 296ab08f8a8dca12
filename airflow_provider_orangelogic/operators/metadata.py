"""Write metadata rows onto Orange Logic assets, thin over OrangeLogicHook.update_metadata (docs/metadata.md)."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_orangelogic.compat import BaseOperator
from airflow_provider_orangelogic.operators.storage import rendered_integer, storage_path, write_json_lines

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath

FORMATS = ("jsonl", "csv")


class OrangeLogicUpdateMetadataOperator(BaseOperator):
    """Write field values onto assets through the DataTable API, one row per asset.

    Rows come either from ``rows`` (a list, e.g. pulled from XCom with a template such as
    ``"{{ ti.xcom_pull('build_rows') }}"`` and ``render_template_as_native_obj=True``) or from ``source``,
    a JSON Lines or CSV object (an ``ObjectStoragePath`` or its URL: ``file://``, ``s3://``, ``gs://``).
    Row shapes, operators and the asset key are those of ``api/metadata.py``. Every row runs, and the task
    fails at the end, once all rows have run, if any row failed (``fail_on_error=False`` lets it succeed and
    leaves the failures to XCom); ``fail_fast`` stops at the first failed row instead.

    :param rows: The rows (templated); give this or ``source``.
    :param source: A JSON Lines (``.jsonl``/``.json``) or CSV (``.csv``) object (templated).
    :param source_format: ``jsonl`` or ``csv``; default: from the name's extension.
    :param report_path: Where to write one JSON line per row's result (templated; optional), atomically.
    :param document_type: ``All`` (needs the security function that bypasses permissions), ``Image``, ...
    :param subtype: ``Default`` or a custom subtype's API name.
    :param action: ``Update`` or ``CreateOrUpdate`` (templated).
    :param method: ``post`` (form data, default), ``get`` or ``auto``.
    :param concurrency: Rows in flight at most, 1 to 10 (templated).
    :param dry_run: Log and return the calls without sending anything (templated).
    :param fail_fast: Stop at the first failed row (templated).
    :param fail_on_error: Fail the task at the end when a row failed (default True).
    :param verify: Read each asset back and fail a row whose value did not land.
    :param options: Any other ``update_metadata`` keyword (remove_operator, read_only_fields, known_fields,
        skip_blank, success_codes, ...).

    Returns (XCom) the summary: ``{"total", "ok", "failed", "skipped", "dry_run", "action", "document_type",
    "requests", "throttled", "failures": [{"row", "key", "field", "error"}], "failures_not_listed", "source",
    "report"}``; in a dry run also ``"calls"`` (the first 100). No token or secret ever appears in it. When the
    task fails because rows failed, the same summary is pushed under the XCom key ``summary``.
    """

    template_fields: Sequence[str] = (
        "rows",
        "source",
        "report_path",
        "action",
        "concurrency",
        "dry_run",
        "fail_fast",
        "orangelogic_conn_id",
    )
    ui_color = "#f7a35c"

    def __init__(
        self,
        *,
        rows: Any = None,
        source: str | ObjectStoragePath | None = None,
        source_format: str | None = None,
        report_path: str | ObjectStoragePath | None = None,
        document_type: str = "All",
        subtype: str = "Default",
        action: str = "Update",
        method: str = "post",
        concurrency: int | str = 4,
        dry_run: bool | str = False,
        fail_fast: bool | str = False,
        fail_on_error: bool = True,
        verify: bool = False,
        orangelogic_conn_id: str = "orangelogic_default",
        storage_conn_id: str | None = None,
        options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.rows = rows
        self.source = source
        self.source_format = source_format
        self.report_path = report_path
        self.document_type = document_type
        self.subtype = subtype
        self.action = action
        self.method = method
        self.concurrency = concurrency
        self.dry_run = dry_run
        self.fail_fast = fail_fast
        self.fail_on_error = fail_on_error
        self.verify = verify
        self.orangelogic_conn_id = orangelogic_conn_id
        self.storage_conn_id = storage_conn_id
        self.options = dict(options or {})

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook

        rows, where = self._rows()
        result = OrangeLogicHook(self.orangelogic_conn_id).update_metadata(
            rows,
            document_type=self.document_type,
            subtype=self.subtype,
            action=str(self.action).strip(),
            method=self.method,
            concurrency=rendered_integer("concurrency", self.concurrency),
            dry_run=_flag("dry_run", self.dry_run),
            fail_fast=_flag("fail_fast", self.fail_fast),
            verify=self.verify,
            **self.options,
        )
        summary = {**result.summary(), "source": where, "report": None}
        if result.dry_run:
            summary["calls"] = [r.call.as_dict() for r in result.rows if r.call is not None][:100]
        if _present(self.report_path):
            report = storage_path(self.report_path, self.storage_conn_id)
            write_json_lines(report, (r.as_dict() for r in result.rows))
            summary["report"] = str(report)
            self.log.info("Wrote the result of every row to %s.", report)
        failed = summary["failed"]
        self.log.info(
            "Metadata update from %s: %d row(s), %d ok, %d failed, %d skipped%s.",
            where,
            summary["total"],
            summary["ok"],
            failed,
            summary["skipped"],
            " (dry run: nothing was sent)" if result.dry_run else "",
        )
        if failed and self.fail_on_error:
            from airflow.exceptions import AirflowException

            listed = "; ".join(f"row {f['row']} ({f['key']}): {f['error']}" for f in summary["failures"][:10])
            # The summary still reaches XCom (key "summary") for a person or a later task to see every failed row.
            context["ti"].xcom_push(key="summary", value=summary)
            raise AirflowException(
                f"{failed} of {summary['total']} metadata row(s) failed (every other row ran: "
                f"{summary['ok']} ok); the failures are in XCom and the report. First: {listed}"
            )
        if failed:
            self.log.warning("%d row(s) failed; fail_on_error=False, so the task succeeds.", failed)
        return summary

    def _rows(self) -> tuple[Any, str]:
        """The rows and where they came from; exactly one of ``rows`` and ``source``."""
        if _present(self.rows) == _present(self.source):
            raise ValueError("give exactly one of rows (a list, e.g. from XCom) and source (a JSON Lines or CSV URL)")
        if _present(self.rows):
            rows = self.rows
            if isinstance(rows, str):
                import json

                try:
                    rows = json.loads(rows)  # a template rendered to text
                except ValueError:
                    raise ValueError("rows is text that is not a JSON list of rows") from None
            if not isinstance(rows, list):
                raise ValueError(f"rows must be a list of rows, not {type(rows).__name__}")
            return rows, "rows"
        path = storage_path(self.source, self.storage_conn_id)
        kind = self.source_format or _format_of(path.name)
        if kind not in FORMATS:
            raise ValueError(f"source_format must be one of {FORMATS} (or a .jsonl/.csv name), not {kind!r}")
        if not path.exists():
            raise FileNotFoundError(f"The rows object {path} does not exist: check source (and storage_conn_id).")
        return _read(path, kind), str(path)


def _read(path: ObjectStoragePath, kind: str) -> Iterator[Any]:
    """Rows streamed from the object, line by line (never the whole file in memory)."""
    from airflow_provider_orangelogic.api.metadata import rows_from_csv, rows_from_json_lines

    with path.open("rb") as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
        yield from rows_from_csv(text) if kind == "csv" else rows_from_json_lines(text)


def _format_of(name: str) -> str:
    lower = name.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    return ""


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _flag(name: str, value: Any) -> bool:
    """A bool from a bool or the text a template renders it to ("True", "false")."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", "", "none"):
        return False
    raise ValueError(f"{name} must be true or false, not {value!r}")
