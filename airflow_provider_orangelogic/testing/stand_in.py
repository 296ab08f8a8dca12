"""A local stand-in for the Orange Logic OAuth 2.0 and Search endpoints.

It lets the whole token lifecycle (authorization code, refresh, rotation, reuse detection,
expiry) and paged searches run on one machine with no network, both in-process for unit
tests and as a separate process (``python -m airflow_provider_orangelogic.testing``).

Only the standard library is used so that the stand-in can run in any interpreter without
Airflow or ``requests`` installed. It listens on the loopback interface only: it hands out
tokens to anyone who asks, so it must never be reachable from another machine.

Behaviour that Orange Logic does not document (refresh token rotation, reuse detection) is
configurable through :class:`StandInConfig` and defaults to the strictest reading, because a
client that survives the strict server also survives a lenient one.

Faults (``add_fault(endpoint, kind, count=1, **options)``, endpoint ``"token"``, ``"search"``
or ``"any"``; the next ``count`` matching requests get the fault, oldest fault first):

``status``      answer ``status`` (default 500) with a ``body`` of ``"json"`` (``error``,
                ``error_description``), ``"html"`` or ``"text"``; ``retry_after`` adds a
                Retry-After header. The request is not processed.
``slow``        sleep ``delay`` seconds (default 1), then answer normally.
``reset``       send headers promising more body than is sent, then drop the connection:
                ``mode="rst"`` (default, TCP reset) or ``"eof"`` (truncated body, clean close).
                With ``process=True`` the request is processed first (e.g. a refresh token is
                rotated) and only the answer is lost.
``non_json``    200 with an HTML body starting with "OK". The request is not processed.
``drop_fields`` token only: a successful answer without ``fields`` (default
                ``["access_token"]``); the grant advances as if they had been sent.
``expires_in``  token only: a successful answer whose ``expires_in`` is the raw ``value``
                (None removes it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import json
import re
import secrets
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

LOOPBACK = "127.0.0.1"
AUTH_PATH = "/oauth2/auth"
TOKEN_PATH = "/webapi/security/oauth2/token_48I_v1"
SEARCH_PATH = "/API/search/v4.0/search"
CONTROL_PREFIX = "/_standin/"

MEDIA_TYPES = ("Image", "Video", "Audio", "Document")
ASSET_FIELDS = ("SystemIdentifier", "Title", "MediaType", "CreateDate", "FileSize")
DEFAULT_SEARCH_FIELDS = ("SystemIdentifier", "Title")
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
GRANT_TYPES = ("authorization_code", "refresh_token")
TOKEN_PARAMS = ("client_id", "client_secret", "grant_type", "code")

COUNTER_NAMES = (
    "requests",
    "auth_requests",
    "token_requests",
    "token_success",
    "token_errors",
    "authorization_code_grants",
    "refresh_token_grants",
    "refresh_token_reuses",
    "code_reuses",
    "grants_revoked",
    "codes_issued",
    "search_requests",
    "search_pages_served",
    "search_items_served",
    "unauthorized",
    "faults_injected",
)

FAULT_ENDPOINTS = ("token", "search", "any")
# Allowed options per fault kind; anything else is rejected so that a typo in a test does not
# silently inject a different fault than the one intended.
FAULT_OPTIONS: dict[str, frozenset[str]] = {
    "status": frozenset({"status", "body", "retry_after", "error", "error_description"}),
    "slow": frozenset({"delay"}),
    "reset": frozenset({"mode", "process"}),
    "non_json": frozenset(),
    "drop_fields": frozenset({"fields"}),
    "expires_in": frozenset({"value"}),
}
# These kinds rewrite a successful token response, so they mean nothing on the search endpoint.
TOKEN_ONLY_FAULTS = frozenset({"drop_fields", "expires_in"})

MAX_BODY_BYTES = 1 << 20
_CATALOGUE_EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)
_QUERY_RE = re.compile(r"(?P<field>[A-Za-z]+)\s*:\s*(?P<value>.+)")
_FIELD_BY_LOWER = {name.lower(): name for name in ASSET_FIELDS}


@dataclass
class StandInConfig:
    """What the stand-in server accepts and how it behaves. Lifetimes are in seconds."""

    client_id: str = "standin-client"
    client_secret: str = "standin-secret"  # a fixed, well-known test credential
    redirect_uris: tuple[str, ...] = ("http://127.0.0.1:8080/orangelogic/callback",)
    access_lifetime: float = 86400
    refresh_lifetime: float = 30 * 86400
    code_lifetime: float = 600
    # Single-use refresh tokens; presenting a rotated-out one revokes the whole grant.
    strict: bool = True
    # False: token responses carry no expires_in, so clients must fall back to a default.
    send_expires_in: bool = True
    # False: refresh responses carry no refresh_token and the old one stays usable.
    rotate_refresh_token: bool = True
    catalogue_size: int = 250
    # False: search answers carry no GlobalInfo, as for users without the security function.
    global_info: bool = True


def _validated(config: StandInConfig) -> StandInConfig:
    """Return a private, checked copy of ``config`` (callers may keep mutating theirs)."""
    redirect_uris = config.redirect_uris
    if isinstance(redirect_uris, str) or not all(isinstance(uri, str) for uri in redirect_uris):
        raise ValueError("redirect_uris must be a sequence of strings")
    for name in ("client_id", "client_secret"):
        if not isinstance(getattr(config, name), str) or not getattr(config, name):
            raise ValueError(f"{name} must be a non-empty string")
    for name in ("access_lifetime", "refresh_lifetime", "code_lifetime"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{name} must be a non-negative number of seconds")
    size = config.catalogue_size
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError("catalogue_size must be a non-negative integer")
    for name in ("strict", "send_expires_in", "rotate_refresh_token", "global_info"):
        if not isinstance(getattr(config, name), bool):
            raise ValueError(f"{name} must be a boolean")
    return dataclasses.replace(config, redirect_uris=tuple(redirect_uris))


# --------------------------------------------------------------------------------------------
# Internal state
# --------------------------------------------------------------------------------------------


@dataclass
class _Grant:
    """One authorization: the family of tokens descending from one authorization code."""

    client_id: str
    access_token: str
    access_expires: float
    # Refresh tokens that may still be presented, mapped to their (monotonic) expiry.
    refresh_tokens: dict[str, float]
    # Strict mode only: refresh tokens already exchanged; presenting one again is theft evidence.
    rotated_out: set[str] = field(default_factory=set)
    revoked: bool = False


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    expires: float
    # Set once exchanged; a second exchange is a reuse (RFC 6749 section 4.1.2).
    grant: _Grant | None = None


@dataclass
class _Fault:
    endpoint: str
    kind: str
    remaining: int
    options: dict[str, Any]


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    base_url: str


@dataclass
class _Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    # Break the connection instead of answering ("rst": TCP reset, "eof": truncated body).
    abort: str | None = None


class _OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


class _SearchError(ValueError):
    """A search request the stand-in cannot answer (bad paging or query syntax)."""


def _json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> _Response:
    body = json.dumps(payload).encode("utf-8")
    return _Response(status, body, "application/json", dict(headers or {}))


def _oauth_error_response(exc: _OAuthError) -> _Response:
    payload = {"error": exc.error, "error_description": exc.description}
    # Token answers must never be cached (RFC 6749 section 5.1), errors included.
    return _json_response(exc.status, payload, {"Cache-Control": "no-store", "Pragma": "no-cache"})


def _html_response(status: int, title: str, message: str) -> _Response:
    page = (
        f"<!DOCTYPE html><html><head><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>"
    )
    return _Response(status, page.encode("utf-8"), "text/html; charset=utf-8")


def _first_values(params: Mapping[str, list[str]]) -> dict[str, str]:
    return {name: values[0] for name, values in params.items() if values}


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


# --------------------------------------------------------------------------------------------
# Catalogue: assets are computed from their number, so a huge catalogue costs no memory.
# --------------------------------------------------------------------------------------------


def _asset(number: int) -> dict[str, Any]:
    created = _CATALOGUE_EPOCH + timedelta(minutes=37 * number)
    return {
        "SystemIdentifier": f"OL{number:07d}",
        "Title": f"Asset {number}",
        "MediaType": MEDIA_TYPES[(number - 1) % len(MEDIA_TYPES)],
        "CreateDate": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "FileSize": 10_000 + (number * 104_729) % 50_000_000,
    }


def _candidate_number(field_name: str, value: str) -> int | None:
    """The only asset number that could carry ``value`` in a unique field, if any."""
    prefix = "OL" if field_name == "SystemIdentifier" else "Asset "
    digits = value[len(prefix) :] if value.startswith(prefix) else ""
    return int(digits) if digits.isdigit() else None


def _matching_numbers(query: str, size: int) -> Sequence[int]:
    """Asset numbers matching ``query``, as a ``range`` wherever possible (O(1) to slice)."""
    query = query.strip()
    if query in ("", "*"):
        return range(1, size + 1)
    match = _QUERY_RE.fullmatch(query)
    if match is None:
        raise _SearchError(f"unsupported query syntax: {query!r} (use Field:Value or *)")
    field_name = _FIELD_BY_LOWER.get(match["field"].lower())
    if field_name is None:
        raise _SearchError(f"unknown field in query: {match['field']!r}")
    value = match["value"].strip().strip('"')
    if field_name == "MediaType":
        if value not in MEDIA_TYPES:
            return range(0)
        return range(MEDIA_TYPES.index(value) + 1, size + 1, len(MEDIA_TYPES))
    if field_name in ("SystemIdentifier", "Title"):
        number = _candidate_number(field_name, value)
        if number is None or not 1 <= number <= size or _asset(number)[field_name] != value:
            return range(0)
        return range(number, number + 1)
    # Rarely queried fields: a linear scan is acceptable.
    return [n for n in range(1, size + 1) if str(_asset(n)[field_name]) == value]


def _requested_fields(raw: str | None) -> list[str]:
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
        raise _SearchError(f"{name} must be an integer, got {raw!r}") from None
    if value < 1:
        raise _SearchError(f"{name} must be at least 1, got {value}")
    return value


@dataclass(frozen=True)
class _SearchPage:
    items: list[dict[str, Any]]
    total: int
    next_page: str


def _search_page(params: Mapping[str, str], size: int, base_url: str) -> _SearchPage:
    per_page = min(_positive_int(params, "countperpage", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)
    page_number = _positive_int(params, "pagenumber", 1)
    matches = _matching_numbers(params.get("query", ""), size)
    fields = _requested_fields(params.get("fields"))
    start = (page_number - 1) * per_page
    numbers = matches[start : start + per_page]
    items = [{name: asset[name] for name in fields} for asset in map(_asset, numbers)]
    next_page = ""
    if start + per_page < len(matches):
        next_params = {**params, "countperpage": str(per_page), "pagenumber": str(page_number + 1)}
        next_page = f"{base_url}{SEARCH_PATH}?{urlencode(next_params)}"
    return _SearchPage(items, len(matches), next_page)


def _search_json(page: _SearchPage, global_info: bool) -> bytes:
    answer: dict[str, Any] = {}
    if global_info:
        answer["GlobalInfo"] = {"TotalCount": page.total, "NextPage": page.next_page}
    answer["Items"] = page.items
    return json.dumps({"APIResponse": answer}).encode("utf-8")


def _xml_element(name: str, value: Any) -> str:
    return f"<{name}>{html.escape(str(value), quote=False)}</{name}>"


def _search_xml(page: _SearchPage, global_info: bool) -> bytes:
    parts = ['<?xml version="1.0" encoding="utf-8"?>', "<APIResponse>"]
    if global_info:
        info = _xml_element("TotalCount", page.total) + _xml_element("NextPage", page.next_page)
        parts.append(f"<GlobalInfo>{info}</GlobalInfo>")
    parts.append("<Items>")
    for item in page.items:
        parts.append("<Item>" + "".join(_xml_element(k, v) for k, v in item.items()) + "</Item>")
    parts.append("</Items></APIResponse>")
    return "".join(parts).encode("utf-8")


# --------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------


def _check_fault(endpoint: str, kind: str, count: int, options: Mapping[str, Any]) -> None:
    if endpoint not in FAULT_ENDPOINTS:
        raise ValueError(f"endpoint must be one of {FAULT_ENDPOINTS}, got {endpoint!r}")
    if kind not in FAULT_OPTIONS:
        raise ValueError(f"kind must be one of {tuple(FAULT_OPTIONS)}, got {kind!r}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError("count must be a positive integer")
    unknown = set(options) - FAULT_OPTIONS[kind]
    if unknown:
        raise ValueError(f"unknown options for {kind!r} fault: {sorted(unknown)}")
    if kind in TOKEN_ONLY_FAULTS and endpoint == "search":
        raise ValueError(f"{kind!r} faults only apply to the token endpoint")
    status = options.get("status", 500)
    if kind == "status" and (isinstance(status, bool) or not isinstance(status, int)):
        raise ValueError("status must be an integer HTTP status")
    if kind == "status" and not 100 <= status <= 599:
        raise ValueError("status must be between 100 and 599")
    if options.get("body", "json") not in ("json", "html", "text"):
        raise ValueError("body must be 'json', 'html' or 'text'")
    if options.get("mode", "rst") not in ("rst", "eof"):
        raise ValueError("mode must be 'rst' or 'eof'")
    fields = options.get("fields", ["access_token"])
    if isinstance(fields, str) or not all(isinstance(name, str) for name in fields):
        raise ValueError("fields must be a list of field names")
    delay = options.get("delay", 1.0)
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
        raise ValueError("delay must be a non-negative number of seconds")


def _status_fault_response(endpoint: str, options: Mapping[str, Any]) -> _Response:
    status = int(options.get("status", 500))
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:  # a valid but unnamed status, e.g. 599
        phrase = "Error"
    headers = {}
    if options.get("retry_after") is not None:
        headers["Retry-After"] = str(options["retry_after"])
    body_kind = options.get("body", "json")
    if body_kind == "html":
        response = _html_response(status, f"{status} {phrase}", "Injected by the Orange Logic stand-in.")
    elif body_kind == "text":
        response = _Response(status, f"{status} {phrase}".encode(), "text/plain; charset=utf-8")
    else:
        error = options.get("error") or _default_fault_error(endpoint, status)
        description = options.get("error_description") or f"injected {status} fault"
        response = _json_response(status, {"error": error, "error_description": description})
    response.headers.update(headers)
    return response


def _default_fault_error(endpoint: str, status: int) -> str:
    if status == 401:
        return "invalid_client" if endpoint == "token" else "invalid_token"
    if status in (429, 503):
        return "temporarily_unavailable"
    return "invalid_request" if 400 <= status < 500 else "server_error"


def _non_json_response() -> _Response:
    body = b"OK <html><body><p>Service is running.</p></body></html>"
    return _Response(200, body, "text/html; charset=utf-8")


# --------------------------------------------------------------------------------------------
# The service: all state and request logic, independent of sockets
# --------------------------------------------------------------------------------------------


class _Service:
    """State of the stand-in. Every read or write of state happens under ``self._lock``."""

    def __init__(self, config: StandInConfig) -> None:
        self._lock = threading.Lock()
        self._config = _validated(config)
        self._issued: list[str] = []  # survives reset(): tests scan logs for every secret ever issued
        self._reset_state()
        self._routes: dict[str, dict[str, Callable[[_Request], _Response]]] = {
            AUTH_PATH: {"GET": self._handle_auth},
            TOKEN_PATH: {"POST": self._handle_token},
            SEARCH_PATH: {"GET": self._handle_search, "POST": self._handle_search},
            "/_standin/counters": {"GET": lambda _: _json_response(200, self.counters())},
            "/_standin/issued": {"GET": lambda _: _json_response(200, self.issued_secrets())},
            "/_standin/faults": {"POST": self._control_add_fault, "DELETE": self._control_clear_faults},
            "/_standin/configure": {"POST": self._control_configure},
            "/_standin/reset": {"POST": self._control_reset},
            "/_standin/authorize": {"GET": self._control_authorize},
        }

    def _reset_state(self) -> None:
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, _Grant] = {}
        self._refresh: dict[str, _Grant] = {}
        self._faults: list[_Fault] = []
        self._counters = dict.fromkeys(COUNTER_NAMES, 0)

    # ---- public operations (each takes the lock) ----

    @property
    def config(self) -> StandInConfig:
        with self._lock:
            return dataclasses.replace(self._config)

    def configure(self, changes: Mapping[str, Any]) -> None:
        known = {f.name for f in dataclasses.fields(StandInConfig)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown configuration fields: {sorted(unknown)}")
        updates = dict(changes)
        if isinstance(updates.get("redirect_uris"), list):  # JSON has no tuples
            updates["redirect_uris"] = tuple(updates["redirect_uris"])
        with self._lock:
            self._config = _validated(dataclasses.replace(self._config, **updates))

    def reset(self) -> None:
        with self._lock:
            self._reset_state()

    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counters)

    def issued_secrets(self) -> list[str]:
        with self._lock:
            return list(self._issued)

    def add_fault(self, endpoint: str, kind: str, count: int = 1, **options: Any) -> None:
        _check_fault(endpoint, kind, count, options)
        with self._lock:
            self._faults.append(_Fault(endpoint, kind, count, dict(options)))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def authorize(self, client_id: str, redirect_uri: str) -> str:
        """Issue a code for an already validated request."""
        with self._lock:
            code = secrets.token_urlsafe(24)
            expires = time.monotonic() + self._config.code_lifetime
            self._codes[code] = _Code(client_id, redirect_uri, expires)
            self._issued.append(code)
            self._counters["codes_issued"] += 1
            return code

    def authorization_problem(self, client_id: str | None, redirect_uri: str | None) -> str | None:
        """Why an authorization request must be refused, or None if it may proceed."""
        with self._lock:
            config = self._config
        if client_id != config.client_id:
            return f"Unknown client_id {client_id!r}."
        if not redirect_uri:
            return "The redirect_uri parameter is missing."
        if redirect_uri not in config.redirect_uris:
            return f"The redirect_uri {redirect_uri!r} is not registered for this client."
        return None

    # ---- request entry point ----

    def handle(self, request: _Request) -> _Response:
        routes = self._routes.get(request.path)
        if not request.path.startswith(CONTROL_PREFIX):
            # Control calls are not counted: tests poll them and must not disturb the numbers.
            self._count("requests")
        if routes is None:
            return _json_response(404, {"error": "not_found", "error_description": request.path})
        handler = routes.get(request.method)
        if handler is None:
            allowed = ", ".join(sorted(routes))
            return _json_response(405, {"error": "method_not_allowed"}, {"Allow": allowed})
        return handler(request)

    # ---- helpers ----

    def _count(self, name: str) -> None:
        with self._lock:
            self._counters[name] += 1

    def _take_fault(self, endpoint: str) -> _Fault | None:
        """Consume one use of the oldest fault that applies to ``endpoint``."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.endpoint not in (endpoint, "any"):
                    continue
                if fault.kind in TOKEN_ONLY_FAULTS and endpoint != "token":
                    continue
                fault.remaining -= 1
                if fault.remaining == 0:
                    del self._faults[index]
                self._counters["faults_injected"] += 1
                return dataclasses.replace(fault, options=dict(fault.options))
        return None

    def _fault_before(self, endpoint: str, fault: _Fault | None) -> _Response | None:
        """Apply the part of a fault that replaces or delays normal processing."""
        if fault is None:
            return None
        if fault.kind == "slow":
            time.sleep(float(fault.options.get("delay", 1.0)))  # outside the lock on purpose
        elif fault.kind == "status":
            return _status_fault_response(endpoint, fault.options)
        elif fault.kind == "non_json":
            return _non_json_response()
        elif fault.kind == "reset" and not fault.options.get("process", False):
            return _Response(200, abort=fault.options.get("mode", "rst"))
        return None

    # ---- /oauth2/auth ----

    def _handle_auth(self, request: _Request) -> _Response:
        self._count("auth_requests")
        params = _first_values(request.query)
        problem = self.authorization_problem(params.get("client_id"), params.get("redirect_uri"))
        if problem is None and params.get("response_type") != "code":
            problem = f"Unsupported response_type {params.get('response_type')!r}; use 'code'."
        if problem is not None:
            # Never redirect on a bad request: the redirect target itself may be the attacker's.
            return _html_response(400, "Authorization request rejected", problem)
        redirect_uri = params["redirect_uri"]
        code = self.authorize(params["client_id"], redirect_uri)
        answer = {"code": code}
        if "state" in params:
            answer["state"] = params["state"]
        separator = "&" if "?" in redirect_uri else "?"
        location = f"{redirect_uri}{separator}{urlencode(answer)}"
        return _Response(302, b"", "text/plain", {"Location": location, "Cache-Control": "no-store"})

    # ---- token endpoint ----

    def _handle_token(self, request: _Request) -> _Response:
        self._count("token_requests")
        fault = self._take_fault("token")
        early = self._fault_before("token", fault)
        if early is not None:
            return early
        try:
            payload = self._grant_tokens(_token_params(request))
        except _OAuthError as exc:
            self._count("token_errors")
            response = _oauth_error_response(exc)
        else:
            self._count("token_success")
            _apply_payload_fault(payload, fault)
            response = _json_response(200, payload, {"Cache-Control": "no-store", "Pragma": "no-cache"})
        if fault is not None and fault.kind == "reset":  # processed, then the answer is lost
            return _Response(200, abort=fault.options.get("mode", "rst"))
        return response

    def _grant_tokens(self, params: Mapping[str, str]) -> dict[str, Any]:
        with self._lock:
            config = self._config
            if params["client_id"] != config.client_id or not secrets.compare_digest(
                params["client_secret"].encode(), config.client_secret.encode()
            ):
                raise _OAuthError(401, "invalid_client", "client authentication failed")
            grant_type = params["grant_type"]
            if grant_type not in GRANT_TYPES:
                raise _OAuthError(400, "unsupported_grant_type", f"grant_type {grant_type!r}")
            if grant_type == "authorization_code":
                return self._exchange_code(config, params["client_id"], params["code"])
            return self._exchange_refresh(config, params["client_id"], params["code"])

    def _exchange_code(self, config: StandInConfig, client_id: str, code: str) -> dict[str, Any]:
        """Caller holds the lock."""
        now = time.monotonic()
        record = self._codes.get(code)
        if record is None or record.client_id != client_id:
            raise _OAuthError(400, "invalid_grant", "unknown authorization code")
        if record.grant is not None:
            self._counters["code_reuses"] += 1
            if config.strict:
                # A replayed code may mean it was intercepted: distrust what it produced.
                self._revoke(record.grant)
            raise _OAuthError(400, "invalid_grant", "authorization code already used")
        if now >= record.expires:
            raise _OAuthError(400, "invalid_grant", "authorization code expired")
        access, access_expires = self._new_secret(now, config.access_lifetime)
        refresh, refresh_expires = self._new_secret(now, config.refresh_lifetime)
        grant = _Grant(client_id, access, access_expires, {refresh: refresh_expires})
        record.grant = grant
        self._access[access] = grant
        self._refresh[refresh] = grant
        self._counters["authorization_code_grants"] += 1
        return _token_payload(config, access, refresh)

    def _exchange_refresh(self, config: StandInConfig, client_id: str, token: str) -> dict[str, Any]:
        """Caller holds the lock."""
        now = time.monotonic()
        grant = self._refresh.get(token)
        if grant is None or grant.client_id != client_id:
            raise _OAuthError(400, "invalid_grant", "unknown refresh token")
        if token in grant.rotated_out:
            self._counters["refresh_token_reuses"] += 1
            self._revoke(grant)
            raise _OAuthError(400, "invalid_grant", "refresh token already used; grant revoked")
        if grant.revoked:
            raise _OAuthError(400, "invalid_grant", "grant revoked")
        expires = grant.refresh_tokens.get(token)
        if expires is None:
            raise _OAuthError(400, "invalid_grant", "refresh token no longer valid")
        if now >= expires:
            del grant.refresh_tokens[token]
            raise _OAuthError(400, "invalid_grant", "refresh token expired")
        # A new access token supersedes the old one of the same grant.
        self._access.pop(grant.access_token, None)
        grant.access_token, grant.access_expires = self._new_secret(now, config.access_lifetime)
        self._access[grant.access_token] = grant
        new_refresh = None
        if config.rotate_refresh_token:
            new_refresh, new_expires = self._new_secret(now, config.refresh_lifetime)
            grant.refresh_tokens[new_refresh] = new_expires
            self._refresh[new_refresh] = grant
            if config.strict:
                del grant.refresh_tokens[token]
                grant.rotated_out.add(token)
        self._counters["refresh_token_grants"] += 1
        return _token_payload(config, grant.access_token, new_refresh)

    def _new_secret(self, now: float, lifetime: float) -> tuple[str, float]:
        """Caller holds the lock."""
        value = secrets.token_urlsafe(32)
        self._issued.append(value)
        return value, now + lifetime

    def _revoke(self, grant: _Grant) -> None:
        """Caller holds the lock."""
        if not grant.revoked:
            grant.revoked = True
            self._counters["grants_revoked"] += 1

    # ---- search endpoint ----

    def _handle_search(self, request: _Request) -> _Response:
        self._count("search_requests")
        fault = self._take_fault("search")
        early = self._fault_before("search", fault)
        if early is not None:
            return early
        problem = self._bearer_problem(request.headers.get("Authorization"))
        if problem is not None:
            self._count("unauthorized")
            challenge = f'Bearer error="invalid_token", error_description="{problem}"'
            payload = {"error": "invalid_token", "error_description": problem}
            return _json_response(401, payload, {"WWW-Authenticate": challenge})
        config = self.config
        params = _search_params(request)
        try:
            page = _search_page(params, config.catalogue_size, request.base_url)
        except _SearchError as exc:
            return _json_response(400, {"error": "invalid_request", "error_description": str(exc)})
        with self._lock:
            self._counters["search_pages_served"] += 1
            self._counters["search_items_served"] += len(page.items)
        if fault is not None and fault.kind == "reset":
            return _Response(200, abort=fault.options.get("mode", "rst"))
        if params.get("format", "").lower() == "json":
            return _Response(200, _search_json(page, config.global_info), "application/json")
        # Orange Logic answers XML unless format=json is asked for.
        return _Response(200, _search_xml(page, config.global_info), "text/xml; charset=utf-8")

    def _bearer_problem(self, header: str | None) -> str | None:
        scheme, _, token = (header or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "missing bearer token"
        with self._lock:
            grant = self._access.get(token.strip())
            if grant is None or grant.access_token != token.strip():
                return "unknown access token"
            if grant.revoked:
                return "grant revoked"
            if time.monotonic() >= grant.access_expires:
                return "access token expired"
        return None

    # ---- control endpoints ----

    def _control_add_fault(self, request: _Request) -> _Response:
        try:
            spec = _json_object(request.body)
            self.add_fault(**spec)
        except (TypeError, ValueError) as exc:
            return _json_response(400, {"error": "invalid_request", "error_description": str(exc)})
        return _json_response(200, {"ok": True})

    def _control_clear_faults(self, _request: _Request) -> _Response:
        self.clear_faults()
        return _json_response(200, {"ok": True})

    def _control_configure(self, request: _Request) -> _Response:
        try:
            self.configure(_json_object(request.body))
        except (TypeError, ValueError) as exc:
            return _json_response(400, {"error": "invalid_request", "error_description": str(exc)})
        return _json_response(200, {"ok": True})

    def _control_reset(self, _request: _Request) -> _Response:
        self.reset()
        return _json_response(200, {"ok": True})

    def _control_authorize(self, request: _Request) -> _Response:
        config = self.config
        redirect_uri = _first_values(request.query).get("redirect_uri") or config.redirect_uris[0]
        problem = self.authorization_problem(config.client_id, redirect_uri)
        if problem is not None:
            return _json_response(400, {"error": "invalid_request", "error_description": problem})
        return _json_response(200, {"code": self.authorize(config.client_id, redirect_uri)})


def _token_payload(config: StandInConfig, access: str, refresh: str | None) -> dict[str, Any]:
    payload: dict[str, Any] = {"access_token": access}
    if refresh is not None:
        payload["refresh_token"] = refresh
    payload["token_type"] = "Bearer"
    if config.send_expires_in:
        payload["expires_in"] = int(config.access_lifetime)
    return payload


def _apply_payload_fault(payload: dict[str, Any], fault: _Fault | None) -> None:
    """Make a successful token answer look like one from a buggy server."""
    if fault is None:
        return
    if fault.kind == "drop_fields":
        for name in fault.options.get("fields", ["access_token"]):
            payload.pop(name, None)
    elif fault.kind == "expires_in":
        value = fault.options.get("value")
        if value is None:
            payload.pop("expires_in", None)
        else:
            payload["expires_in"] = value


def _token_params(request: _Request) -> dict[str, str]:
    """The four token parameters from a form or JSON body; raises invalid_request."""
    if _media_type(request.headers.get("Content-Type")) == "application/json":
        try:
            data = _json_object(request.body)
        except ValueError as exc:
            raise _OAuthError(400, "invalid_request", str(exc)) from None
        params = {name: value for name, value in data.items() if isinstance(value, str)}
    else:
        try:
            parsed = parse_qs(request.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise _OAuthError(400, "invalid_request", "body is not UTF-8") from None
        repeated = sorted(name for name, values in parsed.items() if len(values) > 1)
        if repeated:
            raise _OAuthError(400, "invalid_request", f"repeated parameters: {', '.join(repeated)}")
        params = _first_values(parsed)
    missing = [name for name in TOKEN_PARAMS if not params.get(name)]
    if missing:
        raise _OAuthError(400, "invalid_request", f"missing required parameters: {', '.join(missing)}")
    return params


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def _search_params(request: _Request) -> dict[str, str]:
    """Query string parameters, overridden by a form or JSON body on POST."""
    params = _first_values(request.query)
    if request.method != "POST" or not request.body:
        return params
    if _media_type(request.headers.get("Content-Type")) == "application/json":
        try:
            body = {k: str(v) for k, v in _json_object(request.body).items()}
        except ValueError:
            body = {}
    else:
        body = _first_values(parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True))
    return {**params, **body}


# --------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a hung client must never keep the test process alive
    request_queue_size = 128  # concurrency tests open many connections at once

    def __init__(self, address: tuple[str, int], service: _Service) -> None:
        self.service = service
        self.base_url = ""
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)
        self.base_url = f"http://{LOOPBACK}:{self.server_port}"

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """Cut idle keep-alive connections, so a stopped stand-in really stops answering."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the peer
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (timeouts, resets) are expected in fault tests; stay quiet.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real service behind a load balancer
    server_version = "OrangeLogicStandIn/1.0"
    timeout = 30  # idle keep-alive connections must not pin a thread forever
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle plus the client's
        # delayed ACK stalls every keep-alive response by ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        # Silent on purpose: request lines and redirects can carry codes, and the CLI promises
        # never to print secrets.
        return

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        body = self._read_body()
        if body is None:
            return
        url = urlsplit(self.path)
        request = _Request(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
            base_url=self.server.base_url,
        )
        try:
            response = self.server.service.handle(request)
        except Exception:
            traceback.print_exc()  # a bug in the stand-in: show it, but still answer
            response = _json_response(500, {"error": "server_error", "error_description": "stand-in bug"})
        self._send(response)

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering an unreadable request."""
        if self.headers.get("Transfer-Encoding"):
            self._send(_json_response(411, {"error": "invalid_request", "error_description": "chunked"}))
            self.close_connection = True
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self._send(_json_response(413, {"error": "invalid_request", "error_description": "body size"}))
            self.close_connection = True
            return None
        return self.rfile.read(length) if length else b""

    def _send(self, response: _Response) -> None:
        if response.abort is not None:
            self._abort(response.abort)
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def _abort(self, mode: str) -> None:
        """Promise a body, send part of it, then drop the connection."""
        partial = b'{"access_token": "'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(partial) + 4096))
        self.end_headers()
        self.wfile.write(partial)
        self.close_connection = True
        if mode == "rst":
            # A zero linger timeout makes close() send a TCP RST rather than a tidy FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # The socket only really closes once the buffered reader wrapping it is closed too
        # (wfile writes straight to the socket and holds no reference to release).
        self.rfile.close()
        self.connection.close()


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


