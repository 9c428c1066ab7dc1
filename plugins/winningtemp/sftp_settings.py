"""The settings of the SFTP delivery (Winningtemp's file integration): where, as whom, and which server to trust.

Data flow: a file sink nests :class:`SftpSchema` in its own settings; the loaded :class:`SftpSettings`
is all :class:`~.sftp_delivery.SftpDelivery` needs. The private key and its passphrase are secrets,
given like every secret of hosts.yaml (``${ENV_VAR}``, ``{env: NAME}``, ``{file: PATH}``); the
server's host key is pinned, by a known_hosts file or by its SHA256 fingerprint: exactly one of them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from hrsync import LocalFileField, Secret, SecretField

#: Winningtemp's documentation names no folder: the files go where the account logs in, seen as "/".
DEFAULT_FOLDER = "/"
ENV_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}\Z")
#: ``SHA256:`` and the unpadded base64 of a SHA-256 digest, as ``ssh-keygen -lf`` prints it.
FINGERPRINT = re.compile(r"SHA256:([A-Za-z0-9+/]{43})=?(?![A-Za-z0-9+/])")


def _read_reference(value: object) -> tuple[str, str]:
    """The text behind a secret reference and where it came from; ``ValueError`` says what is wrong."""
    if isinstance(value, dict) and set(value) == {"env"}:
        value = "${" + str(value["env"]) + "}"
    if isinstance(value, str):
        match = ENV_REFERENCE.match(value.strip())
        if not match:
            raise ValueError("Write secrets as a reference, not inline: ${ENV_VAR} or {file: PATH}.")
        name = match.group(1)
        if not os.environ.get(name):
            raise ValueError(f"Environment variable {name} is not set or empty.")
        text = os.environ[name]
        # A key in an environment variable often arrives with its line breaks written as \n.
        if "\n" not in text and "\\n" in text:
            text = text.replace("\\n", "\n")
        return text, f"env:{name}"
    if isinstance(value, dict) and set(value) == {"file"}:
        path = Path(str(value["file"])).expanduser()
        try:
            return path.read_text(encoding="utf-8"), f"file:{path}"
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"Cannot read secret file {path}: {getattr(exc, 'strerror', None) or exc}.") from None
    raise ValueError("Expected ${ENV_VAR}, {env: NAME} or {file: PATH}.")


class PrivateKeyField(SecretField):
    """The private key's text (OpenSSH or PEM format), given like every secret.

    hrsync's own secret references refuse line breaks (they would corrupt an HTTP header, where
    tokens go); a key spans lines and never goes into a header, so it is read here."""

    def _deserialize(self, value, attr, data, **kwargs) -> Secret:
        if isinstance(value, Secret):
            return value
        try:
            text, origin = _read_reference(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        text = text.strip() + "\n"
        if not re.search(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----", text):
            raise ValidationError(f"{origin} does not hold a private key (-----BEGIN … PRIVATE KEY-----); "
                                  "the value is not shown.")
        # The log redactor masks each remembered value where it appears whole; a line of the key
        # quoted alone (an error echoing a file) is masked too when each line is remembered.
        for line in text.splitlines():
            if not line.startswith("-----"):
                Secret(line, origin)
        return Secret(text, origin)


class Fingerprints(fields.Field):
    """One fingerprint or a list, each ``SHA256:…`` or a whole line of ``ssh-keygen -lf`` output."""

    def _deserialize(self, value, attr, data, **kwargs) -> tuple[str, ...]:
        values = value if isinstance(value, list) else [value]
        found = []
        for item in values:
            match = FINGERPRINT.search(item) if isinstance(item, str) else None
            if not match:
                raise ValidationError(f"{item!r} is not a SHA256 fingerprint: write it as ssh-keygen -lf prints it, "
                                      "e.g. SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s.")
            found.append(f"SHA256:{match.group(1)}")
        if not found:
            raise ValidationError("Give at least one fingerprint.")
        return tuple(found)


def _folder(value: str) -> None:
    if not value.strip() or any(ord(c) < 32 for c in value):
        raise ValidationError("A folder path on the server, e.g. / or /upload.")


@dataclass(frozen=True)
class SftpSettings:
    """The loaded settings of the SFTP delivery (defaults live in :class:`SftpSchema`)."""

    host: str
    port: int
    username: str
    private_key: Secret
    private_key_passphrase: Secret | None
    #: A known_hosts file (OpenSSH format, hashed names allowed) holding the server's key; or None.
    known_hosts: Path | None
    #: The server's host key fingerprints (``SHA256:…``), any of which is trusted; or empty.
    host_key_fingerprint: tuple[str, ...]
    remote_folder: str
    connect_timeout: float
    transfer_timeout: float
    max_retries: int
    retry_backoff: float

    @property
    def where(self) -> str:
        """The server, as messages name it (never with a secret)."""
        return f"sftp://{self.username}@{self.host}:{self.port}"


class SftpSchema(Schema):
    class Meta:
        unknown = RAISE

    host = fields.String(required=True, validate=validate.Length(min=1),
                         metadata={"description": "The SFTP server's host name, as Winningtemp gives it."})
    port = fields.Integer(load_default=22, validate=validate.Range(1, 65535),
                          metadata={"description": "The SFTP server's port."})
    username = fields.String(required=True, validate=validate.Length(min=1),
                             metadata={"description": "The account Winningtemp created for you."})
    private_key = PrivateKeyField(required=True, metadata={
        "description": "The private key (RSA, ECDSA or Ed25519; OpenSSH or PEM text) whose public half Winningtemp "
                       "holds: ${ENV_VAR} or {file: PATH}."})
    private_key_passphrase = SecretField(load_default=None, metadata={
        "description": "The key's passphrase, when it has one."})
    known_hosts = LocalFileField(load_default=None, hint="write the server's host key there with ssh-keyscan (see "
                                 "the Winningtemp plugin's README, 'SFTP delivery').", metadata={
        "description": "A known_hosts file holding the server's host key (set this or host_key_fingerprint)."})
    host_key_fingerprint = Fingerprints(load_default=(), allow_none=True, metadata={
        "description": "The server's host key fingerprint, SHA256:… as ssh-keygen -lf prints it, or a list of them "
                       "(set this or known_hosts)."})
    remote_folder = fields.String(load_default=DEFAULT_FOLDER, validate=_folder, metadata={
        "description": "The folder the files are uploaded to; / is where the account logs in."})
    connect_timeout = fields.Float(load_default=10.0, validate=validate.Range(min=0.1), metadata={
        "description": "Seconds to connect, for the server's greeting, the key exchange and the login."})
    transfer_timeout = fields.Float(load_default=120.0, validate=validate.Range(min=0.1), metadata={
        "description": "Seconds the server may leave one request of a transfer unanswered."})
    max_retries = fields.Integer(load_default=3, validate=validate.Range(0, 10), metadata={
        "description": "Retries of a delivery whose connection failed, dropped or timed out."})
    retry_backoff = fields.Float(load_default=2.0, validate=validate.Range(min=0), metadata={
        "description": "Seconds before the first retry; doubles per retry (at most 60)."})

    @validates_schema
    def _one_pin(self, data: dict[str, Any], **kwargs: Any) -> None:
        given = [name for name in ("known_hosts", "host_key_fingerprint") if data.get(name)]
        if len(given) != 1:
            raise ValidationError(
                "Set exactly one of known_hosts and host_key_fingerprint: the server's host key is always checked "
                f"against one of them, never accepted blindly ({'both are' if given else 'neither is'} set).")

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> SftpSettings:
        data["host_key_fingerprint"] = data["host_key_fingerprint"] or ()
        return SftpSettings(**data)
