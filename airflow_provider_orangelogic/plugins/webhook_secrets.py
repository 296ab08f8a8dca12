"""Rotating a connection's webhook secret from the Orange Logic page, without a moment where webhooks fail.

The secret lives in the connection's ``webhook_secret`` field, which holds one secret or, while rotating, two
(the new one first). *New webhook secret* puts a fresh secret in front of the current one, so Orange Logic's
deliveries keep being accepted until its subscription is updated; *Retire the old secret* then keeps only the
new one. The page shows a new secret once, in the answer to the press, and never again.

Only a connection stored in Airflow's metadata DB can be changed here. One defined by an environment variable
or a secrets backend wins over the DB, so a change written there would not take effect: that is refused
before anything is written, and a write that does not read back through Airflow's own lookup is undone.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from airflow_provider_orangelogic.api.webhooks import parse_secrets
from airflow_provider_orangelogic.core.fields import LEGACY_PREFIX

FIELD = "webhook_secret"
#: ``secrets.token_urlsafe`` bytes: 43 characters, well above the 32 that ``parse_secrets`` asks for.
SECRET_BYTES = 32


class RotationRefused(Exception):
    """Why nothing was changed, in words for the person who pressed the button."""


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def rotated(current: tuple[str, ...], fresh: str) -> tuple[str, ...]:
    """The secrets after a rotation: the fresh one, then the newest of the current ones (the oldest goes)."""
    return (fresh, *current[:1])


def retired(current: tuple[str, ...]) -> tuple[str, ...]:
    """The secrets after retiring the old one: the newest alone."""
    if len(current) < 2:
        raise RotationRefused("There is no old secret to retire: the connection has a single webhook secret.")
    return current[:1]


def rotate(conn_id: str, read_effective: Callable[[], str | None]) -> tuple[str, bool]:
    """Put a new secret in front of the connection's current one: (the new secret, whether an old one stays valid).

    ``read_effective`` reads the field through Airflow's connection lookup (secrets backend, environment, then
    DB), as the webhook route does.
    """
    fresh = new_secret()
    before = _change(conn_id, read_effective, lambda current: rotated(current, fresh))
    return fresh, bool(before.split())


def retire(conn_id: str, read_effective: Callable[[], str | None]) -> None:
    """Keep only the newest of the connection's two secrets."""
    _change(conn_id, read_effective, retired)


def _change(conn_id: str, read_effective: Callable[[], str | None], change: Callable[[tuple[str, ...]], Any]) -> str:
    """Apply ``change`` to the stored secrets, checked before and after against what Airflow reads; the old field."""
    outside = RotationRefused(
        f"The connection {conn_id} is defined outside Airflow's metadata DB (an AIRFLOW_CONN_ environment "
        "variable or a secrets backend), which the page cannot change. Nothing was changed: set webhook_secret "
        "where the connection is defined (docs/webhooks.md, Rotating the secret)."
    )
    before = _write(conn_id, (read_effective() or "").split(), change, outside)
    if (read_effective() or "").split() == before.split():
        # Something in front of the DB defines the same value: the write cannot take effect. Undo it.
        _write(conn_id, None, lambda _current: tuple(before.split()), outside)
        raise outside
    return before


def _write(
    conn_id: str,
    expected: list[str] | None,
    change: Callable[[tuple[str, ...]], Any],
    outside: RotationRefused,
) -> str:
    """Apply ``change`` to the secrets in the DB row of ``conn_id``; returns the field as it was.

    ``expected``: the secrets Airflow's lookup returns; a DB row that says otherwise is not what is in effect.
    """
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:  # commits on leaving
        conn = session.scalar(select(Connection).where(Connection.conn_id == conn_id).with_for_update())
        if conn is None:
            raise outside
        extra = _extra_of(conn)
        stored = str(extra.get(FIELD) or extra.get(f"{LEGACY_PREFIX}{FIELD}") or "")
        if expected is not None and stored.split() != expected:
            raise outside
        try:
            current = parse_secrets(stored)
        except ValueError as err:
            raise RotationRefused(f"{err} Nothing was changed; fix the field on the connection first.") from None
        extra.pop(f"{LEGACY_PREFIX}{FIELD}", None)
        extra[FIELD] = " ".join(change(current))
        conn.extra = json.dumps(extra)
        return stored


def _extra_of(conn: Any) -> dict[str, Any]:
    try:
        extra = json.loads(conn.extra) if conn.extra else {}
    except ValueError:
        extra = None
    if not isinstance(extra, dict):
        raise RotationRefused(
            f"The connection {conn.conn_id}'s Extra is not a JSON object; nothing was changed. Fix it on the "
            "connection first."
        )
    return extra
