"""The generated catalogue behind the Search endpoint: assets, queries, pages, JSON and XML answers.

Assets are computed from their number, so a huge catalogue costs no memory.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlencode

from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.testing.stand_in.messages import Request, first_values, is_json, json_object

MEDIA_TYPES = ("Image", "Video", "Audio", "Document")
ASSET_FIELDS = ("SystemIdentifier", "RecordID", "Title", "MediaType", "CreateDate", "EditDate", "FileSize")
DATE_FIELDS = ("CreateDate", "EditDate")
DEFAULT_SEARCH_FIELDS = ("SystemIdentifier", "Title")
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

_CATALOGUE_EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)
_QUERY_RE = re.compile(r"(?P<field>[A-Za-z]+)\s*:\s*(?P<value>.+)")
# The range syntax this stand-in accepts for incremental searches (api/windows.py's default template):
# terms joined by AND, each Field:Value, *, or a date field compared with >=, >, <=, < to a UTC timestamp.
_COMPARISON_RE = re.compile(r"(?P<field>[A-Za-z]+)\s*(?P<op>>=|<=|>|<)\s*(?P<value>\S+)")
_AND_RE = re.compile(r"\s+AND\s+")
_STEP = timedelta(minutes=37)  # between two assets' creation
_EDIT_LAG_HOURS = 5  # an asset is edited 0 to 4 whole hours after it was created
_FIELD_BY_LOWER = {name.lower(): name for name in ASSET_FIELDS}


class SearchError(ValueError):
    """A search request the stand-in cannot answer (bad paging or query syntax)."""


def created_at(number: int) -> datetime:
    return _CATALOGUE_EPOCH + _STEP * number


def edited_at(number: int) -> datetime:
    # Every 1440th asset is created on a midnight UTC and, being a multiple of 5, edited then too (number
    # 1440 at 2020-02-07T00:00:00Z): the boundary case of consecutive daily windows.
    return created_at(number) + timedelta(hours=number % _EDIT_LAG_HOURS)


def asset(number: int) -> dict[str, Any]:
    return {
        "SystemIdentifier": f"OL{number:07d}",
        "RecordID": str(number),
        "Title": f"Asset {number}",
        "MediaType": MEDIA_TYPES[(number - 1) % len(MEDIA_TYPES)],
        "CreateDate": created_at(number).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "EditDate": edited_at(number).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "FileSize": 10_000 + (number * 104_729) % 50_000_000,
    }


def _candidate_number(field_name: str, value: str) -> int | None:
    """The only asset number that could carry ``value`` in a unique field, if any."""
    prefix = {"SystemIdentifier": "OL", "RecordID": ""}.get(field_name, "Asset ")
    digits = value[len(prefix) :] if value.startswith(prefix) else ""
    return int(digits) if digits.isdigit() else None


def matching_numbers(query: str, size: int) -> Sequence[int]:
    """Asset numbers matching ``query``, as a ``range`` wherever possible (O(1) to slice)."""
    terms = [_unparenthesized(term) for term in _AND_RE.split(query.strip())]
    if len(terms) == 1 and not _COMPARISON_RE.fullmatch(terms[0]):
        return _term_numbers(terms[0], size)
    # A conjunction: the candidates of the narrowest term, kept where every other term holds too.
    matches = [_comparison_numbers(term, size) if _COMPARISON_RE.fullmatch(term) else _term_numbers(term, size)
               for term in terms]  # fmt: skip
    narrowest = min(matches, key=len)
    others = [m if isinstance(m, range) else frozenset(m) for m in matches if m is not narrowest]
    return [n for n in narrowest if all(n in other for other in others)]


def _unparenthesized(term: str) -> str:
    term = term.strip()
    while term.startswith("(") and term.endswith(")"):
        term = term[1:-1].strip()
    return term


def _comparison_numbers(term: str, size: int) -> Sequence[int]:
    match = _COMPARISON_RE.fullmatch(term)
    field_name = _FIELD_BY_LOWER.get(match["field"].lower())
    if field_name not in DATE_FIELDS:
        raise SearchError(f"only {' and '.join(DATE_FIELDS)} can be compared (>=, >, <=, <), not {match['field']!r}")
    try:
        bound = datetime.strptime(match["value"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        raise SearchError(f"unsupported date {match['value']!r} in query (use YYYY-MM-DDTHH:MM:SSZ)") from None
    moment = created_at if field_name == "CreateDate" else edited_at
    holds = {">=": bound.__le__, ">": bound.__lt__, "<=": bound.__ge__, "<": bound.__gt__}[match["op"]]
    # Both dates grow with the number (an edit is at most 4 h after creation): scan only the numbers near the bound.
    pivot = max(0, min(size, int((bound - _CATALOGUE_EPOCH) / _STEP)))
    slack = int(timedelta(hours=_EDIT_LAG_HOURS) / _STEP) + 2
    near = range(max(1, pivot - slack), min(size, pivot + slack) + 1)
    exact = [n for n in near if holds(moment(n))]
    if match["op"] in (">=", ">"):
        return exact + list(range(near.stop, size + 1))
    return list(range(1, near.start)) + exact


def _term_numbers(query: str, size: int) -> Sequence[int]:
    if query in ("", "*"):
        return range(1, size + 1)
    match = _QUERY_RE.fullmatch(query)
    if match is None:
        raise SearchError(f"unsupported query syntax: {query!r} (use Field:Value or *)")
    field_name = _FIELD_BY_LOWER.get(match["field"].lower())
    if field_name is None:
        raise SearchError(f"unknown field in query: {match['field']!r}")
    value = match["value"].strip().strip('"')
    if field_name == "MediaType":
        if value not in MEDIA_TYPES:
            return range(0)
        return range(MEDIA_TYPES.index(value) + 1, size + 1, len(MEDIA_TYPES))
    if field_name in ("SystemIdentifier", "RecordID", "Title"):
        number = _candidate_number(field_name, value)
        if number is None or not 1 <= number <= size or asset(number)[field_name] != value:
            return range(0)
        return range(number, number + 1)
    # Rarely queried fields: a linear scan is acceptable.
    return [n for n in range(1, size + 1) if str(asset(n)[field_name]) == value]


def requested_fields(raw: str | None) -> list[str]:
    if not raw:
        return list(DEFAULT_SEARCH_FIELDS)
    fields = ["SystemIdentifier"]  # always present, so clients can key on it
    for name in raw.split(","):
        canonical = _FIELD_BY_LOWER.get(name.strip().lower())
        if canonical and canonical not in fields:
            fields.append(canonical)
    return fields


def _positive_int(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SearchError(f"{name} must be an integer, got {raw!r}") from None
    if value < 1:
        raise SearchError(f"{name} must be at least 1, got {value}")
    return value


def search_params(request: Request) -> dict[str, str]:
    """Query string parameters, overridden by a form or JSON body on POST."""
    params = first_values(request.query)
    if request.method != "POST" or not request.body:
        return params
    if is_json(request):
        try:
            body = {k: str(v) for k, v in json_object(request.body).items()}
        except ValueError:
            body = {}
    else:
        body = first_values(parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True))
    return {**params, **body}


@dataclass(frozen=True)
class SearchPage:
    items: list[dict[str, Any]]
    total: int
    next_page: str


def search_page(params: Mapping[str, str], size: int, base_url: str) -> SearchPage:
    per_page = min(_positive_int(params, "countperpage", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)
    page_number = _positive_int(params, "pagenumber", 1)
    matches = matching_numbers(params.get("query", ""), size)
    fields = requested_fields(params.get("fields"))
    start = (page_number - 1) * per_page
    numbers = matches[start : start + per_page]
    items = [{name: record[name] for name in fields} for record in map(asset, numbers)]
    next_page = ""
    if start + per_page < len(matches):
        next_params = {**params, "countperpage": str(per_page), "pagenumber": str(page_number + 1)}
        next_page = f"{base_url}{endpoints.SEARCH}?{urlencode(next_params)}"
    return SearchPage(items, len(matches), next_page)


def search_json(page: SearchPage, global_info: bool) -> bytes:
    answer: dict[str, Any] = {}
    if global_info:
        answer["GlobalInfo"] = {"TotalCount": page.total, "NextPage": page.next_page}
    answer["Items"] = page.items
    return json.dumps({"APIResponse": answer}).encode("utf-8")


def _xml_element(name: str, value: Any) -> str:
    return f"<{name}>{html.escape(str(value), quote=False)}</{name}>"


def search_xml(page: SearchPage, global_info: bool) -> bytes:
    parts = ['<?xml version="1.0" encoding="utf-8"?>', "<APIResponse>"]
    if global_info:
        info = _xml_element("TotalCount", page.total) + _xml_element("NextPage", page.next_page)
        parts.append(f"<GlobalInfo>{info}</GlobalInfo>")
    parts.append("<Items>")
    for item in page.items:
        parts.append("<Item>" + "".join(_xml_element(k, v) for k, v in item.items()) + "</Item>")
    parts.append("</Items></APIResponse>")
    return "".join(parts).encode("utf-8")


def rendered(page: SearchPage, params: Mapping[str, str], global_info: bool) -> tuple[bytes, str]:
    """The page's body and content type: XML unless ``format=json`` is asked for, as Orange Logic does."""
    if params.get("format", "").lower() == "json":
        return search_json(page, global_info), "application/json"
    return search_xml(page, global_info), "text/xml; charset=utf-8"
