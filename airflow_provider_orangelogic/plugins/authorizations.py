"""Pending authorizations: one per press of Authorize, found again by the ``state`` Orange Logic sends back.

A state is 32 random bytes (``secrets``), used once, valid for ``STATE_LIFETIME`` seconds, and bound to
the connection, the Airflow user who pressed Authorize (after the permission check) and the browser
they pressed it in (a random value in an HttpOnly cookie of the page). What is kept server-side is a
record keyed by the state's SHA-256, never the state itself, so reading the store does not let anyone
finish someone else's authorization.

The store is table-free and shared by every API server worker and host: one Airflow Variable per
pending authorization (``orangelogic_authorization_pending_<sha256>``), removed by the callback with a
single ``DELETE`` (whoever deletes the row owns the state: single use even when two callbacks race),
then a marker (``orangelogic_authorization_used_<sha256>``) kept for ``STATE_LIFETIME`` so a replay is
told apart from a forged state. Abandoned and spent records are purged at the next Authorize.

``AuthorizationStates`` holds the rules and takes any ``StateBackend``; ``VariableStateBackend`` is
the Airflow one, ``MemoryStateBackend`` the one unit tests use.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Protocol

#: Seconds between pressing Authorize and the callback; Orange Logic's codes live shorter still.
STATE_LIFETIME = 600
PENDING_PREFIX = "orangelogic_authorization_pending_"
USED_PREFIX = "orangelogic_authorization_used_"
_MAX_STATE_LENGTH = 200
_DESCRIPTION = (
    "Pending Orange Logic authorization (airflow-provider-orangelogic): connection {conn_id}, started by "
    "{user}. Holds no secret; removed when used or expired."
)

# Why a callback's state was refused, as the page explains it.
MISSING = "missing"
UNKNOWN = "unknown"
REPLAYED = "replayed"
EXPIRED = "expired"
OTHER_BROWSER = "other_browser"

REASONS = {
    MISSING: "The address Orange Logic sent the browser back to carries no state.",
    UNKNOWN: (
        "This state was never issued by this Airflow (or expired long ago): the address may have been forged "
        "or tampered with."
    ),
    REPLAYED: "This authorization was already used: each press of Authorize can be completed once.",
    EXPIRED: f"This authorization expired: it must be completed within {STATE_LIFETIME // 60} minutes.",
    OTHER_BROWSER: "This authorization was started in another browser (or its cookie was cleared).",
}


class StateRejected(Exception):
    """The callback's state does not complete a pending authorization; nothing may be exchanged."""

    def __init__(self, reason: str, conn_id: str | None = None) -> None:
        super().__init__(REASONS[reason])
        self.reason = reason
        self.conn_id = conn_id


@dataclass(frozen=True)
class PendingAuthorization:
    """What was checked when Authorize was pressed; the callback checks the same again."""

    conn_id: str
    user_id: str
    user_name: str
    host: str
    client_id: str
    redirect_uri: str
    browser: str  # SHA-256 of the browser's binding cookie
    created_at: float
    expires_at: float

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> PendingAuthorization:
        return cls(**json.loads(text))


class StateBackend(Protocol):
    def add(self, key: str, value: str, description: str) -> None:
        """Store a new record (keys are unique: 256 random bits)."""

    def take(self, key: str) -> str | None:
        """Remove the record and return it; None if it is not there (or another caller removed it first)."""

    def exists(self, key: str) -> bool: ...

    def records(self, prefix: str) -> dict[str, str]:
        """Every record whose key starts with ``prefix``."""

    def remove(self, keys: list[str]) -> None: ...


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def new_browser_key() -> str:
    return secrets.token_urlsafe(32)


