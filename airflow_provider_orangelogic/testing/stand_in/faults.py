"""Faults the stand-in injects on request: one class per kind, registered by being defined.

``add_fault(endpoint, kind, count=1, **options)`` (or ``POST /_standin/faults`` with the same
names in a JSON object) makes the next ``count`` requests to ``endpoint`` (``"token"``,
``"client_credentials"``, ``"search"``, one of ``DATA_ENDPOINTS`` or ``"any"``) misbehave, oldest
fault first. ``kind`` is a class's ``kind`` below and ``options`` are that class's fields; anything
else is refused, so that a typo in a test does not silently inject another fault than the one intended.

Adding a fault is adding one class: a frozen dataclass subclass of :class:`Fault` with a ``kind``,
a docstring (``--help`` shows it), its options as fields with defaults, ``check`` for their values
and whichever of ``before``, ``rewrite`` and ``after`` it needs.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import textwrap
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar

from airflow_provider_orangelogic.testing.stand_in.messages import Response, error_response, html_response

# The data endpoints (uploads.py, datatable.py, files.py): "upload" the single-call upload, "multipart" steps 1,
# 2 and 5 of the Multi-Part Upload API, "chunk" step 4, "datatable" the DataTable API, "links" the presigned
# links, "download" the files those links point to.
DATA_ENDPOINTS = ("upload", "multipart", "chunk", "datatable", "links", "download")
FAULT_ENDPOINTS = ("token", "client_credentials", "search", *DATA_ENDPOINTS, "any")
# Endpoints that issue tokens: token-answer faults apply to them, and a 401 there is invalid_client.
TOKEN_ISSUERS = ("token", "client_credentials")
# kind -> class, in the order the classes are defined below.
FAULTS: dict[str, type[Fault]] = {}


@dataclass(frozen=True)
class Fault:
    """No fault: the request is answered normally. Every fault kind refines one of these hooks."""

    kind: ClassVar[str] = ""
    # True for faults that rewrite a successful token answer: they mean nothing to the search endpoint.
    token_only: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind in FAULTS or not cls.kind:
            raise TypeError(f"{cls.__name__} needs a kind of its own, not {cls.kind!r}")
        FAULTS[cls.kind] = cls

    def __post_init__(self) -> None:
        self.check()

    @classmethod
    def options(cls) -> dict[str, Any]:
        """The options this kind accepts, with their defaults."""
        return {option.name: option.default for option in dataclasses.fields(cls)}

    def check(self) -> None:
        """Raise ValueError for an option value that makes no sense."""

    def before(self, endpoint: str) -> Response | None:
        """Before the request is processed: an answer to send instead, or None to go on."""
        return None

    def rewrite(self, payload: dict[str, Any]) -> None:
        """Change a successful token answer before it is sent."""

    def after(self, response: Response) -> Response:
        """What to send once the request has been processed and answered with ``response``."""
        return response


NO_FAULT = Fault()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Status(Fault):
    """Answer ``status`` with a ``body`` of ``"json"`` (``error``, ``error_description``), ``"html"`` or
    ``"text"``; ``retry_after`` adds a Retry-After header. The request is not processed."""

    kind: ClassVar[str] = "status"
    status: int = 500
    body: str = "json"
    retry_after: Any = None
    error: str | None = None
    error_description: str | None = None

    def check(self) -> None:
        if not isinstance(self.status, int) or isinstance(self.status, bool):
            raise ValueError("status must be an integer HTTP status")
        if not 100 <= self.status <= 599:
            raise ValueError("status must be between 100 and 599")
        if self.body not in ("json", "html", "text"):
            raise ValueError("body must be 'json', 'html' or 'text'")

    def before(self, endpoint: str) -> Response:
        status = self.status
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:  # a valid but unnamed status, e.g. 599
            phrase = "Error"
        if self.body == "html":
            response = html_response(status, f"{status} {phrase}", "Injected by the Orange Logic stand-in.")
        elif self.body == "text":
            response = Response(status, f"{status} {phrase}".encode(), "text/plain; charset=utf-8")
        else:
            error = self.error or self._default_error(endpoint)
            response = error_response(status, error, self.error_description or f"injected {status} fault")
        if self.retry_after is not None:
            response.headers["Retry-After"] = str(self.retry_after)
        return response

    def _default_error(self, endpoint: str) -> str:
        if self.status == 401:
            return "invalid_client" if endpoint in TOKEN_ISSUERS else "invalid_token"
        if self.status in (429, 503):
            return "temporarily_unavailable"
        return "invalid_request" if 400 <= self.status < 500 else "server_error"


@dataclass(frozen=True)
class Slow(Fault):
    """Sleep ``delay`` seconds, then answer normally."""

    kind: ClassVar[str] = "slow"
    delay: float = 1.0

    def check(self) -> None:
        if not _is_number(self.delay) or self.delay < 0:
            raise ValueError("delay must be a non-negative number of seconds")

    def before(self, endpoint: str) -> None:
        time.sleep(float(self.delay))  # the service holds no lock here


@dataclass(frozen=True)
class Reset(Fault):
    """Send headers promising more body than is sent, then drop the connection: ``mode="rst"`` (TCP
    reset) or ``"eof"`` (truncated body, clean close). With ``process=True`` the request is processed
    first (e.g. a refresh token is rotated) and only the answer is lost."""

    kind: ClassVar[str] = "reset"
    mode: str = "rst"
    process: bool = False

    def check(self) -> None:
        if self.mode not in ("rst", "eof"):
            raise ValueError("mode must be 'rst' or 'eof'")

    def before(self, endpoint: str) -> Response | None:
        return None if self.process else Response(200, abort=self.mode)

    def after(self, response: Response) -> Response:
        return Response(200, abort=self.mode)


@dataclass(frozen=True)
class NonJson(Fault):
    """200 with an HTML body starting with "OK". The request is not processed."""

    kind: ClassVar[str] = "non_json"

    def before(self, endpoint: str) -> Response:
        return Response(200, b"OK <html><body><p>Service is running.</p></body></html>", "text/html; charset=utf-8")


@dataclass(frozen=True)
class DropFields(Fault):
    """A successful answer without ``fields``; the grant advances as if they had been sent."""

    kind: ClassVar[str] = "drop_fields"
    token_only: ClassVar[bool] = True
    fields: Sequence[str] = ("access_token",)

    def check(self) -> None:
        if isinstance(self.fields, str) or not all(isinstance(name, str) for name in self.fields):
            raise ValueError("fields must be a list of field names")

    def rewrite(self, payload: dict[str, Any]) -> None:
        for name in self.fields:
            payload.pop(name, None)


@dataclass(frozen=True)
class ExpiresIn(Fault):
    """A successful answer whose ``expires_in`` is the raw ``value`` (None removes it)."""

    kind: ClassVar[str] = "expires_in"
    token_only: ClassVar[bool] = True
    value: Any = None

    def rewrite(self, payload: dict[str, Any]) -> None:
        if self.value is None:
            payload.pop("expires_in", None)
        else:
            payload["expires_in"] = self.value


@dataclass(frozen=True)
class Redirect(Fault):
    """Answer ``status`` (a redirect) pointing to ``location``, e.g. another origin. The request is not processed."""

    kind: ClassVar[str] = "redirect"
    location: str = "https://elsewhere.invalid/"
    status: int = 302

    def check(self) -> None:
        if not isinstance(self.location, str) or not self.location:
            raise ValueError("location must be a non-empty URL")
        if self.status not in (301, 302, 303, 307, 308):
            raise ValueError("status must be a redirect status: 301, 302, 303, 307 or 308")

    def before(self, endpoint: str) -> Response:
        return Response(self.status, b"", "text/plain; charset=utf-8", {"Location": self.location})


@dataclass(frozen=True)
class Body(Fault):
    """Answer ``status`` with exactly ``text`` as the body, of ``content_type``: e.g. what a server that
    echoes the request it got would send (the test builds the echo). The request is not processed."""

    kind: ClassVar[str] = "body"
    status: int = 400
    text: str = ""
    content_type: str = "text/plain; charset=utf-8"

    def check(self) -> None:
        if isinstance(self.status, bool) or not isinstance(self.status, int) or not 100 <= self.status <= 599:
            raise ValueError("status must be an integer HTTP status between 100 and 599")
        if not isinstance(self.text, str) or not isinstance(self.content_type, str):
            raise ValueError("text and content_type must be strings")

    def before(self, endpoint: str) -> Response:
        return Response(self.status, self.text.encode("utf-8"), self.content_type)


@dataclass(frozen=True)
class SamePage(Fault):
    """Answer a search with the same full page of ``items`` assets whatever page is asked for, without
    ``GlobalInfo``, as a server ignoring ``pagenumber`` would. The request is not processed."""

    kind: ClassVar[str] = "same_page"
    items: int = 10

    def check(self) -> None:
        if isinstance(self.items, bool) or not isinstance(self.items, int) or not 1 <= self.items <= 1000:
            raise ValueError("items must be an integer between 1 and 1000")

    def before(self, endpoint: str) -> Response:
        page = [{"SystemIdentifier": f"SAME{n:04d}", "Title": f"Same asset {n}"} for n in range(1, self.items + 1)]
        return Response(200, json.dumps({"APIResponse": {"Items": page}}).encode("utf-8"))


@dataclass(frozen=True)
class ExpiredLink(Fault):
    """Answer a download as cloud storage answers a presigned URL past its expiry: 403 with an XML
    ``AccessDenied`` "Request has expired" body, whatever the link's own expiry. For the "download" endpoint."""

    kind: ClassVar[str] = "expired_link"

    def before(self, endpoint: str) -> Response:
        body = b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
        body += b"<Message>Request has expired</Message></Error>"
        return Response(403, body, "application/xml")


