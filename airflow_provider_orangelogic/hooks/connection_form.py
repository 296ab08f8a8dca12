"""The connection form for Airflow 3.0 and 3.1, built from the same declarations as the 3.2+ one.

Airflow 3.2+ reads ``conn-fields`` / ``ui-field-behaviour`` from the provider info and no longer calls
the hook's ``get_connection_form_widgets`` / ``get_ui_field_behaviour`` when those keys exist. 3.0 and
3.1 only call the hook methods; their UI (``HookMetaService``) swaps wtforms' ``StringField``,
``IntegerField``, ``BooleanField`` and the validators ``Optional`` and ``any_of`` for stand-ins that
turn each field into a JSON-schema form field (type, title, description, default, enum). So each
declared field becomes one of those classes, with its label, help text and (unless Airflow masks the
name) its default.

wtforms, flask_babel and flask_appbuilder are imported inside the function, as Airflow's own providers
do: they are UI-only dependencies. flask_babel and flask_appbuilder are optional here (Airflow 3.1 stubs
them when missing, 3.0 does not). Airflow 3.0 itself needs wtforms importable to call these methods at
all (for every provider); the official images have it through the FAB provider.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_orangelogic.core import fields
from airflow_provider_orangelogic.core.fields import BOOLEAN, ENUM, INTEGER, NUMBER, ExtraField


def connection_form_widgets() -> dict[str, Any]:
    """``get_connection_form_widgets()``: one wtforms field per declared extra field, keyed by its name."""
    from wtforms import BooleanField, IntegerField, StringField
    from wtforms.validators import NumberRange, Optional, any_of

    gettext = _lazy_gettext()
    text_widget = _text_widget()
    widgets: dict[str, Any] = {}
    for field in fields.EXTRA_FIELDS:
        validators: list[Any] = [Optional()]
        kwargs: dict[str, Any] = {"label": gettext(field.label), "description": field.help_text}
        default = _widget_default(field)
        if default is not None:
            kwargs["default"] = default
        if field.kind == BOOLEAN:
            field_class = BooleanField
        elif field.kind == INTEGER:
            field_class = IntegerField
            low, high = _integer_bounds(field)
            if low is not None or high is not None:
                validators.append(NumberRange(min=low, max=high))
        else:  # string, enum, and number: wtforms has no float field Airflow accepts, so text
            field_class = StringField
            if field.kind == ENUM:
                # Only the real choices: the UI makes each one a drop-down entry (a None showed as "null").
                # An empty field still means the default: Optional() lets it through.
                validators.append(any_of(list(field.choice_values)))
        if text_widget is not None and field_class is not BooleanField:
            kwargs["widget"] = text_widget
        widgets[field.name] = field_class(validators=validators, **kwargs)
    return widgets


def ui_field_behaviour() -> dict[str, Any]:
    """``get_ui_field_behaviour()``: the standard fields relabelled, hidden and given placeholders."""
    return fields.ui_field_behaviour()


def _widget_default(field: ExtraField) -> Any:
    # A masked name would pre-fill the form with "***" (see fields.AIRFLOW_SENSITIVE_NAME_PARTS).
    if field.default is None or field.masked:
        return None
    if field.kind == NUMBER:
        return fields.show(field.default)  # a text field: "30", "0.5"
    return field.default


def _integer_bounds(field: ExtraField) -> tuple[int | None, int | None]:
    """Inclusive whole-number bounds for NumberRange (an exclusive bound becomes the next whole number)."""

    def inclusive(bound: fields.Bound | None, step: int) -> int | None:
        if bound is None:
            return None
        value = int(bound.value)
        return value + step if bound.exclusive else value

    return inclusive(field.minimum, 1), inclusive(field.maximum, -1)


def _lazy_gettext() -> Any:
    try:
        from flask_babel import lazy_gettext
    except ImportError:
        return str
    return lazy_gettext


def _text_widget() -> Any:
    try:
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
    except ImportError:
        return None
    return BS3TextFieldWidget()
