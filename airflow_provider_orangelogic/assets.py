"""The Airflow assets Orange Logic changes are recorded on: one per connection and kind of change.

``orangelogic_asset("orangelogic_default")`` is ``Asset("orangelogic://orangelogic_default/created")``; a DAG
scheduled on it runs when the webhook endpoint (docs/webhooks.md) or the polling fallback records a new
asset. Each event's ``extra`` is ``{event_id, event_type, identifier, record_id, time, source}``
(``api/webhooks.py WebhookEvent.extra``), whichever source fired.
"""

from __future__ import annotations

from airflow.sdk import Asset

from airflow_provider_orangelogic.api.webhooks import CREATED, EVENT_KINDS, asset_uri

__all__ = ["EVENT_KINDS", "orangelogic_asset"]


def orangelogic_asset(conn_id: str, event: str = CREATED) -> Asset:
    """The asset of one kind of change (``created``, ``edited`` or ``deleted``) of one connection's assets."""
    uri = asset_uri(conn_id, event)
    return Asset(uri=uri, name=uri, group="orangelogic")
