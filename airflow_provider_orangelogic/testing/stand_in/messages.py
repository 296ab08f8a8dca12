"""What passes between the socket layer and the service: requests, responses and their helpers."""

from __future__ import annotations

import html
import json
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
