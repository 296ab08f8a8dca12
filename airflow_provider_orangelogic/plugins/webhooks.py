"""``POST /orangelogic/webhooks/{conn_id}``: an Orange Logic webhook becomes one Airflow asset event.

The one route of the plugin without an Airflow login (Orange Logic cannot log in): it is authorized by the
connection's ``webhook_secret`` instead (``api/webhooks.py``: constant-time compare, optional HMAC signature).
Unknown connection, no secret configured, wrong secret, bad signature: 401; body too large: 413; a body the
strict parser cannot read: 400. Nothing is recorded for any of them.

An accepted event is recorded in ONE metadata-DB transaction: a row in ``orangelogic_webhook_delivery``
(primary key: connection and a hash of the event ID) and the asset event, through Airflow's own
``asset_manager.register_asset_change`` (what ``POST /api/v2/assets/events`` calls), which also queues the
DAGs scheduled on the asset. A second delivery of the same event ID collides on the primary key, also when
both arrive at once on different API-server workers, and is answered 200 ``duplicate`` without a second
event. The answer 200 comes only after the commit: when the DB fails or is slower than ``RECORD_TIMEOUT``,
the answer is 503 (Retry-After) and Orange Logic retries; a commit that still lands after a 503 makes the
retry a duplicate, never a second event.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from airflow_provider_orangelogic.api.webhooks import (
    SECRET_HEADER,
    SECRET_QUERY,
    WebhookConfig,
    WebhookEvent,
    WebhookRejected,
    asset_uri,
    check_delivery,
    parse_event,
)
from airflow_provider_orangelogic.compat import mask_everywhere

log = logging.getLogger(__name__)

#: Above any connection's webhook_max_body_bytes (its declared maximum): read no further before the lookup.
HARD_BODY_LIMIT = 10 * 1024 * 1024
#: Longest wait for the metadata DB before answering 503 (Orange Logic retries).
RECORD_TIMEOUT = 20.0
RETRY_AFTER_SECONDS = 10
#: How long a delivered event ID is remembered (Orange Logic's five retries come well within it).
KEEP_DELIVERIES = timedelta(days=14)
TABLE_NAME = "orangelogic_webhook_delivery"

router = APIRouter()


def _answer(status: int, outcome: str, **fields: Any) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if status == 503:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return JSONResponse({"outcome": outcome, **fields}, status_code=status, headers=headers)


# -- the secret stays out of access logs ----------------------------------------------------------

_SECRET_IN_QUERY = re.compile(rf"([?&]{SECRET_QUERY}=)[^&\s\"]*")


class RedactWebhookSecret(logging.Filter):
    """Blanks ``?secret=`` in the API server's access-log lines (the header form never reaches them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any("/webhooks/" in str(arg) for arg in record.args):
            record.args = tuple(
                _SECRET_IN_QUERY.sub(r"\1***", arg) if isinstance(arg, str) else arg for arg in record.args
            )
        elif isinstance(record.msg, str) and "/webhooks/" in record.msg:
            record.msg = _SECRET_IN_QUERY.sub(r"\1***", record.msg)
        return True


