"""Where a connection's token pair lives: the ``TokenStore`` extension point and two plain stores.

The provider's default is ``VariableTokenStore`` (an Airflow Variable, in
``airflow_provider_orangelogic.hooks.variable_store``). Pass another to
``OrangeLogicHook(..., token_store=...)`` to keep the pair elsewhere, e.g. a secrets manager, or
the ``FileTokenStore`` below for scripts run outside Airflow.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Protocol

from airflow_provider_orangelogic.core.errors import TokenStoreError
from airflow_provider_orangelogic.oauth.tokens import TokenPair


class TokenStore(Protocol):
    """The contract a token store keeps with the refresh protocol (docs/token-lifecycle.md).

    ``name`` keys the host-wide refresh lock and the rescue journal: every process that stores the
    same pair must use the same name, and different pairs different names, or one refresh token
    could be presented twice. ``description`` names the store in messages ("Airflow Variable 'x'").
    """

    name: str
    description: str

    def load(self) -> TokenPair | None:
        """The stored pair read afresh (no cache), or None when nothing is stored yet."""

    def save(self, pair: TokenPair) -> None:
        """Store ``pair`` so that the next ``load`` on any host returns it; raise TokenStoreError if not.

        Return only once the pair was read back, past any cache, as written: a write that did not take
        effect must never pass for a stored pair (the caller then keeps its rescue copy). A store whose
        ``save`` does that sets ``verifies_writes = True``; otherwise the manager reloads it after a save.
        """

    def check_writable(self) -> None:
        """Raise TokenStoreError if a pair written now could not be read back (called before a refresh)."""


class MemoryTokenStore:
    """The pair in memory, shared by the threads of one process."""

    def __init__(self, name: str = "memory") -> None:
        self.name = name
        self.description = f"memory store {name!r}"
        self.text: str | None = None
        self.writes = 0
        self._lock = threading.Lock()

    def load(self) -> TokenPair | None:
        with self._lock:
            text = self.text
        return None if text is None else TokenPair.from_json(text, source=self.description)

    def save(self, pair: TokenPair) -> None:
        with self._lock:
            self.text = pair.to_json()
            self.writes += 1

    def check_writable(self) -> None:
        return None


class FileTokenStore:
    verifies_writes = True  # save() reads the file back; the manager need not read it again

    """The pair in a file (mode 0600) shared by the processes of one host, for scripts outside Airflow.

    Each write is an atomic replace, like a DB row update, so a reader sees the old pair or the new one.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).resolve()
        # The resolved path: every process naming this file shares one lock, whatever its working dir.
        self.name = f"file-{self.path}"
        self.description = f"file {self.path}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    def load(self) -> TokenPair | None:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return None
        return TokenPair.from_json(text, source=self.description)

    def save(self, pair: TokenPair) -> None:
        tmp = self.path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(pair.to_json())
        os.replace(tmp, self.path)
        try:
            read = self.path.read_text()
        except OSError as err:
            raise TokenStoreError(
                f"Wrote the new token pair to {self.description} but could not read it back ({type(err).__name__})."
            ) from None
        if read != pair.to_json():
            raise TokenStoreError(
                f"Wrote the new token pair to {self.description}, but reading it back returned something else: the "
                "write did not take effect (another process replaced the file at the same moment?)."
            )

    def check_writable(self) -> None:
        if not os.access(self.path.parent, os.W_OK):
            raise TokenStoreError(f"Cannot write {self.description}: its directory is not writable.")
