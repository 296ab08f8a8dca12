"""Hardening of the host-local lock and rescue-journal directory (security review, issue 10, items 1-3).

"Another local user" is simulated in the ways one uid can: a directory open to others or reached through a
symbolic link, a file planted where the refresh will look for it, and, when the suite runs as root, a
directory really owned by another uid (65534).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import threading

import pytest

from airflow_provider_orangelogic.core.errors import ConfigurationError, TokenStoreUnavailable
from airflow_provider_orangelogic.oauth import journal as journal_module
from airflow_provider_orangelogic.oauth import locking
from airflow_provider_orangelogic.oauth.grants import grant_for
from airflow_provider_orangelogic.oauth.journal import RescueJournal, fingerprint
from airflow_provider_orangelogic.oauth.manager import TokenManager
from airflow_provider_orangelogic.oauth.token_endpoint import TokenEndpointClient
from airflow_provider_orangelogic.oauth.tokens import TokenPair
from tests.conftest import FAST_RETRY, REDIRECT_URI, MemoryStore, make_manager, make_settings, stored_json
from tests.hooks.test_orangelogic_hook import CONN_ID, connection  # noqa: F401 (a fixture)

LOCK_ENV = ("ORANGELOGIC_LOCK_DIR", "AIRFLOW__ORANGELOGIC__LOCK_DIR")


@pytest.fixture
def no_lock_dir_setting(monkeypatch):
    """Neither [orangelogic] lock_dir nor either environment variable is set."""
    for name in LOCK_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(locking, "_configured_lock_dir", None)


@pytest.fixture
def authorized(stand_in, tmp_path):
    """A manager with a stored pair from a code exchange, its lock directory at tmp_path/locks."""
    store = MemoryStore()
    manager = make_manager(stand_in.url, store, tmp_path)
    manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    return manager, store


def foreign_pair(manager: TokenManager, **changes) -> TokenPair:
    """A well-formed pair for the connection's host that the server never issued to us."""
    record = json.loads(manager.read().to_json())
    record.update(access_token="planted-access", refresh_token="planted-refresh", **changes)
    return TokenPair.from_json(record, source="test")


# -- item 1: the directory ---------------------------------------------------------------------------


def test_default_lock_dir_is_private_per_user(no_lock_dir_setting, monkeypatch, tmp_path):
    """The default lock directory is per user (AIRFLOW_HOME, else the runtime or cache dir), never the temp dir"""
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    assert locking.default_lock_dir() == str(tmp_path / "airflow" / "orangelogic" / "locks")
    monkeypatch.delenv("AIRFLOW_HOME")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    assert locking.default_lock_dir() == str(tmp_path / "run" / "airflow-orangelogic" / "locks")
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert locking.default_lock_dir() == str(tmp_path / "cache" / "airflow-orangelogic" / "locks")


def _open_to_others(locks):
    locks.chmod(0o777)


def _group_readable(locks):
    locks.chmod(0o750)


def _symlink(locks):
    real = locks.with_name("elsewhere")
    locks.rename(real)
    locks.symlink_to(real)


def _other_owner(locks):
    if os.geteuid() != 0:
        pytest.skip("needs root to give the directory to another uid")
    os.chown(locks, 65534, 65534)


def _a_file(locks):
    for child in locks.iterdir():
        child.unlink()
    locks.rmdir()
    locks.write_text("")


@pytest.mark.parametrize(
    "spoil",
    [_open_to_others, _group_readable, _symlink, _other_owner, _a_file],
    ids=["mode 0777", "mode 0750", "a symbolic link", "owned by uid 65534", "a regular file"],
)
def test_an_unsafe_lock_dir_is_refused_before_the_endpoint(stand_in, authorized, spoil):
    """A lock directory another user could reach is refused with an error naming the setting; no token is presented"""
    manager, store = authorized
    before = store.text
    spoil(manager.journal.path.parent)
    with pytest.raises(ConfigurationError) as caught:
        manager.refresh(force=True)
    message = str(caught.value)
    assert "[orangelogic] lock_dir" in message and "ORANGELOGIC_LOCK_DIR" in message and "0700" in message
    assert stand_in.counters()["refresh_token_grants"] == 0
    assert store.text == before


def test_a_planted_pending_pair_is_not_stored_on_a_newer_timestamp(stand_in, authorized):
    """A planted rescue file with a newer obtained_at but no proof it follows the stored pair is not stored"""
    manager, store = authorized
    stored = manager.read()
    planted = foreign_pair(manager, obtained_at=stored.obtained_at.add(hours=1).to_iso8601_string())
    manager.journal.write(planted, None)  # "a code exchange": replaces nothing
    result = manager.refresh(force=True)
    assert stored_json(store)["refresh_token"] not in ("planted-refresh", stored.refresh_token)
    assert result.pair.refresh_token != "planted-refresh"
    assert stand_in.counters()["refresh_token_grants"] == 1  # the endpoint was called: nothing was taken on trust
    assert not manager.journal.path.exists()


