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

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from typing import IO, Any

import requests

from airflow_provider_orangelogic.api.pacing import PacedCalls
from airflow_provider_orangelogic.api.upload_parts import (
    CheckpointStore,
    CheckpointWriter,
    MultipartBody,
    UploadSource,
    chunk_ranges,
    content_type,
    new_boundary,
)
from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.core.errors import OrangeLogicAPIError, OrangeLogicError, redact
from airflow_provider_orangelogic.core.retry import RetryEvent

log = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 32 * 131072  # 4 MiB: 4 chunks in flight hold 16 MiB
DEFAULT_MULTIPART_THRESHOLD = 64 * 1024 * 1024
# The reference: "files under about 1.5 GB" go through the single-call APIs, larger ones must not.
MAX_SINGLE_CALL_BYTES = 1_500_000_000
MAX_CONCURRENCY = 10
UPLOAD_MODES = (
    "ProcessInLine",
    "ProcessProxiesInBackground",
    "ProcessProxiesAndParentAndIndexInBackground",
    "ProcessFullyInBackground",
)
# Statuses a file's result can have. "Duplicate": duplicate detection found the file in Orange Logic already.
SUCCESS, ALREADY_EXISTS, DUPLICATE, FAILED = "Success", "AlreadyExists", "Duplicate", "Failed"
CHECKPOINT_VERSION = 1


@dataclass(frozen=True)
class UploadEndpoints:
    """The upload paths, relative to the host. Defaults: ``core/endpoints.py`` (see docs/uploads.md)."""

    new_media: str = endpoints.UPLOAD_NEW_MEDIA
    new_version: str = endpoints.UPLOAD_NEW_VERSION
    create_transaction: str = endpoints.MULTIPART_CREATE_TRANSACTION
    register_items: str = endpoints.MULTIPART_REGISTER_ITEMS
    chunk: str = endpoints.MULTIPART_CHUNK  # with {upload_item_id}
    complete: str = endpoints.MULTIPART_COMPLETE
    file_field: str = "file"  # the single-call body's file part (the reference does not name it)


@dataclass
class UploadResult:
    """What became of one file; ``as_dict()`` is what XCom and the JSON Lines report hold."""

    file: str
    source: str
    method: str  # "single" or "multipart"
    status: str = FAILED
    identifier: str | None = None
    record_id: str | None = None
    duplicate_record_id: str | None = None
    version: int | None = None
    bytes: int = 0
    chunks: int = 0  # chunks this run sent
    chunks_resumed: int = 0  # chunks an earlier run had sent, not sent again
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != FAILED

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class UploadError(OrangeLogicAPIError):
    """One file could not be uploaded; the message names it and says what to do."""


@dataclass(frozen=True)
class UploadOptions:
    """How files are uploaded; checked once, before any file is sent."""

    folder_record_id: str | None = None
    record_id: str | None = None  # a new version of this asset instead of a new asset
    metadata: Mapping[str, Any] | None = None
    upload_mode: str = "ProcessInLine"
    multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD
    chunk_size: int = DEFAULT_CHUNK_SIZE
    concurrency: int = 4
    send_md5: bool = True
    uploader_name: str = "airflow-provider-orangelogic"
    endpoints: UploadEndpoints = UploadEndpoints()

    def __post_init__(self) -> None:
        if bool(self.folder_record_id) == bool(self.record_id):
            raise ValueError(
                "give folder_record_id (new assets in that folder) or record_id (a new version of that asset), "
                "exactly one of them"
            )
        if self.upload_mode not in UPLOAD_MODES:
            raise ValueError(f"upload_mode must be one of {', '.join(UPLOAD_MODES)}, not {self.upload_mode!r}")
        if not isinstance(self.concurrency, int) or not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency must be between 1 and {MAX_CONCURRENCY}, not {self.concurrency!r}")
        if not isinstance(self.multipart_threshold, int) or not 0 <= self.multipart_threshold <= MAX_SINGLE_CALL_BYTES:
            raise ValueError(
                f"multipart_threshold must be between 0 and {MAX_SINGLE_CALL_BYTES} bytes (the single-call APIs take "
                f"files under about 1.5 GB), not {self.multipart_threshold!r}"
            )
        chunk_ranges(1, self.chunk_size)  # checks the chunk size


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
            return UploadResult(source.name, source.location, _method(settings, source), error=str(err))

    # Small files go several at once (each is one call); a large one is uploaded alone, its chunks in parallel.
    results: dict[int, UploadResult] = {}
    small = [index for index, source in enumerate(sources) if _method(settings, source) == "single"]
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


