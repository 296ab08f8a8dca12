"""The fields of an ``orangelogic`` connection, declared once.

Everything that describes a field lives here as plain data: its name, form label, type, default,
bounds, choices, description and placeholder, and how the standard connection fields are relabelled
or hidden. The rest is derived from it:

* ``core/settings.py`` parses and validates a connection against these declarations;
* ``get_provider_info`` publishes them as Airflow 3.2+ ``conn-fields`` and ``ui-field-behaviour``
  (``conn_fields()``, ``ui_field_behaviour()``);
* ``docs/connection.md`` holds the table ``core/fields_doc.py`` prints
  (``python -m airflow_provider_orangelogic.core.fields_doc``), and a test fails when the two drift apart.

Adding a field means adding one ``ExtraField`` to ``EXTRA_FIELDS`` (and the matching attribute on
``OrangeLogicSettings``; a test checks that they agree). The declarations also carry what Airflow < 3.2
form widgets (``get_connection_form_widgets``) need: ``kind`` picks the wtforms class (there is no
float field there: a ``number`` is a ``StringField``), ``label``, ``help_text``,
``minimum``/``maximum`` and ``choices`` give its validators, and ``ui_field_behaviour()`` is already in
the shape ``get_ui_field_behaviour`` returns.

Standard library only and import-free apart from the endpoint constants: provider discovery imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_provider_orangelogic.core import endpoints

CONN_TYPE = "orangelogic"
# Airflow < 3.2 form widgets stored extra fields under this prefix; both spellings are read.
LEGACY_PREFIX = f"extra__{CONN_TYPE}__"

STRING = "string"
NUMBER = "number"
INTEGER = "integer"
BOOLEAN = "boolean"
ENUM = "enum"
KINDS = (STRING, NUMBER, INTEGER, BOOLEAN, ENUM)

# Airflow masks the value of any connection extra whose name contains one of these words
# (DEFAULT_SENSITIVE_FIELDS of airflow's secrets masker; a test checks this copy against it). The form
# metadata is masked too, so a default on such a field would pre-fill the form with "***", and a
# connection saved untouched would hold "***". Those fields state their default in the help text instead.
AIRFLOW_SENSITIVE_NAME_PARTS = frozenset(
    {
        "access_key",
        "access_token",
        "api_key",
        "apikey",
        "auth_header",
        "authorization",
        "bearer",
        "connection_string",
        "dsn",
        "keyfile_dict",
        "passphrase",
        "passwd",
        "password",
        "private_key",
        "proxies",
        "proxy",
        "proxy_password",
        "secret",
        "service_account",
        "service_key",
        "token",
        "webhook_url",
    }
)


@dataclass(frozen=True)
class Bound:
    """One end of a numeric range; ``exclusive`` means the value itself is not allowed."""

    value: float
    exclusive: bool = False


@dataclass(frozen=True)
class Choice:
    """One allowed value of an ``enum`` field and what it means."""

    value: str
    meaning: str = ""


@dataclass(frozen=True)
class ExtraField:
    """One field stored in the connection's ``extra`` JSON.

    ``default`` is what an absent, null or empty value means (None: not set). ``default_text`` shows a
    default that is not a plain value (it depends on the connection id, say). ``blank_is_default=False``
    makes an empty string an error instead of the default. ``doc_note`` is Markdown added in the docs only.
    ``section`` puts the field under its own heading of the Airflow 3.2+ form instead of "Extra Fields".
    There is no placeholder: Airflow 3's form applies ``ui-field-behaviour`` placeholders to the standard
    fields only (host, login, ...), so an extra field's example goes in its description.
    """

    name: str
    label: str
    kind: str
    description: str
    default: Any = None
    default_text: str | None = None
    minimum: Bound | None = None
    maximum: Bound | None = None
    choices: tuple[Choice, ...] = ()
    schema_format: str | None = None
    blank_is_default: bool = True
    doc_note: str = ""
    section: str | None = None

    @property
    def masked(self) -> bool:
        """Airflow masks values of this name, so the form must not carry its default."""
        return any(part in self.name.lower() for part in AIRFLOW_SENSITIVE_NAME_PARTS)

    @property
    def choice_values(self) -> tuple[str, ...]:
        return tuple(choice.value for choice in self.choices)

    @property
    def shown_default(self) -> str | None:
        """The default as a person reads it, or None when there is none."""
        if self.default_text is not None:
            return self.default_text
        return None if self.default is None else show(self.default)

    @property
    def help_text(self) -> str:
        """The form's description: the field's description and its default."""
        if self.shown_default is None:
            return self.description
        return f"{self.description} Default when empty: {self.shown_default}."

    def range_text(self) -> str:
        """The allowed range in words, e.g. "greater than zero" or "between 0 and 1 (exclusive)"."""
        low, high = self.minimum, self.maximum
        if low and high:
            if low.exclusive == high.exclusive:
                ends = "exclusive" if low.exclusive else "inclusive"
                return f"between {show(low.value)} and {show(high.value)} ({ends})"
            return f"{_lower_text(low)} and {_upper_text(high)}"
        if low:
            return _lower_text(low)
        return _upper_text(high) if high else ""

    def within_bounds(self, number: float) -> bool:
        low, high = self.minimum, self.maximum
        if low and (number <= low.value if low.exclusive else number < low.value):
            return False
        return not (high and (number >= high.value if high.exclusive else number > high.value))


@dataclass(frozen=True)
class StandardField:
    """One of Airflow's own connection fields (host, login, ...), as this connection type shows it."""

    name: str
    description: str
    label: str | None = None
    placeholder: str | None = None
    hidden: bool = False


