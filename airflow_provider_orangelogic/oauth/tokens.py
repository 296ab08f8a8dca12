"""The token pair: its stored JSON record and how a token endpoint answer becomes one."""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from typing import Any

import pendulum
from pendulum import DateTime

from airflow_provider_orangelogic.core.errors import TokenEndpointError, TokenStoreError
from airflow_provider_orangelogic.core.fields import MAX_LIFETIME_SECONDS

log = logging.getLogger(__name__)

GRANT_AUTHORIZATION_CODE = "authorization_code"
GRANT_REFRESH_TOKEN = "refresh_token"
GRANT_CLIENT_CREDENTIALS = "client_credentials"
# Answers seen in the wild use RFC 6749's snake_case names or camelCase ones; the first present wins.
ANSWER_FIELDS = {
    "access_token": ("access_token", "accessToken"),
    "refresh_token": ("refresh_token", "refreshToken"),
    "token_type": ("token_type", "tokenType"),
    "expires_in": ("expires_in", "expiresIn", "expiresInSeconds"),
}
RECORD_VERSION = 1
# An access token said to live longer than this is a server bug; the fallback lifetime is safer.
MAX_PLAUSIBLE_LIFETIME = 366 * 24 * 3600
# Shorter is a server bug too: every call would refresh.
MIN_PLAUSIBLE_LIFETIME = 1
# An access token travels in the Authorization header: visible ASCII, no space (RFC 6750's b64token is a
# subset). Anything else would fail every call with an encoding error that may print the token.
ACCESS_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")
# RFC 6749 appendix A.17: refresh-token = 1*VSCHAR (%x20-7E).
REFRESH_TOKEN_CHARS = re.compile(r"[\x20-\x7e]+")
MAX_TOKEN_LENGTH = 64 * 1024
# A stored record is a few hundred bytes; anything near this is not one (and could be slow to parse).
MAX_RECORD_LENGTH = 1024 * 1024
# Stored dates outside these years mean the record was edited by hand (or the clock was wrong).
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100
# What Airflow's secrets masker puts in place of a sensitive value (the UI shows and saves it back).
AIRFLOW_MASK = "***"

_REQUIRED_FIELDS = (
    "access_token",
    "refresh_token",
    "token_type",
    "access_token_expires_at",
    "refresh_token_expires_at",
    "obtained_at",
    "obtained_by",
    "host",
)