def checkpoint_key(source: UploadSource, options: UploadOptions) -> str:
    """A short key for the source and its destination: the same file into the same folder resumes."""
    identity = json.dumps([source.key, source.size, options.folder_record_id, options.chunk_size])
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]


def _method(options: UploadOptions, source: UploadSource) -> str:
    return "multipart" if source.size >= max(1, options.multipart_threshold) and not options.record_id else "single"


class _Uploader:
    def __init__(
        self, request: Callable[..., requests.Response], options: UploadOptions, checkpoints: CheckpointStore | None
    ) -> None:
        self.request = request
        self.options = options
        self.checkpoints = checkpoints

    def upload(self, source: UploadSource) -> UploadResult:
        method = _method(self.options, source)
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
                _MultipartUpload(self, source, result).run()
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
        answer = _answer(response, path)
        result.duplicate_record_id = _text(_field(answer, "DuplicateRecordID"))
        result.record_id = _text(_field(answer, "RecordID", "DO_RecordID")) or result.duplicate_record_id
        result.identifier = _text(_field(answer, "Identifier", "SystemIdentifier", "FileIdentifier"))
        result.version = _integer(_field(answer, "Version", "AssetVersion"))
        result.warnings = _messages(_field(answer, "ImportMessages", "Import Messages", "WarningMessage"))
        if result.record_id is None:
            raise UploadError(f"{path} answered without a RecordID for {source.name}: the upload cannot be confirmed.")
        result.status = DUPLICATE if result.duplicate_record_id else SUCCESS


class _ChunkItemGone(OrangeLogicError):
    """The server no longer knows the upload item a checkpoint names: start the file over."""