@dataclass
class PendingFault:
    endpoint: str
    remaining: int
    fault: Fault


def pending_fault(endpoint: str, kind: str, count: int, options: Mapping[str, Any]) -> PendingFault:
    """A checked fault for the next ``count`` requests to ``endpoint``; raises ValueError."""
    if endpoint not in FAULT_ENDPOINTS:
        raise ValueError(f"endpoint must be one of {FAULT_ENDPOINTS}, got {endpoint!r}")
    if kind not in FAULTS:
        raise ValueError(f"kind must be one of {tuple(FAULTS)}, got {kind!r}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError("count must be a positive integer")
    cls = FAULTS[kind]
    unknown = set(options) - set(cls.options())
    if unknown:
        raise ValueError(f"unknown options for {kind!r} fault: {sorted(unknown)}")
    if cls.token_only and endpoint not in (*TOKEN_ISSUERS, "any"):
        raise ValueError(f"{kind!r} faults only apply to the token endpoints")
    return PendingFault(endpoint, count, cls(**options))


class FaultQueue:
    """Faults waiting for their requests. Not thread-safe: the caller holds its lock around each call."""

    def __init__(self) -> None:
        self._pending: list[PendingFault] = []

    def add(self, pending: PendingFault) -> None:
        self._pending.append(pending)

    def clear(self) -> None:
        self._pending.clear()

    def take(self, endpoint: str) -> Fault | None:
        """Consume one use of the oldest fault that applies to ``endpoint``."""
        for index, pending in enumerate(self._pending):
            if pending.endpoint not in (endpoint, "any"):
                continue
            if pending.fault.token_only and endpoint not in TOKEN_ISSUERS:
                continue
            pending.remaining -= 1
            if pending.remaining == 0:
                del self._pending[index]
            return pending.fault
        return None


def describe_faults(width: int = 100) -> str:
    """A paragraph per fault kind: its options with their defaults (as JSON), then what it does."""
    paragraphs = []
    for kind, cls in FAULTS.items():
        options = ", ".join(f"{name}={json.dumps(default)}" for name, default in cls.options().items())
        text = " ".join((inspect.getdoc(cls) or "").replace("``", "").split())
        if cls.token_only:
            text += " Token endpoint only."
        paragraphs.append(
            textwrap.fill(f"{kind}({options}): {text}", width, subsequent_indent="    ", break_on_hyphens=False)
        )
    return "\n".join(paragraphs)
