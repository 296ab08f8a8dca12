"""The stand-in's twin of single-call uploads and the Multi-Part Upload API.

Strict where the reference is precise: ``FileName`` must carry an extension; a chunk must start on a
multiple of 131072 and end one byte before the next multiple (or on the file's last byte), carry
exactly ``end - start + 1`` bytes, match its ``md5`` when one is sent, and agree with the size the
asset was registered with. ``complete`` answers ``Incomplete`` until every byte has arrived, then
``Success`` once and ``AlreadyExists`` after that. Duplicate detection follows
``StandInConfig.duplicate_detection``: "filename" (same name in the same folder) and "checksum" (same
MD5) for single-call uploads, "checksum" only for multi-part ones (the reference returns
``duplicateRecordID`` only with checksum detection).

Assumed beyond the reference (its pages do not show them): the answers' field names and shapes
(documented in docs/uploads.md), the single-call body's file part being any part with a file name,
and ``Metadata`` as a JSON object whose unknown fields come back in ``ImportMessages``.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.testing.stand_in.assets import md5_of
from airflow_provider_orangelogic.testing.stand_in.catalogue import search_params
from airflow_provider_orangelogic.testing.stand_in.faults import Fault
from airflow_provider_orangelogic.testing.stand_in.messages import (
    MalformedBody,
    Request,
    Response,
    error_response,
    first_values,
    json_response,
    multipart_form,
)

if TYPE_CHECKING:
    from airflow_provider_orangelogic.testing.stand_in.service import StandInService

CHUNK_ALIGNMENT = 131072
CHUNK_PREFIX = endpoints.MULTIPART_CHUNK.split("{", 1)[0]
COUNTERS: tuple[str, ...] = (
    "uploads_single",  # single-call uploads accepted (new assets and new versions)
    "uploads_created",  # assets created, by either API
    "uploads_duplicates",  # uploads answered with an existing asset by duplicate detection
    "multipart_transactions",
    "multipart_items",
    "chunks_received",
    "chunk_bytes",
    "chunks_rejected",
    "multipart_incomplete",  # complete calls answered Incomplete
)
BODY_LIMITS: dict[str, int] = {
    CHUNK_PREFIX: 64 * 1024 * 1024 + 65536,
    endpoints.UPLOAD_NEW_MEDIA: 256 * 1024 * 1024,
    endpoints.UPLOAD_NEW_VERSION: 256 * 1024 * 1024,
}
# Metadata fields an upload imports; any other name comes back in ImportMessages, as Orange Logic reports them.
IMPORTABLE_FIELDS = frozenset(
    {"CoreField.Title", "CoreField.CaptionLong", "CoreField.Copyright", "CoreField.Keywords", "CoreField.DocDate",
     "CoreField.OtherNum"}
)  # fmt: skip


class UploadRefused(ValueError):
    """A request the real API would refuse: answered 400 (or ``status``) with the reason."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class UploadItem:
    upload_item_id: str
    transaction_id: str
    folder_record_id: str
    file_name: str
    size: int
    number: int  # the asset's number, reserved at registration
    scratch: Path
    receipts: dict[tuple[int, int], int] = field(default_factory=dict)  # chunk range -> times received
    completed: dict[str, Any] | None = None  # the Success answer, once completed

    def covered(self) -> bool:
        position = 0
        for start, end in sorted(self.receipts):
            if start > position:
                return False
            position = max(position, end + 1)
        return position >= self.size


@dataclass
class UploadDesk:
    transactions: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # ID -> (folder, metadata)
    items: dict[str, UploadItem] = field(default_factory=dict)


