"""What passes between the socket layer and the service: requests, responses and their helpers."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Token answers must never be cached (RFC 6749 section 5.1), errors included.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    base_url: str


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    # Break the connection instead of answering ("rst": TCP reset, "eof": truncated body).
    abort: str | None = None
    # A body too large to hold: written block by block (``body`` is then ignored); ``length`` is its size.
    chunks: Iterable[bytes] | None = None
    length: int = 0


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    body = json.dumps(payload).encode("utf-8")
    return Response(status, body, "application/json", dict(headers or {}))


def error_response(status: int, error: str, description: str, headers: Mapping[str, str] | None = None) -> Response:
    """An OAuth-style JSON error: ``{"error": ..., "error_description": ...}``."""
    return json_response(status, {"error": error, "error_description": description}, headers)


def html_response(status: int, title: str, message: str) -> Response:
    page = (
        f"<!DOCTYPE html><html><head><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>"
    )
    return Response(status, page.encode("utf-8"), "text/html; charset=utf-8")


def first_values(params: Mapping[str, list[str]]) -> dict[str, str]:
    return {name: values[0] for name, values in params.items() if values}


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_json(request: Request) -> bool:
    return media_type(request.headers.get("Content-Type")) == "application/json"


def json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


_BOUNDARY_RE = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_DISPOSITION_RE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


class MalformedBody(ValueError):
    """A request body that cannot be read as the form it says it is (answered 400)."""


def multipart_form(request: Request) -> tuple[dict[str, str], dict[str, bytes]]:
    """The text fields and the file parts (by field name) of a multipart/form-data body; empty otherwise."""
    content_type = request.headers.get("Content-Type") or ""
    match = _BOUNDARY_RE.search(content_type)
    if not content_type.lower().startswith("multipart/form-data") or match is None:
        return {}, {}
    delimiter = b"\r\n--" + match.group(1).encode("latin-1")
    body = b"\r\n" + request.body  # every delimiter, the first one too, then starts with CRLF
    fields: dict[str, str] = {}
    files: dict[str, bytes] = {}
    view = memoryview(body)
    position = body.find(delimiter)
    while position != -1:
        start = position + len(delimiter)
        if body.startswith(b"--", start):
            return fields, files
        end = body.find(delimiter, start)
        if end == -1:
            break
        head_end = body.find(b"\r\n\r\n", start, end)
        if head_end == -1:
            raise MalformedBody("the multipart body is malformed (a part without headers)")
        lines = body[start:head_end].decode("utf-8", "replace").split("\r\n")
        disposition = next((line for line in lines if line.lower().startswith("content-disposition")), "")
        attributes = {key.lower(): value for key, value in _DISPOSITION_RE.findall(disposition)}
        name = attributes.get("name")
        if name is None:
            raise MalformedBody("a multipart part has no name")
        content = view[head_end + 4 : end]
        if "filename" in attributes:
            files[name] = bytes(content)
        else:
            fields[name] = str(content, "utf-8", "replace")
        position = end
    raise MalformedBody("the multipart body is malformed (no closing boundary)")
