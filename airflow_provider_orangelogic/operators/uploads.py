"""Upload files from object storage into Orange Logic, thin over OrangeLogicHook.upload."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_orangelogic.compat import AirflowFailException, BaseOperator
from airflow_provider_orangelogic.operators.storage import rendered_integer, storage_path, write_json_lines

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath

    from airflow_provider_orangelogic.api.upload_parts import UploadSource

# api/uploads.py's defaults, spelled out so that parsing a DAG using this operator does not import requests.
DEFAULT_CHUNK_SIZE = 32 * 131072
DEFAULT_MULTIPART_THRESHOLD = 64 * 1024 * 1024
# Per-file results beyond this many go to the report only: XCom is for a summary, not a table.
MAX_RESULTS_IN_XCOM = 1000


class ObjectStorageToOrangeLogicOperator(BaseOperator):
    """Upload files from any ``ObjectStoragePath`` (``file://``, ``s3://``, ``gs://``, ...) into Orange Logic.

    A file smaller than *multipart_threshold* goes through the single-call upload API, a larger one through
    the Multi-Part Upload API: chunks of *chunk_size* bytes read from storage as they are sent (memory stays
    near *concurrency* x *chunk_size*), *concurrency* of them in flight, each with its MD5, a failed one
    retried alone. The progress of a multi-part upload is kept in an Airflow Variable (``resume``), so a
    run that died part-way is resumed by the next run without sending the finished chunks again.

    :param source: What to upload (templated): a file's URL or ``ObjectStoragePath``, a directory (the files
        directly in it, in name order; all below it with *recursive*), or a list of them.
    :param folder_record_id: The folder the new assets go into (templated).
    :param record_id: Upload a new version of this asset instead (templated; one file only).
    :param metadata: Field values for every asset uploaded (templated), e.g. ``{"CoreField.Title": "..."}``;
        fields Orange Logic does not import come back as warnings in the results.
    :param report_path: A JSON Lines report, one line per file (templated; optional).
    :param multipart_threshold: Files of this many bytes or more go through the Multi-Part Upload API
        (default 64 MiB; at most 1.5 GB, the most the single-call API takes).
    :param chunk_size: Bytes per chunk, a multiple of 131072 (default 4 MiB).
    :param concurrency: Chunks (or small files) in flight at most, 1 to 10 (templated).
    :param upload_mode: Orange Logic's ``UploadMode`` (``ProcessInLine`` by default).
    :param resume: Keep multi-part progress in Variables ``orangelogic_upload_<conn_id>_<key>`` and resume from them.
    :param fail_on_error: Fail the task at the end when a file failed (all files are tried first).

    Returns (XCom) ``{"files", "uploaded", "duplicates", "failed", "bytes", "report", "results"}``;
    ``results`` holds each file's ``file, source, method, status, identifier, record_id, duplicate_record_id,
    version, bytes, chunks, chunks_resumed, warnings, error`` (the first 1000; the report has every one).
    """

    template_fields: Sequence[str] = (
        "source",
        "folder_record_id",
        "record_id",
        "metadata",
        "report_path",
        "concurrency",
        "orangelogic_conn_id",
    )
    ui_color = "#f7a35c"

    def __init__(
        self,
        *,
        source: str | ObjectStoragePath | Sequence[str | ObjectStoragePath],
        folder_record_id: str | None = None,
        record_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        report_path: str | ObjectStoragePath | None = None,
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        concurrency: int | str = 4,
        upload_mode: str = "ProcessInLine",
        recursive: bool = False,
        resume: bool = True,
        fail_on_error: bool = True,
        orangelogic_conn_id: str = "orangelogic_default",
        storage_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.folder_record_id = folder_record_id
        self.record_id = record_id
        self.metadata = metadata
        self.report_path = report_path
        self.multipart_threshold = multipart_threshold
        self.chunk_size = chunk_size
        self.concurrency = concurrency
        self.upload_mode = upload_mode
        self.recursive = recursive
        self.resume = resume
        self.fail_on_error = fail_on_error
        self.orangelogic_conn_id = orangelogic_conn_id
        self.storage_conn_id = storage_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook
        from airflow_provider_orangelogic.hooks.upload_checkpoints import VariableCheckpoints

        sources = list(self._sources())
        if not sources:
            raise AirflowFailException(f"Nothing to upload: {self.source!r} holds no file.")
        self.log.info("Uploading %d file(s), %d bytes in all.", len(sources), sum(s.size for s in sources))
        results = OrangeLogicHook(self.orangelogic_conn_id).upload(
            sources,
            folder_record_id=_text_or_none(self.folder_record_id),
            record_id=_text_or_none(self.record_id),
            metadata=self.metadata or None,
            upload_mode=self.upload_mode,
            multipart_threshold=self.multipart_threshold,
            chunk_size=self.chunk_size,
            concurrency=rendered_integer("concurrency", self.concurrency),
            checkpoints=VariableCheckpoints(self.orangelogic_conn_id) if self.resume else None,
        )
        rows = [result.as_dict() for result in results]
        report = None
        if self.report_path:
            destination = storage_path(self.report_path, self.storage_conn_id)
            write_json_lines(destination, rows)
            report = str(destination)
            self.log.info("Wrote the upload report to %s.", report)
        failed = [row for row in rows if row["status"] == "Failed"]
        summary = {
            "files": len(rows),
            "uploaded": sum(row["status"] in ("Success", "AlreadyExists") for row in rows),
            "duplicates": sum(row["status"] == "Duplicate" for row in rows),
            "failed": len(failed),
            "bytes": sum(row["bytes"] for row in rows if row["status"] != "Failed"),
            "report": report,
            "results": rows[:MAX_RESULTS_IN_XCOM],
        }
        self.log.info(
            "Uploaded %d of %d file(s) (%d duplicate(s), %d failed).",
            summary["uploaded"],
            summary["files"],
            summary["duplicates"],
            summary["failed"],
        )
        if failed and self.fail_on_error:
            names = ", ".join(row["file"] for row in failed[:10]) + (" ..." if len(failed) > 10 else "")
            context["ti"].xcom_push(key="upload_summary", value=summary)
            raise AirflowFailException(
                f"{len(failed)} of {len(rows)} file(s) failed to upload ({names}); the others were uploaded. The "
                "first error: " + str(failed[0]["error"]) + " Run the task again to retry them: finished files "
                "are uploaded again unless duplicate detection is on, and multi-part uploads resume."
            )
        return summary

    def _sources(self) -> list[UploadSource]:
        from airflow_provider_orangelogic.api.upload_parts import UploadSource

        given = self.source if isinstance(self.source, (list, tuple)) else [self.source]
        sources = []
        for item in given:
            path = storage_path(item, self.storage_conn_id)
            if path.is_dir():
                files = path.rglob("*") if self.recursive else path.iterdir()
                sources.extend(_source(UploadSource, child) for child in sorted(files, key=str) if child.is_file())
            elif path.is_file():
                sources.append(_source(UploadSource, path))
            else:
                raise AirflowFailException(f"{path} does not exist: check the source path and its connection.")
        return sources


def _source(factory: type[UploadSource], path: ObjectStoragePath) -> UploadSource:
    info = path.fs.info(path.path)
    size = int(info.get("size") or 0)
    # What makes a resume safe: the same object, not only the same name (local mtime; ETag on object stores).
    version = (
        info.get("mtime") or info.get("ETag") or info.get("etag") or info.get("LastModified") or info.get("updated")
    )
    return factory(
        name=path.name,
        size=size,
        open=lambda: path.open("rb"),
        key=f"{path}|{size}|{version}",
        location=str(path),
    )


def _text_or_none(value: Any) -> str | None:
    text = "" if value is None else str(value).strip()
    return text or None
