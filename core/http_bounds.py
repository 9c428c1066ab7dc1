"""Bounds on one HTTP request: a whole-request deadline, a cap on the answer's size, an end on request.

requests' timeouts bound each read of the socket, not the request: a server trickling a byte a
second never trips a 60 s read timeout, and an endless body fills memory. :func:`bounded_request`
sends without following redirects (a redirect would carry credentials or people's data to wherever
it points), reads the answer in chunks and counts them (:class:`ResponseTooLarge` past
``max_bytes``), and watches the request: past ``deadline`` seconds since its attempt was sent, or
``STOP_GRACE`` seconds after the run was asked to stop, a watchdog thread shuts its socket, which
ends a read blocked in another thread at once (:class:`RequestAborted`). The connection of each
attempt is known through :class:`BoundedAdapter`'s connection classes, which note it as they send.
Each request's :class:`RequestClock` counts its attempts and the time they took, waits between them
included: a retry policy reads it (:meth:`RequestClock.current`) to keep one request, all its attempts
together, within a limit, and a client reads it to say how many attempts failed in how long.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from .errors import HrsyncError

#: Seconds a request in flight may still finish after the run was asked to stop (a write then counts).
STOP_GRACE = 5.0
#: How often the watchdog looks at the requests in flight.
TICK = 0.1
CHUNK = 65536


class RequestAborted(HrsyncError):
    """The watchdog cut a request: ``reason`` is ``deadline`` or ``stopped``."""

    def __init__(self, reason: str, seconds: float) -> None:
        super().__init__(f"request {reason} after {seconds:g} s", reason=reason)
        self.reason, self.seconds = reason, seconds


class ResponseTooLarge(HrsyncError):
    """An answer longer than ``limit`` bytes (counted as read, after decompression)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"answer larger than {limit} bytes", limit=limit)
        self.limit = limit


class RequestClock:
    """One request, its retries included: when it began, how many attempts were sent, when the last one was."""

    def __init__(self) -> None:
        self.began = time.monotonic()
        self.attempts = 0
        self.attempt_began = self.began

    def spent(self) -> float:
        """Seconds since the request began: attempts, waits for answers and back-offs alike."""
        return time.monotonic() - self.began

    def last_attempt(self) -> float:
        """Seconds the latest attempt has taken so far."""
        return time.monotonic() - self.attempt_began

    @staticmethod
    def current() -> RequestClock | None:
        """The clock of the bounded request this thread is sending (for a retry policy), if any."""
        watch = getattr(_ACTIVE, "watch", None)
        return watch.clock if watch is not None else None

    @staticmethod
    def within(deadline: float | None, retry: Retry, pool: Any, url: str | None, error: Exception | None) -> Retry:
        """``retry`` (a retry policy's next state, from ``Retry.increment``), unless the retry it allows could not
        end within ``deadline`` seconds of the request's start, judging by the attempt that just failed: then
        give up as urllib3 does when out of tries, with the last failure's cause (a status answer is returned
        as it is when ``raise_on_status`` is off)."""
        clock = RequestClock.current()
        if deadline is not None and clock is not None and (
                clock.spent() + retry.get_backoff_time() + clock.last_attempt() > deadline):
            raise MaxRetryError(pool, url, error or ResponseError(f"retries would exceed {deadline:g} s"))
        return retry


class _Watch:
    """One request in flight: when its current attempt was sent, on which connection, and whether it was cut."""

    def __init__(self, deadline: float, stopping: Callable[[], bool], clock: RequestClock) -> None:
        self.deadline, self.stopping, self.clock = deadline, stopping, clock
        self.sent: float | None = None
        self.stop_seen: float | None = None
        self.connection: HTTPConnection | None = None
        self.cut: RequestAborted | None = None

    def look(self, now: float) -> None:
        if self.cut is not None:
            return
        if self.stop_seen is None and self.stopping():
            self.stop_seen = now
        if self.stop_seen is not None and now - self.stop_seen >= STOP_GRACE:
            self.cut = RequestAborted("stopped", STOP_GRACE)
        elif self.sent is not None and now - self.sent >= self.deadline:
            self.cut = RequestAborted("deadline", self.deadline)
        if self.cut is not None and self.connection is not None and self.connection.sock is not None:
            try:  # wakes the thread blocked reading it; the connection is not reused (urllib3 sees it dropped)
                self.connection.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