@dataclass(frozen=True)
class TokenPair:
    """An access/refresh token pair with its expiry times; the tokens never appear in repr."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    token_type: str
    access_token_expires_at: DateTime
    refresh_token_expires_at: DateTime
    obtained_at: DateTime
    obtained_by: str
    host: str
    # Precomputed so that the per-request validity check is float arithmetic, not date arithmetic.
    access_expiry_ts: float = field(init=False, repr=False, compare=False)
    access_lifetime: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "access_expiry_ts", self.access_token_expires_at.timestamp())
        object.__setattr__(self, "access_lifetime", max(0.0, self.access_expiry_ts - self.obtained_at.timestamp()))

    # -- policy ---------------------------------------------------------------------------------

    def access_token_valid(self, now_ts: float, leeway: float = 0.0) -> bool:
        return bool(self.access_token) and now_ts + leeway < self.access_expiry_ts

    def refresh_token_valid(self, now: DateTime) -> bool:
        return now < self.refresh_token_expires_at

    def needs_refresh(self, now: DateTime, threshold: float) -> bool:
        """True once less than ``threshold`` of the access token's lifetime is left."""
        remaining = (self.access_token_expires_at - now).total_seconds()
        return not self.access_token or remaining < threshold * self.access_lifetime

    def same_tokens(self, other: TokenPair) -> bool:
        """Both tokens equal: any change of either means a renewal happened since ``other`` was read."""
        return (self.access_token, self.refresh_token) == (other.access_token, other.refresh_token)

    def summary(self, now: DateTime | None = None) -> dict[str, Any]:
        """What a log, an XCom or the UI may show: expiry times and lifetimes, never a token."""
        now = now or pendulum.now("UTC")
        return {
            "host": self.host,
            "token_type": self.token_type,
            "obtained_by": self.obtained_by,
            "obtained_at": self.obtained_at.to_iso8601_string(),
            "access_token_expires_at": self.access_token_expires_at.to_iso8601_string(),
            "refresh_token_expires_at": self.refresh_token_expires_at.to_iso8601_string(),
            "access_token_seconds_left": int(max(0, (self.access_token_expires_at - now).total_seconds())),
            "refresh_token_seconds_left": int(max(0, (self.refresh_token_expires_at - now).total_seconds())),
        }

    # -- the stored record ----------------------------------------------------------------------

    def to_json(self) -> str:
        record = {
            "version": RECORD_VERSION,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": self.token_type,
            "access_token_expires_at": self.access_token_expires_at.to_iso8601_string(),
            "refresh_token_expires_at": self.refresh_token_expires_at.to_iso8601_string(),
            "obtained_at": self.obtained_at.to_iso8601_string(),
            "obtained_by": self.obtained_by,
            "host": self.host,
        }
        return json.dumps(record, indent=2)

    @classmethod
    def from_json(cls, text: Any, *, source: str) -> TokenPair:
        """Parse a stored record; ``source`` names where it came from (e.g. the Variable) for messages."""
        fix = f"Delete {source} and authorize again (exchange a new authorization code) to store a fresh pair."
        if isinstance(text, (bytes, bytearray)):
            text = text.decode("utf-8", errors="replace")
        if isinstance(text, str):
            if len(text) > MAX_RECORD_LENGTH:
                raise TokenStoreError(
                    f"{source} holds {len(text)} characters, far more than a token record; it was overwritten "
                    f"with something else. {fix}"
                )
            try:
                record = json.loads(text)
            except ValueError:
                raise TokenStoreError(f"{source} does not hold valid JSON (it may be truncated). {fix}") from None
            except RecursionError:
                raise TokenStoreError(
                    f"{source} holds JSON nested too deeply to be a token record; it was overwritten. {fix}"
                ) from None
        else:
            record = text
        if not isinstance(record, dict):
            raise TokenStoreError(f"{source} holds a JSON {type(record).__name__}, not the token record object. {fix}")
        masked = [name for name in _REQUIRED_FIELDS if record.get(name) == AIRFLOW_MASK]
        if masked:
            raise TokenStoreError(
                f"{source} holds {AIRFLOW_MASK!r} in place of {', '.join(masked)}: it was saved from the Airflow UI "
                "(Admin > Variables > Edit > Save), which shows the tokens masked and saves the mask back, so the "
                f"real tokens are gone. Never edit or save this Variable in the UI. {fix}"
            )
        missing = [name for name in _REQUIRED_FIELDS if name not in record]
        if missing:
            raise TokenStoreError(f"{source} lacks the field(s) {', '.join(missing)}. {fix}")
        for name in ("access_token", "refresh_token", "token_type", "obtained_by", "host"):
            if not isinstance(record[name], str):
                raise TokenStoreError(f"{source}: field {name} must be a string. {fix}")
        if not record["refresh_token"] and record["obtained_by"] != GRANT_CLIENT_CREDENTIALS:
            raise TokenStoreError(f"{source}: refresh_token is empty. {fix}")
        # Checked here too, not only in the token answer: a raw header error later could print the token.
        # The refresh token is only sent URL-encoded in a form body, so only its length is checked.
        access_bad = record["access_token"] and not _token_ok(record["access_token"], ACCESS_TOKEN_CHARS)
        if access_bad or len(record["refresh_token"]) > MAX_TOKEN_LENGTH:
            name = "access_token" if access_bad else "refresh_token"
            raise TokenStoreError(
                f"{source}: {name} holds characters a token cannot have (line breaks, control or non-ASCII "
                f"characters) or is too long; the record was edited. {fix}"
            )
        return cls(
            access_token=record["access_token"],
            refresh_token=record["refresh_token"],
            token_type=record["token_type"],
            access_token_expires_at=_parse_time(record, "access_token_expires_at", source, fix),
            refresh_token_expires_at=_parse_time(record, "refresh_token_expires_at", source, fix),
            obtained_at=_parse_time(record, "obtained_at", source, fix),
            obtained_by=record["obtained_by"],
            host=record["host"],
        )


