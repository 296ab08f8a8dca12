"""The Airflow plugin the provider info declares: what Airflow imports in every process that loads plugins.

Cheap to import: the FastAPI app, the middleware and the navigation entry are built the first time
Airflow reads them (the API server), not when a scheduler or worker merely discovers the plugin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_orangelogic.plugins import PAGE_NAME, URL_PREFIX


class _BuiltOnFirstRead:
    """A class attribute whose value (a list) is made by ``factory`` the first time it is read."""

    def __init__(self, factory: Callable[[], list[Any]]) -> None:
        self.factory = factory
        self.value: list[Any] | None = None

    def __get__(self, instance: object, owner: type | None = None) -> list[Any]:
        if self.value is None:
            self.value = self.factory()
        return self.value


def _fastapi_apps() -> list[dict[str, Any]]:
    from airflow_provider_orangelogic.plugins.app import create_app

    return [{"name": PAGE_NAME, "app": create_app(), "url_prefix": URL_PREFIX}]


def _root_middlewares() -> list[dict[str, Any]]:
    from airflow_provider_orangelogic.plugins.test_button import OrangeLogicTestButtonFix

    return [{"name": "Orange Logic: connection-list Test button", "middleware": OrangeLogicTestButtonFix}]


def _external_views() -> list[dict[str, Any]]:
    # No url_route: Airflow would show the page in a sandboxed iframe (no forms leaving it, no cookies for
    # its posts); as a link it opens in a tab of its own, where Authorize can go to Orange Logic and back.
    from urllib.parse import urlsplit

    from airflow_provider_orangelogic.plugins import airflow_base_url

    root = urlsplit(airflow_base_url()).path.rstrip("/")
    return [{"name": PAGE_NAME, "href": f"{root}{URL_PREFIX}/", "category": "admin", "destination": "nav"}]


class OrangeLogicPlugin(AirflowPlugin):
    """The Orange Logic page (Admin > Orange Logic): authorize and watch the orangelogic connections."""

    name = "orangelogic"
    fastapi_apps = _BuiltOnFirstRead(_fastapi_apps)  # type: ignore[assignment]
    fastapi_root_middlewares = _BuiltOnFirstRead(_root_middlewares)  # type: ignore[assignment]
    external_views = _BuiltOnFirstRead(_external_views)  # type: ignore[assignment]


def _entry_point_plugin() -> type[OrangeLogicPlugin] | None:
    # Airflow loads the provider info's "plugins" only when it discovers providers eagerly.
    from airflow import settings

    return None if not getattr(settings, "LAZY_LOAD_PROVIDERS", True) else OrangeLogicPlugin


#: What the ``airflow.plugins`` entry point names (pyproject.toml): the plugin, unless the provider info brings it.
entry_point_plugin = _entry_point_plugin()
