"""Orange Logic webhooks, without Airflow: who may post, what a body must hold, and what an event becomes.

The public reference says that Orange Logic POSTs on create, edit and delete of an asset, retries up to five
times, and gives every event a unique ID; the payload's field names and any signature are *uncertain*
(``../shared/ORANGELOGIC_API.md``, "Webhooks"). So:

* the caller proves itself with a per-connection secret (``webhook_secret``: a header, or ``?secret=`` in the
  registered URL), compared in constant time; two secrets may be valid at once while rotating;
* an HMAC-SHA256 signature of the raw body is checked only when a ``webhook_signing_secret`` is set;
* where each value sits in the JSON body is configurable (``webhook_payload_fields``), and the parser is strict:
  anything it cannot read exactly is refused, never guessed;
* the event's type is mapped onto one of three kinds (``created``, ``edited``, ``deleted``); each kind of each
  connection is one Airflow asset, ``orangelogic://<conn_id>/<kind>`` (``asset_uri``);
* the polling fallback builds the same events from Search results (``polled_event``), so a DAG scheduled on
  the asset cannot tell which source fired.

``plugins/webhooks.py`` is the Airflow side (the route, the de-duplication table, the asset event).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: Header carrying the secret (preferred: a header does not end up in access logs).
SECRET_HEADER = "X-OrangeLogic-Webhook-Secret"
#: Query parameter carrying the secret, for a subscription that cannot set headers.
SECRET_QUERY = "secret"
MIN_SECRET_LENGTH = 32
CREATED, EDITED, DELETED = "created", "edited", "deleted"
EVENT_KINDS = (CREATED, EDITED, DELETED)
ASSET_SCHEME = "orangelogic"
#: The names a payload's values are known by, in the asset event's extra.
FIELD_NAMES = ("event_id", "event_type", "identifier", "record_id", "time")
REQUIRED_FIELDS = ("event_id", "event_type", "identifier")
DEFAULT_FIELD_PATHS = {
    "event_id": "EventID",
    "event_type": "EventType",
    "identifier": "SystemIdentifier",
    "record_id": "RecordID",
    "time": "Timestamp",
}
MAX_VALUE_LENGTH = 500
_PATH = re.compile(r"[A-Za-z0-9_$@-]+(\.[A-Za-z0-9_$@-]+)*")
_PRINTABLE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")
# Words an event type may be spelled with, per kind (checked in this order: "deleted" wins over "edited").
_KIND_WORDS = (
    (DELETED, ("delet", "remov", "purg", "trash")),
    (CREATED, ("creat", "add", "new", "upload", "import", "insert")),
    (EDITED, ("edit", "updat", "modif", "sav", "chang", "metadata")),
)


class WebhookRejected(ValueError):
    """A delivery that is not recorded; ``status`` is the HTTP answer, the message says why (no secret in it)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# -- configuration --------------------------------------------------------------------------------


def parse_field_paths(text: str | None) -> dict[str, str]:
    """``webhook_payload_fields`` (``name=path,...``) over the defaults; raises ValueError naming the mistake."""
    paths = dict(DEFAULT_FIELD_PATHS)
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, path = (piece.strip() for piece in part.partition("="))
        if not sep or name not in FIELD_NAMES:
            raise ValueError(
                f"webhook_payload_fields: {part.strip()!r} is not name=path with name one of {', '.join(FIELD_NAMES)}."
            )
        if not _PATH.fullmatch(path):
            raise ValueError(
                f"webhook_payload_fields: the path of {name} ({path!r}) must be JSON keys separated by dots."
            )
        paths[name] = path
    return paths


def parse_secrets(text: str | None) -> tuple[str, ...]:
    """The valid secrets (one, or two while rotating); raises ValueError when one is too short to be safe."""
    found = tuple((text or "").split())
    if len(found) > 2:
        raise ValueError("webhook_secret: at most two secrets (the new and the old one, separated by a space).")
    for secret in found:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"webhook_secret: each secret needs at least {MIN_SECRET_LENGTH} characters; generate one with "
                'python -c "import secrets; print(secrets.token_urlsafe(32))".'
            )
    return found


@dataclass(frozen=True)
class WebhookConfig:
    """One connection's webhook settings, read from its ``webhook_*`` fields."""

    secrets: tuple[str, ...]
    field_paths: Mapping[str, str]
    max_body_bytes: int = 65536
    signing_secret: str | None = None
    signature_header: str = "X-OrangeLogic-Signature"

    @classmethod
    def from_settings(cls, settings: Any) -> WebhookConfig:
        """From ``OrangeLogicSettings``; ValueError when a webhook field is unusable."""
        return cls(
            secrets=parse_secrets(settings.webhook_secret),
            field_paths=parse_field_paths(settings.webhook_payload_fields),
            max_body_bytes=int(settings.webhook_max_body_bytes),
            signing_secret=(settings.webhook_signing_secret or "").strip() or None,
            signature_header=settings.webhook_signature_header,
        )

    def __repr__(self) -> str:  # never the secrets
        return f"WebhookConfig(secrets={len(self.secrets)}, signed={self.signing_secret is not None})"


# -- who may post ---------------------------------------------------------------------------------


def secret_matches(presented: str | None, valid: Sequence[str]) -> bool:
    """Whether ``presented`` is one of ``valid``, in time that does not depend on how much of it is right."""
    if not presented or not valid:
        return False
    given = presented.encode("utf-8", "surrogateescape")
    matched = False
    for secret in valid:  # every secret is compared: which one matched does not show in the timing either
        matched |= hmac.compare_digest(given, secret.encode())
    return matched


