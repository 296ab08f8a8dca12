"""Uploading files into Orange Logic: one call for a small file, the Multi-Part Upload API for a large one.

A file below ``multipart_threshold`` goes through the single-call upload API (a new asset in a folder,
or a new version of an asset), streamed from its source as multipart/form-data. A larger one goes
through the Multi-Part Upload API's five steps: create a transaction, register the asset, split the
file into chunks on the 131072-byte boundaries, upload the chunks (several in flight, each with its
MD5, a failed one retried alone, 429/503 lowering the pace as in search), complete.

Memory stays bounded by ``concurrency`` x ``chunk_size``: a chunk is read from the source only when
it is about to be sent. With a :class:`~.upload_parts.CheckpointStore`, a multi-part upload records
its transaction, its upload item and each chunk that arrived; a later run with the same source (same
``key``) resumes it and sends only the chunks not recorded. Orange Logic's answers to ``complete``
are handled as the reference describes: ``Incomplete`` (chunks missing: after a resume, every chunk is
sent again once, then it is an error), ``AlreadyExists`` (completed before, e.g. by a run that died
before it could record it: reported as such, not as a failure).

Every path is in :class:`UploadEndpoints` (the reference's spellings are partly uncertain); the
answers are read by field names in any letter case, at the top level or under ``APIResponse``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from airflow_provider_orangelogic.api.answers import field, integer_value, message_lines, text_value
from airflow_provider_orangelogic.api.multipart import MultipartUpload
from airflow_provider_orangelogic.api.upload_parts import (
    CheckpointStore,
    MultipartBody,
    UploadSource,
    content_type,
    new_boundary,
)
from airflow_provider_orangelogic.api.upload_types import (  # noqa: F401 - the upload API, importable from here
    ALREADY_EXISTS,
    CHECKPOINT_VERSION,
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MULTIPART_THRESHOLD,
    DUPLICATE,
    FAILED,
    MAX_CONCURRENCY,
    MAX_SINGLE_CALL_BYTES,
    SUCCESS,
    UPLOAD_MODES,
    UploadEndpoints,
    UploadError,
    UploadOptions,
    UploadResult,
    checkpoint_key,
    read_answer,
    upload_method,
)
from airflow_provider_orangelogic.core.errors import OrangeLogicAPIError

log = logging.getLogger(__name__)


def upload_files(
    request: Callable[..., requests.Response],
    sources: Iterable[UploadSource],
    *,
    checkpoints: CheckpointStore | None = None,
    fail_fast: bool = False,
    on_result: Callable[[UploadResult], None] | None = None,
    **options: Any,
) -> list[UploadResult]:
    """Upload each source; returns one :class:`UploadResult` per source, in order.

    ``options`` are :class:`UploadOptions`' fields. A file that fails is recorded as ``Failed`` with
    the reason and the others go on, unless ``fail_fast`` (then its :class:`UploadError` is raised).
    Errors meaning "a person must act" (re-authorize, fix the connection) always stop the run.
    ``on_result`` hears of each file as it is done (e.g. to write a report line).
    """
    settings = UploadOptions(**options)
    uploader = _Uploader(request, settings, checkpoints)
    sources = list(sources)

    def upload_one(source: UploadSource) -> UploadResult:
        try:
            return uploader.upload(source)
        except UploadError as err:
            if fail_fast:
                raise
            log.error("%s", err)
            return UploadResult(source.name, source.location, upload_method(settings, source), error=str(err))

    # Small files go several at once (each is one call); a large one is uploaded alone, its chunks in parallel.
    results: dict[int, UploadResult] = {}
    small = [index for index, source in enumerate(sources) if upload_method(settings, source) == "single"]
    executor = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="orangelogic-upload-file")
    try:
        for index, result in zip(small, executor.map(upload_one, [sources[i] for i in small]), strict=True):
            results[index] = result
            if on_result is not None:
                on_result(result)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    for index, source in enumerate(sources):
        if index not in results:
            results[index] = result = upload_one(source)
            if on_result is not None:
                on_result(result)
    return [results[index] for index in range(len(sources))]


class _Uploader:
    def __init__(
        self, request: Callable[..., requests.Response], options: UploadOptions, checkpoints: CheckpointStore | None
    ) -> None:
        self.request = request
        self.options = options
        self.checkpoints = checkpoints

    def upload(self, source: UploadSource) -> UploadResult:
        method = upload_method(self.options, source)
        if method == "single" and source.size > MAX_SINGLE_CALL_BYTES:
            raise UploadError(
                f"{source.location or source.name} is {source.size} bytes: a new version must go through the "
                "single-call API, which takes files under about 1.5 GB. Upload it as a new asset instead."
            )
        result = UploadResult(source.name, source.location, method, bytes=source.size)
        try:
            if method == "single":
                self._single_call(source, result)
            else:
                MultipartUpload(self.request, self.options, self.checkpoints, source, result).run()
        except OrangeLogicAPIError as err:
            raise UploadError(f"Uploading {source.location or source.name} failed: {err}") from err
        log.info(
            "Uploaded %s (%d bytes, %s): %s, identifier %s, record %s%s.",
            source.location or source.name,
            source.size,
            method,
            result.status,
            result.identifier,
            result.record_id,
            f", duplicate of record {result.duplicate_record_id}" if result.duplicate_record_id else "",
        )
        for warning in result.warnings:
            log.warning("%s: %s", source.name, warning)
        return result

    # ---- one call ----

    def _single_call(self, source: UploadSource, result: UploadResult) -> None:
        options = self.options
        target = {"RecordID": options.record_id} if options.record_id else {"FolderRecordID": options.folder_record_id}
        path = options.endpoints.new_version if options.record_id else options.endpoints.new_media
        fields = {"Metadata": json.dumps(dict(options.metadata))} if options.metadata else {}
        params = {**target, "FileName": source.name, "Format": "json", "UploadMode": options.upload_mode}
        boundary = new_boundary()

        def body() -> MultipartBody:
            return MultipartBody(
                fields, options.endpoints.file_field, source.name, open_file=source.open, size=source.size,
                boundary=boundary,
            )  # fmt: skip

        headers = {"Content-Type": content_type(boundary)}
        response = self.request("POST", path, params=params, body_factory=body, headers=headers)
        answer = read_answer(response, path)
        result.duplicate_record_id = text_value(field(answer, "DuplicateRecordID"))
        result.record_id = text_value(field(answer, "RecordID", "DO_RecordID")) or result.duplicate_record_id
        result.identifier = text_value(field(answer, "Identifier", "SystemIdentifier", "FileIdentifier"))
        result.version = integer_value(field(answer, "Version", "AssetVersion"))
        result.warnings = message_lines(field(answer, "ImportMessages", "Import Messages", "WarningMessage"))
        if result.record_id is None:
            raise UploadError(f"{path} answered without a RecordID for {source.name}: the upload cannot be confirmed.")
        result.status = DUPLICATE if result.duplicate_record_id else SUCCESS
