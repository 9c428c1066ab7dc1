"""Exclusive locks on files beside the state: one run per connection, one daemon per state file;
and what to say when SQLite's own lock on the state database is held by another program.

``flock`` locks are released by the OS when the process dies, so a killed run or daemon
never leaves one stuck. The holder writes its pid and start time into the file, so the
refusal can say who holds it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path

from ..errors import LockedError
from .storage import open_private


@contextmanager
def hold_lock(lock_path: Path, busy_message: str, **context: object):
    """An exclusive, non-blocking ``flock`` on ``lock_path`` for the duration of the block.

    ``busy_message`` may name ``{holder}`` (the pid and start time the holder wrote).
    The OS releases the lock when the process dies, so a killed run never leaves it stuck.
    """
    fh = os.fdopen(open_private(lock_path, os.O_RDWR), "r+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "another process"
        fh.close()
        raise LockedError(busy_message.format(holder=holder), **context) from None
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} since {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}")
        fh.flush()
        yield
    finally:
        fh.truncate(0)
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


#: Seconds to wait for another program that holds the state database (``host.busy_timeout``).
BUSY_TIMEOUT = 10.0


def is_locked(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite saying another program holds the database."""
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))


def locked_message(path: str | os.PathLike, busy_timeout: float) -> str:
    return (f"The state database {path} is locked by another program (hrsync waited {busy_timeout:g} s, "
            "host.busy_timeout). Close it (a backup, a sqlite3 shell, another hrsync) and run again; nothing "
            "was lost.")
