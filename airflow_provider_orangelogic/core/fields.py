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

The types these declarations are made of (``ExtraField``, ``StandardField``, ``Bound``, ``Choice``, the
kinds) and one field's JSON schema live in ``core/field_types.py``; their public names are re-exported here.

Standard library only and import-free apart from the endpoint constants and those types: provider discovery
imports it.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_orangelogic.core import endpoints

# The "X as X" imports are re-exports: callers read fields.KINDS, fields.show, fields.AIRFLOW_SENSITIVE_NAME_PARTS.
from airflow_provider_orangelogic.core.field_types import (
    AIRFLOW_SENSITIVE_NAME_PARTS as AIRFLOW_SENSITIVE_NAME_PARTS,
)
from airflow_provider_orangelogic.core.field_types import (
    BOOLEAN,
    ENUM,
    INTEGER,
    NUMBER,
    STRING,
    Bound,
    Choice,
    ExtraField,
    StandardField,
    json_schema,
)
from airflow_provider_orangelogic.core.field_types import KINDS as KINDS
from airflow_provider_orangelogic.core.field_types import show as show

CONN_TYPE = "orangelogic"
# Airflow < 3.2 form widgets stored extra fields under this prefix; both spellings are read.
LEGACY_PREFIX = f"extra__{CONN_TYPE}__"

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
    ExtraField(
        "webhook_secret",
        "Webhook secret",
        STRING,
        "Turns on the webhook endpoint <Airflow URL>/orangelogic/webhooks/<connection id> for this connection: "
        "Orange Logic must send this value in the X-OrangeLogic-Webhook-Secret header (or as ?secret= in the "
        'URL registered on the subscription). At least 32 characters, e.g. from python -c "import secrets; '
        'print(secrets.token_urlsafe(32))". While rotating, put the new and the old one separated by a space. '
        "Empty: webhooks for this connection are refused (401).",
    ),
    ExtraField(
        "webhook_signing_secret",
        "Webhook signing secret",
        STRING,
        "Optional: if Orange Logic signs its webhooks, the shared key; each body must then carry a valid "
        "HMAC-SHA256 of the raw body (hex or base64, optionally prefixed sha256=) in the signature header. "
        "Empty: no signature check (the webhook secret still is).",
    ),
    ExtraField(
        "webhook_signature_header",
        "Webhook signature header",
        STRING,
        "The request header holding the HMAC signature, used only with a webhook signing secret.",
        default="X-OrangeLogic-Signature",
    ),
    ExtraField(
        "webhook_payload_fields",
        "Webhook payload fields",
        STRING,
        "Where each value is in the webhook's JSON body: comma-separated name=path pairs for event_id, "
        "event_type, identifier, record_id and time (a path may be dotted, e.g. identifier=Asset.Identifier). "
        "Names left out keep their default; event_id, event_type and identifier are required in every body.",
        default="event_id=EventID,event_type=EventType,identifier=SystemIdentifier,record_id=RecordID,time=Timestamp",
    ),
    ExtraField(
        "webhook_max_body_bytes",
        "Webhook body limit (bytes)",
        INTEGER,
        "Largest webhook body accepted; a bigger one is answered 413 and nothing is recorded.",
        default=65536,
        minimum=Bound(1024),
        maximum=Bound(10485760),
    ),
)

EXTRA_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in EXTRA_FIELDS)
EXTRA_FIELDS_BY_NAME: dict[str, ExtraField] = {f.name: f for f in EXTRA_FIELDS}
STANDARD_FIELDS_BY_NAME: dict[str, StandardField] = {f.name: f for f in STANDARD_FIELDS}


# --- Airflow 3.2+ provider info ------------------------------------------------------------------


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
