"""The Orange Logic URL of a connection (its Host field), checked in full and normalized.

Also what every field check shares: spotting invisible characters a paste brings along, and quoting a
bad value briefly in a message.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_orangelogic.core.errors import ConfigurationError

# Control, format (zero-width), separator (line, paragraph, any space) characters: invisible when pasted.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Zs"})
# A DNS name: dot-separated labels of letters (any script), digits, '-' or '_', with an optional final dot.
_HOST_NAME = re.compile(r"(?:[\w-]{1,63}\.)*[\w-]{1,63}\.?")
MAX_HOST_LENGTH = 2048
MAX_HOST_NAME_LENGTH = 253


def has_invisible(text: str) -> bool:
    """True if ``text`` holds a control, format (e.g. zero-width) or separator character, or any space."""
    return any(unicodedata.category(ch) in _INVISIBLE_CATEGORIES for ch in text)


def shown(value: Any) -> str:
    """A value as a message quotes it: its repr, cut short (a pasted megabyte stays out of the message)."""
    try:
        text = repr(value)
    except RecursionError:
        return f"a {type(value).__name__} nested too deeply"
    return text if len(text) <= 80 else f"{text[:60]}... ({len(text)} characters)"


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def normalize_host(conn_id: str, host: str | None, *, allow_insecure_http: bool = False) -> str:
    """Return ``scheme://host[:port]`` for the connection's host; a bare host name gets ``https://``."""
    if host is not None and not isinstance(host, str):
        raise ConfigurationError(f"Connection {conn_id!r}: Host must be text, not {type(host).__name__}.")
    if host is not None and len(host) > MAX_HOST_LENGTH:
        raise ConfigurationError(
            f"Connection {conn_id!r}: Host is {len(host)} characters long; an Orange Logic URL has at most "
            f"{MAX_HOST_LENGTH}. Set it to the bare URL, for example 'https://dam.example.com'."
        )
    raw = (host or "").strip()
    if not raw:
        raise ConfigurationError(
            f"Connection {conn_id!r}: Host is empty. Set it to your Orange Logic URL, "
            "for example 'https://dam.example.com'."
        )
    if has_invisible(raw):
        raise ConfigurationError(
            f"Connection {conn_id!r}: Host contains spaces or control characters (or invisible ones such as a "
            f"zero-width space or a line separator, which pasting can bring along): {shown(raw)}. Type the URL again."
        )
    if "://" not in raw:
        raw = "https://" + raw
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ConfigurationError(
            f"Connection {conn_id!r}: Host scheme {parts.scheme!r} is not supported; use https://."
        )
    try:
        hostname, port = parts.hostname, parts.port
    except ValueError as err:
        raise ConfigurationError(f"Connection {conn_id!r}: Host has an invalid port ({err}).") from None
    if not hostname:
        raise ConfigurationError(f"Connection {conn_id!r}: Host {shown(raw)} has no host name.")
    if port == 0:
        raise ConfigurationError(f"Connection {conn_id!r}: Host has an invalid port (0); use 1-65535 or none.")
    if not _valid_host_name(hostname):
        raise ConfigurationError(
            f"Connection {conn_id!r}: Host name {shown(hostname)} is not valid: use a DNS name (letters, digits, '-' "
            "and '.', at most 253 characters) or an IP address, without ';', '%' or other punctuation, for "
            "example 'https://dam.example.com'."
        )
    if parts.username or parts.password:
        raise ConfigurationError(
            f"Connection {conn_id!r}: Host must not contain user credentials; put the client ID in "
            "Login and the client secret in Password."
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigurationError(
            f"Connection {conn_id!r}: Host must be the bare Orange Logic URL without a path, query or "
            f"fragment, for example 'https://{hostname}'. Endpoints are configured separately."
        )
    if scheme == "http" and not _is_loopback(hostname) and not allow_insecure_http:
        raise ConfigurationError(
            f"Connection {conn_id!r}: Host uses http:// for {hostname}, which would send the client "
            "secret and tokens unencrypted. Use https://, or set the extra field "
            "'allow_insecure_http' to true if you really mean it."
        )
    netloc = hostname.lower() if ":" not in hostname else f"[{hostname.lower()}]"
    if port is not None:
        netloc += f":{port}"
    return f"{scheme}://{netloc}"


def _valid_host_name(hostname: str) -> bool:
    if ":" in hostname:  # only an IPv6 literal ([...] in the URL) has colons
        try:
            ipaddress.IPv6Address(hostname)
        except ValueError:
            return False
        return True
    return len(hostname) <= MAX_HOST_NAME_LENGTH and _HOST_NAME.fullmatch(hostname) is not None
