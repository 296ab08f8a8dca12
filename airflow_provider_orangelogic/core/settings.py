"""Validated settings of one Orange Logic connection.

Parsing lives here, apart from Airflow, so that every connection field is checked once, with
one message per mistake, before anything is sent to a server or written to a Variable. Which extra
fields exist, their types, defaults and bounds come from their declaration in ``core/fields.py``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_orangelogic.core import endpoints, fields
from airflow_provider_orangelogic.core.errors import ConfigurationError
from airflow_provider_orangelogic.core.fields import BOOLEAN, ENUM, INTEGER, NUMBER, ExtraField
from airflow_provider_orangelogic.core.hosts import has_invisible, normalize_host
from airflow_provider_orangelogic.core.hosts import shown as _shown

# Airflow accepts these characters in a Variable key (airflow.utils.helpers.KEY_REGEX).
# Matched with fullmatch: "$" would accept a trailing newline.
_VARIABLE_KEY = re.compile(r"[\w.-]+")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
MAX_REDIRECT_URI_LENGTH = 2048
# What an HTTP header can carry: visible ASCII, no space (RFC 6750's b64token is a subset).
_HEADER_TOKEN = re.compile(r"[\x21-\x7e]+")


def _default(name: str) -> Any:
    return fields.EXTRA_FIELDS_BY_NAME[name].default


@dataclass(frozen=True)
class OrangeLogicSettings:
    """Everything needed to talk to one Orange Logic instance; ``client_secret`` stays out of repr."""

    base_url: str
    client_id: str
    client_secret: str = field(repr=False)
    # One attribute per declared extra field (core/fields.py), with the declared default.
    auth_mode: str = _default("auth_mode")
    redirect_uri: str | None = _default("redirect_uri")
    token_variable: str | None = _default("token_variable")
    token_endpoint: str = _default("token_endpoint")
    authorize_endpoint: str = _default("authorize_endpoint")
    client_credentials_endpoint: str = _default("client_credentials_endpoint")
    token_request_encoding: str = _default("token_request_encoding")
    timeout: float = _default("timeout")
    verify_ssl: bool = _default("verify_ssl")
    default_access_token_lifetime: int = _default("default_access_token_lifetime")
    default_refresh_token_lifetime: int = _default("default_refresh_token_lifetime")
    refresh_threshold: float = _default("refresh_threshold")
    refresh_on_demand: bool = _default("refresh_on_demand")
    allow_insecure_http: bool = _default("allow_insecure_http")
    webhook_secret: str | None = field(default=_default("webhook_secret"), repr=False)
    webhook_signing_secret: str | None = field(default=_default("webhook_signing_secret"), repr=False)
    webhook_signature_header: str = _default("webhook_signature_header")
    webhook_payload_fields: str = _default("webhook_payload_fields")
    webhook_max_body_bytes: int = _default("webhook_max_body_bytes")

    @property
    def token_url(self) -> str:
        return self.base_url + self.token_endpoint

    @property
    def authorize_url(self) -> str:
        return self.base_url + self.authorize_endpoint

    @property
    def client_credentials_url(self) -> str:
        return self.base_url + self.client_credentials_endpoint

    @property
    def bearer_token(self) -> str:
        """The fixed token of auth_mode bearer_token, kept in the Password field."""
        return self.client_secret

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
        unknown = sorted(set(options) - set(fields.EXTRA_FIELD_NAMES))
        if unknown:
            raise ConfigurationError(
                f"Connection {conn_id!r}: unknown extra field(s) {', '.join(unknown)}. "
                f"Known fields: {', '.join(fields.EXTRA_FIELD_NAMES)}."
            )
        extras = {f.name: parse_extra(conn_id, f, options.get(f.name)) for f in fields.EXTRA_FIELDS}
        bearer = extras["auth_mode"] == fields.BEARER_TOKEN
        return cls(
            base_url=normalize_host(conn_id, host, allow_insecure_http=extras["allow_insecure_http"]),
            # A bearer token is all that mode needs: the client ID is not used, so it may be empty.
            client_id=(login or "").strip() if bearer else _credential(conn_id, _LOGIN, login),
            client_secret=_credential(conn_id, _BEARER if bearer else _PASSWORD, password),
            **extras,
        )


_LOGIN = fields.STANDARD_FIELDS_BY_NAME["login"]
_PASSWORD = fields.STANDARD_FIELDS_BY_NAME["password"]
_BEARER = fields.StandardField("password", "The bearer token created in Orange Logic.", label="Bearer token")


def _unprefixed(extra: Mapping[str, Any]) -> dict[str, Any]:
    """Accept both ``field`` and the legacy form-widget key ``extra__orangelogic__field``."""
    if not isinstance(extra, Mapping):
        raise ConfigurationError("The connection's extra must be a JSON object.")
    options: dict[str, Any] = {}
    for key, value in extra.items():
        name = key.removeprefix(fields.LEGACY_PREFIX)
        declared = fields.EXTRA_FIELDS_BY_NAME.get(name)
        # A cleared field arrives as "" or null: it means the default (unless the field says otherwise).
        blank = isinstance(value, str) and value.strip() == "" and (declared is None or declared.blank_is_default)
        if value is None or blank:
            continue
        options[name] = value
    return options


def _credential(conn_id: str, declared: fields.StandardField, value: str | None) -> str:
    label = f"{declared.label} ({declared.name})"
    if value is None or value.strip() == "":
        where = (
            "Put the bearer token created in Orange Logic in the Password field, or choose another auth_mode."
            if declared is _BEARER
            else "Copy it from the OAuth Client Application account in Orange Logic (Administration > Contacts > "
            "OAuth 2.0 Client Credentials)."
        )
        raise ConfigurationError(f"Connection {conn_id!r}: {label} is empty. {where}")
    if value != value.strip():
        raise ConfigurationError(
            f"Connection {conn_id!r}: {label} has leading or trailing whitespace; paste it again without it."
        )
    if _CONTROL_CHARS.search(value) or any(ch.isspace() for ch in value) or has_invisible(value):
        raise ConfigurationError(
            f"Connection {conn_id!r}: {label} contains whitespace or control characters; paste it again."
        )
    if declared is _BEARER and not _HEADER_TOKEN.fullmatch(value):
        # It travels in the Authorization header, which carries ASCII only; a raw encoding error could show it.
        raise ConfigurationError(
            f"Connection {conn_id!r}: {label} contains characters a bearer token cannot have (only visible "
            "ASCII letters, digits and punctuation); paste it again from Orange Logic."
        )
    return value


def parse_extra(conn_id: str, declared: ExtraField, value: Any) -> Any:
    """One extra field's value, checked against its declaration; None (not set) means its default."""
    if value is None:
        return declared.default
    if not isinstance(value, (str, int, float)):  # bool is an int
        raise ConfigurationError(
            f"Connection {conn_id!r}: {declared.name} must be a single value, not a JSON {type(value).__name__}."
        )
    special = _SPECIAL.get(declared.name)
    if special is not None:
        return special(conn_id, declared, value)
    if declared.kind == BOOLEAN:
        return _as_bool(conn_id, declared.name, value)
    if declared.kind == ENUM:
        return _choice(conn_id, declared, value)
    if declared.kind in (NUMBER, INTEGER):
        return _bounded_number(conn_id, declared, value)
    return _text(conn_id, declared, value)


