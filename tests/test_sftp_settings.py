"""The SFTP delivery's settings: the key given like every secret (it spans lines), one host key pin, defaults."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from marshmallow import ValidationError

from hrsync.secrets import unresolved_secrets
from hrsync_plugins.winningtemp.sftp_settings import SftpSchema, SftpSettings

FINGERPRINT = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"
KEY = ed25519.Ed25519PrivateKey.generate().private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()).decode()


def load(**values) -> SftpSettings:
    return SftpSchema().load({"host": "sftp.example.com", "username": "acme", "private_key": "${SFTP_KEY}",
                              "host_key_fingerprint": FINGERPRINT, **values})


@pytest.fixture(autouse=True)
def key_env(monkeypatch):
    monkeypatch.setenv("SFTP_KEY", KEY)


def test_defaults_and_a_frozen_dataclass():
    settings = load()
    assert (settings.port, settings.remote_folder, settings.connect_timeout, settings.transfer_timeout,
            settings.max_retries, settings.retry_backoff) == (22, "/", 10.0, 120.0, 3, 2.0)
    assert settings.private_key.reveal() == KEY and settings.private_key_passphrase is None
    assert settings.host_key_fingerprint == (FINGERPRINT,) and settings.known_hosts is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.port = 2222  # type: ignore[misc]
    assert KEY.splitlines()[1] not in repr(settings) and "env:SFTP_KEY" in repr(settings)


def test_the_key_comes_from_a_file_or_an_environment_variable_with_its_line_breaks(tmp_path, monkeypatch):
    path = tmp_path / "wt_key"
    path.write_text(KEY)
    assert load(private_key={"file": str(path)}).private_key.reveal() == KEY
    monkeypatch.setenv("ESCAPED", KEY.strip().replace("\n", "\\n"))  # as some secret stores hand it over
    assert load(private_key={"env": "ESCAPED"}).private_key.reveal() == KEY


@pytest.mark.parametrize(("value", "message"), [
    (KEY, "Write secrets as a reference"),
    ("${NOT_SET_ANYWHERE}", "NOT_SET_ANYWHERE is not set"),
    ("${HOME}", "does not hold a private key"),
])
def test_a_key_that_is_inline_missing_or_not_a_key_is_refused_without_showing_it(value, message):
    with pytest.raises(ValidationError) as caught:
        load(private_key=value)
    assert message in str(caught.value.messages["private_key"])
    assert KEY.splitlines()[1] not in str(caught.value.messages)


def test_exactly_one_host_key_pin(tmp_path):
    for values in ({"host_key_fingerprint": None}, {"known_hosts": str(tmp_path / "k")}):
        (tmp_path / "k").write_text("")
        with pytest.raises(ValidationError) as caught:
            load(**values)
        text = str(caught.value.messages)
        assert "known_hosts" in text and "host_key_fingerprint" in text and "never accepted blindly" in text
    settings = load(host_key_fingerprint=None, known_hosts=str(tmp_path / "k"))
    assert settings.known_hosts == Path(tmp_path / "k") and settings.host_key_fingerprint == ()


def test_a_missing_known_hosts_file_is_named_but_only_noted_offline():
    with pytest.raises(ValidationError, match="No file /nowhere/known_hosts: write the server's host key there"):
        load(host_key_fingerprint=None, known_hosts="/nowhere/known_hosts")
    with unresolved_secrets() as notes:  # hrsync check --offline: only connecting reads the file
        settings = load(host_key_fingerprint=None, known_hosts="/nowhere/known_hosts")
    assert settings.known_hosts == Path("/nowhere/known_hosts")
    assert notes == ["known_hosts: file /nowhere/known_hosts is not there; a run needs it"]


@pytest.mark.parametrize("value", [FINGERPRINT, FINGERPRINT + "=", f"256 {FINGERPRINT} sftp.example.com (ED25519)",
                                   [f"256 {FINGERPRINT} host (ED25519)"]])
def test_fingerprints_as_ssh_keygen_prints_them(value):
    assert load(host_key_fingerprint=value).host_key_fingerprint == (FINGERPRINT,)


@pytest.mark.parametrize("value", ["MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48", "SHA256:short", [], 42])
def test_other_fingerprints_are_refused(value):
    with pytest.raises(ValidationError) as caught:
        load(host_key_fingerprint=value)
    assert "host_key_fingerprint" in caught.value.messages


def test_unknown_settings_are_refused():
    with pytest.raises(ValidationError, match="remote_dir"):
        load(remote_dir="/upload")
