"""Provider metadata Airflow reads at discovery time. Plain data built from the declarations in
``core/fields.py`` (connection form) and ``core/config.py`` (the ``[orangelogic]`` section), which
import nothing heavy, so discovery stays cheap.

The declarative ``conn-fields`` / ``ui-field-behaviour`` are read by Airflow 3.2+; 3.0 and 3.1 ignore
them and call the hook's ``get_connection_form_widgets`` / ``get_ui_field_behaviour``
(``hooks/connection_form.py``), built from the same declarations."""

from airflow_provider_orangelogic import __version__
from airflow_provider_orangelogic.core import config, fields


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
                "python-modules": [
                    "airflow_provider_orangelogic.operators.orangelogic",
                    "airflow_provider_orangelogic.operators.search_to_storage",
                    "airflow_provider_orangelogic.operators.uploads",
                    "airflow_provider_orangelogic.operators.metadata",
                    "airflow_provider_orangelogic.operators.files_out",
                ],
            }
        ],
        # The Orange Logic page on the API server (Admin > Orange Logic); the class imports no FastAPI until read.
        "plugins": [
            {"name": "orangelogic", "plugin-class": "airflow_provider_orangelogic.plugins.plugin.OrangeLogicPlugin"}
        ],
        # The [orangelogic] section: `airflow config list` shows it with descriptions and defaults.
        "config": config.provider_config(),
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