def install_log_redaction() -> None:
    for name in ("uvicorn.access", "gunicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactWebhookSecret) for existing in logger.filters):
            logger.addFilter(RedactWebhookSecret())


# -- the de-duplication table ---------------------------------------------------------------------

_table_lock = threading.Lock()
_table: Any = None
_last_prune = 0.0


def delivery_table() -> Any:
    """The table's SQLAlchemy definition (created in the metadata DB on first use)."""
    global _table
    if _table is None:
        from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table

        _table = Table(
            TABLE_NAME,
            MetaData(),
            Column("conn_id", String(250), primary_key=True),
            Column("event_key", String(64), primary_key=True),
            Column("kind", String(20), nullable=False),
            Column("asset_event_id", Integer, nullable=True),
            Column("received_at", DateTime(timezone=True), nullable=False, index=True),
        )
    return _table


_created_for: set[str] = set()


def _ensure_table(session: Any) -> Any:
    table = delivery_table()
    bind = session.get_bind()
    key = str(bind.url)
    if key in _created_for:
        return table
    with _table_lock:
        if key not in _created_for:
            try:
                table.create(bind=bind, checkfirst=True)
            except Exception:  # another API-server worker created it at the same moment
                from sqlalchemy import inspect

                if not inspect(bind).has_table(TABLE_NAME):
                    raise
            _created_for.add(key)
    return table


def _prune(session: Any, table: Any) -> None:
    global _last_prune
    if time.monotonic() - _last_prune < 3600:
        return
    _last_prune = time.monotonic()
    session.execute(table.delete().where(table.c.received_at < datetime.now(timezone.utc) - KEEP_DELIVERIES))


def record_event(conn_id: str, event: WebhookEvent) -> tuple[str, dict[str, Any]]:
    """Record ``event`` once: (``recorded`` | ``duplicate`` | ``no_asset``, details). DB errors propagate."""
    from airflow.assets.manager import asset_manager
    from airflow.models.asset import AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    uri = asset_uri(conn_id, event.kind)
    with create_session() as session:  # commits on leaving, rolls back on an exception
        table = _ensure_table(session)
        asset = session.scalar(select(AssetModel).where(AssetModel.uri == uri, AssetModel.name == uri))
        if asset is None:
            # No DAG schedules on (or produces) this asset: there is nothing to record it on. Not retried.
            return "no_asset", {"asset": uri}
        try:
            with session.begin_nested():
                session.execute(
                    table.insert().values(
                        conn_id=conn_id,
                        event_key=event.dedupe_key(),
                        kind=event.kind,
                        received_at=datetime.now(timezone.utc),
                    )
                )
        except IntegrityError:
            return "duplicate", {"asset": uri}
        recorded = asset_manager.register_asset_change(asset=asset, extra=event.extra(), session=session)
        if recorded is None:
            raise RuntimeError(f"Airflow did not record the asset event on {uri}")
        session.execute(
            table.update()
            .where(table.c.conn_id == conn_id, table.c.event_key == event.dedupe_key())
            .values(asset_event_id=recorded.id)
        )
        _prune(session, table)
        return "recorded", {"asset": uri, "asset_event_id": recorded.id}


# -- the route ------------------------------------------------------------------------------------


def _config_for(conn_id: str) -> WebhookConfig:
    from airflow_provider_orangelogic.plugins import views

    try:
        settings = views.hook_for(conn_id).settings
        config = WebhookConfig.from_settings(settings)
    except Exception as err:  # no such connection, not orangelogic, a field unusable: all look alike outside
        log.warning("Webhook for %s refused: the connection is unusable for webhooks (%s).", conn_id, err)
        raise WebhookRejected(401, "missing or wrong webhook secret") from None
    if not config.secrets:
        log.warning("Webhook for %s refused: the connection has no webhook_secret.", conn_id)
        raise WebhookRejected(401, "missing or wrong webhook secret")
    for secret in (*config.secrets, config.signing_secret):
        if secret:
            mask_everywhere(secret)  # whatever logs a URL or a header later shows *** instead
    return config


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise WebhookRejected(413, f"the body is larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise WebhookRejected(413, f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/webhooks/{conn_id}")
async def receive_webhook(conn_id: str, request: Request) -> JSONResponse:
    try:
        config = await run_in_threadpool(_config_for, conn_id)
        presented = request.headers.get(SECRET_HEADER) or request.query_params.get(SECRET_QUERY)
        # The secret before the body: a caller without it gets nothing read, parsed or echoed.
        body = await _read_body(request, config.max_body_bytes)
        check_delivery(config, body, presented, request.headers.get(config.signature_header))
        event = parse_event(body, config.field_paths)
    except WebhookRejected as rejected:
        if rejected.status != 401:
            log.warning("Webhook for %s refused (%s): %s", conn_id, rejected.status, rejected)
        return _answer(rejected.status, "rejected", reason=str(rejected))
    try:
        outcome, details = await asyncio.wait_for(run_in_threadpool(record_event, conn_id, event), RECORD_TIMEOUT)
    except asyncio.TimeoutError:
        log.warning(
            "Webhook %s for %s: the metadata DB took over %s s; answered 503.", event.event_id, conn_id, RECORD_TIMEOUT
        )
        return _answer(503, "retry", reason="Airflow is slow to record the event; retry later")
    except Exception as err:
        log.warning(
            "Webhook %s for %s not recorded (%s: %s); answered 503.",
            event.event_id,
            conn_id,
            type(err).__name__,
            str(err)[:200],
        )
        return _answer(503, "retry", reason="Airflow could not record the event; retry later")
    if outcome == "no_asset":
        log.warning("Webhook %s for %s: no DAG uses %s, nothing recorded.", event.event_id, conn_id, details["asset"])
    return _answer(200, outcome, event_id=event.event_id, **details)