def routes(service: StandInService) -> dict[str, dict[str, Any]]:
    def desk() -> UploadDesk:
        return service.family_state(__name__, UploadDesk)

    def refusing(handler: Any) -> Any:
        def handle(request: Request, fault: Fault) -> Response:
            try:
                return fault.after(handler(request))
            except UploadRefused as refused:
                return error_response(refused.status, "invalid_request", str(refused))
            except MalformedBody as malformed:
                return error_response(400, "invalid_request", str(malformed))

        return handle

    def single_call(new_version: bool) -> Any:
        def handle(request: Request) -> Response:
            params, files = multipart_form(request)
            params = {**first_values(request.query), **params}
            name = _required(params, "FileName")
            if "." not in name.strip(".") or name.endswith("."):
                raise UploadRefused(f"FileName {name!r} has no extension: give the file name with its extension")
            if not files:
                raise UploadRefused("the body carries no file: send it as multipart/form-data")
            content = next(iter(files.values()))
            metadata = _metadata(params.get("Metadata"))
            with service.lock:
                book = service.assets
                scratch = book.scratch_file(f"single-{uuid.uuid4().hex}")
            scratch.write_bytes(content)
            md5 = hashlib.md5(content, usedforsecurity=False).hexdigest()
            with service.lock:
                book, config = service.assets, service.current_config
                if new_version:
                    record_id = _required(params, "RecordID")
                    if record_id not in book.uploaded:
                        scratch.unlink()
                        raise UploadRefused(f"no asset with RecordID {record_id} that this stand-in can version", 404)
                    version = book.add_version(record_id, scratch, md5)
                    uploaded = book.uploaded[record_id]
                    answer = {"RecordID": record_id, "Identifier": uploaded.identifier, "Version": version}
                else:
                    folder = _required(params, "FolderRecordID")
                    duplicate = book.duplicate_of(config.duplicate_detection, folder, name, md5)
                    if duplicate is not None:
                        scratch.unlink()
                        service.tally("uploads_duplicates")
                        answer = {
                            "RecordID": duplicate.record_id,
                            "Identifier": duplicate.identifier,
                            "DuplicateRecordID": duplicate.record_id,
                        }
                        if config.duplicate_detection == "checksum":
                            answer["Version"] = duplicate.version
                        return json_response(200, answer)
                    uploaded = book.add_asset(folder, name, scratch, md5)
                    service.tally("uploads_created")
                    answer = {"RecordID": uploaded.record_id, "Identifier": uploaded.identifier, "Version": 0}
                service.tally("uploads_single")
                answer["ImportMessages"] = _import(book, answer["RecordID"], metadata)
            return json_response(200, answer)

        return handle

    def create_transaction(request: Request) -> Response:
        params = search_params(request)
        folder = _required(params, "FolderRecordID")
        metadata = _metadata(params.get("Metadata"))
        transaction = f"T{uuid.uuid4().hex[:16]}"
        with service.lock:
            desk().transactions[transaction] = (folder, metadata)
            service.tally("multipart_transactions")
        return json_response(200, {"transactionID": transaction})

    def register_items(request: Request) -> Response:
        params = search_params(request)
        transaction = _required(params, "TransactionID")
        try:
            files = json.loads(_required(params, "files"))
        except json.JSONDecodeError:
            raise UploadRefused("files must be a JSON-serialized array of {fileName, fileSize}") from None
        if not isinstance(files, list) or not files:
            raise UploadRefused("files must be a non-empty JSON array")
        answers = []
        with service.lock:
            transactions = desk().transactions
            if transaction not in transactions:
                raise UploadRefused(f"unknown TransactionID {transaction}", 404)
            for entry in files:
                name, size = (entry.get("fileName"), entry.get("fileSize")) if isinstance(entry, dict) else (None, None)
                if not isinstance(name, str) or not name or isinstance(size, bool) or not isinstance(size, int):
                    raise UploadRefused("each file needs a fileName (string) and a fileSize (integer)")
                if size < 1:
                    raise UploadRefused(f"fileSize of {name} must be at least 1 byte")
                number = service.assets.reserve_number()
                item = UploadItem(
                    f"UI{uuid.uuid4().hex[:16]}", transaction, transactions[transaction][0], name, size, number,
                    service.assets.scratch_file(f"multipart-{uuid.uuid4().hex}"),
                )  # fmt: skip
                desk().items[item.upload_item_id] = item
                service.tally("multipart_items")
                answers.append({
                    "status": "Registered", "startposition": 0, "uploadItemID": item.upload_item_id,
                    "identifier": f"OL{number:07d}", "dO_recordID": str(number), "requestedFileName": name,
                    "requestedFileSize": size,
                })  # fmt: skip
        return json_response(200, answers)

    def chunk(request: Request) -> Response:
        upload_item_id = request.path[len(CHUNK_PREFIX) :]
        params = {key: values[0] for key, values in request.query.items() if values}
        start, end, total = (_number(params, name) for name in ("start", "end", "totalLength"))
        fields, files = multipart_form(request)
        data = files.get("data")
        with service.lock:
            item = desk().items.get(upload_item_id)
        try:
            if item is None:
                raise UploadRefused(f"unknown upload item {upload_item_id}", 404)
            if data is None:
                raise UploadRefused("the chunk must be sent as the multipart field 'data'")
            _check_chunk(item, start, end, total, data, fields.get("md5"))
        except UploadRefused:
            service.count("chunks_rejected")
            raise
        descriptor = os.open(item.scratch, os.O_WRONLY)
        try:
            os.pwrite(descriptor, data, start)
        finally:
            os.close(descriptor)
        with service.lock:
            item.receipts[(start, end)] = item.receipts.get((start, end), 0) + 1
            service.tally("chunks_received")
            service.tally("chunk_bytes", len(data))
        return Response(200, b"", "text/plain")

    def complete(request: Request) -> Response:
        params = search_params(request)
        upload_item_id = _required(params, "UploadItemID")
        with service.lock:
            item = desk().items.get(upload_item_id)
            if item is None:
                raise UploadRefused(f"unknown upload item {upload_item_id}", 404)
            if item.completed is not None:
                return json_response(200, {**item.completed, "uploadStatus": "AlreadyExists"})
            if not item.covered():
                service.tally("multipart_incomplete")
                answer = {
                    "uploadStatus": "Incomplete",
                    "identifier": f"OL{item.number:07d}",
                    "recordID": str(item.number),
                }
                return json_response(200, answer)
        with service.lock:
            checksum = service.current_config.duplicate_detection == "checksum"
        md5 = md5_of(item.scratch) if checksum else None  # reading a large file back costs: only when needed
        with service.lock:
            book = service.assets
            duplicate = book.duplicate_of("checksum", item.folder_record_id, item.file_name, md5) if md5 else None
            if duplicate is not None:
                item.scratch.unlink()
                service.tally("uploads_duplicates")
                answer = {
                    "uploadStatus": "Success", "duplicateRecordID": duplicate.record_id,
                    "assetVersion": duplicate.version, "identifier": duplicate.identifier,
                    "recordID": duplicate.record_id,
                }  # fmt: skip
            else:
                uploaded = book.add_asset(item.folder_record_id, item.file_name, item.scratch, md5, number=item.number)
                service.tally("uploads_created")
                _import(book, uploaded.record_id, desk().transactions[item.transaction_id][1])
                answer = {
                    "uploadStatus": "Success", "duplicateRecordID": "", "assetVersion": 0,
                    "identifier": uploaded.identifier, "recordID": uploaded.record_id,
                }  # fmt: skip
            item.completed = answer
        return json_response(200, answer)

    return {
        endpoints.UPLOAD_NEW_MEDIA: {"POST": service.guarded("upload", refusing(single_call(new_version=False)))},
        endpoints.UPLOAD_NEW_VERSION: {"POST": service.guarded("upload", refusing(single_call(new_version=True)))},
        endpoints.MULTIPART_CREATE_TRANSACTION: {"POST": service.guarded("multipart", refusing(create_transaction))},
        endpoints.MULTIPART_REGISTER_ITEMS: {"POST": service.guarded("multipart", refusing(register_items))},
        f"{CHUNK_PREFIX}*": {"POST": service.guarded("chunk", refusing(chunk))},
        endpoints.MULTIPART_COMPLETE: {"POST": service.guarded("multipart", refusing(complete))},
        "/_standin/uploads": {"GET": lambda _: json_response(200, snapshot(service))},
    }