def test_a_pending_pair_that_names_another_refresh_token_is_not_stored(stand_in, authorized):
    """A rescue file that claims to replace another refresh token than the stored one is ignored"""
    manager, store = authorized
    manager.journal.write(foreign_pair(manager), fingerprint("some other refresh token"))
    manager.refresh(force=True)
    assert stored_json(store)["refresh_token"] != "planted-refresh"
    assert stand_in.counters()["refresh_token_grants"] == 1


def test_a_rescue_file_reached_through_a_symlink_is_not_read(stand_in, authorized, tmp_path):
    """A rescue file that is a symbolic link is not followed, even when its record would chain to the stored pair"""
    manager, store = authorized
    outside = RescueJournal(str(tmp_path / "outside"), manager.store.name)
    outside.write(foreign_pair(manager), fingerprint(manager.read().refresh_token))
    manager.journal.path.symlink_to(outside.path)
    manager.refresh(force=True)
    assert stored_json(store)["refresh_token"] != "planted-refresh"
    assert stand_in.counters()["refresh_token_grants"] == 1
    assert outside.path.exists()  # only the link was removed


@pytest.mark.parametrize("kind", ["fifo", "oversized"])
def test_a_rescue_file_that_is_not_a_small_regular_file_is_ignored(stand_in, authorized, kind):
    """A FIFO or an oversized file in place of the rescue file neither hangs nor feeds the refresh"""
    manager, _ = authorized
    if kind == "fifo":
        os.mkfifo(manager.journal.path, 0o600)
    else:
        manager.journal.path.write_bytes(b" " * (1024 * 1024))
    done = threading.Event()
    outcome: list = []

    def run():
        try:
            outcome.append(manager.refresh(force=True))
        finally:
            done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(30), "the refresh hung on the rescue file"
    assert outcome and outcome[0].refreshed
    assert stand_in.counters()["refresh_token_grants"] == 1
    assert not os.path.lexists(manager.journal.path)


@pytest.mark.parametrize("trap", ["symlink to a victim file", "file pre-created by someone else"])
def test_the_rescue_files_temp_name_cannot_be_guessed(stand_in, authorized, tmp_path, trap):
    """A file planted at the rescue file's temp name can neither be clobbered through nor read the new pair"""
    manager, _ = authorized
    victim = tmp_path / "victim"
    victim.write_text("precious")
    # The name a pid-based temp file would take; a random (mkstemp-like) name leaves it alone.
    guessed = manager.journal.path.with_suffix(f".{os.getpid()}.tmp")
    if trap.startswith("symlink"):
        guessed.symlink_to(victim)
        watcher = None
    else:
        guessed.write_text("")
        guessed.chmod(0o666)
        watcher = open(guessed)  # noqa: SIM115 (held open like a reader that got in first)
    try:
        result = manager.refresh(force=True)
        assert victim.read_text() == "precious"
        if watcher is not None:
            assert result.pair.refresh_token not in watcher.read()
    finally:
        if watcher is not None:
            watcher.close()


def test_the_rescue_file_is_encrypted_and_authenticated_with_the_fernet_key(stand_in, authorized, monkeypatch):
    """With a Fernet key the rescue file holds no token in clear, and a plain planted record is refused"""
    from cryptography.fernet import Fernet

    manager, store = authorized
    key = Fernet.generate_key().decode()
    monkeypatch.setattr(journal_module, "_key_source", lambda: [key])
    stored = manager.read()
    manager.journal.write(stored, None)
    raw = manager.journal.path.read_bytes()
    assert stored.refresh_token.encode() not in raw and stored.access_token.encode() not in raw
    assert manager.journal.read().pair.refresh_token == stored.refresh_token
    # A record that would chain to the stored pair, written without the key, is refused.
    record = {"version": 2, "name": fingerprint(manager.store.name), "replaces": fingerprint(stored.refresh_token)}
    record["pair"] = json.loads(foreign_pair(manager).to_json())
    manager.journal.path.write_text(json.dumps(record))
    assert manager.journal.read() is None
    manager.refresh(force=True)
    assert stored_json(store)["refresh_token"] != "planted-refresh"


def test_a_rescue_file_still_recovers_a_pair_that_follows_the_stored_one(stand_in, authorized):
    """A genuine rescue file (it replaced the stored refresh token) is stored without calling the endpoint"""
    manager, store = authorized
    stored = manager.read()
    rescued = foreign_pair(manager, obtained_at=stored.obtained_at.to_iso8601_string())
    manager.journal.write(rescued, fingerprint(stored.refresh_token))
    result = manager.refresh(force=True)
    assert result.reason == "stored a pair saved before a crash"
    assert stored_json(store)["refresh_token"] == "planted-refresh"
    assert stand_in.counters()["refresh_token_grants"] == 0


