"""The disk refusing a write - full, read-only, not ours to write - turned into a message that names the path
and what to do, instead of SQLite's or the OS's words and a traceback.

SQLite rolls a transaction back itself when the disk fills (``SQLITE_FULL``), so what was committed before
stays whole and the next run, given room, carries on where this one stopped: the message says so.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
from pathlib import Path

from ..errors import StorageError

_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_NOT_WRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM}
# SQLite's primary result codes (the low byte of ``sqlite_errorcode``).
_SQLITE_FULL, _SQLITE_READONLY, _SQLITE_CANTOPEN = 13, 8, 14

_AFTER = "and run again: nothing was half-written, and the next run carries on where this one stopped."


def storage_error(exc: BaseException, path: str | os.PathLike) -> StorageError | None:
    """A :class:`StorageError` naming ``path`` (or the file the OS named) when ``exc`` is the disk refusing a
    write; None for anything else."""
    where = Path(getattr(exc, "filename", None) or path)
    if _no_space(exc):
        return StorageError(f"hrsync cannot write {where}: the disk is full (or its quota used up). Free space "
                             "on that disk, or point host.state or host.state_dir (host.outbox) at one with room, "
                             f"{_AFTER}")
    if _not_writable(exc):
        return StorageError(f"hrsync cannot write {where}: the file system is read-only, or the user hrsync runs "
                            f"as may not write in {where.parent}. Make that folder writable for it (a systemd "
                            "service: StateDirectory=), or point host.state or host.state_dir (host.outbox) "
                            f"elsewhere, {_AFTER}")
    return None


def _no_space(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.Error):
        return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == _SQLITE_FULL
    return isinstance(exc, OSError) and exc.errno in _NO_SPACE


def _not_writable(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.Error):
        return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in (_SQLITE_READONLY, _SQLITE_CANTOPEN)
    return isinstance(exc, OSError) and exc.errno in _NOT_WRITABLE


def symlink_refused(path: str | os.PathLike) -> StorageError:
    return StorageError(f"{path} is a symbolic link; hrsync does not write through one (whoever can change it could "
                        "have hrsync overwrite or open up another file). Replace it with the file itself, or point "
                        "host.state at the real place.")


def refuse_symlink(path: Path) -> None:
    """Refuse ``path`` when it is a symbolic link (the folders above it may be links: that is the admin's layout)."""
    if path.is_symlink():
        raise symlink_refused(path)


def open_private(path: str | os.PathLike, flags: int) -> int:
    """``os.open`` creating ``path`` 0600 if needed, never through a symbolic link (``O_NOFOLLOW``)."""
    try:
        return os.open(path, flags | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise symlink_refused(path) from None
        raise


def private(path: Path) -> None:
    """Make ``path`` a file only its owner can read: created 0600, or brought to 0600 if it exists. The mode is
    set through the open file, so a link swapped in meanwhile is never followed.

    A file that is already private is not opened: closing any descriptor of a file drops every POSIX lock this
    process holds on it, so the locks of the SQLite connections that other threads (a daemon's runs, a worker's)
    keep open on the state and its shared memory would go, and another process could then reset that shared
    memory under them (they die of SIGBUS) or write beside them."""
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        found = None
    if found is not None and stat.S_ISREG(found.st_mode) and stat.S_IMODE(found.st_mode) == 0o600:
        return
    fd = open_private(path, os.O_RDWR)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def private_state(path: Path) -> None:
    """The state file and the files SQLite keeps beside it: private, and none of them a symbolic link."""
    private(path)
    for suffix in ("-wal", "-shm", "-journal"):
        sidecar = path.with_name(path.name + suffix)
        refuse_symlink(sidecar)
        if sidecar.exists():  # SQLite gives new ones the state's mode; those of older installs are fixed here
            private(sidecar)
