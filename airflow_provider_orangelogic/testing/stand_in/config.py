"""What the stand-in accepts and how it behaves: :class:`StandInConfig` and its checks."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LIFETIMES = ("access_lifetime", "refresh_lifetime", "code_lifetime")
SWITCHES = ("strict", "send_expires_in", "rotate_refresh_token", "global_info")


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


def validated(config: StandInConfig) -> StandInConfig:
    """Return a private, checked copy of ``config`` (callers may keep mutating theirs)."""
    redirect_uris = config.redirect_uris
    if isinstance(redirect_uris, str) or not all(isinstance(uri, str) for uri in redirect_uris):
        raise ValueError("redirect_uris must be a sequence of strings")
    for name in ("client_id", "client_secret"):
        if not isinstance(getattr(config, name), str) or not getattr(config, name):
            raise ValueError(f"{name} must be a non-empty string")
    for name in LIFETIMES:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{name} must be a non-negative number of seconds")
    size = config.catalogue_size
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError("catalogue_size must be a non-negative integer")
    for name in SWITCHES:
        if not isinstance(getattr(config, name), bool):
            raise ValueError(f"{name} must be a boolean")
    return dataclasses.replace(config, redirect_uris=tuple(redirect_uris))


def updated(config: StandInConfig, changes: Mapping[str, Any]) -> StandInConfig:
    """A checked copy of ``config`` with ``changes`` (field name -> value, e.g. from JSON) applied."""
    known = {f.name for f in dataclasses.fields(StandInConfig)}
    unknown = set(changes) - known
    if unknown:
        raise ValueError(f"unknown configuration fields: {sorted(unknown)}")
    updates = dict(changes)
    if isinstance(updates.get("redirect_uris"), list):  # JSON has no tuples
        updates["redirect_uris"] = tuple(updates["redirect_uris"])
    return validated(dataclasses.replace(config, **updates))
