"""When the SCIM client waits and repeats: rate limits, retries, and which requests may be repeated.

:class:`RateLimitRetry` (urllib3's Retry for the session) reads ``Retry-After`` and
``X-RateLimit-Reset`` (ISO-8601, epoch or delta seconds), caps every wait at
``max_wait_seconds``, waits interruptibly (a stop request ends the wait), and repeats a
request after a reset or read timeout only when it is idempotent, and keeps one request, its attempts'
waits for an answer included, within ``max_retry_seconds``. :class:`RateLimitGate`
reads Winningtemp's documented ``X-RateLimit-Remaining`` from every answer and waits for
the window's reset before a request it has no room for. With writes in flight, one 429
holds every request of the run back for its wait (:meth:`RateLimitGate.hold`) and tells
the run to halve its writes in flight (``RunContext.throttled``).
"""

from __future__ import annotations

import logging
import threading
import time

import requests
from urllib3.exceptions import InvalidHeader
from urllib3.util.retry import Retry

from hrsync import RequestClock, SinkError

from . import scim

log = logging.getLogger("hrsync.winningtemp")


#: Requests that may be repeated after a reset or read timeout: PATCH carries absolute values (replace).
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})


class RateLimitRetry(Retry):
    """Retry that also understands ``X-RateLimit-Reset`` (ISO-8601, epoch or delta), caps every wait, and
    repeats a request after a reset or read timeout only when it is idempotent: a POST that may have
    happened is never sent twice."""

    def __init__(self, *args, max_wait: float = 300.0, pause=None, on_throttle=None,
                 deadline: float | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.max_wait, self.deadline = max_wait, deadline
        self.pause = pause  # RunContext.pause: a wait that ends when the run is asked to stop
        self.on_throttle = on_throttle  # called with the wait before a 429/503 is retried

    def new(self, **kw):
        kw.setdefault("max_wait", self.max_wait)
        kw.setdefault("deadline", self.deadline)
        kw.setdefault("pause", self.pause)
        kw.setdefault("on_throttle", self.on_throttle)
        return super().new(**kw)

    def sleep(self, response=None) -> None:
        seconds = (self.get_retry_after(response) if response is not None and self.respect_retry_after_header
                   else None)
        seconds = self.get_backoff_time() if seconds is None else seconds
        if self.on_throttle is not None and response is not None and response.status in (429, 503):
            self.on_throttle(seconds)
        if self.pause is not None and seconds > 0 and not self.pause(seconds):
            raise SinkError("Stopped on request while waiting for Winningtemp to accept requests again.")
        if self.pause is None:
            super().sleep(response)

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        if error is not None and self._is_read_error(error) and (method or "").upper() not in IDEMPOTENT:
            raise error
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        return RequestClock.within(self.deadline, new, _pool, url, error)

    def parse_retry_after(self, retry_after: str) -> float:
        # urllib3 accepts whole seconds or an HTTP date and raises on anything else, which would stop the
        # run over a header; a fractional delay or an ISO time is read as X-RateLimit-Reset is.
        try:
            return super().parse_retry_after(retry_after)
        except InvalidHeader:
            delay = scim.reset_delay(retry_after)
            return self.get_backoff_time() if delay is None else delay

    def get_retry_after(self, response) -> float | None:
        after = super().get_retry_after(response)
        if after is None:
            after = scim.reset_delay(response.headers.get("X-RateLimit-Reset"))
        return None if after is None else min(after, self.max_wait)


class RateLimitGate:
    """Winningtemp's documented rate-limit headers, read from every answer; waits before a request
    that the window has no room for. Thread-safe: with writes in flight, the requests still out
    count against the window too, so the threads together never spend more than it has left."""

    def __init__(self, max_wait: float, pause=None) -> None:
        self.max_wait = max_wait
        self.pause = pause
        self._lock = threading.Lock()
        self._resume_at = 0.0  # no request before this (a Retry-After)
        self._left: int | None = None  # requests the current window still allows, as far as we know
        self._reset_at = 0.0
        self._out = 0  # requests sent and not answered yet

    def observe(self, response: requests.Response | None) -> None:
        """Called once per request sent, with its answer (None when it got none)."""
        headers = response.headers if response is not None else {}
        left = scim.remaining(headers.get("X-RateLimit-Remaining"))
        delay = scim.reset_delay(headers.get("X-RateLimit-Reset"))
        with self._lock:
            self._out = max(0, self._out - 1)
            if left is None or not delay:
                return  # no window announced, or the answer of a window already over
            # Requests still out may not be counted in `left` yet: count them as spent. Answers of one
            # window can arrive out of order: the lowest count it announced is the one that holds.
            estimate, reset_at = left - self._out, time.monotonic() + delay
            # One window: the same reset instant (however it is written: a timestamp, or seconds counting down).
            if self._left is not None and abs(reset_at - self._reset_at) < 0.5:
                self._left = min(self._left, estimate)
            else:
                self._left, self._reset_at = estimate, reset_at

    def hold(self, seconds: float) -> None:
        """Make every request wait ``seconds`` from now (a 429's Retry-After holds the whole run back)."""
        with self._lock:
            self._resume_at = max(self._resume_at, time.monotonic() + seconds)

    def _take(self) -> float:
        """Count one request against the window and return 0, or return how long to wait first."""
        with self._lock:
            now = time.monotonic()
            if self._left is not None and now >= self._reset_at:
                self._left = None  # a new window: its first answer says what it allows
            delay = self._resume_at - now
            if self._left is not None and self._left <= 0:
                delay = max(delay, self._reset_at - now)
            if delay <= 0:
                self._left = None if self._left is None else self._left - 1
                self._out += 1
            return delay

    def wait(self, connection: str) -> None:
        """Wait until the window has room for one more request, and count it."""
        while (delay := self._take()) > 0:
            if delay > self.max_wait:
                raise SinkError(f"Winningtemp asked to wait {delay:.0f} s, longer than the sink setting "
                                f"max_wait_seconds ({self.max_wait:g} s); the run stops and the rest is synced "
                                "next time.", connection=connection)
            log.info("Winningtemp asked to slow down (rate limit); waiting %.1f s", delay)
            if self.pause is None:
                time.sleep(delay)
            elif not self.pause(delay):
                raise SinkError("Stopped on request while waiting for Winningtemp's rate limit.",
                                connection=connection)
