"""The token lifecycle of one connection: read the stored pair, hand out access tokens, refresh.

The refresh protocol (docs/token-lifecycle.md) guarantees that one refresh token is presented to
the token endpoint at most once on a host:

1. read the stored pair and decide whether it needs a refresh;
2. take the host-wide refresh lock for the grant;
3. read the stored pair again: if its refresh token changed, someone else refreshed while we
   waited, so use theirs and do not call the endpoint;
4. otherwise present the refresh token, and save the new pair before releasing the lock.

The rescue journal's steps (checked writable before the token endpoint is called, written once it answered,
the store read back after the save, a pair left by a crashed refresh stored first) are in ``oauth/journal.py``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pendulum
from pendulum import DateTime

from airflow_provider_orangelogic.core.errors import (
    ConfigurationError,
    ReauthorizationRequired,
    TokenEndpointError,
    TokenStoreError,
    TokenStoreUnavailable,
)
from airflow_provider_orangelogic.core.settings import OrangeLogicSettings
from airflow_provider_orangelogic.oauth.grants import AuthorizationCodeGrant, Grant
from airflow_provider_orangelogic.oauth.journal import (
    RescueJournal,
    check_journal_writable,
    fingerprint,
    recover_pending,
    stored_fingerprint,
    verify_stored,
    write_journal,
)
from airflow_provider_orangelogic.oauth.locking import announce, refresh_lock, resolve_lock_dir, under_temp_dir
from airflow_provider_orangelogic.oauth.stores import TokenStore
from airflow_provider_orangelogic.oauth.token_endpoint import validate_code
from airflow_provider_orangelogic.oauth.tokens import GRANT_AUTHORIZATION_CODE, TokenPair, pair_from_response

log = logging.getLogger(__name__)

# How long a 401 waits for a refresher that is storing a new pair right now.
UNAUTHORIZED_GRACE_SECONDS = 15.0


@dataclass(frozen=True)
class Advice:
    """What a person should do, in the words of whatever runs the manager (the hook says "DAG")."""

    authorize: str = "Authorize again: open the authorization URL, approve, and exchange the new code."
    keep_refreshing: str = (
        "Check that whatever refreshes this pair is running, or set refresh_on_demand to true on the "
        "connection (safe on a single host only)."
    )


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
        grant: Grant,
        store: TokenStore,
        *,
        lock_dir: str | None = None,
        lock_timeout: float = 300.0,
        wait_for_refresh: float = 60.0,
        clock: Callable[[], float] = time.time,
        on_new_pair: Callable[[TokenPair], None] | None = None,
        advice: Advice | None = None,
    ) -> None:
        """:param clock: seconds since the epoch; tests inject one to control time."""
        self.settings = settings
        self.grant = grant
        self.store = store
        self.advice = advice or Advice()
        choice = resolve_lock_dir(lock_dir)
        if settings.refresh_on_demand and not grant.renews_on_demand:
            _check_shared_lock_dir(choice)
        announce(choice)
        self.lock_dir = choice.path
        self.journal = RescueJournal(self.lock_dir, store.name)
        self.lock_timeout = lock_timeout
        self.wait_for_refresh = wait_for_refresh
        self._clock = clock
        self._on_new_pair = on_new_pair or (lambda pair: None)
        self._cached: TokenPair | None = None
        # Threads sharing this manager (a concurrent search) call the store one at a time: inside a task the
        # store talks to the supervisor over one channel, which Airflow 3.0 and 3.1 do not lock.
        self._store_calls = threading.RLock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.settings.base_url!r}, store={self.store.description!r})"

    def now(self) -> DateTime:
        return pendulum.from_timestamp(self._clock(), tz="UTC")

    # -- reading --------------------------------------------------------------------------------

    def read(self) -> TokenPair:
        """The stored pair, read afresh, checked against the connection's host."""
        pair = self.read_if_any()
        if pair is None:
            raise TokenStoreError(f"No token pair is stored in {self.store.description} yet. {self.advice.authorize}")
        return pair

    def read_if_any(self) -> TokenPair | None:
        """Like ``read``, but None when nothing is stored yet."""
        with self._store_calls:
            pair = self.store.load()
        if pair is None:
            return None
        if pair.host != self.settings.base_url:
            raise TokenStoreError(
                f"The pair in {self.store.description} was issued by {pair.host}, but the connection now "
                f"points to {self.settings.base_url}; a token only works on the server that issued it. "
                f"Put the old host back, or authorize against the new host (that replaces the pair). "
                f"{self.advice.authorize}"
            )
        self._remember(pair)
        return pair

    def _remember(self, pair: TokenPair) -> None:
        with self._store_calls:
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
        if cached is not None and cached.access_token_valid(self._clock(), self._leeway(cached)):
            return cached.access_token
        return self._fresh_access_token()

    def _fresh_access_token(self) -> str:
        pair = self.read_if_any() if self.grant.renews_on_demand else self.read()
        if pair is None:
            return self.refresh(reason="no token was stored yet").pair.access_token
        if pair.access_token_valid(self._clock(), self._leeway(pair)):
            return pair.access_token
        if not self.grant.renewable(pair, self.now()):
            raise self._reauthorization_needed(pair)
        if self.settings.refresh_on_demand or self.grant.renews_on_demand:
            return self.refresh(reason="the access token expired").pair.access_token
        return self._wait_for_refresher(pair)

    def _wait_for_refresher(self, expired: TokenPair) -> str:
        """Poll the store until the refresher (the refresh DAG) stores a fresh pair."""
        deadline = time.monotonic() + self.wait_for_refresh
        log.info(
            "The access token in %s expired at %s; waiting up to %.0f s for the refresher to renew it.",
            self.store.description,
            expired.access_token_expires_at.to_iso8601_string(),
            self.wait_for_refresh,
        )
        while time.monotonic() < deadline:
            time.sleep(min(2.0, max(0.1, deadline - time.monotonic())))
            pair = self.read()
            if pair.access_token_valid(self._clock(), self._leeway(pair)):
                return pair.access_token
        raise TokenStoreUnavailable(
            f"The access token in {self.store.description} expired at "
            f"{expired.access_token_expires_at.to_iso8601_string()} and was not renewed within "
            f"{self.wait_for_refresh:.0f} s. {self.advice.keep_refreshing}"
        )

    def token_after_unauthorized(self, rejected: str) -> str | None:
        """After a 401: a different valid token in the store means someone refreshed; use it.

        A server that retires the old access token as soon as it issues a new pair answers 401 in the
        moment between the refresh and the refresher's store write, so while the store still holds the
        rejected token it is polled briefly before giving up.
        """
        if self.grant.renews_on_demand:
            # Renewing spends nothing here, so do it rather than wait; the lock and re-read keep it
            # to one renewal per host however many callers were rejected together.
            pair = self.read_if_any()
            if pair is None or pair.access_token == rejected:
                pair = self.refresh(force=True, reason="the API rejected the access token").pair
            return pair.access_token if pair.access_token_valid(self._clock()) else None
        deadline = time.monotonic() + min(self.wait_for_refresh, UNAUTHORIZED_GRACE_SECONDS)
        while True:
            pair = self.read()
            if pair.access_token != rejected:
                return pair.access_token if pair.access_token_valid(self._clock()) else None
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.25)

    # -- writing --------------------------------------------------------------------------------

    def exchange_code(self, code: str) -> TokenPair:
        """Trade an authorization code for the first pair and store it (replacing any old grant)."""
        if not isinstance(self.grant, AuthorizationCodeGrant):
            raise ConfigurationError(
                f"This connection authenticates with {type(self.grant).__name__}, which takes no authorization code."
            )
        code = validate_code(code)
        self.store.check_writable()
        with self._lock():
            replaced = stored_fingerprint(self.store, self._store_calls)
            check_journal_writable(self.journal)
            payload = self.grant.exchange(code)
            pair = self._pair_from(payload, GRANT_AUTHORIZATION_CODE, previous=None)
            self._save(pair, replaces=replaced)
        return pair

    def refresh(self, *, force: bool = False, reason: str | None = None) -> RefreshResult:
        """Refresh if the policy says so (always with ``force``); never present a refresh token twice."""
        observed = self.read_if_any() if self.grant.renews_on_demand else self.read()
        if observed is not None and not force and not self._due(observed):
            return RefreshResult(observed, refreshed=False, reason="the access token is fresh enough")
        self.store.check_writable()
        with self._lock():
            recovered = recover_pending(self.journal, self.store, self._store_calls, self.settings.base_url, self._save)
            if recovered is not None:
                return RefreshResult(recovered, refreshed=True, reason="stored a pair saved before a crash")
            current = self.read_if_any() if self.grant.renews_on_demand else self.read()
            if current is not None:
                if observed is None or not current.same_tokens(observed):
                    return RefreshResult(current, refreshed=False, reason="another worker refreshed meanwhile")
                if not force and not self._due(current):
                    return RefreshResult(current, refreshed=False, reason="the access token is fresh enough")
                if not self.grant.renewable(current, self.now()):
                    raise self._reauthorization_needed(current)
            check_journal_writable(self.journal)
            payload = self.grant.renew(current)
            pair = self._pair_from(payload, self.grant.renewed_by, previous=current)
            spent = fingerprint(current.refresh_token) if current is not None and current.refresh_token else None
            self._save(pair, replaces=spent)
        if not pair.access_token:
            raise TokenEndpointError(
                "The token endpoint answered the refresh without a usable access_token. Its new refresh token was "
                f"stored in {self.store.description}, so the next refresh can get a complete pair."
            )
        if reason is None:
            reason = "forced" if force else f"less than {self.settings.refresh_threshold:.0%} of its lifetime was left"
        return RefreshResult(pair, refreshed=True, reason=reason)

    def _due(self, pair: TokenPair) -> bool:
        return pair.needs_refresh(self.now(), self.settings.refresh_threshold)

    def _lock(self) -> contextlib.AbstractContextManager[None]:
        return refresh_lock(self.store.name, lock_dir=self.lock_dir, timeout=self.lock_timeout)

    def _pair_from(self, payload: dict, grant: str, previous: TokenPair | None) -> TokenPair:
        return pair_from_response(
            payload,
            grant=grant,
            host=self.settings.base_url,
            now=self.now(),
            access_lifetime=self.settings.default_access_token_lifetime,
            refresh_lifetime=self.settings.default_refresh_token_lifetime,
            previous=previous,
        )

    def _save(self, pair: TokenPair, replaces: str | None) -> None:
        """Store a pair the server just issued; the journal (best effort) keeps it if the store write fails."""
        with self._store_calls:
            self._on_new_pair(pair)
        journal_error = write_journal(self.journal, pair, replaces, self.store)
        try:
            with self._store_calls:
                self.store.save(pair)
                verify_stored(self.store, pair)
        except TokenStoreError as err:
            if journal_error is not None:
                raise type(err)(
                    f"{err} The rescue file {self.journal.path} could not be written either ({journal_error}), so "
                    f"the new pair is lost and the server has retired the old one. {self.advice.authorize}"
                ) from None
            raise type(err)(
                f"{err} The new pair is kept in the host-local rescue file {self.journal.path}; the next refresh "
                "on this host stores it instead of calling the token endpoint."
            ) from None
        if journal_error is None:
            try:
                self.journal.clear()
            except (OSError, ConfigurationError) as err:  # stored: a leftover rescue file is ignored later
                log.warning("Could not remove the rescue file %s after storing its pair: %s", self.journal.path, err)
        self._cached = pair

    def _reauthorization_needed(self, pair: TokenPair) -> ReauthorizationRequired:
        return ReauthorizationRequired(
            f"The refresh token in {self.store.description} expired at "
            f"{pair.refresh_token_expires_at.to_iso8601_string()}. A person must authorize again."
        )


def _check_shared_lock_dir(choice) -> None:
    """refresh_on_demand with a refresh token: every process on the host must share one, explicitly chosen, lock
    directory, or two of them can present the same refresh token and the server revokes the grant."""
    if not choice.explicit:
        raise ConfigurationError(
            "The connection sets refresh_on_demand, so any task may refresh the token pair, and every process on this "
            "host must take the same refresh lock: set [orangelogic] lock_dir (or AIRFLOW__ORANGELOGIC__LOCK_DIR) to "
            "one directory that every Airflow process on the host shares (mode 0700, owned by the user running "
            "Airflow), e.g. /var/lib/airflow/orangelogic-locks. Without it each process could lock a directory of "
            f"its own ({choice.path} here) and present the same refresh token twice, which revokes the grant. Or "
            "set refresh_on_demand to false and let the orangelogic_token_refresh DAG refresh."
        )
    if under_temp_dir(choice.path):
        log.warning(
            "The Orange Logic lock directory %s (from %s) is in a temp directory; with refresh_on_demand every process "
            "on the host must see the same one, which a per-process TMPDIR or systemd PrivateTmp breaks. Prefer a "
            "path outside /tmp.",
            choice.path,
            choice.source,
        )