# -- item 2: one explicit, shared lock directory with refresh_on_demand ------------------------------


def _manager(url, lock_dir=None, **extra) -> TokenManager:
    settings = make_settings(url, **extra)
    grant = grant_for(settings, TokenEndpointClient(settings, retry=FAST_RETRY))
    return TokenManager(settings, grant, MemoryStore(), lock_dir=lock_dir)


def test_refresh_on_demand_without_an_explicit_lock_dir_is_refused(stand_in, no_lock_dir_setting):
    """refresh_on_demand with a refresh token and no lock_dir set anywhere is refused, naming the setting"""
    with pytest.raises(ConfigurationError) as caught:
        _manager(stand_in.url, refresh_on_demand=True)
    assert "[orangelogic] lock_dir" in str(caught.value) and "AIRFLOW__ORANGELOGIC__LOCK_DIR" in str(caught.value)


def test_refresh_on_demand_is_refused_by_the_hook_as_a_failed_task(stand_in, connection, no_lock_dir_setting):  # noqa: F811
    """The hook turns a missing shared lock_dir under refresh_on_demand into a non-retried configuration error"""
    from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicConfigurationError, OrangeLogicHook

    connection(extra={"redirect_uri": REDIRECT_URI, "refresh_on_demand": True})
    hook = OrangeLogicHook(CONN_ID, token_store=MemoryStore(), retry=FAST_RETRY)
    with pytest.raises(OrangeLogicConfigurationError, match=r"\[orangelogic\] lock_dir"):
        hook.refresh_tokens(force=True)
    assert stand_in.counters()["refresh_token_grants"] == 0


@pytest.mark.parametrize("how", ["ORANGELOGIC_LOCK_DIR", "AIRFLOW__ORANGELOGIC__LOCK_DIR", "the lock_dir argument"])
def test_refresh_on_demand_with_an_explicit_lock_dir_is_accepted_and_logged(
    stand_in, no_lock_dir_setting, monkeypatch, tmp_path, caplog, how
):
    """With the lock directory set explicitly, refresh_on_demand works and the directory in use is logged once"""
    locks = tmp_path / f"shared-{how.replace(' ', '-')}"
    if how == "the lock_dir argument":
        lock_dir = str(locks)
    else:
        monkeypatch.setenv(how, str(locks))
        lock_dir = None
    with caplog.at_level(logging.INFO, logger=locking.__name__):
        first = _manager(stand_in.url, lock_dir, refresh_on_demand=True)
        _manager(stand_in.url, lock_dir, refresh_on_demand=True)
    assert first.lock_dir == str(locks)
    announced = [r.getMessage() for r in caplog.records if str(locks) in r.getMessage() and r.levelno == logging.INFO]
    assert len(announced) == 1 and how in announced[0]


def test_client_credentials_renewing_on_demand_needs_no_lock_dir(stand_in, no_lock_dir_setting, monkeypatch, tmp_path):
    """Client credentials renew on demand without an explicit lock directory (a duplicate renewal spends nothing)"""
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    manager = _manager(stand_in.url, auth_mode="client_credentials", refresh_on_demand=True)
    assert manager.lock_dir == str(tmp_path / "airflow" / "orangelogic" / "locks")
    assert manager.access_token()


# -- item 3: the journal must not cost the grant -------------------------------------------------------


def test_a_failed_journal_write_after_the_answer_still_stores_the_pair(stand_in, authorized, monkeypatch, caplog):
    """A rescue-file write failing after the server answered (disk full) is logged as an error; the pair is stored"""
    manager, store = authorized
    before = manager.read()

    def disk_full(self, pair, replaces):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(RescueJournal, "write", disk_full)
    with caplog.at_level(logging.ERROR):
        result = manager.refresh(force=True)
    assert result.refreshed and stored_json(store)["refresh_token"] == result.pair.refresh_token
    assert result.pair.refresh_token != before.refresh_token
    assert any(r.levelno == logging.ERROR and "rescue file" in r.getMessage() for r in caplog.records)
    assert stand_in.counters()["grants_revoked"] == 0


def test_an_unwritable_journal_is_found_before_the_endpoint_is_called(stand_in, authorized, monkeypatch):
    """A lock directory where no rescue file can be created fails the refresh before any token is presented"""
    manager, store = authorized
    before = store.text

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    # Every new file in the lock directory fails, as on a full disk.
    monkeypatch.setattr(journal_module, "create_temp", disk_full, raising=False)
    with pytest.raises(TokenStoreUnavailable, match="not writable"):
        manager.refresh(force=True)
    assert stand_in.counters()["refresh_token_grants"] == 0
    assert store.text == before