STANDARD_FIELDS: tuple[StandardField, ...] = (
    StandardField(
        "host",
        "The instance's base URL, e.g. https://dam.example.com. A bare host name gets https://. No path, query "
        "or credentials. http:// is accepted only for loopback hosts unless allow_insecure_http is true. In "
        "auth_mode authorization_code, Orange Logic also needs the redirect URI registered: see Redirect URI "
        "(the form's Authorization section).",
        label="Orange Logic URL",
        placeholder="https://dam.example.com",
    ),
    StandardField(
        "login",
        "From the OAuth Client Application account (Administration > Contacts > OAuth 2.0 Client Credentials). "
        "In auth_mode authorization_code, register the redirect URI on that account too: see Redirect URI.",
        label="Client ID",
        placeholder="client ID of the OAuth Client Application account",
    ),
    StandardField(
        "password",
        "From the same place; in auth_mode bearer_token, the bearer token itself. Masked in logs.",
        label="Client secret",
        placeholder="client secret of the OAuth Client Application account",
    ),
    StandardField("schema", "Unused.", hidden=True),
    StandardField("port", "Unused; put a port in the URL if needed.", hidden=True),
)

_POSITIVE = Bound(0, exclusive=True)
# Upper bounds: a larger lifetime or timeout is a typo, and would overflow date or socket arithmetic
# (for a lifetime: after the server answered, when the new pair can no longer be given back).
MAX_LIFETIME_SECONDS = 10 * 365 * 24 * 3600  # ten years
MAX_TIMEOUT_SECONDS = 3600

# The Airflow 3.2+ form shows these fields under their own heading, above "Extra Fields" (Airflow's form
# has no way to open a section by default or to show an extra field among the standard ones).
AUTHORIZATION_SECTION = "Authorization (Auth mode, Redirect URI)"

AUTHORIZATION_CODE = "authorization_code"
CLIENT_CREDENTIALS = "client_credentials"
BEARER_TOKEN = "bearer_token"

