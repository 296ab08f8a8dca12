"""Validated settings of one Orange Logic connection.

Parsing lives here, apart from Airflow, so that every connection field is checked once, with
one message per mistake, before anything is sent to a server or written to a Variable.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.core.errors import ConfigurationError

DEFAULT_TOKEN_ENDPOINT = endpoints.TOKEN
DEFAULT_AUTHORIZE_ENDPOINT = endpoints.AUTHORIZE
DEFAULT_ACCESS_TOKEN_LIFETIME = 24 * 3600
DEFAULT_REFRESH_TOKEN_LIFETIME = 30 * 24 * 3600
DEFAULT_TIMEOUT = 30.0
# Refresh once less than half of the access token's life is left: with the example refresh DAG
# running every 30 minutes and 24-hour tokens, a pair is renewed ~12 hours before it expires,
# leaving room for a day of failed runs before any consumer sees an expired token.
DEFAULT_REFRESH_THRESHOLD = 0.5
ENCODINGS = ("form", "json")

# Airflow accepts these characters in a Variable key (airflow.utils.helpers.KEY_REGEX).
_VARIABLE_KEY = re.compile(r"^[\w.-]+$")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")

EXTRA_FIELDS = (
    "redirect_uri",
    "token_variable",
    "token_endpoint",
    "authorize_endpoint",
    "token_request_encoding",
    "timeout",
    "verify_ssl",
    "default_access_token_lifetime",
    "default_refresh_token_lifetime",
    "refresh_threshold",
    "refresh_on_demand",
    "allow_insecure_http",
)


@dataclass(frozen=True)
class OrangeLogicSettings:
    """Everything needed to talk to one Orange Logic instance; ``client_secret`` stays out of repr."""

    base_url: str
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str | None = None
    token_variable: str | None = None
    token_endpoint: str = DEFAULT_TOKEN_ENDPOINT
    authorize_endpoint: str = DEFAULT_AUTHORIZE_ENDPOINT
    token_request_encoding: str = "form"
    timeout: float = DEFAULT_TIMEOUT
    verify_ssl: bool = True
    default_access_token_lifetime: float = DEFAULT_ACCESS_TOKEN_LIFETIME
    default_refresh_token_lifetime: float = DEFAULT_REFRESH_TOKEN_LIFETIME
    refresh_threshold: float = DEFAULT_REFRESH_THRESHOLD
    refresh_on_demand: bool = False
    allow_insecure_http: bool = False

    @property
    def token_url(self) -> str:
        return self.base_url + self.token_endpoint

    @property
    def authorize_url(self) -> str:
        return self.base_url + self.authorize_endpoint

    def url_for(self, endpoint: str) -> str:
        """Absolute URL of an API endpoint given relative to the Orange Logic host."""
        if "://" in endpoint:
            raise ConfigurationError(
                f"Endpoint {endpoint!r} must be a path relative to the connection's host "
                f"({self.base_url}), for example {endpoints.SEARCH!r}."
            )
        return self.base_url + "/" + endpoint.lstrip("/")

    @classmethod
    def from_connection_fields(
        cls,
        *,
        conn_id: str,
        host: str | None,
        login: str | None,
        password: str | None,
        extra: Mapping[str, Any] | None,
    ) -> OrangeLogicSettings:
        """Build settings from an Airflow connection's fields, raising one clear error per mistake."""
        options = _unprefixed(extra or {})
        unknown = sorted(set(options) - set(EXTRA_FIELDS))
        if unknown:
            raise ConfigurationError(
                f"Connection {conn_id!r}: unknown extra field(s) {', '.join(unknown)}. "
                f"Known fields: {', '.join(EXTRA_FIELDS)}."
            )
        allow_insecure = _as_bool(conn_id, "allow_insecure_http", options.get("allow_insecure_http"), False)
        return cls(
            base_url=normalize_host(conn_id, host, allow_insecure_http=allow_insecure),
            client_id=_credential(conn_id, "Client ID (login)", login),
            client_secret=_credential(conn_id, "Client secret (password)", password),
            redirect_uri=_redirect_uri(conn_id, options.get("redirect_uri")),
            token_variable=_token_variable(conn_id, options.get("token_variable")),
            token_endpoint=_endpoint(conn_id, "token_endpoint", options.get("token_endpoint"), DEFAULT_TOKEN_ENDPOINT),
            authorize_endpoint=_endpoint(
                conn_id, "authorize_endpoint", options.get("authorize_endpoint"), DEFAULT_AUTHORIZE_ENDPOINT
            ),
            token_request_encoding=_encoding(conn_id, options.get("token_request_encoding")),
            timeout=_positive_number(conn_id, "timeout", options.get("timeout"), DEFAULT_TIMEOUT),
            verify_ssl=_as_bool(conn_id, "verify_ssl", options.get("verify_ssl"), True),
            default_access_token_lifetime=_positive_number(
                conn_id,
                "default_access_token_lifetime",
                options.get("default_access_token_lifetime"),
                DEFAULT_ACCESS_TOKEN_LIFETIME,
            ),
            default_refresh_token_lifetime=_positive_number(
                conn_id,
                "default_refresh_token_lifetime",
                options.get("default_refresh_token_lifetime"),
                DEFAULT_REFRESH_TOKEN_LIFETIME,
            ),
            refresh_threshold=_fraction(conn_id, "refresh_threshold", options.get("refresh_threshold")),
            refresh_on_demand=_as_bool(conn_id, "refresh_on_demand", options.get("refresh_on_demand"), False),
            allow_insecure_http=allow_insecure,
        )


