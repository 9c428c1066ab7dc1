"""The SFTP sandbox's server side: paramiko's server interfaces over a local folder, with the fault switches.

Data flow: :class:`~.sftp_sandbox.SftpSandbox` accepts TCP connections and runs :func:`serve` on
each: an SSH transport with the sandbox's host keys, :class:`SshLogin` (key login only, exactly
the client key the sandbox made) and :class:`FolderSftp` (SFTP requests on the sandbox's folder,
which is ``/`` to the client). Every request is logged in the sandbox's ``operations``; the
faults (:class:`SftpFaults`) are read as each request arrives, so a test can switch
them while a client is connected. Like OpenSSH's ``sftp-server``, a plain rename refuses to
replace an existing file and ``posix-rename@openssh.com`` replaces it.
"""

from __future__ import annotations

import os
import posixpath
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import paramiko
from paramiko.sftp import SFTP_FAILURE, SFTP_OK, SFTP_OP_UNSUPPORTED, SFTP_PERMISSION_DENIED

NO_SPACE = "No space left on device"


@dataclass
class SftpFaults:
    """The sandbox's fault switches; all off is the ``normal`` server (:meth:`.SftpSandbox.reset`)."""

    #: Refuse every login, as a server that does not hold the client's public key.
    refuse_key: bool = False
    #: Present other host keys than the pinned ones (a reinstalled server, or someone in between).
    changed_host_key: bool = False
    #: A write that would take a file past this many bytes fails with "No space left on device" (what fits is written).
    disk_full_after: int | None = None
    #: A write that would take a file past this many bytes cuts the connection instead (no answer, no goodbye).
    drop_after: int | None = None
    #: Seconds each write waits before it is answered: a slow server, or an upload held open.
    slow_seconds: float = 0.0
    #: Answer ``posix-rename@openssh.com`` "unsupported", as servers without OpenSSH's extensions do.
    no_posix_rename: bool = False
    #: Refuse every write, remove and rename (permission denied): a folder the account may only read.
    read_only: bool = False


class SandboxView(Protocol):
    """What the server side needs of :class:`~.sftp_sandbox.SftpSandbox` (named here, not imported: no cycle)."""

    username: str
    client_public_key: paramiko.PKey
    faults: SftpFaults

    @property
    def root(self) -> Path: ...

    def record(self, op: str, **details: Any) -> None: ...

    def presented_host_keys(self) -> list[paramiko.PKey]: ...

    def opened(self, transport: paramiko.Transport) -> None: ...

    def closed(self, transport: paramiko.Transport) -> None: ...


class SshLogin(paramiko.ServerInterface):
    """Key login only, for the sandbox's user with the sandbox's client key; one session channel."""

    def __init__(self, sandbox: SandboxView, sock: socket.socket) -> None:
        self.sandbox, self.sock = sandbox, sock

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        accepted = (username == self.sandbox.username and key == self.sandbox.client_public_key
                    and not self.sandbox.faults.refuse_key)
        self.sandbox.record("auth", username=username, key=key.fingerprint, accepted=accepted)
        return paramiko.AUTH_SUCCESSFUL if accepted else paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def drop(self) -> None:
        """Cut the connection, as a network failure would: no SSH goodbye, no SFTP answer."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class SandboxSftpServer(paramiko.SFTPServer):
    """paramiko's SFTP server, answering a failure with the reason the folder gave (paramiko sends only
    the generic text of each status code; servers that report a full disk say so)."""

    def _send_status(self, request_number: int, code: int, desc: str | None = None) -> None:
        reason = getattr(self.server, "reason", None)
        if code != SFTP_OK and desc is None and reason:
            desc, self.server.reason = reason, None
        super()._send_status(request_number, code, desc)


class FaultyFile(paramiko.SFTPHandle):
    """A file open on the sandbox's folder; its writes meet the faults."""

    def __init__(self, sftp: FolderSftp, path: str, fh: Any, flags: int) -> None:
        super().__init__(flags)
        self.sftp, self.path = sftp, path
        self.readfile = self.writefile = fh

    def write(self, offset: int, data: bytes) -> int:
        sandbox, faults = self.sftp.sandbox, self.sftp.sandbox.faults
        end = offset + len(data)
        if faults.slow_seconds:
            time.sleep(faults.slow_seconds)
        if faults.drop_after is not None and end > faults.drop_after:
            sandbox.record("drop", path=self.path, offset=offset)
            self.sftp.login.drop()
            return SFTP_FAILURE
        if faults.disk_full_after is not None and end > faults.disk_full_after:
            fits = max(0, faults.disk_full_after - offset)  # a disk fills up: what fits is written
            self.writefile.seek(offset)
            self.writefile.write(data[:fits])
            self.writefile.flush()
            sandbox.record("write", path=self.path, offset=offset, size=fits, ok=False, reason=NO_SPACE)
            self.sftp.reason = NO_SPACE
            return SFTP_FAILURE
        self.writefile.seek(offset)
        self.writefile.write(data)
        self.writefile.flush()
        sandbox.record("write", path=self.path, offset=offset, size=len(data))
        return SFTP_OK


