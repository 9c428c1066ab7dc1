"""One SFTP session: a TCP connection, the server's host key checked against the pin, key login, the SFTP channel.

Data flow: :class:`~.sftp_delivery.SftpDelivery` opens a session per delivery attempt with
:func:`open_session` and closes it in ``finally``. Every step is bounded: ``connect_timeout`` for the
TCP connection, the server's greeting, the key exchange, the login and the SFTP channel;
``transfer_timeout`` for each SFTP request after that.

Host keys are pinned, never learnt: the key the server presents must be in the known_hosts file
(under ``host`` or ``[host]:port``) or have one of the configured fingerprints. A server holds
keys of several types (Ed25519, ECDSA, RSA) and presents the one the key exchange picks, so when
the presented key is not pinned, the session asks again with that key type left out, as
``ssh-keyscan`` does, until a pinned key comes or the server has none left; only then does it
stop, naming every key presented and every key expected.
"""

from __future__ import annotations

import io
import socket
import threading
from dataclasses import dataclass

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from .sftp_errors import SftpAuthError, SftpError, SftpHostKeyError, SftpTransientError, cause, transient
from .sftp_settings import SftpSettings

#: paramiko's key class for each key type cryptography can read.
_KEY_CLASSES = ((ed25519.Ed25519PrivateKey, paramiko.Ed25519Key), (ec.EllipticCurvePrivateKey, paramiko.ECDSAKey),
                (rsa.RSAPrivateKey, paramiko.RSAKey))
#: The host key algorithms of one key type: leaving a type out of the key exchange leaves out all of them.
_ALGORITHMS = {"ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")}


@dataclass
class SftpSession:
    """An open session. ``host_key`` is the (pinned) key the server proved it holds."""

    transport: paramiko.Transport
    sftp: paramiko.SFTPClient
    host_key: paramiko.PKey

    def close(self) -> None:
        for closing in (self.sftp.close, self.transport.close):
            try:
                closing()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail; it is closed either way
                pass


def described(key: paramiko.PKey) -> str:
    """``SHA256:… (ssh-ed25519)``: a public key as ``ssh-keygen -lf`` and an admin compare it."""
    return f"{key.fingerprint} ({key.get_name()})"


def load_private_key(settings: SftpSettings) -> paramiko.PKey:
    """The configured private key, decrypted with its passphrase; :class:`SftpAuthError` says what is wrong
    (never quoting the key). OpenSSH, PEM and PKCS#8 texts are read by cryptography, then handed to
    paramiko in OpenSSH form (paramiko reads neither PKCS#8 nor every PEM variant)."""
    origin = settings.private_key.origin
    data = settings.private_key.reveal().encode()
    password = settings.private_key_passphrase.reveal().encode() if settings.private_key_passphrase else None
    try:
        try:
            key = serialization.load_ssh_private_key(data, password=password)
        except ValueError:
            if b"OPENSSH PRIVATE KEY" in data:
                raise
            key = serialization.load_pem_private_key(data, password=password)
    except TypeError:  # encrypted without a passphrase, or a passphrase for a key without one
        state = ("needs private_key_passphrase" if password is None
                 else "is not encrypted; remove private_key_passphrase")
        raise SftpAuthError(f"The private key ({origin}) {state}.") from None
    except (ValueError, paramiko.SSHException):
        wrong = " or the passphrase is wrong" if password is not None else ""
        raise SftpAuthError(f"The private key ({origin}) could not be read: not an RSA, ECDSA or Ed25519 private key"
                            f"{wrong}.") from None
    for crypto_class, key_class in _KEY_CLASSES:
        if isinstance(key, crypto_class):
            text = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                     serialization.NoEncryption()).decode()
            return key_class.from_private_key(io.StringIO(text))
    raise SftpAuthError(f"The private key ({origin}) is a {type(key).__name__.removeprefix('_')}; use an RSA, "
                        "ECDSA or Ed25519 key.")


def pinned(settings: SftpSettings) -> tuple[set[str], str]:
    """The fingerprints the server's host key may have, and where they were configured (for messages)."""
    if not settings.known_hosts:
        return set(settings.host_key_fingerprint), "host_key_fingerprint"
    name = settings.host if settings.port == 22 else f"[{settings.host}]:{settings.port}"
    try:
        entry = paramiko.HostKeys(str(settings.known_hosts)).lookup(name)
    except (OSError, paramiko.SSHException, ValueError) as exc:
        raise SftpError(f"known_hosts {settings.known_hosts} could not be read: {exc}.") from None
    keys = set() if entry is None else {key.fingerprint for key in entry.values()}
    return keys, f"known_hosts {settings.known_hosts}, under {name}"


