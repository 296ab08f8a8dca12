"""The stand-in's twin of presigned links in batch and the files they point to.

``POST core/endpoints.PRESIGNED_LINKS`` (behind the bearer check, faults and pacing of "links") takes
``RecordIDs`` and ``Formats`` (JSON lists, or comma-separated / JSON-list strings in a form or the query;
names case-insensitive), ``ValidityDuration`` (``1d2h3m``; default ``link_validity``) and ``GenerateIfNeeded``,
and answers one item per record ID: ``{"recordID", "identifier", "links": [{"format", "url",
"expirationDate", "error"}], "error"}``.

The URLs point to ``/_files/{record_id}/{format}/{name}?Expires=...&Signature=...`` on the stand-in itself:
not under bearer auth but signed (HMAC over path and expiry, with a key made per reset) and expiring, as a
cloud storage presigned URL is. Like S3 it answers 403 for an expired or tampered link and 400 for a request
that also carries an ``Authorization`` header (a presigned URL is the only credential). Faults and pacing of
"download" apply (``download_requests``). Contents are deterministic per (asset, format) and computed block
by block, so a 50 MB original costs no memory; an uploaded asset's TRX is its uploaded original.

Formats by media type: Image TRX TR1 TR4 TR7; Video TRX TR1 TR4 TR7, where TR1 is generated on demand (its
first ``on_demand_pending`` downloads answer 404 "try again shortly"); Document TRX TR4 TR7; Audio TRX only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlencode

from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.testing.stand_in.messages import (
    Request,
    Response,
    error_response,
    first_values,
    is_json,
    json_response,
)

if TYPE_CHECKING:
    from airflow_provider_orangelogic.testing.stand_in.faults import Fault
    from airflow_provider_orangelogic.testing.stand_in.service import StandInService

COUNTERS: tuple[str, ...] = (
    "links_items_served",  # record IDs answered by the presigned-links endpoint
    "links_issued",  # presigned URLs issued
    "download_served",  # downloads answered 200
    "download_bytes_served",
    "download_403",  # expired or tampered links
    "download_404_pending",  # on-demand formats not generated yet
    "download_with_authorization",  # downloads refused for carrying an Authorization header
)
# Path prefix -> the largest request body accepted there (others: service.MAX_BODY_BYTES).
BODY_LIMITS: dict[str, int] = {}
DOWNLOAD_PREFIX = "/_files/"
MAX_BATCH = 1000  # record IDs per presigned-links request (the reference gives no limit: an assumption)
BLOCK = 1 << 16
FORMATS = {
    "Image": ("TRX", "TR1", "TR4", "TR7"),
    "Video": ("TRX", "TR1", "TR4", "TR7"),
    "Document": ("TRX", "TR4", "TR7"),
    "Audio": ("TRX",),
}
ON_DEMAND = {("Video", "TR1")}
_ORIGINAL_EXTENSIONS = {"Image": ".jpg", "Video": ".mp4", "Audio": ".mp3", "Document": ".pdf"}
_DURATION_RE = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?", re.IGNORECASE)


@dataclass
class _FilesState:
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    pending: dict[tuple[str, str], int] = field(default_factory=dict)  # on-demand renditions being generated


def parse_validity(text: str) -> float:
    """Seconds of a ``ValidityDuration`` such as ``1d2h3m`` (days, hours, minutes); ValueError otherwise."""
    match = _DURATION_RE.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"ValidityDuration must be written like 1d2h3m, not {text!r}")
    days, hours, minutes = (int(part or 0) for part in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60


def rendition_size(record_id: str, fmt: str, file_size: int) -> int:
    """The size of a catalogue asset's file in ``fmt`` (TRX: its FileSize; renditions smaller)."""
    number = int(record_id)
    if fmt == "TRX":
        return file_size
    if fmt == "TR1":
        return 50_000 + (number * 7919) % 250_000
    if fmt == "TR4":
        return 2_000 + (number * 31) % 8_000
    return 8_000 + (number * 131) % 24_000


