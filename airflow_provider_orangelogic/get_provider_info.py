"""Provider metadata Airflow reads at discovery time. Plain data built from the field declarations in
``core/fields.py``, which import nothing heavy, so discovery stays cheap."""

from airflow_provider_orangelogic import __version__
from airflow_provider_orangelogic.core import fields


def get_provider_info() -> dict:
    return {
        "package-name": "airflow-provider-orangelogic",
        "name": "Orange Logic",
        "description": "Orange Logic (OrangeDAM) API: OAuth 2.0 token lifecycle, hook and operators.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Orange Logic",
                "external-doc-url": "https://www.orangelogic.com/",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Orange Logic",
                "python-modules": ["airflow_provider_orangelogic.hooks.orangelogic"],
            }
        ],
        "operators": [
            {
                "integration-name": "Orange Logic",
                "python-modules": ["airflow_provider_orangelogic.operators.orangelogic"],
            }
        ],
        "connection-types": [
            {
                "connection-type": fields.CONN_TYPE,
                "hook-class-name": "airflow_provider_orangelogic.hooks.orangelogic.OrangeLogicHook",
                "hook-name": "Orange Logic",
                "ui-field-behaviour": {
                    key.replace("_", "-"): value for key, value in fields.ui_field_behaviour().items()
                },
                # Null or empty means the field's default. Fields Airflow masks (names containing
                # "token") carry no schema default, so the form is not pre-filled with "***".
                "conn-fields": fields.conn_fields(),
            }
        ],
    }
