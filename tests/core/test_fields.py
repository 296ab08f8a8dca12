"""The one declaration of the connection fields agrees with the parser, the provider info and the docs."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from airflow_provider_orangelogic.core import fields, fields_doc
from airflow_provider_orangelogic.core.errors import ConfigurationError
from airflow_provider_orangelogic.core.fields import BOOLEAN, ENUM, INTEGER, NUMBER, Bound, Choice, ExtraField
from airflow_provider_orangelogic.core.settings import OrangeLogicSettings, parse_extra
from airflow_provider_orangelogic.get_provider_info import get_provider_info

DOC = Path(__file__).resolve().parents[2] / "docs" / "connection.md"
STANDARD = {"host": "https://dam.example.com", "login": "client", "password": "s3cr3t"}
NUMERIC = [f for f in fields.EXTRA_FIELDS if f.kind in (NUMBER, INTEGER)]
BOUNDS = [(f, side) for f in NUMERIC for side in ("minimum", "maximum") if getattr(f, side)]


def parse(**extra) -> OrangeLogicSettings:
    return OrangeLogicSettings.from_connection_fields(conn_id="ol_fields", extra=extra, **STANDARD)


def accepted(name: str, value) -> bool:
    try:
        parse(**{name: value})
    except ConfigurationError:
        return False
    return True


def conn_type() -> dict:
    (conn,) = get_provider_info()["connection-types"]
    return conn


def test_declaration_is_well_formed():
    assert len(fields.EXTRA_FIELDS_BY_NAME) == len(fields.EXTRA_FIELDS)
    for f in fields.EXTRA_FIELDS:
        assert f.kind in fields.KINDS, f.name
        assert bool(f.choices) == (f.kind == ENUM), f.name
        assert (f.minimum or f.maximum) is None or f.kind in (NUMBER, INTEGER), f.name
        assert f.label and f.description.endswith("."), f.name
        if f.default is not None and f.kind in (NUMBER, INTEGER):
            assert f.within_bounds(f.default), f.name
        if f.default is not None and f.choices:
            assert f.default in f.choice_values, f.name


def test_settings_has_one_attribute_per_declared_field_with_its_default():
    attributes = {a.name: a for a in dataclasses.fields(OrangeLogicSettings)}
    assert list(attributes)[3:] == list(fields.EXTRA_FIELD_NAMES)
    for f in fields.EXTRA_FIELDS:
        assert attributes[f.name].default == f.default, f.name


@pytest.mark.parametrize("blank", [None, "", "   "], ids=["null", "empty", "blank"])
@pytest.mark.parametrize("field", fields.EXTRA_FIELDS, ids=lambda f: f.name)
def test_null_or_empty_means_the_declared_default(field, blank):
    if blank is not None and not field.blank_is_default:
        with pytest.raises(ConfigurationError, match=field.name):
            parse(**{field.name: blank})
        return
    for key in (field.name, fields.LEGACY_PREFIX + field.name):
        assert getattr(parse(**{key: blank}), field.name) == field.default
    assert getattr(parse(), field.name) == field.default


def test_a_connection_saved_by_the_form_with_every_field_empty_gets_every_default():
    """Airflow 3.2+'s form writes an explicit null for each extra field left empty."""
    settings = parse(**dict.fromkeys(fields.EXTRA_FIELD_NAMES))
    assert settings == parse()
    for f in fields.EXTRA_FIELDS:
        assert getattr(settings, f.name) == f.default, f.name
    legacy = parse(**{fields.LEGACY_PREFIX + name: None for name in fields.EXTRA_FIELD_NAMES})
    assert legacy == settings


def test_only_token_variable_refuses_an_empty_string():
    assert [f.name for f in fields.EXTRA_FIELDS if not f.blank_is_default] == ["token_variable"]


def outside_and_inside(field: ExtraField, side: str) -> tuple[float, float, float]:
    """(just outside, the bound itself, just inside) for one end of a field's range."""
    bound = getattr(field, side).value
    away = -math.inf if side == "minimum" else math.inf
    if field.kind == INTEGER:
        step = 1 if side == "minimum" else -1
        return bound - step, bound, bound + step
    return math.nextafter(bound, away), bound, math.nextafter(bound, -away)


@pytest.mark.parametrize(("field", "side"), BOUNDS, ids=[f"{f.name}-{side}" for f, side in BOUNDS])
def test_every_declared_bound_is_enforced_at_the_boundary(field, side):
    outside, at, inside = outside_and_inside(field, side)
    assert accepted(field.name, inside)
    assert accepted(field.name, str(inside))
    assert accepted(field.name, at) is not getattr(field, side).exclusive
    for wrong in (outside, str(outside)):
        with pytest.raises(ConfigurationError) as info:
            parse(**{field.name: wrong})
        message = str(info.value)
        assert "'ol_fields'" in message and f"{field.name} must be {field.range_text()}" in message
        assert f"leave it empty for the default {field.shown_default}" in message


