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
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from airflow_provider_orangelogic.core.retry import RetryEvent

log = logging.getLogger(__name__)
# Answers that mean "slow down": they lower the concurrency as well as being retried.
THROTTLE_STATUS = frozenset({429, 503})
T = TypeVar("T")


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
            "Throttled (429/503) with %d other request(s) being served: down to %d request(s) at once, "
            "rising to %d at most.",
            accepted,
            window,
            ceiling,
        )

    def pause(self) -> float:
        """Seconds until the server's last Retry-After has passed (0 when it has)."""
        with self._lock:
            return max(0.0, self._resume_at - self._clock())


class Cancelled(Exception):
    """Raised before a paced call is sent, or in its retry loop, once the work it belongs to has stopped."""


class PacedCalls:
    """Requests sent from worker threads under one :class:`RateController`: uploads' chunks, metadata rows,
    exported files.

    :meth:`send` waits out the server's last Retry-After, tells the controller of every 429/503 it retries
    (with how many other requests the server was still serving then) and of each quiet answer, and counts.
    The caller keeps at most :attr:`window` calls in flight. Setting :attr:`stop` makes calls not yet sent,
    and calls waiting to retry, raise :class:`Cancelled`. (Search pages keep their own variant in
    ``api/search.py``, which also tracks the end of the results.)
    """

    def __init__(self, maximum: int) -> None:
        self.controller = RateController(maximum)
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._in_flight = 0
        self._retrying = 0  # of the calls in flight, those refused at least once: not being served
        self.requests = 0
        self.throttled = 0
        self.peak_in_flight = 0

    @property
    def window(self) -> int:
        return self.controller.window

    def send(self, call: Callable[[Callable[[RetryEvent], None]], T]) -> T:
        """``call(on_retry)``, where ``call`` passes ``on_retry`` to the retry loop (``send_with_retries``)."""
        while (pause := self.controller.pause()) > 0 and not self.stop.is_set():
            self.stop.wait(pause)
        if self.stop.is_set():
            raise Cancelled
        with self._lock:
            self._in_flight += 1
            self.requests += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        epoch, refused = self.controller.epoch, False

        def on_retry(event: RetryEvent) -> None:
            nonlocal epoch, refused
            if event.status_code in THROTTLE_STATUS:
                with self._lock:
                    self.throttled += 1
                    self._retrying += not refused
                    refused = True
                    accepted = self._in_flight - self._retrying
                self.controller.throttled(epoch, accepted, event.retry_after)
            if self.stop.is_set():
                raise Cancelled
            epoch = self.controller.epoch  # the next attempt goes out in the current round

        try:
            answer = call(on_retry)
        finally:
            with self._lock:
                self._in_flight -= 1
                self._retrying -= refused
        status: Any = getattr(answer, "status_code", None)
        if status not in THROTTLE_STATUS:
            self.controller.succeeded()  # a quiet answer: the window may grow
        return answer
