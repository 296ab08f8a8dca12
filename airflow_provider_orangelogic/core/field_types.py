"""The types that declare a connection field, and the JSON schema one field has in ``conn-fields``.

Kept apart from ``core/fields.py`` so that it is the list of fields (``STANDARD_FIELDS``, ``EXTRA_FIELDS``) and
what is derived from the whole list; it imports these types and re-exports every public name below, so
``from airflow_provider_orangelogic.core.fields import ExtraField`` keeps working.

Standard library only and import-free: provider discovery imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