class AuthorizationStates:
    def __init__(
        self, backend: StateBackend, *, lifetime: float = STATE_LIFETIME, clock: Callable[[], float] = time.time
    ) -> None:
        self.backend = backend
        self.lifetime = lifetime
        self.clock = clock

    def start(
        self,
        *,
        conn_id: str,
        user_id: str,
        user_name: str,
        host: str,
        client_id: str,
        redirect_uri: str,
        browser_key: str,
    ) -> str:
        """Record a pending authorization and return its state (to send in the authorization URL)."""
        self.purge()
        now = self.clock()
        state = secrets.token_urlsafe(32)
        record = PendingAuthorization(
            conn_id=conn_id,
            user_id=user_id,
            user_name=user_name,
            host=host,
            client_id=client_id,
            redirect_uri=redirect_uri,
            browser=digest(browser_key),
            created_at=now,
            expires_at=now + self.lifetime,
        )
        self.backend.add(
            PENDING_PREFIX + digest(state), record.to_json(), _DESCRIPTION.format(conn_id=conn_id, user=user_name)
        )
        return state

    def finish(self, state: str | None, browser_key: str | None) -> PendingAuthorization:
        """Spend ``state``: the pending authorization it completes, or StateRejected (then it is spent too)."""
        if not state or len(state) > _MAX_STATE_LENGTH:
            raise StateRejected(MISSING if not state else UNKNOWN)
        key = digest(state)
        raw = self.backend.take(PENDING_PREFIX + key)
        if raw is None:
            raise StateRejected(REPLAYED if self.backend.exists(USED_PREFIX + key) else UNKNOWN)
        now = self.clock()
        try:
            record = PendingAuthorization.from_json(raw)
        except (TypeError, ValueError):
            raise StateRejected(UNKNOWN) from None
        marker = json.dumps({"conn_id": record.conn_id, "used_at": now, "expires_at": now + self.lifetime})
        self.backend.add(USED_PREFIX + key, marker, _DESCRIPTION.format(conn_id=record.conn_id, user=record.user_name))
        if now >= record.expires_at:
            raise StateRejected(EXPIRED, record.conn_id)
        if not browser_key or not secrets.compare_digest(record.browser, digest(browser_key)):
            raise StateRejected(OTHER_BROWSER, record.conn_id)
        return record

    def purge(self) -> None:
        """Remove expired pending records and replay markers."""
        now = self.clock()
        expired = []
        for prefix in (PENDING_PREFIX, USED_PREFIX):
            for key, raw in self.backend.records(prefix).items():
                try:
                    expires_at = float(json.loads(raw)["expires_at"])
                except (TypeError, ValueError, KeyError):
                    expires_at = 0.0
                if now >= expires_at:
                    expired.append(key)
        if expired:
            self.backend.remove(expired)


class MemoryStateBackend:
    """In-process records, for tests (one process only)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.values: dict[str, str] = {}

    def add(self, key: str, value: str, description: str) -> None:
        with self._lock:
            self.values[key] = value

    def take(self, key: str) -> str | None:
        with self._lock:
            return self.values.pop(key, None)

    def exists(self, key: str) -> bool:
        with self._lock:
            return key in self.values

    def records(self, prefix: str) -> dict[str, str]:
        with self._lock:
            return {key: value for key, value in self.values.items() if key.startswith(prefix)}

    def remove(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self.values.pop(key, None)


class VariableStateBackend:
    """Records as Airflow Variables in the metadata DB (never a secrets backend), shared by every API server.

    Written and read through the ORM directly: a secrets backend or ``AIRFLOW_VAR_*`` can neither shadow
    nor receive them. Values are encrypted with the Fernet key like any Variable.
    """

    def add(self, key: str, value: str, description: str) -> None:
        from airflow.models.variable import Variable
        from airflow.utils.session import create_session

        with create_session() as session:
            session.add(Variable(key=key, val=value, description=description))

    def take(self, key: str) -> str | None:
        from airflow.models.variable import Variable
        from airflow.utils.session import create_session
        from sqlalchemy import delete, select

        with create_session() as session:
            row = session.scalar(select(Variable).where(Variable.key == key))
            if row is None:
                return None
            value = row.val
            session.expunge(row)
            # The row's deleter owns the state: a concurrent callback with the same state deletes nothing.
            deleted = session.execute(delete(Variable).where(Variable.key == key)).rowcount
        return value if deleted == 1 else None

    def exists(self, key: str) -> bool:
        from airflow.models.variable import Variable
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            return session.scalar(select(Variable.id).where(Variable.key == key)) is not None

    def records(self, prefix: str) -> dict[str, str]:
        from airflow.models.variable import Variable
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            rows = session.scalars(select(Variable).where(Variable.key.startswith(prefix, autoescape=True))).all()
            return {row.key: row.val for row in rows}

    def remove(self, keys: list[str]) -> None:
        from airflow.models.variable import Variable
        from airflow.utils.session import create_session
        from sqlalchemy import delete

        with create_session() as session:
            session.execute(delete(Variable).where(Variable.key.in_(keys)))
