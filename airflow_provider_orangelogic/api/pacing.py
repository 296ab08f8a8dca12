"""The pace of a concurrent search: how many pages it keeps in flight, lowered on 429/503 and raised again.

Kept apart from the paging in ``api/search.py``, which makes one :class:`RateController` per concurrent
search and reports each page fetched and each throttled answer to it; the controller only decides, it
sends nothing. Standard library only, like the rest of ``api/``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class RateController:
    """How many pages a concurrent search may hold: additive increase, multiplicative decrease.

    The window starts at 1, so the first page goes alone (it may be the only one, and it warms the
    session and token up before threads share them). Each page fetched without trouble adds one
    (slow start) until the first 429/503; from then on it adds one per window's worth of pages. A
    429/503 halves it, once per round (answers to requests sent before the last decrease do not count
    again), and every one of them sets a ceiling at the number of requests the server was still
    accepting (those out, less those refused): its limit as seen from here. The ceiling rises by one
    after ``probe_after`` quiet pages, and each later decrease doubles that wait, so once settled,
    throttled answers become rare. A Retry-After pauses every new request until it has passed.
    """

    def __init__(self, maximum: int, *, probe_after: int = 64, clock: Callable[[], float] = time.monotonic) -> None:
        self.maximum = maximum
        self.probe_after = probe_after
        self._clock = clock
        self._lock = threading.Lock()
        self._window = 1.0
        self._ceiling = maximum
        self._slow_start = True
        self._quiet = 0  # pages since the window reached the ceiling
        self._resume_at = 0.0
        self.epoch = 0  # counts decreases; a request remembers the epoch it was sent in
        self.decreases = 0

    @property
    def window(self) -> int:
        return int(self._window)

    @property
    def ceiling(self) -> int:
        return self._ceiling

    def succeeded(self) -> None:
        with self._lock:
            if self._window < self._ceiling:
                step = 1.0 if self._slow_start else 1.0 / self._window
                self._window = min(float(self._ceiling), self._window + step)
                return
            self._quiet += 1
            if self._ceiling < self.maximum and self._quiet >= self.probe_after:
                self._ceiling += 1  # probe: perhaps the server accepts more now
                self._quiet = 0

    def throttled(self, sent_in_epoch: int, accepted: int, retry_after: float | None = None) -> None:
        """A request sent in round ``sent_in_epoch`` got a 429/503 while ``accepted`` others were being served."""
        with self._lock:
            if retry_after:
                self._resume_at = max(self._resume_at, self._clock() + retry_after)
            self._ceiling = max(1, min(self._ceiling, accepted))
            if sent_in_epoch != self.epoch:  # the last decrease already answered this round
                self._window = max(1.0, min(self._window, float(self._ceiling)))
                return
            self.epoch += 1
            self.decreases += 1
            if not self._slow_start:
                self.probe_after *= 2
            self._slow_start = False
            self._window = max(1.0, min(self._window / 2, float(self._ceiling)))
            self._quiet = 0
            window, ceiling = self.window, self._ceiling
        log.info(
            "The search was throttled with %d other request(s) being served: down to %d page(s) at once, "
            "rising to %d at most.",
            accepted,
            window,
            ceiling,
        )

    def pause(self) -> float:
        """Seconds until the server's last Retry-After has passed (0 when it has)."""
        with self._lock:
            return max(0.0, self._resume_at - self._clock())