def _unprefixed(extra: Mapping[str, Any]) -> dict[str, Any]:
    """Accept both ``field`` and the legacy form-widget key ``extra__orangelogic__field``."""
    if not isinstance(extra, Mapping):
        raise ConfigurationError("The connection's extra must be a JSON object.")
    options: dict[str, Any] = {}
    for key, value in extra.items():
        name = key.removeprefix("extra__orangelogic__")
        # The UI stores cleared optional fields as "" or null: treat them as not set.
        if value is None or (isinstance(value, str) and value.strip() == "" and name != "token_variable"):
            continue
        options[name] = value
    return options


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def normalize_host(conn_id: str, host: str | None, *, allow_insecure_http: bool = False) -> str:
    """Return ``scheme://host[:port]`` for the connection's host; a bare host name gets ``https://``."""
    raw = (host or "").strip()
    if not raw:
        raise ConfigurationError(
            f"Connection {conn_id!r}: Host is empty. Set it to your Orange Logic URL, "
            "for example 'https://dam.example.com'."
        )
    if _CONTROL_CHARS.search(raw) or " " in raw:
        raise ConfigurationError(f"Connection {conn_id!r}: Host contains spaces or control characters.")
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
        raise ConfigurationError(f"Connection {conn_id!r}: Host {raw!r} has no host name.")
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


def _credential(conn_id: str, label: str, value: str | None) -> str:
    if value is None or value.strip() == "":
        raise ConfigurationError(
            f"Connection {conn_id!r}: {label} is empty. Copy it from the OAuth Client Application "
            "account in Orange Logic (Administration > Contacts > OAuth 2.0 Client Credentials)."
        )
    if value != value.strip():
        raise ConfigurationError(
            f"Connection {conn_id!r}: {label} has leading or trailing whitespace; paste it again without it."
        )
    if _CONTROL_CHARS.search(value) or any(ch.isspace() for ch in value):
        raise ConfigurationError(
            f"Connection {conn_id!r}: {label} contains whitespace or control characters; paste it again."
        )
    return value


def _redirect_uri(conn_id: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or _CONTROL_CHARS.search(value) or " " in value.strip():
        raise ConfigurationError(f"Connection {conn_id!r}: redirect_uri must be a URL without spaces.")
    parts = urlsplit(value.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"Connection {conn_id!r}: redirect_uri {value!r} must be an absolute http(s) URL, exactly as "
            "registered on the OAuth Client Application account in Orange Logic."
        )
    return value.strip()


def _token_variable(conn_id: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _VARIABLE_KEY.match(value) or len(value) > 250:
        raise ConfigurationError(
            f"Connection {conn_id!r}: token_variable {value!r} is not a valid Airflow Variable key: use "
            "1-250 letters, digits, '_', '-' or '.', or leave it empty for the default "
            f"'orangelogic_token_{conn_id}'."
        )
    if ".." in value:
        raise ConfigurationError(f"Connection {conn_id!r}: token_variable must not contain '..'.")
    return value


def _endpoint(conn_id: str, name: str, value: Any, default: str) -> str:
    if value is None:
        return default
    if not isinstance(value, str) or not value.startswith("/") or "://" in value or " " in value:
        raise ConfigurationError(
            f"Connection {conn_id!r}: {name} must be a path starting with '/', for example {default!r}."
        )
    return value


def _encoding(conn_id: str, value: Any) -> str:
    if value is None:
        return "form"
    encoding = str(value).strip().lower()
    if encoding not in ENCODINGS:
        raise ConfigurationError(
            f"Connection {conn_id!r}: token_request_encoding {value!r} is not supported; use 'form' "
            "(application/x-www-form-urlencoded, the default) or 'json'."
        )
    return encoding


def _number(conn_id: str, name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ConfigurationError(f"Connection {conn_id!r}: {name} must be a number, not {value!r}.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"Connection {conn_id!r}: {name} must be a number, not {value!r}.") from None
    if not math.isfinite(number):
        raise ConfigurationError(f"Connection {conn_id!r}: {name} must be a finite number.")
    return number


def _positive_number(conn_id: str, name: str, value: Any, default: float) -> float:
    if value is None:
        return default
    number = _number(conn_id, name, value)
    if number <= 0:
        raise ConfigurationError(
            f"Connection {conn_id!r}: {name} must be greater than zero (got {value!r}); "
            f"leave it empty for the default {default:g}."
        )
    return number


def _fraction(conn_id: str, name: str, value: Any) -> float:
    if value is None:
        return DEFAULT_REFRESH_THRESHOLD
    number = _number(conn_id, name, value)
    if not 0 < number < 1:
        raise ConfigurationError(
            f"Connection {conn_id!r}: {name} is the fraction of the access token's lifetime left at which "
            f"a refresh happens and must be between 0 and 1 (got {value!r})."
        )
    return number


def _as_bool(conn_id: str, name: str, value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ConfigurationError(f"Connection {conn_id!r}: {name} must be true or false, not {value!r}.")
