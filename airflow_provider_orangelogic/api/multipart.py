"""The Multi-Part Upload API's five steps for one file, resumable from a checkpoint (docs/uploads.md).

Create a transaction, register the asset, send the chunks (on the 131072-byte boundaries, several in
flight under one ``PacedCalls``, each with its MD5, a failed one retried alone), complete. Progress goes to
a :class:`~.upload_parts.CheckpointStore` after every chunk, so a later run sends only what is missing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import IO, Any

import requests

from airflow_provider_orangelogic.api.answers import error_snippet, field, integer_value, text_value
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
from airflow_provider_orangelogic.api.upload_types import (
    ALREADY_EXISTS,
    CHECKPOINT_VERSION,
    DUPLICATE,
    SUCCESS,
    UploadError,
    UploadOptions,
    UploadResult,
    answer_items,
    checkpoint_key,
    read_answer,
)
from airflow_provider_orangelogic.core.errors import OrangeLogicError
from airflow_provider_orangelogic.core.retry import RetryEvent

log = logging.getLogger(__name__)


class ChunkItemGone(OrangeLogicError):
    """The server no longer knows the upload item a checkpoint names: start the file over."""


class MultipartUpload:
    """The five steps for one file, resumable from a checkpoint."""

    def __init__(
        self,
        request: Callable[..., requests.Response],
        options: UploadOptions,
        store: CheckpointStore | None,
        source: UploadSource,
        result: UploadResult,
    ) -> None:
        self.request = request
        self.options = options
        self.store = store
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
            except ChunkItemGone:
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
        created = read_answer(self.request("POST", paths.create_transaction, data=form), paths.create_transaction)
        transaction = text_value(field(created, "TransactionID", "Transaction"))
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
        registered = read_answer(self.request("POST", paths.register_items, data=register), paths.register_items)
        items = answer_items(registered)
        if len(items) != 1:
            raise UploadError(f"{paths.register_items} answered {len(items)} item(s) for one file.")
        item = items[0]
        upload_item = text_value(field(item, "uploadItemID", "UIRecordId", "UploadItemId"))
        if not upload_item:
            raise UploadError(f"{paths.register_items} answered without an upload item ID for {self.source.name}.")
        start = integer_value(field(item, "startposition")) or 0
        if start:
            raise UploadError(
                f"{paths.register_items} asks to start {self.source.name} at byte {start}, not 0: this client only "
                "resumes from its own checkpoints."
            )
        self.result.identifier = text_value(field(item, "identifier"))
        self.result.record_id = text_value(field(item, "dO_recordID", "RecordID"))
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
            raise ChunkItemGone(path)
        if not response.ok:
            raise UploadError(
                f"Chunk {index + 1} of {len(self.ranges)} (bytes {start}-{end}) of {self.source.name} was refused with "
                f"HTTP {response.status_code} after retries: {error_snippet(response)}",
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
        answer = read_answer(self.request("POST", path, data=form), path)
        status = text_value(field(answer, "uploadStatus", "status")) or ""
        if status not in ("Success", "Incomplete", "AlreadyExists"):
            raise UploadError(f"{path} answered an unknown uploadStatus {status!r} for {self.source.name}.")
        self.result.duplicate_record_id = text_value(field(answer, "duplicateRecordID"))
        self.result.version = integer_value(field(answer, "assetVersion"))
        self.result.identifier = text_value(field(answer, "identifier")) or self.result.identifier
        self.result.record_id = text_value(field(answer, "recordID", "dO_recordID")) or self.result.record_id
        if status == "Success":
            self.result.status = DUPLICATE if self.result.duplicate_record_id else SUCCESS
        elif status == "AlreadyExists":
            self.result.status = ALREADY_EXISTS
        return status