class _MultipartUpload:
    """The five steps for one file, resumable from a checkpoint."""

    def __init__(self, uploader: _Uploader, source: UploadSource, result: UploadResult) -> None:
        self.request = uploader.request
        self.options = uploader.options
        self.store = uploader.checkpoints
        self.source = source
        self.result = result
        self.ranges = chunk_ranges(source.size, self.options.chunk_size)
        self.key = checkpoint_key(source, self.options)
        self._readers = threading.local()
        self._all_readers: list[IO[bytes]] = []
        self._readers_lock = threading.Lock()

    def run(self) -> None:
        state = self._resumable_state()
        try:
            if state is None:
                state = self._start()
            else:
                self.result.chunks_resumed = len(state["done"])
                log.info(
                    "Resuming the upload of %s: %d of %d chunk(s) already sent, in upload item %s.",
                    self.source.name,
                    len(state["done"]),
                    len(self.ranges),
                    state["upload_item_id"],
                )
            try:
                self._send_missing(state)
            except _ChunkItemGone:
                log.warning("Orange Logic no longer knows the resumed upload of %s; starting over.", self.source.name)
                self.result.chunks_resumed = 0
                state = self._start()
                self._send_missing(state)
            status = self._complete(state)
            if status == "Incomplete" and self.result.chunks_resumed:
                log.warning(
                    "Orange Logic reports the resumed upload of %s incomplete: sending every chunk again once.",
                    self.source.name,
                )
                self.result.chunks_resumed = 0
                state["done"] = []
                self._send_missing(state)
                status = self._complete(state)
            if status == "Incomplete":
                raise UploadError(
                    f"Orange Logic reports the upload of {self.source.name} incomplete after every chunk was sent "
                    f"(upload item {state['upload_item_id']}): some chunks did not arrive or were not confirmed. "
                    "Run the task again: it resumes the same upload."
                )
            if self.store is not None:
                self.store.delete(self.key)
        finally:
            for reader in self._all_readers:
                reader.close()

    def _resumable_state(self) -> dict[str, Any] | None:
        if self.store is None:
            return None
        state = self.store.load(self.key)
        expected = {"version": CHECKPOINT_VERSION, "size": self.source.size, "chunk_size": self.options.chunk_size}
        if not state or any(state.get(name) != value for name, value in expected.items()):
            return None
        return state

    def _start(self) -> dict[str, Any]:
        options = self.options
        paths = options.endpoints
        form = {
            "FolderRecordID": options.folder_record_id,
            "RetainFolderStructure": "false",
            "UploaderCategory": "API",
            "format": "json",
        }
        if options.metadata:
            form["Metadata"] = json.dumps(dict(options.metadata))
        created = _answer(self.request("POST", paths.create_transaction, data=form), paths.create_transaction)
        transaction = _text(_field(created, "TransactionID", "Transaction"))
        if not transaction:
            raise UploadError(f"{paths.create_transaction} answered without a transaction ID.")
        files = json.dumps([{"fileName": self.source.name, "fileSize": self.source.size}])
        register = {
            "TransactionID": transaction,
            "FolderRecordID": options.folder_record_id,
            "files": files,
            "uploaderName": options.uploader_name,
            "format": "json",
        }
        registered = _answer(self.request("POST", paths.register_items, data=register), paths.register_items)
        items = _items(registered)
        if len(items) != 1:
            raise UploadError(f"{paths.register_items} answered {len(items)} item(s) for one file.")
        item = items[0]
        upload_item = _text(_field(item, "uploadItemID", "UIRecordId", "UploadItemId"))
        if not upload_item:
            raise UploadError(f"{paths.register_items} answered without an upload item ID for {self.source.name}.")
        start = _integer(_field(item, "startposition")) or 0
        if start:
            raise UploadError(
                f"{paths.register_items} asks to start {self.source.name} at byte {start}, not 0: this client only "
                "resumes from its own checkpoints."
            )
        self.result.identifier = _text(_field(item, "identifier"))
        self.result.record_id = _text(_field(item, "dO_recordID", "RecordID"))
        state = {
            "version": CHECKPOINT_VERSION,
            "size": self.source.size,
            "chunk_size": self.options.chunk_size,
            "file": self.source.name,
            "transaction_id": transaction,
            "upload_item_id": upload_item,
            "identifier": self.result.identifier,
            "record_id": self.result.record_id,
            "done": [],
        }
        log.info(
            "Upload of %s registered: transaction %s, upload item %s, %d chunk(s) of up to %d bytes.",
            self.source.name,
            transaction,
            upload_item,
            len(self.ranges),
            self.options.chunk_size,
        )
        return state

    # ---- chunks ----

    def _send_missing(self, state: dict[str, Any]) -> None:
        self.result.identifier = self.result.identifier or state.get("identifier")
        self.result.record_id = self.result.record_id or state.get("record_id")
        done = set(state["done"])
        todo = iter([index for index in range(len(self.ranges)) if index not in done])
        writer = CheckpointWriter(self.store, self.key, state, on_error=self._checkpoint_failed) if self.store else None
        if writer is not None:
            writer.start()
        pace = PacedCalls(self.options.concurrency)
        lock = threading.Lock()

        def send(index: int) -> None:
            pace.send(lambda on_retry: self._send_chunk(state["upload_item_id"], index, on_retry))
            with lock:
                self.result.chunks += 1
            if writer is not None:
                writer.mark(index)

        executor = ThreadPoolExecutor(self.options.concurrency, thread_name_prefix="orangelogic-upload")
        pending: set[Future[None]] = set()
        try:
            while True:
                while len(pending) < pace.window:
                    index = next(todo, None)
                    if index is None:
                        break
                    pending.add(executor.submit(send, index))
                if not pending:
                    break
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    future.result()
        finally:
            pace.stop.set()  # the chunks still waiting to retry give up: another one failed
            executor.shutdown(wait=True, cancel_futures=True)
            if writer is not None:
                writer.close()

    def _send_chunk(self, upload_item: str, index: int, on_retry: Callable[[RetryEvent], None]) -> None:
        start, end = self.ranges[index]
        data = self._read(start, end - start + 1)
        fields = {"md5": hashlib.md5(data, usedforsecurity=False).hexdigest()} if self.options.send_md5 else {}
        path = self.options.endpoints.chunk.format(upload_item_id=upload_item)
        boundary = new_boundary()
        response = self.request(
            "POST",
            path,
            params={"start": start, "end": end, "totalLength": self.source.size},
            # Streamed from the chunk read for it, not copied: one buffer per chunk in flight.
            body_factory=lambda: MultipartBody(fields, "data", self.source.name, content=data, boundary=boundary),
            headers={"Content-Type": content_type(boundary)},
            check_response=False,
            on_retry=on_retry,
        )
        if response.status_code == 404 and self.result.chunks_resumed:
            raise _ChunkItemGone(path)
        if not response.ok:
            raise UploadError(
                f"Chunk {index + 1} of {len(self.ranges)} (bytes {start}-{end}) of {self.source.name} was refused with "
                f"HTTP {response.status_code} after retries: {_snippet(response)}",
                status_code=response.status_code,
            )

    def _read(self, start: int, length: int) -> bytes:
        reader = getattr(self._readers, "file", None)
        if reader is None:
            reader = self._readers.file = self.source.open()
            with self._readers_lock:
                self._all_readers.append(reader)
        reader.seek(start)
        data = reader.read(length)
        if len(data) != length:
            raise UploadError(
                f"{self.source.location or self.source.name} ended at byte {start + len(data)}, before its size of "
                f"{self.source.size} bytes: the file changed while it was being uploaded. Run the task again."
            )
        return data

    def _checkpoint_failed(self, err: BaseException) -> None:
        log.warning(
            "Could not record the progress of %s (%s): the upload goes on, but a run that dies now starts it over.",
            self.source.name,
            type(err).__name__,
        )

    # ---- completing ----

    def _complete(self, state: dict[str, Any]) -> str:
        path = self.options.endpoints.complete
        form = {"UploadItemID": state["upload_item_id"], "TransactionID": state["transaction_id"], "format": "json"}
        answer = _answer(self.request("POST", path, data=form), path)
        status = _text(_field(answer, "uploadStatus", "status")) or ""
        if status not in ("Success", "Incomplete", "AlreadyExists"):
            raise UploadError(f"{path} answered an unknown uploadStatus {status!r} for {self.source.name}.")
        self.result.duplicate_record_id = _text(_field(answer, "duplicateRecordID"))
        self.result.version = _integer(_field(answer, "assetVersion"))
        self.result.identifier = _text(_field(answer, "identifier")) or self.result.identifier
        self.result.record_id = _text(_field(answer, "recordID", "dO_recordID")) or self.result.record_id
        if status == "Success":
            self.result.status = DUPLICATE if self.result.duplicate_record_id else SUCCESS
        elif status == "AlreadyExists":
            self.result.status = ALREADY_EXISTS
        return status


