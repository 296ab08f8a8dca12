"""The token lifecycle of one connection: read the stored pair, hand out access tokens, refresh.

The refresh protocol (docs/token-lifecycle.md) guarantees that one refresh token is presented to
the token endpoint at most once on a host:

1. read the stored pair and decide whether it needs a refresh;
2. take the host-wide refresh lock for the grant;
3. read the stored pair again: if its refresh token changed, someone else refreshed while we
   waited, so use theirs and do not call the endpoint;
4. otherwise present the refresh token, and save the new pair before releasing the lock.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import pendulum
from pendulum import DateTime

from airflow_provider_orangelogic.core.errors import (
    ReauthorizationRequired,
    TokenEndpointError,
    TokenStoreError,
    TokenStoreUnavailable,
)
from airflow_provider_orangelogic.core.settings import OrangeLogicSettings
from airflow_provider_orangelogic.oauth.journal import RescueJournal, fingerprint
from airflow_provider_orangelogic.oauth.locking import default_lock_dir, refresh_lock
from airflow_provider_orangelogic.oauth.token_endpoint import OrangeLogicOAuthClient, validate_code
from airflow_provider_orangelogic.oauth.tokens import (
    GRANT_AUTHORIZATION_CODE,
    GRANT_REFRESH_TOKEN,
    TokenPair,
    pair_from_response,
)

log = logging.getLogger(__name__)

# How long a 401 waits for a refresher that is storing a new pair right now.
UNAUTHORIZED_GRACE_SECONDS = 15.0


class TokenStore(Protocol):
    """Where a connection's pair lives. ``load`` returns None when nothing is stored yet."""

    name: str
    description: str

    def load(self) -> TokenPair | None: ...

    def save(self, pair: TokenPair) -> None: ...

    def check_writable(self) -> None:
        """Raise TokenStoreError if a pair written now could not be read back."""


@dataclass(frozen=True)
class RefreshResult:
    pair: TokenPair
    refreshed: bool
    reason: str


def utc_now() -> DateTime:
    return pendulum.now("UTC")


