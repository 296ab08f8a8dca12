"""The Airflow 3.0/3.1 connection form (the hook's methods) says what the 3.2+ declarative one says.

Airflow's UI on 3.0/3.1 swaps wtforms' fields for stand-ins turning each into a JSON-schema form field;
3.3 still ships those stand-ins (HookMetaService.Mock*), so the test builds the widgets with them, as
the UI does, and compares every field with ``conn-fields`` from the provider info.
"""

from __future__ import annotations

import sys
import types

import pytest

from airflow_provider_orangelogic.core import fields
from airflow_provider_orangelogic.get_provider_info import get_provider_info


@pytest.fixture
def mocked_wtforms(monkeypatch):
    meta = pytest.importorskip("airflow.api_fastapi.core_api.services.ui.connections").HookMetaService
    wtforms = types.ModuleType("wtforms")
    wtforms.StringField = meta.MockStringField
    wtforms.IntegerField = meta.MockIntegerField
    wtforms.BooleanField = meta.MockBooleanField
    validators = types.ModuleType("wtforms.validators")
    validators.Optional = meta.MockOptional
    validators.any_of = meta.MockEnum
    validators.NumberRange = lambda **bounds: None
    wtforms.validators = validators
    monkeypatch.setitem(sys.modules, "wtforms", wtforms)
    monkeypatch.setitem(sys.modules, "wtforms.validators", validators)
    # Neither installed: the labels stay plain strings and the fields keep wtforms' default widget.
    monkeypatch.setitem(sys.modules, "flask_babel", None)
    monkeypatch.setitem(sys.modules, "flask_appbuilder", None)
    monkeypatch.setitem(sys.modules, "flask_appbuilder.fieldwidgets", None)


def test_widgets_match_the_declarative_fields(mocked_wtforms):
    from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook

    widgets = OrangeLogicHook.get_connection_form_widgets()
    (conn,) = get_provider_info()["connection-types"]
    assert list(widgets) == list(conn["conn-fields"]) == list(fields.EXTRA_FIELD_NAMES)
    for declared in fields.EXTRA_FIELDS:
        dumped = widgets[declared.name].param.dump()
        declarative = conn["conn-fields"][declared.name]
        schema = dumped["schema"]
        assert schema["title"] == declarative["label"] == declared.label
        assert dumped["description"] == declarative["description"] == declared.help_text
        json_type = declarative["schema"]["type"]
        # wtforms has no float field Airflow accepts: a number is text there.
        assert schema["type"] == (["string", "null"] if declared.kind == fields.NUMBER else json_type)
        assert schema.get("enum") == declarative["schema"].get("enum")
        expected = declarative["schema"].get("default")
        if declared.kind == fields.NUMBER and expected is not None:
            expected = fields.show(expected)
        assert dumped["value"] == expected, declared.name
    assert widgets["token_endpoint"].param.dump()["value"] is None  # masked name: no "***" pre-fill


def test_ui_field_behaviour_matches_the_provider_info():
    from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook

    (conn,) = get_provider_info()["connection-types"]
    behaviour = OrangeLogicHook.get_ui_field_behaviour()
    assert {k.replace("_", "-"): v for k, v in behaviour.items()} == conn["ui-field-behaviour"]


def test_airflow_3_2_and_later_skip_the_methods_when_the_provider_info_declares_the_form():
    """What makes one declaration enough on 3.2+: Airflow reads conn-fields and does not call the methods."""
    import inspect

    from airflow import providers_manager

    source = inspect.getsource(providers_manager.ProvidersManager._import_hook)
    assert 'conn_config.get("conn-fields") or conn_config.get("ui-field-behaviour")' in source
    assert "if not ui_metadata_loaded:" in source