def _redirect_uri(conn_id: str, declared: ExtraField, value: Any) -> str:
    if isinstance(value, str) and len(value) > MAX_REDIRECT_URI_LENGTH:
        raise ConfigurationError(
            f"Connection {conn_id!r}: redirect_uri is {len(value)} characters long; at most "
            f"{MAX_REDIRECT_URI_LENGTH} are allowed."
        )
    if not isinstance(value, str) or has_invisible(value.strip()):
        raise ConfigurationError(
            f"Connection {conn_id!r}: redirect_uri must be a URL without spaces, control or invisible characters."
        )
    parts = urlsplit(value.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"Connection {conn_id!r}: redirect_uri {_shown(value)} must be an absolute http(s) URL, exactly as "
            "registered on the OAuth Client Application account in Orange Logic."
        )
    if parts.fragment or value.strip().endswith("#"):
        # RFC 6749 section 3.1.2: the redirection endpoint URI MUST NOT include a fragment component.
        raise ConfigurationError(
            f"Connection {conn_id!r}: redirect_uri {_shown(value)} must not contain a fragment ('#...'): OAuth "
            "does not allow one (RFC 6749, 3.1.2). Remove it here and on the OAuth Client Application account."
        )
    return value.strip()


def _token_variable(conn_id: str, declared: ExtraField, value: Any) -> str:
    if not isinstance(value, str) or not _VARIABLE_KEY.fullmatch(value) or len(value) > 250:
        raise ConfigurationError(
            f"Connection {conn_id!r}: token_variable {_shown(value)} is not a valid Airflow Variable key: use "
            "1-250 letters, digits, '_', '-' or '.', or leave it empty for the default "
            f"'orangelogic_token_{conn_id}'."
        )
    if ".." in value:
        raise ConfigurationError(f"Connection {conn_id!r}: token_variable must not contain '..'.")
    if not any(part in value.lower() for part in fields.AIRFLOW_SENSITIVE_NAME_PARTS):
        raise ConfigurationError(
            f"Connection {conn_id!r}: token_variable {_shown(value)} must contain the word 'token' (for example "
            f"'orangelogic_token_{conn_id}'): Airflow masks a Variable's value in the UI and in logs only when its "
            "key contains such a word, and this one holds the tokens."
        )
    return value


