"""Orange Logic OAuth 2.0 logic, free of Airflow imports so it can be used and tested alone.

The Airflow specifics (Connections, Variables, secrets masking) live in thin adapters in
``airflow_provider_orangelogic.hooks``.
"""

from airflow_provider_orangelogic.core.errors import (
    ConfigurationError,
    OrangeLogicAPIError,
    OrangeLogicError,
    ReauthorizationRequired,
    TokenEndpointError,
    TokenStoreError,
    TokenStoreUnavailable,
)
from airflow_provider_orangelogic.core.settings import OrangeLogicSettings
from airflow_provider_orangelogic.oauth.tokens import TokenPair

__all__ = [
    "ConfigurationError",
    "OrangeLogicAPIError",
    "OrangeLogicError",
    "OrangeLogicSettings",
    "ReauthorizationRequired",
    "TokenEndpointError",
    "TokenPair",
    "TokenStoreError",
    "TokenStoreUnavailable",
]
