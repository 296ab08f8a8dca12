"""A host-local write-ahead copy of a new pair, kept only between the token endpoint's answer and the store write.

Once the server has answered a refresh, the old refresh token is spent: if the process dies before the
Variable write, the new pair would be lost and the grant with it. Writing the answer to a local file first
(fsync'd, mode 0600, in the private lock directory) shrinks that window to the file write; the next refresh on
this host finds the file, checks that it replaces the stored refresh token, and stores it instead of presenting
a spent token.

What a rescue file can do is narrow, because whoever can write it could otherwise swap the grant:

- it lives in the lock directory, which ``locking.private_dir`` checks on every use (ours, mode 0700, no link);
- it is read with O_NOFOLLOW and O_NONBLOCK, only if it is a regular file of ours under ``MAX_RECORD_BYTES``;
- with a Fernet key (Airflow's ``[core] fernet_key``, plugged in by the Airflow layer) the record is encrypted
  and authenticated with it, and an unauthenticated file is ignored;
- a pending pair is stored only if it provably follows the stored one: it names the fingerprint of the stored
  refresh token it replaced, or nothing is stored and it replaced nothing. A newer timestamp proves nothing.

Writing it is best effort once the server has answered: a failure is logged and the pair is still stored.

The steps of the refresh protocol that touch the journal (check it is writable before spending anything, write
it, read the store back after a save, recover a pending pair) are the functions at the end of this module, kept
here rather than in ``oauth/manager.py`` so that the manager reads as the protocol; it calls them in order.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_provider_orangelogic.core.errors import ConfigurationError, TokenStoreError, TokenStoreUnavailable
from airflow_provider_orangelogic.oauth.locking import LOCK_DIR_SETTING, create_temp, private_dir
from airflow_provider_orangelogic.oauth.stores import TokenStore
from airflow_provider_orangelogic.oauth.tokens import TokenPair

log = logging.getLogger(__name__)

# A pair is well under 8 KiB; anything larger is not ours.
MAX_RECORD_BYTES = 64 * 1024
RECORD_VERSION = 2
_SEALED = b"fernet:"

# Where the journal's keys come from: the Airflow layer plugs in [core] fernet_key (first key seals, all open).
_key_source: Callable[[], Sequence[str]] | None = None


def set_journal_keys(source: Callable[[], Sequence[str]] | None) -> None:
    """Let the Airflow layer supply the Fernet keys that encrypt and authenticate rescue files."""
    global _key_source
    _key_source = source


def _fernet():  # -> MultiFernet | None
    """The journal's sealer: Airflow's Fernet key(s) when set, valid and ``cryptography`` is there; else None."""
    if _key_source is None:
        return None
    try:
        keys = [key for key in _key_source() if key]
    except Exception:  # an unreadable config must not break a refresh
        return None
    if not keys:
        return None
    try:
        from cryptography.fernet import Fernet, MultiFernet

        return MultiFernet([Fernet(key.encode()) for key in keys])
    except Exception:  # no cryptography, or not a Fernet key (Airflow itself refuses such a key when it uses it)
        return None


def fingerprint(token: str) -> str:
    """A one-way name for a token, safe to write next to the pair it was replaced by."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class PendingPair:
    pair: TokenPair
    # fingerprint of the refresh token of the stored pair this pair replaced; None if nothing was stored
    replaces: str | None

    def supersedes(self, stored: TokenPair | None) -> bool:
        """True only if this pair provably follows the stored one: it replaced exactly the stored refresh token,
        or it replaced nothing and nothing is stored. Never on a newer timestamp alone."""
        if self.replaces is None:
            return stored is None
        return stored is not None and bool(stored.refresh_token) and self.replaces == fingerprint(stored.refresh_token)


