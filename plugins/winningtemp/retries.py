"""When the SCIM client waits and repeats: rate limits, retries, and which requests may be repeated.

:class:`RateLimitRetry` (urllib3's Retry for the session) reads ``Retry-After`` and
``X-RateLimit-Reset`` (ISO-8601, epoch or delta seconds), caps every wait at
``max_wait_seconds``, waits interruptibly (a stop request ends the wait), and repeats a
request after a reset or read timeout only when it is idempotent. :class:`RateLimitGate`
reads Winningtemp's documented ``X-RateLimit-Remaining`` from every answer and waits for
the window's reset before a request it has no room for.
"""

from __future__ import annotations

import logging
import threading
import time

import requests
from urllib3.util.retry import Retry

from hrsync import SinkError

from . import scim

log = logging.getLogger("hrsync.winningtemp")


#: Requests that may be repeated after a reset or read timeout: PATCH carries absolute values (replace).
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})


class RateLimitRetry(Retry):
    """Retry that also understands ``X-RateLimit-Reset`` (ISO-8601, epoch or delta), caps every wait, and
    repeats a request after a reset or read timeout only when it is idempotent: a POST that may have
    happened is never sent twice."""

    def __init__(self, *args, max_wait: float = 300.0, pause=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.max_wait = max_wait
        self.pause = pause  # RunContext.pause: a wait that ends when the run is asked to stop

    def new(self, **kw):
        kw.setdefault("max_wait", self.max_wait)
        kw.setdefault("pause", self.pause)
        return super().new(**kw)

    def sleep(self, response=None) -> None:
        seconds = (self.get_retry_after(response) if response is not None and self.respect_retry_after_header
                   else None)
        seconds = self.get_backoff_time() if seconds is None else seconds
        if self.pause is not None and seconds > 0 and not self.pause(seconds):
            raise SinkError("Stopped on request while waiting for Winningtemp to accept requests again.")
        if self.pause is None:
            super().sleep(response)

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        if error is not None and self._is_read_error(error) and (method or "").upper() not in IDEMPOTENT:
            raise error
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def get_retry_after(self, response) -> float | None:
        after = super().get_retry_after(response)
        if after is None:
            after = scim.reset_delay(response.headers.get("X-RateLimit-Reset"))
        return None if after is None else min(after, self.max_wait)


class RateLimitGate:
    """Winningtemp's documented rate-limit headers, read from every answer; waits before a request
    that the window has no room for. Thread-safe."""

    def __init__(self, max_wait: float, pause=None) -> None:
        self.max_wait = max_wait
        self.pause = pause
        self._lock = threading.Lock()
        self._resume_at = 0.0

    def observe(self, response: requests.Response) -> None:
        left = scim.remaining(response.headers.get("X-RateLimit-Remaining"))
        if left is None or left > 0:
            return
        delay = scim.reset_delay(response.headers.get("X-RateLimit-Reset"))
        if delay:
            with self._lock:
                self._resume_at = max(self._resume_at, time.monotonic() + delay)

    def wait(self, connection: str) -> None:
        with self._lock:
            delay = self._resume_at - time.monotonic()
        if delay <= 0:
            return
        if delay > self.max_wait:
            raise SinkError(f"Winningtemp's rate limit resets in {delay:.0f} s, longer than the sink setting "
                            f"max_wait_seconds ({self.max_wait:g} s); the run stops and the rest is synced next "
                            "time.", connection=connection)
        log.info("Winningtemp's rate-limit window is used up; waiting %.1f s for it to reset", delay)
        if self.pause is None:
            time.sleep(delay)
        elif not self.pause(delay):
            raise SinkError("Stopped on request while waiting for Winningtemp's rate-limit window.",
                            connection=connection)