def rendition_blocks(record_id: str, fmt: str, size: int, block: int = BLOCK) -> Iterator[bytes]:
    """The bytes of a generated file, block by block: a 64 KiB pattern seeded by (asset, format), rotated per block."""
    seed = f"{record_id}:{fmt}".encode()
    base = b"".join(hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(BLOCK // 32))
    sent, index = 0, 0
    while sent < size:
        shift = (index * 7919) % BLOCK
        data = (base[shift:] + base[:shift])[: min(block, size - sent)]
        sent += len(data)
        index += 1
        yield data


def routes(service: StandInService) -> dict[str, dict[str, Any]]:
    links = service.guarded("links", lambda request, fault: _handle_links(service, request, fault))
    # Not guarded: a presigned URL carries its own credential. The service's own faults and data pacing, without
    # its bearer check: counted as download_requests, faulted and paced as "download".
    download = service.presigned("download", lambda request, fault: _handle_download(service, request, fault))
    return {
        endpoints.PRESIGNED_LINKS: {"GET": links, "POST": links},
        f"{DOWNLOAD_PREFIX}*": {"GET": download},
    }


def _state(service: StandInService) -> _FilesState:
    return service.family_state("files", _FilesState)


def _params(request: Request) -> dict[str, Any]:
    """Query parameters, overridden by a JSON or form body; names lower-cased (the API ignores their case)."""
    params: dict[str, Any] = dict(first_values(request.query))
    if request.body:
        if is_json(request):
            body = json.loads(request.body.decode("utf-8"))
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            params.update(body)
        else:
            params.update(first_values(parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)))
    return {name.lower(): value for name, value in params.items()}


def _string_list(value: Any, name: str) -> list[str]:
    if isinstance(value, str):
        text = value.strip()
        value = json.loads(text) if text.startswith("[") else [part for part in text.split(",") if part.strip()]
    if not isinstance(value, list) or not value or not all(isinstance(v, (str, int)) for v in value):
        raise ValueError(f"{name} must be a non-empty list of strings")
    return [str(v).strip() for v in value]


def _true(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("true", "1", "yes")


def _describe(service: StandInService, record_id: str) -> dict[str, Any] | None:
    """Media type, identifier, size and original (for uploaded assets) of an asset; hold the lock."""
    book, config = service.assets, service.current_config
    if not book.exists(record_id, config.catalogue_size):
        return None
    fields = book.fields(record_id)
    uploaded = book.uploaded.get(record_id)
    return {
        "identifier": fields["SystemIdentifier"],
        "media_type": fields.get("MediaType", "Document"),
        "size": int(fields.get("FileSize") or 0),
        "original": uploaded.versions[-1] if uploaded else None,
        "extension": PurePosixPath(uploaded.file_name).suffix if uploaded else None,
    }


def _handle_links(service: StandInService, request: Request, fault: Fault) -> Response:
    try:
        params = _params(request)
        record_ids = _string_list(params.get("recordids"), "RecordIDs")
        formats = [f.upper() for f in _string_list(params.get("formats") or "TRX", "Formats")]
        validity_text = params.get("validityduration")
        with service.lock:
            default_validity = service.current_config.link_validity
        validity = parse_validity(str(validity_text)) if validity_text else default_validity
    except (ValueError, UnicodeDecodeError) as exc:
        return error_response(400, "invalid_request", str(exc))
    if len(record_ids) > MAX_BATCH:
        return error_response(400, "invalid_request", f"at most {MAX_BATCH} RecordIDs per request")
    generate = _true(params.get("generateifneeded", True))
    expires = time.time() + validity
    items, issued = [], 0
    with service.lock:
        state = _state(service)
        pending = max(0, int(service.current_config.on_demand_pending))
        for record_id in record_ids:
            described = _describe(service, record_id)
            if described is None:
                items.append({"recordID": record_id, "links": [], "error": f"Asset {record_id} not found."})
                continue
            links = []
            for fmt in formats:
                link = {"format": fmt, "url": None, "expirationDate": None, "error": None}
                media_type = described["media_type"]
                if fmt not in FORMATS.get(media_type, ("TRX",)):
                    link["error"] = f"Format {fmt} is not available for this asset ({media_type})."
                elif (media_type, fmt) in ON_DEMAND and (record_id, fmt) not in state.pending and not generate:
                    link["error"] = f"Format {fmt} has not been generated; ask with GenerateIfNeeded."
                else:
                    if (media_type, fmt) in ON_DEMAND:
                        state.pending.setdefault((record_id, fmt), pending)
                    extension = _extension(described, fmt)
                    name = f"{described['identifier']}_{fmt}{extension}"
                    link["url"] = request.base_url + _signed_path(state.key, record_id, fmt, name, expires)
                    link["expirationDate"] = datetime.fromtimestamp(expires, timezone.utc).strftime(
                        "%Y-%m-%dT%H:%M:%SZ"
                    )
                    issued += 1
                links.append(link)
            items.append({"recordID": record_id, "identifier": described["identifier"], "links": links, "error": None})
    service.count("links_items_served", len(record_ids))
    service.count("links_issued", issued)
    return fault.after(json_response(200, {"items": items}))


def _extension(described: dict[str, Any], fmt: str) -> str:
    if fmt == "TRX":
        return described["extension"] or _ORIGINAL_EXTENSIONS.get(described["media_type"], ".bin")
    if fmt == "TR1" and described["media_type"] == "Video":
        return ".mp4"
    return ".jpg"


def _signature(key: bytes, path: str, expires: str) -> str:
    return hmac.new(key, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()


def _signed_path(key: bytes, record_id: str, fmt: str, name: str, expires: float) -> str:
    path = f"{DOWNLOAD_PREFIX}{quote(record_id)}/{quote(fmt)}/{quote(name)}"
    stamp = f"{expires:.3f}"
    return f"{path}?{urlencode({'Expires': stamp, 'Signature': _signature(key, path, stamp)})}"


def _s3_error(status: int, code: str, message: str) -> Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Response(status, body.encode(), "application/xml")


def _handle_download(service: StandInService, request: Request, fault: Fault) -> Response:
    if request.headers.get("Authorization"):
        service.count("download_with_authorization")
        return _s3_error(400, "InvalidArgument", "Only one auth mechanism allowed")
    query = first_values(request.query)
    parts = request.path[len(DOWNLOAD_PREFIX) :].split("/")
    with service.lock:
        key = _state(service).key
    expires, signature = query.get("Expires", ""), query.get("Signature", "")
    expected = _signature(key, request.path, expires)  # the path as sent (percent-encoded), as it was signed
    if len(parts) != 3 or not hmac.compare_digest(signature.encode(), expected.encode()):
        service.count("download_403")
        return _s3_error(403, "SignatureDoesNotMatch", "The request signature does not match.")
    if float(expires) < time.time():
        service.count("download_403")
        return _s3_error(403, "AccessDenied", "Request has expired")
    record_id, fmt, _ = parts
    with service.lock:
        described = _describe(service, record_id)
        state = _state(service)
        remaining = state.pending.get((record_id, fmt), 0)
        if remaining > 0:
            state.pending[(record_id, fmt)] = remaining - 1
    if described is None:
        return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
    if remaining > 0:
        service.count("download_404_pending")
        return _s3_error(404, "NoSuchKey", "The rendition is being generated; try again shortly.")
    original = described["original"]
    if fmt == "TRX" and original is not None:
        size, chunks = original.size, original.chunks()
    else:
        size = rendition_size(record_id, fmt, described["size"])
        chunks = rendition_blocks(record_id, fmt, size)
    service.count("download_served")
    service.count("download_bytes_served", size)
    return fault.after(Response(200, content_type="application/octet-stream", chunks=chunks, length=size))