class OrangeLogicStandIn:
    """A local Orange Logic OAuth + Search server on ``127.0.0.1``.

    Use as a context manager, or call :meth:`start` and :meth:`stop`::

        with OrangeLogicStandIn(StandInConfig(access_lifetime=2)) as standin:
            code = standin.authorize()
            ...  # point the client at standin.url
    """

    def __init__(self, config: StandInConfig | None = None, host: str = LOOPBACK, port: int = 0) -> None:
        if host != LOOPBACK:
            # The stand-in hands tokens to anyone: it must not be reachable from elsewhere.
            raise ValueError(f"the stand-in only listens on {LOOPBACK}, not {host!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"invalid port {port!r}")
        self._service = _Service(config or StandInConfig())
        self._requested_port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ----

    def start(self) -> OrangeLogicStandIn:
        """Bind and serve in a background daemon thread."""
        if self._server is not None:
            raise RuntimeError("the stand-in is already running")
        server = _Server((LOOPBACK, self._requested_port), self._service)
        thread = threading.Thread(
            target=server.serve_forever,
            # stop() waits up to one poll interval; keep it short so per-test servers stop fast.
            kwargs={"poll_interval": 0.02},
            name=f"orangelogic-standin-{server.server_port}",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving and close every connection. Safe to call twice."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def serve_forever_for(self, seconds: float, stop_event: threading.Event | None = None) -> bool:
        """Serve until ``seconds`` have passed or ``stop_event`` is set, then stop.

        Returns True if stopped by the event, False if the time ran out.
        """
        if self._server is None:
            self.start()
        event = stop_event or threading.Event()
        deadline = time.monotonic() + seconds
        try:
            # Short waits keep the main thread responsive to signal handlers setting the event.
            while not event.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                event.wait(min(remaining, 0.25))
            return True
        finally:
            self.stop()

    def __enter__(self) -> OrangeLogicStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the stand-in is not running")
        return self._server.server_port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def config(self) -> StandInConfig:
        """A copy of the current configuration."""
        return self._service.config

    # ---- test helpers ----

    def authorize(self, redirect_uri: str | None = None, state: str = "x") -> str:
        """Issue an authorization code as the browser flow would, and return it.

        ``state`` is accepted for symmetry with the HTTP flow; codes do not depend on it.
        Raises ValueError for a redirect URI that is not registered.
        """
        config = self._service.config
        uri = redirect_uri or config.redirect_uris[0]
        problem = self._service.authorization_problem(config.client_id, uri)
        if problem is not None:
            raise ValueError(problem)
        return self._service.authorize(config.client_id, uri)

    def counters(self) -> dict[str, int]:
        return self._service.counters()

    def issued_secrets(self) -> list[str]:
        """Every code, access token and refresh token issued since creation (kept across reset)."""
        return self._service.issued_secrets()

    def add_fault(self, endpoint: str, kind: str, count: int = 1, **options: Any) -> None:
        """Make the next ``count`` requests to ``endpoint`` misbehave (see module docs)."""
        self._service.add_fault(endpoint, kind, count, **options)

    def clear_faults(self) -> None:
        self._service.clear_faults()

    def reset(self) -> None:
        """Forget grants, codes, counters and pending faults (configuration is kept)."""
        self._service.reset()

    def configure(self, **changes: Any) -> None:
        """Change :class:`StandInConfig` fields at run time; new values apply to new tokens."""
        self._service.configure(changes)