def snapshot(service: StandInService) -> dict[str, Any]:
    """What tests check: each upload item's chunk receipts, and each uploaded asset's versions."""
    with service.lock:
        desk: UploadDesk = service.family_state(__name__, UploadDesk)
        items = [
            {
                "upload_item_id": item.upload_item_id,
                "file_name": item.file_name,
                "size": item.size,
                "record_id": str(item.number),
                "completed": item.completed is not None,
                "receipts": [[start, end, count] for (start, end), count in sorted(item.receipts.items())],
            }
            for item in desk.items.values()
        ]
        assets = [
            {
                "record_id": uploaded.record_id,
                "identifier": uploaded.identifier,
                "file_name": uploaded.file_name,
                "folder_record_id": uploaded.folder_record_id,
                "versions": [{"size": v.size, "md5": v.md5, "path": str(v.path)} for v in uploaded.versions],
                "metadata": dict(service.assets.written.get(uploaded.record_id, {})),
            }
            for uploaded in service.assets.uploaded.values()
        ]
    return {"items": items, "assets": assets}


def _check_chunk(item: UploadItem, start: int, end: int, total: int, data: bytes, md5: str | None) -> None:
    if total != item.size:
        raise UploadRefused(f"totalLength {total} differs from the registered size {item.size} of {item.file_name}")
    if start % CHUNK_ALIGNMENT:
        raise UploadRefused(f"start {start} is not a multiple of {CHUNK_ALIGNMENT}")
    if not start <= end < total:
        raise UploadRefused(f"the range {start}-{end} is not within the file's {total} bytes")
    if end != total - 1 and (end + 1) % CHUNK_ALIGNMENT:
        raise UploadRefused(f"end {end} must be one less than a multiple of {CHUNK_ALIGNMENT}, or the last byte")
    if len(data) != end - start + 1:
        raise UploadRefused(f"the chunk {start}-{end} carries {len(data)} bytes, not {end - start + 1}")
    if md5 and hashlib.md5(data, usedforsecurity=False).hexdigest() != md5.strip().lower():
        raise UploadRefused(f"the MD5 of chunk {start}-{end} does not match the bytes received")


def _required(params: dict[str, str], name: str) -> str:
    lowered = {key.lower(): value for key, value in params.items()}
    value = (lowered.get(name.lower()) or "").strip()
    if not value:
        raise UploadRefused(f"{name} is required")
    return value


def _number(params: dict[str, str], name: str) -> int:
    raw = params.get(name, "")
    if not raw.isdigit():
        raise UploadRefused(f"{name} must be a non-negative integer, got {raw!r}")
    return int(raw)


def _metadata(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        metadata = json.loads(raw)
    except json.JSONDecodeError:
        raise UploadRefused("Metadata must be a JSON object of field API names and values") from None
    if not isinstance(metadata, dict):
        raise UploadRefused("Metadata must be a JSON object of field API names and values")
    return metadata


def _import(book: Any, record_id: str, metadata: dict[str, Any]) -> list[str]:
    """Write the importable fields; the others are reported, as Orange Logic's Import Messages do."""
    known = {name: value for name, value in metadata.items() if name in IMPORTABLE_FIELDS}
    if known:
        book.write(record_id, known)
    return [
        f"Field {name!r} does not exist or cannot be imported; it was ignored."
        for name in metadata
        if name not in known
    ]
