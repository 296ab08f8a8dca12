"""The Orange Logic page of the Airflow UI: authorize and watch every ``orangelogic`` connection.

An Airflow plugin declared in the provider info (``plugins``), so installing the package is enough:
``plugin.py`` (what Airflow loads, cheap to import), ``app.py`` (the FastAPI app on the API server),
``authorizations.py`` (the single-use states), ``page.py`` (the HTML), ``test_button.py`` (the
connection list's Test button on Airflow 3.3). The security model is in docs/ui.md.

This module imports nothing: the hook's messages use it to point at the page.
"""

from __future__ import annotations

#: Where the page is mounted on the API server (below ``[api] base_url``).
URL_PREFIX = "/orangelogic"
#: The path Orange Logic sends the browser back to; register ``<Airflow URL>/orangelogic/callback``.
CALLBACK_PATH = f"{URL_PREFIX}/callback"
PAGE_NAME = "Orange Logic"


def airflow_base_url() -> str:
    """``[api] base_url`` without its trailing slash ("" when unset)."""
    from airflow_provider_orangelogic.compat import conf

    try:
        return (conf.get("api", "base_url", fallback="") or "").strip().rstrip("/")
    except Exception:  # an unreadable config must not break a message
        return ""


def page_url() -> str:
    """The page's address: absolute when ``[api] base_url`` is set, else its path on the API server."""
    return f"{airflow_base_url()}{URL_PREFIX}/"


def connection_page_url(conn_id: str) -> str:
    """The page at one connection's card (its Authorize / Re-authorize button), as ``page_url()``."""
    from urllib.parse import quote

    return f"{page_url()}#conn-{quote(conn_id, safe='')}"