def _token_ok(token: str, allowed: re.Pattern[str]) -> bool:
    return len(token) <= MAX_TOKEN_LENGTH and allowed.fullmatch(token) is not None


def _parse_time(record: dict[str, Any], name: str, source: str, fix: str) -> DateTime:
    value = record[name]
    try:
        parsed = pendulum.parse(value) if isinstance(value, str) and len(value) <= 64 else None
        if isinstance(parsed, DateTime):
            parsed = parsed.in_timezone("UTC")
    except (ValueError, TypeError, OverflowError, pendulum.parsing.exceptions.ParserError):
        parsed = None
    if not isinstance(parsed, DateTime):
        raise TokenStoreError(f"{source}: {name} is not an ISO 8601 date-time. {fix}")
    if not EARLIEST_YEAR <= parsed.year < LATEST_YEAR:
        raise TokenStoreError(
            f"{source}: {name} is {parsed.to_iso8601_string()}, outside {EARLIEST_YEAR}-{LATEST_YEAR - 1}: the "
            f"record was edited by hand (or written with a wrong clock). {fix}"
        )
    return parsed


def _bounded_lifetime(seconds: float, what: str) -> float:
    """A configured lifetime within 1 s .. MAX_LIFETIME_SECONDS, so that date arithmetic cannot overflow.

    Settings parsed from a connection are bounded already; this guards settings built in code, because an
    exception here comes after the server answered, when the new pair could no longer be given back.
    """
    try:
        value = float(seconds)
    except (TypeError, ValueError, OverflowError):
        value = math.nan
    if math.isfinite(value) and MIN_PLAUSIBLE_LIFETIME <= value <= MAX_LIFETIME_SECONDS:
        return value
    bounded = MAX_LIFETIME_SECONDS if not value < MIN_PLAUSIBLE_LIFETIME else MIN_PLAUSIBLE_LIFETIME
    log.warning("The configured %s (%.40r s) is out of range; using %d seconds.", what, seconds, bounded)
    return bounded


def _lifetime(payload: dict[str, Any], fallback: float) -> float:
    """Seconds the new access token lives: ``expires_in`` when it is a sane number, else the fallback.

    A bad value never rejects the answer: by then the server has issued the pair (and may have
    retired the previous refresh token), so dropping it would lose the grant.
    """
    raw = answer_field(payload, "expires_in")
    if raw is None:
        return fallback
    try:
        seconds = float(raw) if not isinstance(raw, bool) else math.nan
    except (TypeError, ValueError, OverflowError):  # OverflowError: an integer too large for a float
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < MIN_PLAUSIBLE_LIFETIME or seconds > MAX_PLAUSIBLE_LIFETIME:
        log.warning(
            "The token endpoint sent an unusable expires_in (%.40r); assuming the configured "
            "access-token lifetime of %d seconds.",
            str(raw)[:40] if isinstance(raw, int) else raw,
            fallback,
        )
        return fallback
    return seconds


def answer_field(payload: dict[str, Any], name: str) -> Any:
    """The value of ``name`` in a token answer under any of its known spellings, or None."""
    for key in ANSWER_FIELDS[name]:
        if payload.get(key) is not None:
            return payload[key]
    return None


