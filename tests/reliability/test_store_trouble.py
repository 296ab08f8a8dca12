"""The store under trouble: failed writes lose nothing, shadowed Variables are caught before a refresh."""

from __future__ import annotations

import pytest

from airflow_provider_orangelogic.core.errors import TokenStoreError, TokenStoreUnavailable
from airflow_provider_orangelogic.hooks import variable_store
from airflow_provider_orangelogic.hooks.variable_store import VariableTokenStore
from tests.conftest import REDIRECT_URI, MemoryStore, make_manager


class FlakyStore(MemoryStore):
    """Writes fail while ``down`` is true, like an API server or DB that is unavailable."""

    down = False

    def save(self, pair) -> None:
        if self.down:
            raise TokenStoreUnavailable(f"Could not write the new token pair to {self.description}.")
        super().save(pair)


class ShadowedStore(MemoryStore):
    def check_writable(self) -> None:
        raise TokenStoreError("shadowed by EnvironmentVariablesBackend")


def test_write_failure_keeps_the_new_pair_and_says_so(stand_in, tmp_path):
    """Variable write fails after the server answered: loud error naming the rescue file; next refresh stores it"""
    store = FlakyStore()
    manager = make_manager(stand_in.url, store, tmp_path)
    manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    before = store.text
    store.down = True
    with pytest.raises(TokenStoreUnavailable, match="kept in the host-local rescue file"):
        manager.refresh(force=True)
    assert store.text == before and manager.journal.path.exists()
    assert oct(manager.journal.path.stat().st_mode & 0o777) == "0o600"
    store.down = False
    grants = stand_in.counters()["refresh_token_grants"]
    assert manager.refresh(force=True).reason == "stored a pair saved before a crash"
    assert stand_in.counters()["refresh_token_grants"] == grants
    assert not manager.journal.path.exists()
    assert stand_in.counters()["refresh_token_reuses"] == 0


def test_stale_rescue_file_is_discarded(stand_in, tmp_path):
    """A rescue file for a pair the store has moved past is dropped, never written over the newer pair"""
    store = FlakyStore()
    manager = make_manager(stand_in.url, store, tmp_path)
    manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    store.down = True
    with pytest.raises(TokenStoreUnavailable):
        manager.refresh(force=True)
    store.down = False
    # Meanwhile a person authorized again elsewhere: the store holds a pair of a new grant.
    newer = make_manager(stand_in.url, store, tmp_path / "elsewhere")
    fresh = newer.exchange_code(stand_in.authorize(REDIRECT_URI))
    result = manager.refresh(force=True)
    assert result.reason == "forced" and result.pair.refresh_token != fresh.refresh_token
    assert not manager.journal.path.exists()
    assert stand_in.counters()["refresh_token_reuses"] == 0


def test_shadowed_store_is_reported_before_any_refresh(stand_in, tmp_path):
    """The Variable is shadowed (secrets backend / AIRFLOW_VAR_): error before presenting the refresh token"""
    store = ShadowedStore()
    MemoryStore.save(
        store, make_manager(stand_in.url, MemoryStore(), tmp_path).exchange_code(stand_in.authorize(REDIRECT_URI))
    )
    calls = stand_in.counters()["token_requests"]
    with pytest.raises(TokenStoreError, match="shadowed"):
        make_manager(stand_in.url, store, tmp_path).refresh(force=True)
    assert stand_in.counters()["token_requests"] == calls


def test_environment_variable_shadowing_is_detected(monkeypatch):
    """AIRFLOW_VAR_<KEY> set in the environment: the Variable store names it and the fix"""
    monkeypatch.setenv("AIRFLOW_VAR_ORANGELOGIC_TOKEN_ENVTEST", "{}")
    store = VariableTokenStore("orangelogic_token_envtest", "envtest")
    with pytest.raises(TokenStoreError, match="unset AIRFLOW_VAR_ORANGELOGIC_TOKEN_ENVTEST"):
        store.check_writable()


def test_variable_write_is_retried_then_fails_loudly(monkeypatch):
    """The Variable write raises (API server down): retried, then TokenStoreUnavailable says what happened"""
    attempts = []

    def failing_write(self, value, description):
        attempts.append(1)
        raise ConnectionError("API server unavailable")

    monkeypatch.setattr(VariableTokenStore, "_write", failing_write)
    monkeypatch.setattr(VariableTokenStore, "check_writable", lambda self: None)
    store = VariableTokenStore("orangelogic_token_x", "x", write_attempts=3, write_backoff=0.01)
    with pytest.raises(TokenStoreUnavailable, match="after 3 attempts"):
        store.save(_pair())
    assert len(attempts) == 3


def test_variable_write_recovers_after_a_blip(monkeypatch):
    """The Variable write fails once, then succeeds on retry"""
    calls = []

    def flaky_write(self, value, description):
        calls.append(value)
        if len(calls) == 1:
            raise ConnectionError("blip")

    monkeypatch.setattr(VariableTokenStore, "_write", flaky_write)
    monkeypatch.setattr(VariableTokenStore, "_read_back", lambda self: calls[-1])
    monkeypatch.setattr(VariableTokenStore, "check_writable", lambda self: None)
    VariableTokenStore("orangelogic_token_x", "x", write_backoff=0.01).save(_pair())
    assert len(calls) == 2


def test_unencrypted_warning_is_given_once(caplog):
    """Variables not encrypted (no Fernet key): the hook warns once per process"""
    monkey = variable_store
    monkey._warned_unencrypted = False
    with caplog.at_level("WARNING"):
        monkey._warn_once_if_unencrypted(False)
        monkey._warn_once_if_unencrypted(False)
        monkey._warn_once_if_unencrypted(True)
    assert sum("fernet_key" in r.getMessage() for r in caplog.records) == 1


def _pair():
    import pendulum

    from airflow_provider_orangelogic.oauth.tokens import pair_from_response

    return pair_from_response(
        {"access_token": "A", "refresh_token": "R"},
        grant="authorization_code",
        host="https://d.example.com",
        now=pendulum.now("UTC"),
        access_lifetime=60,
        refresh_lifetime=600,
    )