EXTRA_FIELDS: tuple[ExtraField, ...] = (
    ExtraField(
        "auth_mode",
        "Auth mode",
        ENUM,
        "How Airflow authenticates: authorization_code (Client ID and Client secret; a person authorizes once, "
        "with Authorize on the Orange Logic page), client_credentials (no browser step; Client ID and Client "
        "secret), or bearer_token (a non-expiring token created in Orange Logic, in the Client secret field; Client ID "
        "unused). Use the mode your Orange Logic administrator enabled.",
        default=AUTHORIZATION_CODE,
        choices=(
            Choice(AUTHORIZATION_CODE, "OAuth 2.0 authorization code, renewed with the refresh token"),
            Choice(CLIENT_CREDENTIALS, "client ID and secret get a new access token when one expires"),
            Choice(BEARER_TOKEN, "a fixed bearer token in the Client secret field"),
        ),
        doc_note="See [Which mode?](#which-mode).",
        section=AUTHORIZATION_SECTION,
    ),
    ExtraField(
        "redirect_uri",
        "Redirect URI",
        STRING,
        "Needed by auth_mode authorization_code: where Orange Logic sends the browser back with the code, "
        "exactly as registered on the OAuth Client Application account. Leave empty to use the Orange Logic "
        "page's callback, the Airflow URL followed by /orangelogic/callback (e.g. "
        "https://airflow.example.com/orangelogic/callback), and register that address; set it for the headless "
        "way (the exchange DAG) or to the callback's public address behind a proxy. Unused in the other modes.",
        schema_format="url",
        section=AUTHORIZATION_SECTION,
    ),
    ExtraField(
        "token_variable",
        "Token Variable",
        STRING,
        "The Airflow Variable key holding the token pair: 1-250 letters, digits, '_', '-' or '.', "
        "containing the word token (required: it makes Airflow mask the value).",
        default_text="orangelogic_token_<connection id>",
        # An explicit "" is a mistake here, not "use the default": the form sends null for a cleared field.
        blank_is_default=False,
    ),
    ExtraField(
        "token_endpoint",
        "Token endpoint",
        STRING,
        "Path of the token endpoint, starting with '/' and relative to the Orange Logic URL.",
        default=endpoints.TOKEN,
    ),
    ExtraField(
        "authorize_endpoint",
        "Authorization endpoint",
        STRING,
        "Path of the page where a person approves access (auth_mode authorization_code), starting with '/' and "
        "relative to the Orange Logic URL; the authorization URL is this path with client_id, redirect_uri and "
        "state added. Change it only if your Orange Logic instance serves that page elsewhere.",
        default=endpoints.AUTHORIZE,
    ),
    ExtraField(
        "client_credentials_endpoint",
        "Client credentials endpoint",
        STRING,
        "Path of the client-credentials endpoint (auth_mode client_credentials), starting with '/'.",
        default=endpoints.CLIENT_CREDENTIALS,
    ),
    ExtraField(
        "token_request_encoding",
        "Token request encoding",
        ENUM,
        "Body encoding of token requests. Orange Logic's docs do not say which; form is the one a public "
        "description shows.",
        default="form",
        choices=(Choice("form", "application/x-www-form-urlencoded"), Choice("json", "application/json")),
    ),
    ExtraField(
        "timeout",
        "Timeout (seconds)",
        NUMBER,
        "Seconds to wait for Orange Logic on each HTTP call (to connect, and then for each part of the answer), "
        "token and API calls alike. A call that times out is retried with backoff. Raise it for large search "
        "pages on a slow instance.",
        default=30.0,
        minimum=_POSITIVE,
        maximum=Bound(MAX_TIMEOUT_SECONDS),
    ),
    ExtraField(
        "verify_ssl",
        "Verify TLS certificates",
        BOOLEAN,
        "Check the Orange Logic server's TLS certificate. Turn it off only for a test instance with a "
        "self-signed certificate: unchecked, anyone on the way can read the client secret and tokens. For a "
        "private certificate authority keep it on and point REQUESTS_CA_BUNDLE at the CA file.",
        default=True,
    ),
    ExtraField(
        "default_access_token_lifetime",
        "Access token lifetime (seconds)",
        INTEGER,
        "Seconds (86400 is 24 hours); used only when the token endpoint sends no usable expires_in.",
        default=24 * 3600,
        minimum=_POSITIVE,
        maximum=Bound(MAX_LIFETIME_SECONDS),
    ),
    ExtraField(
        "default_refresh_token_lifetime",
        "Refresh token lifetime (seconds)",
        INTEGER,
        "Seconds; Orange Logic refresh tokens live 30 days. The server does not send this, so it is always used.",
        default=30 * 24 * 3600,
        minimum=_POSITIVE,
        maximum=Bound(MAX_LIFETIME_SECONDS),
    ),
    # Refresh once less than half of the access token's life is left: with the example refresh DAG
    # running every 30 minutes and 24-hour tokens, a pair is renewed ~12 hours before it expires,
    # leaving room for a day of failed runs before any consumer sees an expired token.
    ExtraField(
        "refresh_threshold",
        "Refresh threshold",
        NUMBER,
        "Refresh once less than this fraction of the access token's lifetime is left.",
        default=0.5,
        minimum=Bound(0, exclusive=True),
        maximum=Bound(1, exclusive=True),
    ),
    ExtraField(
        "refresh_on_demand",
        "Refresh on demand (single host only)",
        BOOLEAN,
        "Let any task refresh an expired token itself. Safe only when all workers run on one host; otherwise "
        "leave it off and run the refresh DAG.",
        default=False,
        doc_note="See [token-lifecycle.md](token-lifecycle.md).",
    ),
    ExtraField(
        "allow_insecure_http",
        "Allow http:// to a non-local host",
        BOOLEAN,
        "Allow an http:// Orange Logic URL whose host is not loopback; the client secret and tokens then travel "
        "unencrypted. Loopback hosts (localhost, 127.0.0.1) are always allowed; leave this off for a real "
        "instance.",
        default=False,
    ),
)