def _handshake(settings: SftpSettings, left_out: list[str]) -> paramiko.Transport:
    """A TCP connection and the key exchange, with the host key algorithms in ``left_out`` not offered."""
    try:
        sock = socket.create_connection((settings.host, settings.port), timeout=settings.connect_timeout)
    except OSError as exc:
        error = SftpTransientError if transient(exc) else SftpError
        raise error(f"{settings.where}: cannot connect ({cause(exc)}); check host and port.") from None
    transport = paramiko.Transport(sock, disabled_algorithms={"keys": left_out})
    transport.banner_timeout = transport.handshake_timeout = settings.connect_timeout
    transport.auth_timeout = transport.channel_timeout = settings.connect_timeout
    try:
        transport.start_client(timeout=settings.connect_timeout)
    except BaseException:
        transport.close()
        raise
    return transport


def _pinned_transport(settings: SftpSettings) -> tuple[paramiko.Transport, paramiko.PKey]:
    expected, configured = pinned(settings)
    presented: list[paramiko.PKey] = []
    left_out: list[str] = []
    while len(presented) < 6:
        try:
            transport = _handshake(settings, left_out)
        except paramiko.SSHException as exc:
            if presented and "host key" in str(exc).lower():
                break  # the server holds no other type of host key
            error = SftpTransientError if transient(exc) else SftpError
            raise error(f"{settings.where}: the SSH handshake failed ({cause(exc)}).") from None
        except (OSError, EOFError) as exc:
            raise SftpTransientError(f"{settings.where}: the SSH handshake failed ({cause(exc)}).") from None
        key = transport.get_remote_server_key()
        if key.fingerprint in expected:
            return transport, key
        transport.close()
        presented.append(key)
        left_out.extend(_ALGORITHMS.get(key.get_name(), (key.get_name(),)))
    shown = ", ".join(described(key) for key in presented)
    wanted = ", ".join(sorted(expected)) or "no key for this server"
    keyscan = f"ssh-keyscan -p {settings.port} {settings.host} | ssh-keygen -lf -"
    raise SftpHostKeyError(
        f"{settings.where}: the server's host key is not the pinned one. The server presented {shown}; expected "
        f"{wanted} ({configured}). Nothing was uploaded. If the key was changed on purpose, compare the fingerprint "
        f"Winningtemp gives you with `{keyscan}` and update the setting; otherwise someone may be intercepting the "
        "connection.", presented=tuple(key.fingerprint for key in presented), expected=tuple(sorted(expected)))


def _login(transport: paramiko.Transport, settings: SftpSettings, key: paramiko.PKey) -> None:
    try:
        transport.auth_publickey(settings.username, key)
    except paramiko.BadAuthenticationType as exc:
        raise SftpAuthError(f"{settings.where}: the server does not take key logins for {settings.username} (it "
                            f"offers: {', '.join(exc.allowed_types) or 'nothing'}).") from None
    except paramiko.AuthenticationException:
        raise SftpAuthError(f"{settings.where}: the server refused the private key for user {settings.username} "
                            f"(key {described(key)}); check username, and that Winningtemp holds this key's public "
                            "half.") from None


def _sftp_channel(transport: paramiko.Transport, settings: SftpSettings) -> paramiko.SFTPClient:
    """The SFTP subsystem on a new channel. paramiko waits for the subsystem's answer without a timeout,
    so a watchdog closes the transport when ``connect_timeout`` passes first."""
    fired = threading.Event()

    def give_up() -> None:
        fired.set()
        transport.close()

    watchdog = threading.Timer(settings.connect_timeout, give_up)
    watchdog.daemon = True
    watchdog.start()
    try:
        channel = transport.open_session(timeout=settings.connect_timeout)
        channel.settimeout(settings.transfer_timeout)
        channel.invoke_subsystem("sftp")
        return paramiko.SFTPClient(channel)
    except (paramiko.SSHException, OSError, EOFError) as exc:
        what = "timed out" if fired.is_set() else cause(exc)
        raise SftpTransientError(f"{settings.where}: the SFTP channel could not be opened ({what}).") from None
    finally:
        watchdog.cancel()


def open_session(settings: SftpSettings) -> SftpSession:
    """Connect, check the host key against the pin, log in with the key, open SFTP; close everything on failure."""
    key = load_private_key(settings)
    transport, host_key = _pinned_transport(settings)
    try:
        _login(transport, settings, key)
        return SftpSession(transport, _sftp_channel(transport, settings), host_key)
    except SftpError:
        transport.close()
        raise
    except (paramiko.SSHException, OSError, EOFError) as exc:
        transport.close()
        raise SftpTransientError(f"{settings.where}: the login failed ({cause(exc)}).") from None
    except BaseException:
        transport.close()
        raise
