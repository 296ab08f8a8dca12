"""The ``state`` of an authorization URL: issued per connection, checked (once) when its code is exchanged.

``get_authorization_url()`` issues a state for one connection; the exchange of a code takes the state
that came back with it (a pasted redirect address carries both) and accepts it only if this deployment
issued it for that connection, less than ``lifetime`` seconds ago, and it was not used before. Without
that check any code would be exchanged: someone could have a person paste a code from an authorization
they started (their own Orange Logic account), binding the connection to it.

What is kept is one record per connection, a JSON list of issued states, each as its SHA-256 with issue
and expiry time, the Orange Logic URL and client ID of that moment, and when it was used: never the
state itself (it is not a secret, but the record should not let anyone complete an authorization).
Spent states stay listed until they expire so a replay gets its own message. Expired entries are
dropped at each write; at most ``MAX_KEPT`` are kept (the oldest go first).

No Airflow here: the record lives in any ``StateRecordStore`` (the hook's is an Airflow Variable), and
reading, changing and writing it happens under the lock the caller supplies (the host refresh lock).
Messages say what to do in general terms; the hook supplies the Airflow words.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

from airflow_provider_orangelogic.core.errors import ConfigurationError

log = logging.getLogger(__name__)

#: Seconds between issuing a state (the authorization URL) and exchanging its code.
DEFAULT_LIFETIME = 1800
MAX_KEPT = 50
_MAX_STATE_LENGTH = 200
_VERSION = 1

# Why a state was refused.
MISSING = "missing"
UNKNOWN = "unknown"
USED = "used"
EXPIRED = "expired"
CONNECTION_CHANGED = "connection_changed"

DEFAULT_RESTART = "open a fresh authorization URL (OrangeLogicHook.get_authorization_url()) and approve again"
DEFAULT_SKIP = "pass skip_state_check=True"


class StateCheckFailed(ConfigurationError):
    """The state that came with a code was not issued for this connection (or is spent or expired)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class StateRecordStore(Protocol):
    """Where one connection's issued states live (the text of one record)."""

    description: str

    def load(self) -> str | None: ...

    def save(self, text: str) -> None: ...


class MemoryStateRecordStore:
    """The record in memory (tests, and one-process use)."""

    def __init__(self, description: str = "memory state record") -> None:
        self.description = description
        self.text: str | None = None
        self.writes = 0

    def load(self) -> str | None:
        return self.text

    def save(self, text: str) -> None:
        self.text = text
        self.writes += 1


@dataclass(frozen=True)
class IssuedState:
    sha256: str
    issued_at: float
    expires_at: float
    host: str
    client_id: str
    used_at: float | None = None


def digest(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


def new_state() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def _no_lock() -> contextlib.AbstractContextManager[None]:
    return contextlib.nullcontext()


class IssuedStates:
    """Issue and spend the states of one connection's authorization URLs.

    :param store: The connection's record.
    :param conn_id: Named in messages.
    :param lifetime: Seconds a state stays valid.
    :param lock: Returns a context manager held while the record is read, changed and written.
    :param restart: What a person does to start again (shown in messages).
    :param skip: How a person skips the check on purpose (shown in messages).
    """

    def __init__(
        self,
        store: StateRecordStore,
        conn_id: str,
        *,
        lifetime: float = DEFAULT_LIFETIME,
        clock: Callable[[], float] = time.time,
        lock: Callable[[], contextlib.AbstractContextManager[Any]] = _no_lock,
        restart: str = DEFAULT_RESTART,
        skip: str = DEFAULT_SKIP,
    ) -> None:
        self.store = store
        self.conn_id = conn_id
        self.lifetime = float(lifetime)
        self.clock = clock
        self.lock = lock
        self.restart = restart
        self.skip = skip

    # -- the record -------------------------------------------------------------------------

    def _read(self) -> list[IssuedState]:
        raw = self.store.load()
        if not raw:
            return []
        try:
            data = json.loads(raw)
            return [IssuedState(**entry) for entry in data["states"]]
        except (TypeError, ValueError, KeyError) as err:
            log.warning(
                "The issued-state record in %s is unreadable (%s); starting it afresh.",
                self.store.description,
                type(err).__name__,
            )
            return []

    def _write(self, entries: list[IssuedState], now: float) -> None:
        kept = [entry for entry in entries if entry.expires_at > now]
        kept.sort(key=lambda entry: entry.issued_at)
        kept = kept[-MAX_KEPT:]
        self.store.save(
            json.dumps({"version": _VERSION, "conn_id": self.conn_id, "states": [asdict(entry) for entry in kept]})
        )

    # -- issuing and spending -----------------------------------------------------------------

    def issue(self, *, host: str, client_id: str, state: str | None = None) -> str:
        """Record ``state`` (a new one when None) as issued now for this connection; return it."""
        state = state or new_state()
        with self.lock():
            now = self.clock()
            entries = self._read()
            entries.append(
                IssuedState(
                    sha256=digest(state),
                    issued_at=now,
                    expires_at=now + self.lifetime,
                    host=host,
                    client_id=client_id,
                )
            )
            self._write(entries, now)
        return state

    def spend(self, state: str | None, *, host: str, client_id: str) -> None:
        """Accept ``state`` once: issued for this connection, not expired, not used; else StateCheckFailed."""
        if not isinstance(state, str) or not state.strip():
            raise self._failure(MISSING)
        state = state.strip()
        if len(state) > _MAX_STATE_LENGTH:
            raise self._failure(UNKNOWN)
        wanted = digest(state)
        with self.lock():
            now = self.clock()
            entries = self._read()
            found: int | None = None
            for index, entry in enumerate(entries):  # every entry compared, in constant time each
                if hmac.compare_digest(entry.sha256, wanted) and found is None:
                    found = index
            if found is None:
                raise self._failure(UNKNOWN)
            entry = entries[found]
            if entry.used_at is not None:
                raise self._failure(USED)
            if now >= entry.expires_at:
                del entries[found]
                self._write(entries, now)
                raise self._failure(EXPIRED)
            entries[found] = replace(entry, used_at=now)
            self._write(entries, now)  # spent before anything else can fail: single use
        if (entry.host, entry.client_id) != (host, client_id):
            raise self._failure(CONNECTION_CHANGED)

    # -- messages -----------------------------------------------------------------------------

    def _failure(self, reason: str) -> StateCheckFailed:
        minutes = f"{self.lifetime / 60:g} minutes"
        conn = f"connection {self.conn_id!r}"
        what = {
            MISSING: (
                f"No state came with the authorization code for {conn}, so it cannot be told apart from a code "
                "someone else obtained. Give the whole address the browser landed on after approving (it carries "
                "code and state)."
            ),
            UNKNOWN: (
                f"The state that came with the code does not match one this deployment issued for {conn} in the "
                f"last {minutes}: the address may come from an authorization someone else started, or from "
                "another connection."
            ),
            USED: f"The state that came with the code was already used for {conn}: each authorization URL is "
            "good for one exchange.",
            EXPIRED: f"The state that came with the code was issued for {conn} more than {minutes} ago.",
            CONNECTION_CHANGED: (
                f"{conn[0].upper() + conn[1:]} changed (Orange Logic URL or client ID) since its authorization URL "
                "was issued, so the code belongs to the connection as it was."
            ),
        }[reason]
        return StateCheckFailed(
            reason,
            f"{what} Nothing was exchanged. To authorize: {self.restart}. If you opened an authorization URL "
            f"this deployment did not issue on purpose (e.g. one you built yourself), {self.skip}.",
        )