_ACTIVE = threading.local()  # the watch of the request this thread is sending, if any
_WATCHES: set[_Watch] = set()
_LOCK = threading.Lock()
_WATCHDOG: list[threading.Thread] = []


def _watchdog() -> None:
    while True:
        time.sleep(TICK)
        with _LOCK:
            watches = list(_WATCHES)
        now = time.monotonic()
        for watch in watches:
            watch.look(now)


def _start_watchdog() -> None:
    with _LOCK:
        if not _WATCHDOG:
            thread = threading.Thread(target=_watchdog, name="hrsync-http-watchdog", daemon=True)
            thread.start()
            _WATCHDOG.append(thread)


class _Noting:
    """Notes each attempt's connection and start on the sending thread's watch; refuses one already cut
    (urllib3 retries a read error, which is what a cut looks like to it). An attempt counts once on the
    request's clock: at ``connect`` when the pool connects before sending (HTTPS), else at ``request``."""

    _counted = False  # this attempt was counted when it connected
    _sending = False

    def _count(self) -> None:
        watch = getattr(_ACTIVE, "watch", None)
        if watch is not None:
            if watch.cut is not None:
                raise watch.cut
            watch.clock.attempts += 1
            watch.clock.attempt_began = time.monotonic()

    def connect(self) -> None:
        if not self._sending:
            self._count()
            self._counted = True
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> Any:
        if not self._counted:
            self._count()
        self._counted = False
        watch = getattr(_ACTIVE, "watch", None)
        if watch is not None:
            if watch.cut is not None:
                raise watch.cut
            watch.connection, watch.sent = self, time.monotonic()
        self._sending = True
        try:
            return super().request(*args, **kwargs)
        finally:
            self._sending = False


class _HTTPConnection(_Noting, HTTPConnection):
    pass


class _HTTPSConnection(_Noting, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class BoundedAdapter(HTTPAdapter):
    """requests' adapter whose connections tell :func:`bounded_request` which socket a request uses."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


def bounded_request(session: requests.Session, method: str, url: str, *, deadline: float, max_bytes: int,
                    stopping: Callable[[], bool] = lambda: False, clock: RequestClock | None = None,
                    **kwargs: Any) -> requests.Response:
    """``session.request`` with the bounds above; the answer's body is read whole (``response.content``).
    ``clock`` (a new one by default) counts the attempts; pass one to read them once the request is over.

    Raises :class:`RequestAborted`, :class:`ResponseTooLarge`, or what requests raises.
    """
    watch = _Watch(deadline, stopping, clock or RequestClock())
    _start_watchdog()
    _ACTIVE.watch = watch
    with _LOCK:
        _WATCHES.add(watch)
    try:
        try:
            response = session.request(method, url, stream=True, allow_redirects=False, **kwargs)
        except requests.exceptions.RequestException:
            if watch.cut is not None:
                raise watch.cut from None
            raise
        try:
            response._content = _read(response, max_bytes)
        except (requests.exceptions.RequestException, OSError):
            if watch.cut is not None:
                raise watch.cut from None
            raise
        finally:
            response.close()
        return response
    finally:
        _ACTIVE.watch = None
        with _LOCK:
            _WATCHES.discard(watch)


def _read(response: requests.Response, max_bytes: int) -> bytes:
    try:
        announced = int(response.headers.get("Content-Length") or 0)
    except ValueError:
        announced = 0
    if announced > max_bytes:
        raise ResponseTooLarge(max_bytes)
    chunks, total = [], 0
    for chunk in response.iter_content(CHUNK):
        total += len(chunk)
        if total > max_bytes:
            raise ResponseTooLarge(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)
