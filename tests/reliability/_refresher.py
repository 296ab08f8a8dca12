"""A refresher process for the crash-window tests: ``python -m tests.reliability._refresher URL STORE LOCKS MODE``.

MODE picks where it can be killed: ``plain`` (a normal refresh), ``slow_save`` (pauses after the
server answered, before the store write), ``torn_save`` (pauses in the middle of the store write).
It touches ``STORE.saving`` when it reaches the pause, so the test knows when to kill it.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from tests.conftest import FileStore, make_manager


class PausingFileStore(FileStore):
    def __init__(self, path: str, mode: str) -> None:
        super().__init__(path)
        self.mode = mode

    def save(self, pair) -> None:
        marker = self.path.with_suffix(".saving")
        if self.mode == "slow_save":
            marker.touch()
            time.sleep(30)
        if self.mode == "torn_save":
            tmp = self.path.with_suffix(".partial")
            tmp.write_text(pair.to_json()[:50])  # half a record, as a dying writer would leave
            marker.touch()
            time.sleep(30)
        super().save(pair)


def main() -> None:
    url, store_path, lock_dir, mode = sys.argv[1:5]
    manager = make_manager(url, PausingFileStore(store_path, mode), Path(lock_dir).parent)
    manager.lock_dir = lock_dir
    manager.journal.path = Path(lock_dir) / manager.journal.path.name
    print("STARTED", os.getpid(), flush=True)
    manager.refresh(force=True)
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