class FolderSftp(paramiko.SFTPServerInterface):
    """SFTP requests on the sandbox's folder, which the client sees as ``/``."""

    def __init__(self, login: SshLogin, *args: Any, **kwargs: Any) -> None:
        super().__init__(login, *args, **kwargs)
        self.login, self.sandbox = login, login.sandbox
        self.reason: str | None = None  # why the last request failed, sent with its status

    def _local(self, path: str) -> Path:
        # normpath after a leading "/" keeps every path inside the folder ("/../x" is "/x")
        return self.sandbox.root / posixpath.normpath("/" + path).lstrip("/")

    def _failed(self, op: str, path: str, exc: OSError) -> int:
        self.sandbox.record(op, path=path, ok=False, reason=exc.strerror)
        return paramiko.SFTPServer.convert_errno(exc.errno)

    def canonicalize(self, path: str) -> str:
        return posixpath.normpath("/" + path)

    def list_folder(self, path: str) -> Any:
        try:
            local = self._local(path)
            listed = [paramiko.SFTPAttributes.from_stat(os.stat(local / name), name) for name in os.listdir(local)]
        except OSError as exc:
            return self._failed("list", path, exc)
        self.sandbox.record("list", path=path)
        return listed

    def stat(self, path: str) -> Any:
        try:
            return paramiko.SFTPAttributes.from_stat(os.stat(self._local(path)))
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)

    lstat = stat

    def open(self, path: str, flags: int, attr: Any) -> Any:
        writing = flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND)
        if writing and self.sandbox.faults.read_only:
            self.sandbox.record("open", path=path, ok=False, reason="read only")
            return SFTP_PERMISSION_DENIED
        try:
            fd = os.open(self._local(path), flags, 0o644)
        except OSError as exc:
            return self._failed("open", path, exc)
        mode = ("ab" if flags & os.O_APPEND else "wb") if flags & os.O_WRONLY else (
            ("a+b" if flags & os.O_APPEND else "r+b") if flags & os.O_RDWR else "rb")
        self.sandbox.record("open", path=path, mode=mode)
        return FaultyFile(self, path, os.fdopen(fd, mode), flags)

    def remove(self, path: str) -> int:
        if self.sandbox.faults.read_only:
            return SFTP_PERMISSION_DENIED
        try:
            os.remove(self._local(path))
        except OSError as exc:
            return self._failed("remove", path, exc)
        self.sandbox.record("remove", path=path)
        return SFTP_OK

    def rename(self, oldpath: str, newpath: str) -> int:
        if self._local(newpath).exists():  # OpenSSH's sftp-server: link(2), which never replaces
            self.sandbox.record("rename", path=oldpath, to=newpath, ok=False, reason="exists")
            return SFTP_FAILURE
        return self.posix_rename(oldpath, newpath, op="rename")

    def posix_rename(self, oldpath: str, newpath: str, op: str = "posix_rename") -> int:
        if op == "posix_rename" and self.sandbox.faults.no_posix_rename:
            self.sandbox.record(op, path=oldpath, to=newpath, ok=False, reason="unsupported")
            return SFTP_OP_UNSUPPORTED
        if self.sandbox.faults.read_only:
            return SFTP_PERMISSION_DENIED
        try:
            os.replace(self._local(oldpath), self._local(newpath))
        except OSError as exc:
            return self._failed(op, oldpath, exc)
        self.sandbox.record(op, path=oldpath, to=newpath)
        return SFTP_OK

    def mkdir(self, path: str, attr: Any) -> int:
        try:
            os.mkdir(self._local(path))
        except OSError as exc:
            return self._failed("mkdir", path, exc)
        return SFTP_OK

    def chattr(self, path: str, attr: Any) -> int:
        return SFTP_OK


def serve(sandbox: SandboxView, sock: socket.socket) -> None:
    """One client connection, until it ends or the sandbox stops."""
    login = SshLogin(sandbox, sock)
    transport = paramiko.Transport(sock)
    # The server's log lines apart from the client's (both are paramiko.transport otherwise); a client that
    # closes its socket before reading the server's last packets shows here as "Connection reset by peer".
    transport.set_log_channel("paramiko.transport.sftp_sandbox")
    for key in sandbox.presented_host_keys():
        transport.add_server_key(key)
    transport.set_subsystem_handler("sftp", SandboxSftpServer, FolderSftp)
    sandbox.opened(transport)
    try:
        transport.start_server(server=login)
        transport.join()  # the transport's own thread serves the connection, SFTP in a thread of its own
    except (paramiko.SSHException, EOFError, OSError):
        pass  # a client that left during the handshake (a host key it refused)
    finally:
        transport.close()
        sandbox.closed(transport)