class RescueJournal:
    def __init__(self, directory: str, name: str) -> None:
        self.name = name
        self.path = Path(directory) / (hashlib.sha256(name.encode()).hexdigest()[:32] + ".pending.json")

    @property
    def directory(self) -> str:
        return str(self.path.parent)

    # -- writing --------------------------------------------------------------------------------

    def check_writable(self) -> None:
        """Raise OSError (or ConfigurationError for an unsafe directory) unless a rescue file can be written now."""
        with private_dir(self.directory) as dir_fd:
            fd, tmp = create_temp(dir_fd, self.path.name)
            try:
                os.write(fd, b"probe")
                os.fsync(fd)
            finally:
                os.close(fd)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp, dir_fd=dir_fd)

    def write(self, pair: TokenPair, replaces: str | None) -> None:
        record = json.dumps(
            {
                "version": RECORD_VERSION,
                "name": fingerprint(self.name),
                "replaces": replaces,
                "pair": json.loads(pair.to_json()),
            }
        ).encode()
        data = self._seal(record)
        with private_dir(self.directory) as dir_fd:
            fd, tmp = create_temp(dir_fd, self.path.name)
            try:
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.replace(tmp, self.path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=dir_fd)
                raise
            with contextlib.suppress(OSError):
                os.fsync(dir_fd)  # the rename itself survives a crash

    def _seal(self, record: bytes) -> bytes:
        fernet = _fernet()
        return _SEALED + fernet.encrypt(record) if fernet is not None else record

    # -- reading --------------------------------------------------------------------------------

    def read(self) -> PendingPair | None:
        """The pending pair, or None if there is none or the file cannot be trusted (then it is removed)."""
        with private_dir(self.directory) as dir_fd:
            try:
                fd = os.open(self.path.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
            except FileNotFoundError:
                return None
            except OSError as err:  # a symlink (ELOOP) or something we may not open
                return self._distrust(f"it cannot be opened safely ({err.strerror})")
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    return self._distrust("it is not a regular file")
                if st.st_uid != os.geteuid():
                    return self._distrust(f"it is owned by uid {st.st_uid}")
                if st.st_size > MAX_RECORD_BYTES:
                    return self._distrust(f"it is larger than {MAX_RECORD_BYTES} bytes")
                data = os.read(fd, MAX_RECORD_BYTES + 1)
            finally:
                os.close(fd)
        try:
            record = json.loads(self._open(data))
            if record.get("version") != RECORD_VERSION or record.get("name") != fingerprint(self.name):
                raise ValueError("a record of another version or for another grant")
            replaces = record["replaces"]
            if replaces is not None and not isinstance(replaces, str):
                raise ValueError("replaces is not a fingerprint")
            return PendingPair(TokenPair.from_json(record["pair"], source=str(self.path)), replaces)
        except Exception as err:
            # A torn, foreign or forged file cannot be trusted; the stored pair stays authoritative.
            return self._distrust(str(err) or type(err).__name__)

    def _open(self, data: bytes) -> bytes:
        fernet = _fernet()
        if not data.startswith(_SEALED):
            if fernet is not None:
                raise ValueError("it is not encrypted with the Fernet key, so it may not be ours")
            return data
        if fernet is None:
            raise ValueError("it is encrypted, and no Fernet key is configured to open it")
        return fernet.decrypt(data[len(_SEALED) :])  # InvalidToken if forged or under another key

    def _distrust(self, why: str) -> None:
        log.warning("Ignoring and removing the rescue file %s: %s.", self.path, why)
        with contextlib.suppress(OSError):
            self.clear()
        return None

    def clear(self) -> None:
        with private_dir(self.directory) as dir_fd, contextlib.suppress(FileNotFoundError):
            os.unlink(self.path.name, dir_fd=dir_fd)


# -- the journal in the refresh protocol ---------------------------------------------------------------
# TokenManager (oauth/manager.py) calls these at fixed points, always under the refresh lock: recover_pending
# first (refresh only), check_journal_writable before the token endpoint is called, then, once it has answered,
# write_journal, store.save and verify_stored (TokenManager._save, which also clears the journal).


def write_journal(journal: RescueJournal, pair: TokenPair, replaces: str | None, store: TokenStore) -> str | None:
    """Best effort once the server has answered: a failure is logged loudly and the pair is stored anyway.

    Returns what went wrong (None when the file was written), for the message if the store write fails too.
    """
    try:
        journal.write(pair, replaces)
    except (OSError, ConfigurationError) as err:
        why = f"{type(err).__name__}: {err}"
        log.error(
            "Could not write the rescue file %s after the token endpoint issued a new pair (%s). Storing the "
            "pair in %s without a rescue copy: if that write fails too, the pair is lost. Check the space and "
            "permissions of the lock directory (%s).",
            journal.path,
            why,
            store.description,
            LOCK_DIR_SETTING,
        )
        return why
    return None


def check_journal_writable(journal: RescueJournal) -> None:
    """Before spending a refresh token or a code: the rescue file must be writable now."""
    try:
        journal.check_writable()
    except OSError as err:
        raise TokenStoreUnavailable(
            f"The rescue file's directory {journal.directory} is not writable ({err.strerror or err}); the "
            "token endpoint was not called, so nothing was spent. Free space there or fix its permissions, or "
            f"choose another directory with {LOCK_DIR_SETTING}."
        ) from None


def stored_fingerprint(store: TokenStore, store_calls: contextlib.AbstractContextManager[Any]) -> str | None:
    """The fingerprint of the stored refresh token a code exchange replaces (None if nothing usable is stored)."""
    try:
        with store_calls:
            stored = store.load()
    except TokenStoreError:
        return None  # a corrupt record: the exchange replaces it, and a rescue of it proves nothing
    return fingerprint(stored.refresh_token) if stored is not None and stored.refresh_token else None


def verify_stored(store: TokenStore, pair: TokenPair) -> None:
    """Read the store afresh after a save: a write that did not take effect must not pass for success.

    Skipped for a store that reads its own writes back past its caches (``verifies_writes``): one read
    back per refresh is enough.
    """
    if getattr(store, "verifies_writes", False):
        return
    stored = store.load()
    if stored is None or not stored.same_tokens(pair):
        raise TokenStoreError(
            f"{store.description} did not return the new token pair right after it was saved (it returned "
            f"{'nothing' if stored is None else 'another pair'}), so the write cannot be reported as done."
        )


def recover_pending(
    journal: RescueJournal,
    store: TokenStore,
    store_calls: contextlib.AbstractContextManager[Any],
    host: str,
    save: Callable[[TokenPair, str | None], None],
) -> TokenPair | None:
    """Store a pair that a crashed or failed refresh on this host received but could not store.

    ``host`` is the connection's base URL; ``save`` is the manager's own save (journal, store, verify).
    """
    pending = journal.read()
    if pending is None:
        return None
    with store_calls:
        stored = store.load()
    if pending.pair.host != host or not pending.supersedes(stored):
        journal.clear()  # stale: the store already moved on
        return None
    log.warning("Storing a token pair that a previous refresh on this host received but could not store.")
    save(pending.pair, pending.replaces)
    return pending.pair