def pair_from_response(
    payload: Any,
    *,
    grant: str,
    host: str,
    now: DateTime,
    access_lifetime: float,
    refresh_lifetime: float,
    previous: TokenPair | None = None,
) -> TokenPair:
    """Turn a successful token endpoint answer into a pair, computing expiry times from ``now``.

    A refresh answer without a refresh token keeps the previous one with its original expiry; a
    client-credentials answer has none and needs none. Field names are matched in snake_case and
    camelCase (``ANSWER_FIELDS``).
    """
    if not isinstance(payload, dict):
        raise TokenEndpointError("The token endpoint answered 200 but not with a JSON object.")
    access_token = answer_field(payload, "access_token")
    refresh_token = answer_field(payload, "refresh_token")
    if not isinstance(access_token, str) or not access_token:
        if not (grant == GRANT_REFRESH_TOKEN and isinstance(refresh_token, str) and refresh_token):
            # Field names only: the values may be secrets.
            raise TokenEndpointError(
                "The token endpoint answered 200 without an access token (expected access_token or accessToken; "
                f"the answer has {', '.join(sorted(map(str, payload))) or 'no fields'})."
            )
        # The server rotated the grant anyway: keep its new refresh token, with an already expired
        # (empty) access token, rather than lose the grant by keeping the spent one.
        access_token = ""
    if refresh_token is not None and not isinstance(refresh_token, str):
        raise TokenEndpointError("The token endpoint sent a refresh_token that is not a string.")
    if refresh_token and len(refresh_token) > MAX_TOKEN_LENGTH:
        # Names no value: it may be a secret. Nothing usable to keep: the grant must be authorized again.
        raise TokenEndpointError(
            f"The token endpoint sent a refresh_token longer than {MAX_TOKEN_LENGTH} characters; it was not stored. "
            "This is a server fault: report it to your Orange Logic administrator, then authorize again."
        )
    if refresh_token and not REFRESH_TOKEN_CHARS.fullmatch(refresh_token):
        # Outside RFC 6749's VSCHAR, but it only ever travels URL-encoded in a form body, where any character is
        # safe: the old refresh token is spent, so keeping this one is the only way to keep the grant.
        log.warning(
            "The token endpoint sent a refresh_token with characters RFC 6749 does not allow (line breaks, control "
            "or non-ASCII characters); it is kept, since the old one is spent. Report this server fault to your "
            "Orange Logic administrator."
        )
    if access_token and not _token_ok(access_token, ACCESS_TOKEN_CHARS):
        if not (refresh_token or (previous is not None and grant == GRANT_REFRESH_TOKEN)):
            raise TokenEndpointError(
                "The token endpoint sent an access_token with characters an HTTP header cannot carry (spaces, line "
                "breaks, control or non-ASCII characters), or one longer than 64 KiB; it was not stored."
            )
        # Unusable in a header, but the grant lives on: keep the refresh token with an expired (empty) access
        # token, so the next refresh can get a complete pair.
        log.warning(
            "The token endpoint sent an access_token that an HTTP header cannot carry; keeping the refresh token "
            "and discarding the access token."
        )
        access_token = ""
    access_lifetime = _bounded_lifetime(access_lifetime, "access-token lifetime")
    refresh_lifetime = _bounded_lifetime(refresh_lifetime, "refresh-token lifetime")
    access_seconds = _lifetime(payload, access_lifetime) if access_token else 0
    access_expires_at = now.add(seconds=access_seconds)
    if grant == GRANT_CLIENT_CREDENTIALS:
        # Nothing to refresh with: the client secret gets the next token.
        refresh_token, refresh_expires_at = "", access_expires_at
    elif refresh_token:
        refresh_expires_at = now.add(seconds=int(refresh_lifetime))
    elif previous is not None and grant == GRANT_REFRESH_TOKEN:
        refresh_token, refresh_expires_at = previous.refresh_token, previous.refresh_token_expires_at
    else:
        raise TokenEndpointError("The token endpoint answered 200 without a refresh_token.")
    token_type = answer_field(payload, "token_type")
    if not (isinstance(token_type, str) and len(token_type) <= 64 and ACCESS_TOKEN_CHARS.fullmatch(token_type)):
        token_type = "Bearer"
    return TokenPair(
        access_token=access_token,
        refresh_token=refresh_token,
        token_type=token_type,
        access_token_expires_at=access_expires_at,
        refresh_token_expires_at=refresh_expires_at,
        obtained_at=now,
        obtained_by=grant,
        host=host,
    )
