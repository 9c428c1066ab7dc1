"""Winningtemp's SFTP server on loopback: a real SSH/SFTP server (paramiko) over a temporary folder, with faults.

Data flow: tests start an :class:`SftpSandbox`, load the delivery's settings from
:meth:`SftpSandbox.settings` and deliver to it; the sandbox shows what it received
(:meth:`~SftpSandbox.files`, :attr:`~SftpSandbox.operations`) and fails as a real server can,
by the switches of :attr:`~SftpSandbox.faults` (:class:`SftpFaults`), settable while a client is
connected. It makes its own host keys (Ed25519 and ECDSA, as a server holds several) and a client
key pair, and takes exactly that client key for its one user. The server side is
:mod:`.sftp_sandbox_server`.

    with SftpSandbox() as sandbox:
        settings = SftpSchema().load(sandbox.settings())
        SftpDelivery(settings).deliver({"wt_users.csv": b"..."})
        sandbox.files()  # {"upload/wt_users.csv": b"..."}
"""

from __future__ import annotations

import base64
import io
import shutil
import socketserver
import tempfile
import threading
from dataclasses import fields
from pathlib import Path
from typing import Any

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from hrsync import Secret
from hrsync.sandbox import LoopbackServer

from .sftp_sandbox_server import SftpFaults, serve


def _ed25519() -> paramiko.PKey:
    text = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()).decode()
    return paramiko.Ed25519Key.from_private_key(io.StringIO(text))


def _private_text(key_type: str, passphrase: str | None) -> str:
    """A new client private key of ``key_type`` as OpenSSH text, encrypted when a passphrase is given."""
    crypto = {"ed25519": lambda: ed25519.Ed25519PrivateKey.generate(),
              "ecdsa": lambda: ec.generate_private_key(ec.SECP256R1()),
              "rsa": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)}[key_type]()
    encryption = (serialization.BestAvailableEncryption(passphrase.encode()) if passphrase
                  else serialization.NoEncryption())
    return crypto.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption).decode()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, sandbox: SftpSandbox) -> None:
        self.sandbox = sandbox
        super().__init__(("127.0.0.1", port), _Connection)


class _Connection(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        serve(self.server.sandbox, self.request)  # type: ignore[attr-defined]


class SftpSandbox(LoopbackServer):
    """An SFTP server on 127.0.0.1 (key login only) over a temporary folder. A context manager."""

    scheme = "sftp"

    def __init__(self, *, username: str = "hrsync", folder: str = "upload", client_key_type: str = "ed25519",
                 passphrase: str | None = None, port: int = 0) -> None:
        super().__init__(port=port)
        self.username = username
        self.folder = "/" + folder.strip("/")
        self.passphrase = passphrase
        self.client_key_text = _private_text(client_key_type, passphrase)
        self.client_public_key = paramiko.PKey.from_type_string(*self._public_blob(self.client_key_text))
        self.host_keys = [_ed25519(), paramiko.ECDSAKey.generate()]
        self.changed_host_keys = [_ed25519(), paramiko.ECDSAKey.generate()]
        self.faults = SftpFaults()
        self.operations: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self._root: Path | None = None
        self._transports: set[paramiko.Transport] = set()

    def _public_blob(self, text: str) -> tuple[str, bytes]:
        key = serialization.load_ssh_private_key(text.encode(), password=(self.passphrase or "").encode() or None)
        line = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        kind, blob = line.decode().split()[:2]
        return kind, base64.b64decode(blob)

    # -- lifecycle ------------------------------------------------------------------------------

    def make_server(self, port: int) -> socketserver.BaseServer:
        self._root = Path(tempfile.mkdtemp(prefix="hrsync-sftp-"))
        (self.root / self.folder.lstrip("/")).mkdir(parents=True, exist_ok=True)
        return _Server(port, self)

    def shutdown(self) -> None:
        with self.lock:
            transports = list(self._transports)
        for transport in transports:
            transport.close()
        super().shutdown()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)

    def opened(self, transport: paramiko.Transport) -> None:
        with self.lock:
            self._transports.add(transport)
        self.record("connect")

    def closed(self, transport: paramiko.Transport) -> None:
        with self.lock:
            self._transports.discard(transport)
        self.record("disconnect")

    @property
    def root(self) -> Path:
        """The local folder the client sees as ``/``."""
        assert self._root is not None, "start the sandbox first"
        return self._root

    @property
    def host(self) -> str:
        return "127.0.0.1"

    # -- what a client needs ----------------------------------------------------------------------

    def presented_host_keys(self) -> list[paramiko.PKey]:
        return self.changed_host_keys if self.faults.changed_host_key else self.host_keys

    @property
    def host_key_fingerprint(self) -> str:
        """The fingerprint of the server's Ed25519 host key, as ``ssh-keygen -lf`` prints it."""
        return self.host_keys[0].fingerprint

    @property
    def known_hosts_line(self) -> str:
        """The known_hosts line of the server's Ed25519 host key (``[127.0.0.1]:PORT ssh-ed25519 AAAA…``)."""
        return self.known_hosts_lines()[0]

    def known_hosts_lines(self) -> list[str]:
        """One known_hosts line per host key the server holds."""
        return [f"[{self.host}]:{self.port} {key.get_name()} {key.get_base64()}" for key in self.host_keys]

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """The delivery's settings for this sandbox (secrets as :class:`hrsync.Secret`), short timeouts and no
        back-off, for ``SftpSchema().load``."""
        values: dict[str, Any] = {
            "host": self.host, "port": self.port, "username": self.username,
            "private_key": Secret(self.client_key_text, "sandbox"), "host_key_fingerprint": self.host_key_fingerprint,
            "remote_folder": self.folder, "connect_timeout": 5, "transfer_timeout": 10, "retry_backoff": 0}
        if self.passphrase:
            values["private_key_passphrase"] = Secret(self.passphrase, "sandbox")
        return {**values, **overrides}

    # -- the admin view ---------------------------------------------------------------------------

    def record(self, op: str, **details: Any) -> None:
        with self.lock:
            self.operations.append({"op": op, "ok": True, **details})

    def ops(self, op: str) -> list[dict[str, Any]]:
        """The logged operations of one kind (``connect``, ``auth``, ``open``, ``write``, ``rename``, …)."""
        with self.lock:
            return [o for o in self.operations if o["op"] == op]

    def files(self) -> dict[str, bytes]:
        """Every file the server holds, by its path from ``/`` (``upload/wt_users.csv``), temporary ones included."""
        return {path.relative_to(self.root).as_posix(): path.read_bytes()
                for path in sorted(self.root.rglob("*")) if path.is_file()}

    def set_faults(self, **values: Any) -> None:
        """Switch faults on or off by name; an unknown name is a ``ValueError``."""
        known = {f.name for f in fields(SftpFaults)}
        if unknown := sorted(set(values) - known):
            raise ValueError(f"unknown faults {unknown}; known: {sorted(known)}")
        for name, value in values.items():
            setattr(self.faults, name, value)

    def reset(self) -> None:
        """Back to the normal server: every fault off, the operation log cleared (the files stay)."""
        self.faults = SftpFaults()
        with self.lock:
            self.operations.clear()
