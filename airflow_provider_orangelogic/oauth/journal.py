"""A host-local write-ahead copy of a new pair, kept only between the token endpoint's answer and the store write.

Once the server has answered a refresh, the old refresh token is spent: if the process dies before the
Variable write, the new pair would be lost and the grant with it. Writing the answer to a local file first
(fsync'd, mode 0600) shrinks that window to the file write; the next refresh on this host finds the file,
sees that it replaces the stored refresh token, and stores it instead of presenting a spent token.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from airflow_provider_orangelogic.oauth.tokens import TokenPair


def fingerprint(token: str) -> str:
    """A one-way name for a token, safe to write next to the pair it was replaced by."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class PendingPair:
    pair: TokenPair
    replaces: str | None  # fingerprint of the refresh token this pair replaced; None for a code exchange

    def supersedes(self, stored: TokenPair | None) -> bool:
        """True if the stored pair is the one this pending pair replaced (or nothing is stored yet)."""
        if stored is None:
            return True
        if self.replaces is not None:
            return self.replaces == fingerprint(stored.refresh_token)
        return self.pair.obtained_at > stored.obtained_at


class RescueJournal:
    def __init__(self, directory: str, name: str) -> None:
        self.path = Path(directory) / (hashlib.sha256(name.encode()).hexdigest()[:32] + ".pending.json")

    def write(self, pair: TokenPair, replaces: str | None) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        record = json.dumps({"replaces": replaces, "pair": json.loads(pair.to_json())})
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, record.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)

    def read(self) -> PendingPair | None:
        try:
            record = json.loads(self.path.read_text())
            return PendingPair(TokenPair.from_json(record["pair"], source=str(self.path)), record["replaces"])
        except FileNotFoundError:
            return None
        except Exception:
            # A torn or foreign file cannot be trusted; the stored pair stays authoritative.
            self.clear()
            return None

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