def signature_matches(body: bytes, presented: str | None, key: str) -> bool:
    """An HMAC-SHA256 of ``body`` under ``key``, given as hex or base64, optionally prefixed ``sha256=``."""
    if not presented:
        return False
    value = presented.strip()
    if value.lower().startswith("sha256="):
        value = value[7:]
    expected = hmac.new(key.encode(), body, hashlib.sha256).digest()
    candidates = []
    with contextlib.suppress(ValueError):
        candidates.append(bytes.fromhex(value))
    with contextlib.suppress(binascii.Error, ValueError):
        candidates.append(base64.b64decode(value, validate=True))
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(candidate, expected)
    return matched


def check_delivery(config: WebhookConfig, body: bytes, presented_secret: str | None, signature: str | None) -> None:
    """Raise WebhookRejected (401) unless the secret, and the signature when one is configured, are right."""
    if not secret_matches(presented_secret, config.secrets):
        raise WebhookRejected(401, "missing or wrong webhook secret")
    if config.signing_secret is not None and not signature_matches(body, signature, config.signing_secret):
        raise WebhookRejected(401, f"missing or wrong signature in {config.signature_header}")


# -- what a body must hold ------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookEvent:
    """One asset change, from a webhook or from polling; ``extra()`` is what the Airflow asset event carries."""

    event_id: str
    event_type: str
    kind: str
    identifier: str
    record_id: str | None = None
    time: str | None = None
    source: str = "webhook"

    def extra(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "identifier": self.identifier,
            "record_id": self.record_id,
            "time": self.time,
            "source": self.source,
        }

    def dedupe_key(self) -> str:
        """A fixed-length key for the event ID (IDs of any length and alphabet fit the table)."""
        return hashlib.sha256(self.event_id.encode()).hexdigest()


def event_kind(event_type: str) -> str:
    """``created``, ``edited`` or ``deleted`` for an event type as Orange Logic may spell it."""
    letters = re.sub(r"[^a-z]", "", event_type.lower())
    if letters in EVENT_KINDS:
        return letters
    for kind, words in _KIND_WORDS:
        if any(word in letters for word in words):
            return kind
    raise WebhookRejected(400, f"event type {event_type[:60]!r} is not a create, edit or delete")


def _lookup(document: Mapping[str, Any], path: str) -> Any:
    value: Any = document
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _text(name: str, path: str, value: Any, *, required: bool) -> str | None:
    if value is None or value == "":
        if required:
            raise WebhookRejected(400, f"{name} ({path}) is missing or empty")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise WebhookRejected(400, f"{name} ({path}) must be a string or an integer, not {type(value).__name__}")
    text = str(value)
    if len(text) > MAX_VALUE_LENGTH or not _PRINTABLE.fullmatch(text):
        raise WebhookRejected(
            400, f"{name} ({path}) must be 1-{MAX_VALUE_LENGTH} printable ASCII characters without leading spaces"
        )
    return text


def _time(path: str, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise WebhookRejected(400, f"time ({path}) must be an ISO 8601 date and time") from None
    return moment.isoformat()


def parse_event(body: bytes, field_paths: Mapping[str, str] = DEFAULT_FIELD_PATHS) -> WebhookEvent:
    """The event a webhook body describes; WebhookRejected (400) for anything but a well-formed JSON object."""
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise WebhookRejected(400, "the body is not UTF-8 JSON") from None
    if not isinstance(document, dict):
        raise WebhookRejected(400, "the body must be a JSON object")
    values = {
        name: _text(name, field_paths[name], _lookup(document, field_paths[name]), required=name in REQUIRED_FIELDS)
        for name in FIELD_NAMES
    }
    event_type = values["event_type"] or ""
    return WebhookEvent(
        event_id=values["event_id"] or "",
        event_type=event_type,
        kind=event_kind(event_type),
        identifier=values["identifier"] or "",
        record_id=values["record_id"],
        time=_time(field_paths["time"], values["time"]),
    )


# -- assets and polling ---------------------------------------------------------------------------


def asset_uri(conn_id: str, kind: str = CREATED) -> str:
    """The asset one kind of change of one connection is: ``orangelogic://<conn_id>/<kind>``."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"event must be one of {', '.join(EVENT_KINDS)}, not {kind!r}")
    if not conn_id or not re.fullmatch(r"[\w.-]+", conn_id):
        raise ValueError(f"{conn_id!r} is not a connection ID (letters, digits, '_', '-', '.')")
    return f"{ASSET_SCHEME}://{conn_id}/{kind}"


def polled_event(item: Mapping[str, Any], date_field: str = "EditDate") -> WebhookEvent | None:
    """The event a Search result stands for, or None without an identifier or a date.

    The event ID is derived from what changed (``poll:<identifier>@<date>``), so the same edit seen twice is
    the same event; the kind is ``created`` when the asset was created at that moment, else ``edited``
    (polling cannot see deletions).
    """
    identifier = item.get("SystemIdentifier") or item.get("Identifier")
    when = item.get(date_field)
    if not identifier or not when:
        return None
    created = item.get("CreateDate")
    kind = CREATED if created and created == when else EDITED
    return WebhookEvent(
        event_id=f"poll:{identifier}@{when}",
        event_type=f"poll.{kind}",
        kind=kind,
        identifier=str(identifier),
        record_id=None if item.get("RecordID") in (None, "") else str(item["RecordID"]),
        time=str(when),
        source="poll",
    )
