"""A rate limit shared by sending threads: `[smtp] rate_per_second` as evenly spaced slots.

Only spaces calls out in time (it sleeps); it knows nothing about messages or SMTP.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Pacer:
    """`wait()` returns at most `rate` times per second across all threads; rate 0 = no limit."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1 / rate if rate > 0 else 0.0
        self._clock, self._sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:  # claim the next free slot
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            self._sleep(slot - now)