# ---- reading answers ----


def _answer(response: requests.Response, path: str) -> Mapping[str, Any]:
    if not response.content:
        return {}
    try:
        payload = response.json()
    except ValueError:
        kind = response.headers.get("Content-Type", "no content type")
        raise UploadError(f"{path} did not answer JSON ({kind}).") from None
    if isinstance(payload, list):
        return {"items": payload}
    if not isinstance(payload, dict):
        raise UploadError(f"{path} answered JSON that is not an object.")
    inner = _field(payload, "APIResponse")
    answer = {**payload, **inner} if isinstance(inner, dict) else payload
    code = _field(answer, "Code")
    if code is not None and str(code).lower() not in ("success", "ok", "0", "200"):
        message = _text(_field(answer, "Message", "ErrorMessage")) or "no message"
        raise UploadError(f"{path} answered HTTP 200 with APIResponse code {code!r}: {message}")
    return answer


def _field(mapping: Any, *names: str) -> Any:
    if not isinstance(mapping, Mapping):
        return None
    lowered = {str(key).lower(): value for key, value in mapping.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def _items(answer: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items = _field(answer, "items", "uploadItems", "files", "Items")
    if isinstance(items, list):
        return [item for item in items if isinstance(item, Mapping)]
    return [answer] if _field(answer, "uploadItemID", "UIRecordId") else []


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text if text and text not in ("0", "None", "null") else None


def _integer(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def _messages(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    if isinstance(value, Sequence):
        return [str(item) for item in value if item]
    return [str(value)]


def _snippet(response: requests.Response) -> str:
    """The start of an error answer, without the token the request carried (a server may echo it)."""
    sent = (response.request.headers.get("Authorization") or "").removeprefix("Bearer ") if response.request else ""
    text = " ".join(redact(response.text, [sent]).split())
    return (text[:200] + "...") if len(text) > 200 else (text or "(empty body)")