class TokenManager:
    """Everything about one connection's token pair that does not depend on Airflow."""

    def __init__(
        self,
        settings: OrangeLogicSettings,
        client: OrangeLogicOAuthClient,
        store: TokenStore,
        *,
        lock_dir: str | None = None,
        lock_timeout: float = 300.0,
        wait_for_refresh: float = 60.0,
        clock: Callable[[], DateTime] = utc_now,
        on_new_pair: Callable[[TokenPair], None] | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.store = store
        self.lock_dir = lock_dir or default_lock_dir()
        self.journal = RescueJournal(self.lock_dir, store.name)
        self.lock_timeout = lock_timeout
        self.wait_for_refresh = wait_for_refresh
        self._clock = clock
        self._on_new_pair = on_new_pair or (lambda pair: None)
        self._cached: TokenPair | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.settings.base_url!r}, store={self.store.description!r})"

    # -- reading --------------------------------------------------------------------------------

    def read(self) -> TokenPair:
        """The stored pair, read afresh, checked against the connection's host."""
        pair = self.store.load()
        if pair is None:
            raise TokenStoreError(
                f"No token pair is stored in {self.store.description} yet. Authorize once: open the "
                "authorization URL (OrangeLogicHook.get_authorization_url()), approve, and run the "
                "orangelogic_token_exchange DAG with the code."
            )
        if pair.host != self.settings.base_url:
            raise TokenStoreError(
                f"The pair in {self.store.description} was issued by {pair.host}, but the connection now "
                f"points to {self.settings.base_url}; a token only works on the server that issued it. "
                "Put the old host back, or authorize against the new host and run the "
                "orangelogic_token_exchange DAG, which replaces the pair."
            )
        self._remember(pair)
        return pair

    def _remember(self, pair: TokenPair) -> None:
        cached = self._cached
        if cached is None or (pair.access_token, pair.refresh_token) != (cached.access_token, cached.refresh_token):
            self._on_new_pair(pair)  # registers the tokens with the secrets masker: once per pair
        self._cached = pair

    def _leeway(self, pair: TokenPair) -> float:
        # Do not hand out a token that could expire while the request is in flight.
        return min(60.0, 0.05 * pair.access_lifetime)

    def access_token(self) -> str:
        """A valid access token: from memory while it lasts, then from the store."""
        cached = self._cached
        if cached is not None and cached.access_token_valid(time.time(), self._leeway(cached)):
            return cached.access_token
        return self._fresh_access_token()

    def _fresh_access_token(self) -> str:
        pair = self.read()
        if pair.access_token_valid(time.time(), self._leeway(pair)):
            return pair.access_token
        if not pair.refresh_token_valid(self._clock()):
            raise self._reauthorization_needed(pair)
        if self.settings.refresh_on_demand:
            return self.refresh(reason="the access token expired").pair.access_token
        return self._wait_for_refresher(pair)

    def _wait_for_refresher(self, expired: TokenPair) -> str:
        """Poll the store until the refresher (the refresh DAG) stores a fresh pair."""
        deadline = time.monotonic() + self.wait_for_refresh
        log.info(
            "The access token in %s expired at %s; waiting up to %.0f s for the refresh DAG to renew it.",
            self.store.description,
            expired.access_token_expires_at.to_iso8601_string(),
            self.wait_for_refresh,
        )
        while time.monotonic() < deadline:
            time.sleep(min(2.0, max(0.1, deadline - time.monotonic())))
            pair = self.read()
            if pair.access_token_valid(time.time(), self._leeway(pair)):
                return pair.access_token
        raise TokenStoreUnavailable(
            f"The access token in {self.store.description} expired at "
            f"{expired.access_token_expires_at.to_iso8601_string()} and was not renewed within "
            f"{self.wait_for_refresh:.0f} s. Check that the orangelogic_token_refresh DAG is unpaused and "
            "succeeding, or set refresh_on_demand to true on the connection (safe on a single host only)."
        )

    def token_after_unauthorized(self, rejected: str) -> str | None:
        """After a 401: a different valid token in the store means someone refreshed; use it.

        A server that retires the old access token as soon as it issues a new pair answers 401 in the
        moment between the refresh and the refresher's store write, so while the store still holds the
        rejected token it is polled briefly before giving up.
        """
        deadline = time.monotonic() + min(self.wait_for_refresh, UNAUTHORIZED_GRACE_SECONDS)
        while True:
            pair = self.read()
            if pair.access_token != rejected:
                return pair.access_token if pair.access_token_valid(time.time()) else None
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.25)

    # -- writing --------------------------------------------------------------------------------

    def exchange_code(self, code: str) -> TokenPair:
        """Trade an authorization code for the first pair and store it (replacing any old grant)."""
        code = validate_code(code)
        self.store.check_writable()
        with self._lock():
            payload = self.client.exchange_code(code)
            pair = self._pair_from(payload, GRANT_AUTHORIZATION_CODE, previous=None)
            self._save(pair, replaces=None)
        return pair

    def refresh(self, *, force: bool = False, reason: str | None = None) -> RefreshResult:
        """Refresh if the policy says so (always with ``force``); never present a refresh token twice."""
        observed = self.read()
        if not force and not observed.needs_refresh(self._clock(), self.settings.refresh_threshold):
            return RefreshResult(observed, refreshed=False, reason="the access token is fresh enough")
        self.store.check_writable()
        with self._lock():
            recovered = self._recover_pending()
            if recovered is not None:
                return RefreshResult(recovered, refreshed=True, reason="stored a pair saved before a crash")
            current = self.read()
            if current.refresh_token != observed.refresh_token:
                return RefreshResult(current, refreshed=False, reason="another worker refreshed meanwhile")
            now = self._clock()
            if not force and not current.needs_refresh(now, self.settings.refresh_threshold):
                return RefreshResult(current, refreshed=False, reason="the access token is fresh enough")
            if not current.refresh_token_valid(now):
                raise self._reauthorization_needed(current)
            payload = self.client.refresh(current.refresh_token)
            pair = self._pair_from(payload, GRANT_REFRESH_TOKEN, previous=current)
            self._save(pair, replaces=fingerprint(current.refresh_token))
        if not pair.access_token:
            raise TokenEndpointError(
                "The token endpoint answered the refresh without an access_token. Its new refresh token was "
                f"stored in {self.store.description}, so the next refresh can get a complete pair."
            )
        return RefreshResult(pair, refreshed=True, reason=reason or ("forced" if force else "policy"))

    def _lock(self) -> contextlib.AbstractContextManager[None]:
        return refresh_lock(self.store.name, lock_dir=self.lock_dir, timeout=self.lock_timeout)

    def _pair_from(self, payload: dict, grant: str, previous: TokenPair | None) -> TokenPair:
        return pair_from_response(
            payload,
            grant=grant,
            host=self.settings.base_url,
            now=self._clock(),
            access_lifetime=self.settings.default_access_token_lifetime,
            refresh_lifetime=self.settings.default_refresh_token_lifetime,
            previous=previous,
        )

    def _save(self, pair: TokenPair, replaces: str | None) -> None:
        """Store a pair the server just issued; the journal keeps it if the store write fails."""
        self._on_new_pair(pair)
        self.journal.write(pair, replaces)
        try:
            self.store.save(pair)
        except TokenStoreError as err:
            raise type(err)(
                f"{err} The new pair is kept in the host-local rescue file {self.journal.path}; the next refresh "
                "on this host stores it instead of calling the token endpoint."
            ) from None
        self.journal.clear()
        self._cached = pair

    def _recover_pending(self) -> TokenPair | None:
        """Store a pair that a crashed or failed refresh on this host received but could not store."""
        pending = self.journal.read()
        if pending is None:
            return None
        stored = self.store.load()
        if pending.pair.host != self.settings.base_url or not pending.supersedes(stored):
            self.journal.clear()  # stale: the store already moved on
            return None
        log.warning("Storing a token pair that a previous refresh on this host received but could not store.")
        self._save(pending.pair, pending.replaces)
        return pending.pair

    def _reauthorization_needed(self, pair: TokenPair) -> ReauthorizationRequired:
        return ReauthorizationRequired(
            f"The refresh token in {self.store.description} expired at "
            f"{pair.refresh_token_expires_at.to_iso8601_string()}. A person must authorize again: open "
            "the authorization URL, approve, and run the orangelogic_token_exchange DAG with the new code."
        )
