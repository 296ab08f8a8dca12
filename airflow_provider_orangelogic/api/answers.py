"""Reading Orange Logic's JSON answers, whose field names vary in letter case between endpoints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import requests

from airflow_provider_orangelogic.core.errors import redact


def field(mapping: Any, *names: str) -> Any:
    """The value of the first of ``names`` in ``mapping``, in any letter case; None when none is there."""
    if not isinstance(mapping, Mapping):
        return None
    lowered = {str(key).lower(): value for key, value in mapping.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def text_value(value: Any) -> str | None:
    """A scalar as text; None for nothing, a container, or the placeholders some answers use (0, null)."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text if text and text not in ("0", "None", "null") else None


def integer_value(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def message_lines(value: Any) -> list[str]:
    """Messages given as one text (a line each) or a list."""
    if not value:
        return []
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    if isinstance(value, Sequence):
        return [str(item) for item in value if item]
    return [str(value)]


def error_snippet(response: requests.Response) -> str:
    """The start of an error answer, without the token the request carried (a server may echo it)."""
    sent = (response.request.headers.get("Authorization") or "").removeprefix("Bearer ") if response.request else ""
    text = " ".join(redact(response.text, [sent]).split())
    return (text[:200] + "...") if len(text) > 200 else (text or "(empty body)")
