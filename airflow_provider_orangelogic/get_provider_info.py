"""Provider metadata Airflow reads at discovery time. Plain data only: no imports, so it stays cheap."""

from airflow_provider_orangelogic import __version__


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
                "connection-type": "orangelogic",
                "hook-class-name": "airflow_provider_orangelogic.hooks.orangelogic.OrangeLogicHook",
                "hook-name": "Orange Logic",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {
                        "host": "Orange Logic URL",
                        "login": "Client ID",
                        "password": "Client secret",
                    },
                    "placeholders": {
                        "host": "https://dam.example.com",
                        "login": "client ID of the OAuth Client Application account",
                        "password": "client secret of the OAuth Client Application account",
                        "redirect_uri": "https://airflow.example.com/orangelogic/callback",
                    },
                },
                "conn-fields": {
                    "redirect_uri": {
                        "label": "Redirect URI",
                        "description": "Exactly as registered on the OAuth Client Application account; "
                        "the browser lands there with the authorization code.",
                        "schema": {"type": ["string", "null"], "format": "url"},
                    },
                    "token_variable": {
                        "label": "Token Variable",
                        "description": "Airflow Variable holding the token pair. "
                        "Default: orangelogic_token_<connection id>.",
                        "schema": {"type": ["string", "null"]},
                    },
                    # No schema "default" on fields whose name contains "token": Airflow masks their
                    # values in the form metadata, so the UI would pre-fill them with "***".
                    "token_endpoint": {
                        "label": "Token endpoint",
                        "description": "Default: /webapi/security/oauth2/token_48I_v1.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "authorize_endpoint": {
                        "label": "Authorization endpoint",
                        "schema": {"type": ["string", "null"], "default": "/oauth2/auth"},
                    },
                    "token_request_encoding": {
                        "label": "Token request encoding",
                        "description": "Body encoding of token requests: form (default when empty) or json.",
                        "schema": {"type": ["string", "null"], "enum": ["form", "json", None]},
                    },
                    "timeout": {
                        "label": "Timeout (seconds)",
                        "schema": {"type": ["number", "null"], "default": 30, "minimum": 1},
                    },
                    "verify_ssl": {
                        "label": "Verify TLS certificates",
                        "schema": {"type": ["boolean", "null"], "default": True},
                    },
                    "default_access_token_lifetime": {
                        "label": "Access token lifetime (seconds)",
                        "description": "Used only when the server sends no expires_in. Default 86400 (24 h).",
                        "schema": {"type": ["integer", "null"], "minimum": 1},
                    },
                    "default_refresh_token_lifetime": {
                        "label": "Refresh token lifetime (seconds)",
                        "description": "Orange Logic refresh tokens live 30 days. Default 2592000 (30 days).",
                        "schema": {"type": ["integer", "null"], "minimum": 1},
                    },
                    "refresh_threshold": {
                        "label": "Refresh threshold",
                        "description": "Refresh once less than this fraction of the access token's lifetime "
                        "is left. Default 0.5.",
                        "schema": {"type": ["number", "null"], "default": 0.5, "minimum": 0.01, "maximum": 0.99},
                    },
                    "refresh_on_demand": {
                        "label": "Refresh on demand (single host only)",
                        "description": "Let any task refresh an expired token itself. Safe only when all "
                        "workers run on one host; otherwise leave it off and run the refresh DAG.",
                        "schema": {"type": ["boolean", "null"], "default": False},
                    },
                    "allow_insecure_http": {
                        "label": "Allow http:// to a non-local host",
                        "schema": {"type": ["boolean", "null"], "default": False},
                    },
                },
            }
        ],
    }
