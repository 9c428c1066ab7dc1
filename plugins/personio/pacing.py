"""Pacing requests to Personio's documented limits, so a big company is read without a single 429.

Personio allows employee requests in bursts of 15 per second and 300 per minute (its 429 carries
no Retry-After). :class:`Pacer` keeps the times of recent requests and, before each one, waits
until both windows have room: small companies are read at burst speed, large ones at the
sustained rate. The clock and the sleep are injectable for tests.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class Pacer:
    """At most ``per_second`` requests in any second and ``per_minute`` in any minute (0: no limit)."""

    def __init__(self, per_second: float, per_minute: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.per_second, self.per_minute = per_second, per_minute
        self.clock, self.sleep = clock, sleep
        self.sent: deque[float] = deque()

    def _wait_needed(self, now: float) -> float:
        while self.sent and now - self.sent[0] >= 60:
            self.sent.popleft()
        waits = [0.0]
        if self.per_minute and len(self.sent) >= self.per_minute:
            waits.append(self.sent[-int(self.per_minute)] + 60 - now)
        if self.per_second:
            recent = [t for t in self.sent if now - t < 1]
            if len(recent) >= self.per_second:
                waits.append(recent[-int(self.per_second)] + 1 - now)
        return max(waits)

    def pace(self) -> None:
        """Wait until one more request fits both windows, then count it."""
        while (wait := self._wait_needed(self.clock())) > 0:
            self.sleep(wait)
        self.sent.append(self.clock())
