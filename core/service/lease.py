"""A connection's lease in Redis: at most one Celery worker runs a connection at a time, across hosts.

Data flow: :mod:`hrsync.service.celery_app` takes the lease before a run and holds it while the run goes on.
The lease is a Redis key with an expiry, renewed by a thread every third of ``lease_seconds``: a worker
that dies (SIGKILL, a lost host) stops renewing and the key expires, so a redelivered run can start.
A run whose renewal fails (Redis lost, or the key expired in a stall) is asked to stop after the writes in
flight; the state's connection lock (``flock``) still keeps a second run off the same host meanwhile.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from types import TracebackType

import redis

log = logging.getLogger("hrsync.service.lease")

# Compare-and-act: only the holder renews or releases; a lease taken over after expiry is left alone.
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def lease_key(queue: str, connection: str) -> str:
    """A connection's lease key: its name is unique in its host's hosts.yaml, and the host's queue names the host."""
    return f"hrsync:{queue}:lease:{connection}"


class Lease:
    """``with Lease(...) as lease`` holds the key while the block runs; ``lease.lost`` turns true when a renewal
    failed. :meth:`acquire` returns False when another holder has it."""

    def __init__(self, client: redis.Redis, key: str, seconds: float, *, owner: str) -> None:
        self.client, self.key, self.millis = client, key, int(seconds * 1000)
        self.token = f"{socket.gethostname()}:{os.getpid()}:{owner}"
        self.lost = threading.Event()
        self._done = threading.Event()
        self._renewer: threading.Thread | None = None

    def holder(self) -> str | None:
        value = self.client.get(self.key)
        return value.decode() if isinstance(value, bytes) else value

    def acquire(self) -> bool:
        if not self.client.set(self.key, self.token, nx=True, px=self.millis):
            return False
        self._renewer = threading.Thread(target=self._renew, name=f"lease {self.key}", daemon=True)
        self._renewer.start()
        return True

    def _renew(self) -> None:
        while not self._done.wait(self.millis / 3000):
            try:
                renewed = self.client.eval(_RENEW, 1, self.key, self.token, self.millis)
            except redis.RedisError as exc:
                log.error("%s: the lease could not be renewed (%s); the run stops after the writes in flight",
                          self.key, exc)
                renewed = 0
            if not renewed:
                self.lost.set()
                return

    def release(self) -> None:
        self._done.set()
        if self._renewer is not None:
            self._renewer.join()
            self._renewer = None
        try:
            self.client.eval(_RELEASE, 1, self.key, self.token)
        except redis.RedisError as exc:  # the key expires by itself
            log.warning("%s: the lease was not released (%s); it expires by itself", self.key, exc)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