def _endpoint(conn_id: str, declared: ExtraField, value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("/") or "://" in value or has_invisible(value):
        raise ConfigurationError(
            f"Connection {conn_id!r}: {declared.name} must be a path starting with '/', for example "
            f"{declared.default!r}."
        )
    return value


# Fields whose value needs more than its declared type and bounds.
_SPECIAL = {
    "redirect_uri": _redirect_uri,
    "token_variable": _token_variable,
    "token_endpoint": _endpoint,
    "authorize_endpoint": _endpoint,
    "client_credentials_endpoint": _endpoint,
}


def _text(conn_id: str, declared: ExtraField, value: Any) -> str:
    if not isinstance(value, str) or _CONTROL_CHARS.search(value):
        raise ConfigurationError(
            f"Connection {conn_id!r}: {declared.name} must be text without control characters, not {_shown(value)}."
        )
    return value.strip()


def _choice(conn_id: str, declared: ExtraField, value: Any) -> str:
    choice = str(value).strip().lower()
    if choice not in declared.choice_values:
        options = [_choice_text(c, default=c.value == declared.default) for c in declared.choices]
        raise ConfigurationError(
            f"Connection {conn_id!r}: {declared.name} {_shown(value)} is not supported; use "
            f"{', '.join(options[:-1])} or {options[-1]}."
        )
    return choice


def _choice_text(choice: fields.Choice, *, default: bool) -> str:
    notes = ", ".join(note for note in (choice.meaning, "the default" if default else "") if note)
    return f"{choice.value!r} ({notes})" if notes else repr(choice.value)


def _number(conn_id: str, name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ConfigurationError(f"Connection {conn_id!r}: {name} must be a number, not {_shown(value)}.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"Connection {conn_id!r}: {name} must be a number, not {_shown(value)}.") from None
    if not math.isfinite(number):
        raise ConfigurationError(f"Connection {conn_id!r}: {name} must be a finite number.")
    return number


def _bounded_number(conn_id: str, declared: ExtraField, value: Any) -> float | int:
    number = _number(conn_id, declared.name, value)
    if declared.kind == INTEGER:
        if not number.is_integer():
            raise ConfigurationError(
                f"Connection {conn_id!r}: {declared.name} must be a whole number, not {_shown(value)}."
            )
        number = int(number)
    if not declared.within_bounds(number):
        raise ConfigurationError(
            f"Connection {conn_id!r}: {declared.name} must be {declared.range_text()} (got {_shown(value)}); "
            f"leave it empty for the default {declared.shown_default}. {declared.description}"
        )
    return number


def _as_bool(conn_id: str, name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ConfigurationError(f"Connection {conn_id!r}: {name} must be true or false, not {_shown(value)}.")
