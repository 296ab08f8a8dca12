"""Files out of Orange Logic into object storage, thin over OrangeLogicHook.export_files (docs/files-out.md)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any

from airflow_provider_orangelogic.compat import BaseOperator
from airflow_provider_orangelogic.operators.storage import atomic_write, rendered_integer, storage_path

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath

LOOKUP_FIELDS = ("SystemIdentifier", "RecordID", "Title", "MediaType")


class StorageDestination:
    """An ``api.files_out.Destination`` on an ``ObjectStoragePath`` (file://, s3://, gs://, ...).

    Each file is written to a hidden temporary object beside its final name and moved onto it once complete (a
    rename on a local disk, a server-side copy on object stores), as ``write_json_lines`` does (``atomic_write``).
    """

    def __init__(self, base: ObjectStoragePath) -> None:
        self.base = base

    def location(self, name: str) -> str:
        return str(self.base / name)

    def open(self, name: str) -> contextlib.AbstractContextManager[IO[bytes]]:
        return atomic_write(self.base / name)


class OrangeLogicToObjectStorageOperator(BaseOperator):
    """Export the files of Orange Logic assets (a search, or a list of identifiers) to object storage.

    Presigned links are asked for in batches and each file is streamed to ``<path>/<file_name>`` with up to
    ``concurrency`` in flight; a link answered 403/404 is asked for again (it expired, or the format is being
    generated). A manifest (JSON Lines: record ID, identifier, format, path, bytes, checksum, status, error)
    is written at the end. A failed file is recorded and the others go on, unless ``fail_fast``.

    :param path: The destination folder (templated): an ``ObjectStoragePath`` or its URL (``file:///...``,
        ``s3://bucket/prefix``, ``gs://...``).
    :param query: An Orange Logic search whose assets are exported (templated), or
    :param identifiers: record IDs / unique identifiers (templated: a list, or a comma-separated string).
    :param formats: Format codes (templated), e.g. ``["TRX", "TR1"]``.
    :param file_name: The name template of each file (fields identifier, record_id, format, ext, title).
    :param concurrency: Files in flight at most, 1 to 10 (templated).
    :param manifest_path: Where the manifest goes (templated URL); default ``<path>/manifest.jsonl``.
    :param validity: Link validity, seconds or ``1d2h3m`` (default 10 minutes).
    :param fail_fast: Stop at the first failed file.
    :param fail_on_failures: Fail the task (after writing the manifest) if any file failed.
    :param export_options: Any other ``api.files_out.export_files`` keyword (``checksum``, ``batch_size``,
        ``link_attempts``, ``links=LinkEndpoint(...)``).

    Returns (XCom) ``{"files", "failed", "bytes", "assets", "manifest", "destination", "formats",
    "links_requested", "links_renewed", "throttled", "peak_in_flight", "failures"}``; no URL ever.
    """

    template_fields: Sequence[str] = (
        "path",
        "query",
        "identifiers",
        "formats",
        "file_name",
        "concurrency",
        "manifest_path",
        "orangelogic_conn_id",
    )
    ui_color = "#f7a35c"

    def __init__(
        self,
        *,
        path: str | ObjectStoragePath,
        query: str | None = None,
        identifiers: Sequence[str] | str | None = None,
        formats: Sequence[str] | str = ("TRX",),
        file_name: str = "{identifier}_{format}{ext}",
        concurrency: int | str = 4,
        manifest_path: str | ObjectStoragePath | None = None,
        validity: float | str = 600,
        fail_fast: bool = False,
        fail_on_failures: bool = False,
        orangelogic_conn_id: str = "orangelogic_default",
        storage_conn_id: str | None = None,
        export_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if query is None and identifiers is None:
            raise ValueError("give query or identifiers (identifiers win when both render to something)")
        self.path = path
        self.query = query
        self.identifiers = identifiers
        self.formats = formats
        self.file_name = file_name
        self.concurrency = concurrency
        self.manifest_path = manifest_path
        self.validity = validity
        self.fail_fast = fail_fast
        self.fail_on_failures = fail_on_failures
        self.orangelogic_conn_id = orangelogic_conn_id
        self.storage_conn_id = storage_conn_id
        self.export_options = dict(export_options or {})

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook

        base = storage_path(self.path, self.storage_conn_id)
        manifest = storage_path(self.manifest_path, self.storage_conn_id) if self.manifest_path else None
        hook = OrangeLogicHook(self.orangelogic_conn_id)
        formats = _names(self.formats, "formats")
        concurrency = rendered_integer("concurrency", self.concurrency)
        identifiers = _names(self.identifiers, "identifiers", required=False)
        if identifiers:
            targets: Any = identifiers
            self.log.info("Exporting %s of %d asset(s) to %s.", ", ".join(formats), len(targets), base)
        elif self.query and str(self.query).strip():
            targets = hook.search(str(self.query).strip(), fields=LOOKUP_FIELDS, page_size=100)
            self.log.info("Exporting %s of the assets matching %r to %s.", ", ".join(formats), self.query, base)
        else:
            raise ValueError("query and identifiers are both empty: nothing to export")
        summary = hook.export_files(
            targets,
            destination=StorageDestination(base),
            formats=formats,
            file_name=self.file_name,
            concurrency=concurrency,
            validity=float(self.validity) if str(self.validity).replace(".", "", 1).isdigit() else str(self.validity),
            manifest=manifest.name if manifest else "manifest.jsonl",
            manifest_destination=StorageDestination(manifest.parent) if manifest else None,
            fail_fast=self.fail_fast,
            **self.export_options,
        )
        summary.update(destination=str(base), formats=formats)
        self.log.info(
            "%d file(s) (%d bytes) exported, %d failed; manifest %s.",
            summary["files"],
            summary["bytes"],
            summary["failed"],
            summary["manifest"],
        )
        if self.fail_on_failures and summary["failed"]:
            from airflow_provider_orangelogic.compat import AirflowFailException

            raise AirflowFailException(
                f"{summary['failed']} file(s) failed to export (fail_on_failures); see {summary['manifest']}"
            )
        return summary


def _names(value: Any, what: str, *, required: bool = True) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    names = [str(name).strip() for name in (value or []) if str(name).strip()]
    if not names and required:
        raise ValueError(f"{what} must name at least one value")
    return names
