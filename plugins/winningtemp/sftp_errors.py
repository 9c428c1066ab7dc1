"""What an SFTP failure means, in hrsync's errors: which setting to check, and whether to try again.

Data flow: :mod:`.sftp_session` and :mod:`.sftp_delivery` catch what paramiko and the socket raise
and turn it into one of the errors below, whose message names the server, the file and the
setting at fault, and never a secret. :class:`SftpTransientError` is what a retry may cure
(refused or dropped connections, timeouts); the delivery retries it with back-off.
"""

from __future__ import annotations

import errno
import socket

import paramiko

from hrsync import SinkAuthError, SinkError, network_cause


class SftpError(SinkError):
    """The SFTP delivery failed; each file on the server is whole: the new one or the previous one."""


class SftpTransientError(SftpError):
    """A failure that may pass: the connection was refused, dropped or timed out. Retried with back-off."""


class SftpAuthError(SinkAuthError, SftpError):
    """The server refused the private key, or the key could not be read (passphrase)."""


class SftpHostKeyError(SinkAuthError, SftpError):
    """The server's host key is not the pinned one. ``presented`` and ``expected`` are fingerprints."""

    def __init__(self, message: str, *, presented: tuple[str, ...], expected: tuple[str, ...]) -> None:
        super().__init__(message, presented=presented, expected=expected)
        self.presented, self.expected = presented, expected


#: The answers of servers that ran out of space: an errno, or the text some servers send (OpenSSH
#: itself sends only the generic "Failure" for it, which :func:`failure` words as a possible full disk).
_NO_SPACE = ("no space", "disk full", "quota", "insufficient storage")


def transient(exc: BaseException) -> bool:
    """Whether ``exc`` is a connection that was refused, dropped or timed out (a retry may cure it)."""
    if isinstance(exc, (TimeoutError, socket.timeout, EOFError, ConnectionError, socket.gaierror)):
        return True
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ECONNABORTED,
                                                  errno.ECONNRESET, errno.EPIPE):
        return True
    if isinstance(exc, OSError) and exc.errno is None and str(exc) == "Socket is closed":
        return True  # paramiko's channel, after the connection dropped
    if isinstance(exc, paramiko.SSHException) and not isinstance(exc, paramiko.AuthenticationException):
        text = str(exc).lower()
        return any(word in text for word in ("dropped", "closed", "eof", "timeout", "timed out", "reset",
                                             "error reading ssh protocol banner"))
    return False


def cause(exc: BaseException) -> str:
    """The failure in a few words (``timed out``, ``connection dropped``, the server's text)."""
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timed out"
    if isinstance(exc, (EOFError, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)) or (
            isinstance(exc, paramiko.SSHException) and "dropped" in str(exc).lower()) or str(exc) == "Socket is closed":
        return "the connection dropped"
    if isinstance(exc, (socket.gaierror, ConnectionRefusedError)):
        return network_cause(exc)
    return str(exc) or type(exc).__name__


def failure(exc: BaseException, *, doing: str, where: str, folder: str, username: str,
            unchanged: str | None = None) -> SftpError:
    """The hrsync error for a failed SFTP request. ``doing`` says what was being done ("uploading
    wt_users.csv"), ``unchanged`` which final file stays as it was."""
    kept = f" {unchanged} on the server is unchanged." if unchanged else ""
    if transient(exc):
        timeout = " (transfer_timeout)" if cause(exc) == "timed out" else ""
        return SftpTransientError(f"{where}: {cause(exc)}{timeout} while {doing}.{kept}")
    if isinstance(exc, OSError) and exc.errno == errno.ENOENT:
        return SftpError(f"{where}: no such file or folder while {doing}: check remote_folder ({folder}).{kept}")
    if isinstance(exc, OSError) and exc.errno == errno.EACCES:
        return SftpError(f"{where}: permission denied while {doing}: the account {username} may not write in "
                         f"{folder}; check remote_folder, or ask Winningtemp for write access.{kept}")
    text = cause(exc)
    if isinstance(exc, OSError) and (exc.errno == errno.ENOSPC or any(w in text.lower() for w in _NO_SPACE)):
        return SftpError(f"{where}: the server is out of space while {doing} ({text}): a full disk or quota on the "
                         f"server; ask Winningtemp to make room.{kept}")
    if text.lower() == "failure":
        return SftpError(f"{where}: the server answered 'Failure' while {doing} (often a full disk or a quota); "
                         f"ask Winningtemp what its log says.{kept}")
    return SftpError(f"{where}: {text} while {doing}.{kept}")