EXTRA_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in EXTRA_FIELDS)
EXTRA_FIELDS_BY_NAME: dict[str, ExtraField] = {f.name: f for f in EXTRA_FIELDS}
STANDARD_FIELDS_BY_NAME: dict[str, StandardField] = {f.name: f for f in STANDARD_FIELDS}


def show(value: Any) -> str:
    """A value as the docs and messages show it: true/false, 30 rather than 30.0."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _lower_text(bound: Bound) -> str:
    if bound.exclusive:
        return "greater than zero" if bound.value == 0 else f"greater than {show(bound.value)}"
    return f"at least {show(bound.value)}"


def _upper_text(bound: Bound) -> str:
    return f"less than {show(bound.value)}" if bound.exclusive else f"at most {show(bound.value)}"


# --- Airflow 3.2+ provider info ------------------------------------------------------------------

_JSON_TYPES = {STRING: "string", ENUM: "string", NUMBER: "number", INTEGER: "integer", BOOLEAN: "boolean"}


def _bound_schema(field: ExtraField, bound: Bound, key: str, step: int) -> dict[str, Any]:
    """JSON-schema keywords for one bound.

    Airflow's form reads only ``minimum``/``maximum``, so an exclusive bound keeps the inclusive keyword
    too (together they say "> 0" exactly); on an integer it becomes the next whole number instead.
    """
    if not bound.exclusive:
        return {key: bound.value}
    if field.kind == INTEGER and float(bound.value).is_integer():
        return {key: int(bound.value) + step}
    return {key: bound.value, "exclusive" + key[0].upper() + key[1:]: bound.value}


def _choice_label(field: ExtraField, choice: Choice) -> str:
    """A drop-down entry: the value, "(default)" on the default, and its meaning.

    The default is named here because a field Airflow masks (``token_request_encoding``) cannot carry
    it as a pre-selected value: the form opens on "Select Value", and saving that means the default.
    """
    label = choice.value + (" (default)" if choice.value == field.default else "")
    return f"{label}: {choice.meaning}" if choice.meaning else label


def json_schema(field: ExtraField) -> dict[str, Any]:
    """The field's ``schema`` in ``conn-fields``; null (the "null" type) means the default.

    An enum lists only its real choices: Airflow's form turns every ``enum`` entry into a choice of its
    drop-down, so a None there showed up as a third choice "null" (and as the selected value of a
    connection saved with the field empty). Clearing the drop-down still saves null, the default.
    ``values_display`` labels each choice (``_choice_label``); ``section`` is the form heading.
    """
    schema: dict[str, Any] = {"type": [_JSON_TYPES[field.kind], "null"]}
    if field.schema_format:
        schema["format"] = field.schema_format
    if field.choices:
        schema["enum"] = list(field.choice_values)
        schema["values_display"] = {c.value: _choice_label(field, c) for c in field.choices}
    if field.section:
        schema["section"] = field.section
    if field.default is not None and not field.masked:
        schema["default"] = field.default
    if field.minimum:
        schema.update(_bound_schema(field, field.minimum, "minimum", 1))
    if field.maximum:
        schema.update(_bound_schema(field, field.maximum, "maximum", -1))
    return schema


def conn_fields() -> dict[str, dict[str, Any]]:
    """The ``conn-fields`` of the provider info (Airflow 3.2+ declarative connection form)."""
    return {f.name: {"label": f.label, "description": f.help_text, "schema": json_schema(f)} for f in EXTRA_FIELDS}


def ui_field_behaviour() -> dict[str, Any]:
    """Standard-field relabelling, hiding and placeholders, in the shape of ``get_ui_field_behaviour``.

    The provider info spells the same keys in kebab case (``hidden-fields``). Only the standard fields get
    placeholders: Airflow 3's UI (``HookMetaService._make_standard_fields``) reads no others.
    """
    placeholders = {f.name: f.placeholder for f in STANDARD_FIELDS if f.placeholder}
    return {
        "hidden_fields": [f.name for f in STANDARD_FIELDS if f.hidden],
        "relabeling": {f.name: f.label for f in STANDARD_FIELDS if f.label},
        "placeholders": placeholders,
    }