@pytest.mark.parametrize("field", NUMERIC, ids=lambda f: f.name)
def test_numbers_are_type_checked(field):
    for wrong, says in ((True, "must be a number"), ("soon", "must be a number"), ("inf", "must be a finite number")):
        with pytest.raises(ConfigurationError, match=f"'ol_fields'.*{field.name} {says}"):
            parse(**{field.name: wrong})
    if field.kind == INTEGER:
        with pytest.raises(ConfigurationError, match=f"{field.name} must be a whole number, not 1.5"):
            parse(**{field.name: 1.5})
        assert getattr(parse(**{field.name: "7200.0"}), field.name) == 7200
        assert isinstance(getattr(parse(**{field.name: 7200.0}), field.name), int)


@pytest.mark.parametrize("field", [f for f in fields.EXTRA_FIELDS if f.kind == ENUM], ids=lambda f: f.name)
def test_enum_accepts_its_choices_and_names_them_otherwise(field):
    for choice in field.choice_values:
        assert getattr(parse(**{field.name: choice.upper()}), field.name) == choice
    with pytest.raises(ConfigurationError) as info:
        parse(**{field.name: "xml"})
    assert f"'ol_fields': {field.name} 'xml' is not supported" in str(info.value)
    assert all(repr(choice) in str(info.value) for choice in field.choice_values)
    assert f"{field.default!r} (" in str(info.value) and "the default)" in str(info.value)


@pytest.mark.parametrize("field", [f for f in fields.EXTRA_FIELDS if f.kind == BOOLEAN], ids=lambda f: f.name)
def test_booleans_are_type_checked(field):
    assert getattr(parse(**{field.name: "off"}), field.name) is False
    assert getattr(parse(**{field.name: "TRUE"}), field.name) is True
    with pytest.raises(ConfigurationError, match=f"'ol_fields': {field.name} must be true or false"):
        parse(**{field.name: "maybe"})


def test_a_new_enum_field_needs_only_its_declaration():
    """What a later ``auth_mode`` field gets from one entry: parsing, a form schema and a docs row."""
    mode = ExtraField(
        "auth_mode",
        "Authentication",
        ENUM,
        "How tokens are obtained.",
        default="authorization_code",
        choices=(Choice("authorization_code", "a person authorizes once"), Choice("client_credentials")),
    )
    assert parse_extra("ol", mode, None) == "authorization_code"
    assert parse_extra("ol", mode, "Client_Credentials") == "client_credentials"
    with pytest.raises(ConfigurationError) as info:
        parse_extra("ol", mode, "password")
    assert "use 'authorization_code' (a person authorizes once, the default) or 'client_credentials'." in str(
        info.value
    )
    assert fields.json_schema(mode) == {
        "type": ["string", "null"],
        "enum": ["authorization_code", "client_credentials"],
        "values_display": {
            "authorization_code": "authorization_code (default): a person authorizes once",
            "client_credentials": "client_credentials",
        },
        "default": "authorization_code",
    }


def test_masked_names_match_airflows_sensitive_field_names():
    masker = pytest.importorskip("airflow._shared.secrets_masker")
    assert masker.DEFAULT_SENSITIVE_FIELDS == fields.AIRFLOW_SENSITIVE_NAME_PARTS
    masked = {f.name for f in fields.EXTRA_FIELDS if f.masked}
    # The token fields, and the webhook secrets (docs/webhooks.md), which must be masked.
    assert masked == {f.name for f in fields.EXTRA_FIELDS if "token" in f.name or "secret" in f.name}


# --- provider info --------------------------------------------------------------------------------


def test_provider_info_conn_fields_are_the_declaration():
    conn_fields = conn_type()["conn-fields"]
    assert list(conn_fields) == list(fields.EXTRA_FIELD_NAMES)
    for f in fields.EXTRA_FIELDS:
        spec = conn_fields[f.name]
        schema = spec["schema"]
        assert spec["label"] == f.label
        assert spec["description"].startswith(f.description)
        assert "null" in schema["type"], f.name  # null: the default
        if f.choices:
            # Airflow's form makes each enum entry a drop-down choice: no "null" among them.
            assert schema["enum"] == list(f.choice_values) and None not in schema["enum"], f.name
            assert list(schema["values_display"]) == list(f.choice_values), f.name
        if f.masked or f.default is None:
            # Airflow would show a masked default as "***"; the description says it instead.
            assert "default" not in schema, f.name
        else:
            assert schema["default"] == f.default, f.name
        if f.shown_default is not None:
            assert f"Default when empty: {f.shown_default}." in spec["description"], f.name


def schema_samples(field: ExtraField) -> list:
    if field.kind == ENUM:
        return [*field.choice_values, "xml"]
    if field.kind == BOOLEAN:
        return [True, False]
    samples = [v for side in ("minimum", "maximum") if getattr(field, side) for v in outside_and_inside(field, side)]
    return [*samples, field.default, -1, 10**9, 0.5]


