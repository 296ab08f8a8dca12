"""What an upload is asked to do and what became of it: options, endpoints, results, and reading the answers.

Shared by the single-call path (``uploads.py``) and the Multi-Part Upload API (``multipart.py``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import requests

from airflow_provider_orangelogic.api.answers import field as answer_field
from airflow_provider_orangelogic.api.answers import text_value
from airflow_provider_orangelogic.api.upload_parts import UploadSource, chunk_ranges
from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.core.errors import OrangeLogicAPIError

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


def checkpoint_key(source: UploadSource, options: UploadOptions) -> str:
    """A short key for the source and its destination: the same file into the same folder resumes."""
    identity = json.dumps([source.key, source.size, options.folder_record_id, options.chunk_size])
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]


def upload_method(options: UploadOptions, source: UploadSource) -> str:
    return "multipart" if source.size >= max(1, options.multipart_threshold) and not options.record_id else "single"


def read_answer(response: requests.Response, path: str) -> Mapping[str, Any]:
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
    inner = answer_field(payload, "APIResponse")
    answer = {**payload, **inner} if isinstance(inner, dict) else payload
    code = answer_field(answer, "Code")
    if code is not None and str(code).lower() not in ("success", "ok", "0", "200"):
        message = text_value(answer_field(answer, "Message", "ErrorMessage")) or "no message"
        raise UploadError(f"{path} answered HTTP 200 with APIResponse code {code!r}: {message}")
    return answer


def answer_items(answer: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items = answer_field(answer, "items", "uploadItems", "files", "Items")
    if isinstance(items, list):
        return [item for item in items if isinstance(item, Mapping)]
    return [answer] if answer_field(answer, "uploadItemID", "UIRecordId") else []
