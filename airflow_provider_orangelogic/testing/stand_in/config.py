"""What the stand-in accepts and how it behaves: :class:`StandInConfig` and its checks."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LIFETIMES = ("access_lifetime", "refresh_lifetime", "code_lifetime")
SWITCHES = (
    "strict",
    "send_expires_in",
    "rotate_refresh_token",
    "global_info",
    "client_credentials_enabled",
    "deny_authorization",
)
# How the client-credentials answer is spelled: RFC 6749's names, or the camelCase seen in other clients
# (with the lifetime as a numeric string).
ANSWER_SHAPES = ("snake", "camel")
# Upload duplicate detection (off by default in Orange Logic): by file name in the folder, or by checksum.
DUPLICATE_DETECTION = ("off", "filename", "checksum")


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
    # The client-credentials endpoint: False answers unauthorized_client, as where an administrator did not allow it.
    client_credentials_enabled: bool = True
    client_credentials_answer: str = "snake"
    # True: the authorization page answers error=access_denied, as when the person presses Deny.
    deny_authorization: bool = False
    # Non-expiring bearer tokens created "in Orange Logic": accepted by the API until removed from here.
    bearer_tokens: tuple[str, ...] = ()
    # Search pacing: seconds each search request takes (a network's round trip), and how many search requests
    # may be in progress at once (0: no limit); one more is answered 429 with Retry-After: search_retry_after.
    search_latency: float = 0.0
    search_max_in_flight: int = 0
    search_retry_after: float = 1.0
    # The data endpoints (uploads, DataTable, presigned links, downloads), paced like search: seconds each request
    # takes, how many may be in progress at once (0: no limit; one more gets 429 with Retry-After: data_retry_after).
    data_latency: float = 0.0
    data_max_in_flight: int = 0
    data_retry_after: float = 1.0
    duplicate_detection: str = "off"
    # Seconds a presigned link is valid when the request names no ValidityDuration (the reference's 10 minutes).
    link_validity: float = 600.0
    # Fields the DataTable API does not update (Orange Logic ignores writes to them silently).
    read_only_fields: tuple[str, ...] = (
        "CoreField.Identifier",
        "CoreField.OriginalFileName",
        "SystemIdentifier",
        "RecordID",
        "CreateDate",
        "EditDate",
    )
    # Where uploaded files are kept ("": a temporary directory, removed when the stand-in stops).
    upload_dir: str = ""
    # Downloads of an on-demand format (files.py: TR1 of a Video) answered 404 "try again shortly" before it is ready.
    on_demand_pending: int = 2
    # The DataTable's removal operator (its spelling is uncertain in the reference; datatable.py checks it).
    datatable_remove_operator: str = "-="


def validated(config: StandInConfig) -> StandInConfig:
    """Return a private, checked copy of ``config`` (callers may keep mutating theirs)."""
    redirect_uris = config.redirect_uris
    if isinstance(redirect_uris, str) or not all(isinstance(uri, str) for uri in redirect_uris):
        raise ValueError("redirect_uris must be a sequence of strings")
    bearer_tokens = config.bearer_tokens
    read_only = config.read_only_fields
    if isinstance(read_only, str) or not all(isinstance(name, str) and name for name in read_only):
        raise ValueError("read_only_fields must be a sequence of non-empty strings")
    if config.duplicate_detection not in DUPLICATE_DETECTION:
        raise ValueError(f"duplicate_detection must be one of {DUPLICATE_DETECTION}")
    if not isinstance(config.upload_dir, str):
        raise ValueError("upload_dir must be a string (a directory path, or empty for a temporary one)")
    if isinstance(bearer_tokens, str) or not all(isinstance(token, str) and token for token in bearer_tokens):
        raise ValueError("bearer_tokens must be a sequence of non-empty strings")
    if config.client_credentials_answer not in ANSWER_SHAPES:
        raise ValueError(f"client_credentials_answer must be one of {ANSWER_SHAPES}")
    for name in ("client_id", "client_secret"):
        if not isinstance(getattr(config, name), str) or not getattr(config, name):
            raise ValueError(f"{name} must be a non-empty string")
    for name in LIFETIMES:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{name} must be a non-negative number of seconds")
    if not isinstance(config.datatable_remove_operator, str) or not config.datatable_remove_operator.strip():
        raise ValueError("datatable_remove_operator must be a non-empty string, e.g. '-='")
    for name in ("catalogue_size", "search_max_in_flight", "data_max_in_flight", "on_demand_pending"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer")
    for name in ("search_latency", "search_retry_after", "data_latency", "data_retry_after", "link_validity"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
            raise ValueError(f"{name} must be a non-negative number of seconds")
    for name in SWITCHES:
        if not isinstance(getattr(config, name), bool):
            raise ValueError(f"{name} must be a boolean")
    sequences = {"redirect_uris": tuple(redirect_uris), "bearer_tokens": tuple(bearer_tokens)}
    return dataclasses.replace(config, **sequences, read_only_fields=tuple(read_only))


def updated(config: StandInConfig, changes: Mapping[str, Any]) -> StandInConfig:
    """A checked copy of ``config`` with ``changes`` (field name -> value, e.g. from JSON) applied."""
    known = {f.name for f in dataclasses.fields(StandInConfig)}
    unknown = set(changes) - known
    if unknown:
        raise ValueError(f"unknown configuration fields: {sorted(unknown)}")
    updates = dict(changes)
    for name in ("redirect_uris", "bearer_tokens", "read_only_fields"):
        if isinstance(updates.get(name), list):  # JSON has no tuples
            updates[name] = tuple(updates[name])
    return validated(dataclasses.replace(config, **updates))