@pytest.mark.parametrize("field", [f for f in fields.EXTRA_FIELDS if f.kind != "string"], ids=lambda f: f.name)
def test_provider_info_schema_accepts_exactly_what_the_parser_accepts(field):
    schema = conn_type()["conn-fields"][field.name]["schema"]
    validator = jsonschema.Draft202012Validator(schema)
    for value in schema_samples(field):
        assert validator.is_valid(value) == accepted(field.name, value), (field.name, value)
    # null (what the form saves for a cleared field) is the default. The schema's "null" type says so; an
    # enum lists only real choices, since Airflow's form shows every enum entry as a choice.
    assert accepted(field.name, None)
    assert validator.is_valid(None) == (field.kind != ENUM)


def test_the_form_says_what_authorization_code_mode_needs():
    conn = conn_type()
    spec = conn["conn-fields"]["redirect_uri"]
    assert spec["description"].startswith("Needed by auth_mode authorization_code:")
    # Its own heading, above "Extra Fields" (Airflow 3.2+ opens no extra section by itself).
    assert (
        spec["schema"]["section"]
        == conn["conn-fields"]["auth_mode"]["schema"]["section"]
        == ("Authorization (Auth mode, Redirect URI)")
    )
    assert [name for name, f in conn["conn-fields"].items() if "section" in f["schema"]] == [
        "auth_mode",
        "redirect_uri",
    ]
    for name in ("host", "login"):
        assert "authorization_code" in fields.STANDARD_FIELDS_BY_NAME[name].description
        assert "Redirect URI" in fields.STANDARD_FIELDS_BY_NAME[name].description


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("authorize_endpoint", ("approves access", "Change it only if")),
        ("timeout", ("retried", "Raise it")),
        ("verify_ssl", ("self-signed", "REQUESTS_CA_BUNDLE")),
        ("allow_insecure_http", ("unencrypted", "Loopback hosts")),
    ],
)
def test_the_terse_fields_say_when_to_change_them(name, words):
    description = conn_type()["conn-fields"][name]["description"]
    for word in words:
        assert word in description, (name, word)


def test_the_encoding_drop_down_offers_form_and_json_only():
    spec = conn_type()["conn-fields"]["token_request_encoding"]
    schema = spec["schema"]
    assert schema["enum"] == ["form", "json"]
    # Airflow masks a field named "...token...": a pre-selected default would show (and save) "***". The form
    # opens on "Select Value", which saves null, the default; the choice and the help text name it.
    assert "default" not in schema and spec["description"].endswith("Default when empty: form.")
    assert schema["values_display"] == {
        "form": "form (default): application/x-www-form-urlencoded",
        "json": "json: application/json",
    }


def test_ui_field_behaviour_is_the_declared_standard_fields():
    behaviour = fields.ui_field_behaviour()
    assert behaviour["hidden_fields"] == [f.name for f in fields.STANDARD_FIELDS if f.hidden] == ["schema", "port"]
    assert behaviour["relabeling"] == {"host": "Orange Logic URL", "login": "Client ID", "password": "Client secret"}
    # Airflow 3's form shows ui-field-behaviour placeholders on the standard fields only; an extra field's
    # example is in its description.
    assert set(behaviour["placeholders"]) == {"host", "login", "password"}
    assert (
        "e.g. https://airflow.example.com/orangelogic/callback" in fields.EXTRA_FIELDS_BY_NAME["redirect_uri"].help_text
    )
    assert conn_type()["ui-field-behaviour"] == {k.replace("_", "-"): v for k, v in behaviour.items()}


def test_credential_messages_use_the_declared_labels():
    with pytest.raises(ConfigurationError, match=r"'ol': Client ID \(login\) is empty"):
        OrangeLogicSettings.from_connection_fields(conn_id="ol", host="d.example.com", login="", password="x", extra={})


# --- docs -----------------------------------------------------------------------------------------


def test_docs_hold_exactly_the_generated_table():
    document = DOC.read_text(encoding="utf-8")
    assert document.count(fields_doc.TABLE_BEGIN) == 1 and document.count(fields_doc.TABLE_END) == 1
    assert fields_doc.with_table(document) == document, (
        "docs/connection.md is out of date: run python -m airflow_provider_orangelogic.core.fields_doc "
        "--write docs/connection.md"
    )
    for f in fields.EXTRA_FIELDS:
        assert f"| `{f.name}` | {f.label} |" in document


def test_module_prints_the_table():
    out = subprocess.run(
        [sys.executable, "-m", "airflow_provider_orangelogic.core.fields_doc"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == fields_doc.markdown_table() + "\n"


def test_with_table_refuses_a_document_without_markers():
    with pytest.raises(ValueError, match="lacks the markers"):
        fields_doc.with_table("# no table here\n")


def test_range_text_reads_well():
    def number(**bounds):
        return ExtraField("x", "X", NUMBER, "X.", **bounds)

    assert number(minimum=Bound(0, exclusive=True)).range_text() == "greater than zero"
    assert number(minimum=Bound(1)).range_text() == "at least 1"
    assert number(maximum=Bound(1, exclusive=True)).range_text() == "less than 1"
    assert number(minimum=Bound(0.01), maximum=Bound(0.99)).range_text() == "between 0.01 and 0.99 (inclusive)"
    assert number(minimum=Bound(0, exclusive=True), maximum=Bound(5)).range_text() == "greater than zero and at most 5"
