"""The SFTP delivery of Winningtemp's file integration against a real SFTP server on 127.0.0.1 (the sandbox).

Every file arrives whole or not at all: the final name holds the previous file or the new one, never a
partial one, whatever fails (a full disk, a dropped connection, a killed process); the server's host key
is pinned; messages name what is at fault and never a secret.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from hrsync_plugins.winningtemp.sftp_delivery import SftpDelivery
from hrsync_plugins.winningtemp.sftp_errors import SftpAuthError, SftpError, SftpHostKeyError, SftpTransientError
from hrsync_plugins.winningtemp.sftp_sandbox import SftpSandbox
from hrsync_plugins.winningtemp.sftp_session import load_private_key
from hrsync_plugins.winningtemp.sftp_settings import SftpSchema
from tests.helpers import wait_until

USERS, GROUPS = "upload/wt_users.csv", "upload/wt_groups.csv"
OLD = b"email;first_name\nold@example.com;Old\n"
#: Big enough to take several SFTP writes (32 KiB each), so a fault can strike in the middle.
NEW = b"".join(b"person%06d@example.com;First%06d\n" % (i, i) for i in range(4000))


def delivery(sandbox: SftpSandbox, pause=None, **overrides) -> SftpDelivery:
    return SftpDelivery(SftpSchema().load(sandbox.settings(**overrides)), pause=pause)


def temporary(sandbox: SftpSandbox) -> list[str]:
    return [path for path in sandbox.files() if path.endswith(".part")]


@pytest.fixture
def delivered(sftp_sandbox):
    """The sandbox holding yesterday's wt_users.csv (OLD), its log cleared."""
    delivery(sftp_sandbox).deliver({"wt_users.csv": OLD})
    wait_until(lambda: sftp_sandbox.ops("disconnect"))  # the server saw the client go: nothing of it comes late
    sftp_sandbox.reset()
    return sftp_sandbox


def test_two_files_land_with_their_exact_bytes_and_sizes(sftp_sandbox):
    groups = "name;external_id\nFörsäljning;department:1\n".encode()
    sizes = delivery(sftp_sandbox).deliver({"wt_users.csv": NEW, "wt_groups.csv": groups})
    assert sizes == {"wt_users.csv": len(NEW), "wt_groups.csv": len(groups)}
    assert sftp_sandbox.files() == {USERS: NEW, GROUPS: groups}
    # Written under a temporary name, then renamed over the final one in one step; the final name never written.
    opened = [op["path"] for op in sftp_sandbox.ops("open")]
    # Hidden, and not *.csv: an importer that picks up the folder's CSV files never sees one half-written.
    assert all(path.startswith("/upload/.wt_") and ".hrsync-" in path and path.endswith(".part") for path in opened)
    assert [op["to"] for op in sftp_sandbox.ops("posix_rename")] == ["/upload/wt_users.csv", "/upload/wt_groups.csv"]


def test_a_second_delivery_replaces_the_file_and_the_old_one_stays_readable_until_the_rename(delivered):
    delivered.faults.slow_seconds = 0.05  # every write waits: the upload stays open while the test looks
    thread = threading.Thread(target=lambda: delivery(delivered).deliver({"wt_users.csv": NEW}))
    thread.start()
    wait_until(lambda: delivered.ops("write"))
    assert delivered.files()[USERS] == OLD  # mid-upload: the importer still reads yesterday's file, whole
    delivered.faults.slow_seconds = 0
    thread.join(30)
    assert delivered.files() == {USERS: NEW}
    renamed = next(i for i, op in enumerate(delivered.operations) if op["op"] == "posix_rename")
    assert all(i < renamed for i, op in enumerate(delivered.operations) if op["op"] == "write")


def test_a_changed_host_key_stops_before_login_and_shows_both_fingerprints(delivered):
    delivered.faults.changed_host_key = True
    with pytest.raises(SftpHostKeyError) as caught:
        delivery(delivered).deliver({"wt_users.csv": NEW})
    message = str(caught.value)
    for key in delivered.changed_host_keys:  # every key the server presented, each type asked for in turn
        assert key.fingerprint in message
    assert delivered.host_key_fingerprint in message and "host_key_fingerprint" in message
    assert "ssh-keyscan" in message and "Nothing was uploaded" in message
    assert not delivered.ops("auth") and not delivered.ops("open")  # not even the login was sent
    assert delivered.files() == {USERS: OLD}


def test_a_wrong_fingerprint_stops_likewise(delivered):
    wrong = "SHA256:" + "A" * 43
    with pytest.raises(SftpHostKeyError) as caught:
        delivery(delivered, host_key_fingerprint=wrong).deliver({"wt_users.csv": NEW})
    assert caught.value.expected == (wrong,)
    assert set(caught.value.presented) == {key.fingerprint for key in delivered.host_keys}
    assert wrong in str(caught.value) and delivered.host_key_fingerprint in str(caught.value)
    assert not delivered.ops("auth") and delivered.files() == {USERS: OLD}


def test_a_known_hosts_file_without_the_server_stops_likewise(delivered, tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text(delivered.known_hosts_line.replace(f"[127.0.0.1]:{delivered.port}", "[127.0.0.1]:1") + "\n")
    with pytest.raises(SftpHostKeyError) as caught:
        delivery(delivered, host_key_fingerprint=None, known_hosts=str(known)).deliver({"wt_users.csv": NEW})
    assert "no key for this server" in str(caught.value) and f"[127.0.0.1]:{delivered.port}" in str(caught.value)
    assert delivered.host_key_fingerprint in str(caught.value)
    assert not delivered.ops("auth") and delivered.files() == {USERS: OLD}


def test_any_pinned_key_type_is_found_whichever_the_server_offers_first(sftp_sandbox, tmp_path):
    """The server offers Ed25519 first; a pin of its ECDSA key alone still connects (the type is asked for)."""
    ecdsa = sftp_sandbox.host_keys[1]
    known = tmp_path / "known_hosts"
    known.write_text(sftp_sandbox.known_hosts_lines()[1] + "\n")
    by_file = delivery(sftp_sandbox, host_key_fingerprint=None, known_hosts=str(known))
    assert by_file.deliver({"wt_users.csv": OLD}) == {"wt_users.csv": len(OLD)}
    by_fingerprint = delivery(sftp_sandbox, host_key_fingerprint=f"256 {ecdsa.fingerprint} 127.0.0.1 (ECDSA)")
    assert by_fingerprint.deliver({"wt_users.csv": NEW}) == {"wt_users.csv": len(NEW)}
    assert sftp_sandbox.files() == {USERS: NEW}


def test_a_refused_key_names_the_user_and_the_host_and_writes_nothing(delivered):
    delivered.faults.refuse_key = True
    with pytest.raises(SftpAuthError) as caught:
        delivery(delivered).deliver({"wt_users.csv": NEW})
    message = str(caught.value)
    assert "refused the private key for user hrsync" in message and f"127.0.0.1:{delivered.port}" in message
    assert delivered.ops("auth") and not delivered.ops("open")
    assert delivered.files() == {USERS: OLD}


def test_a_full_disk_mid_upload_leaves_the_previous_file_and_no_temporary_one(delivered):
    delivered.faults.disk_full_after = 40_000
    with pytest.raises(SftpError) as caught:
        delivery(delivered).deliver({"wt_groups.csv": b"g\n", "wt_users.csv": NEW})
    assert not isinstance(caught.value, SftpTransientError)  # not retried: a full disk stays full
    assert "No space left on device" in str(caught.value) and "wt_users.csv on the server is unchanged" in str(
        caught.value)
    assert str(caught.value).endswith("Delivered before that: wt_groups.csv.")
    assert [op for op in delivered.ops("write") if not op["ok"]]  # the server did run out mid-upload
    assert delivered.files() == {USERS: OLD, GROUPS: b"g\n"}
    assert len(delivered.ops("open")) == 2  # one attempt


def test_a_dropped_connection_leaves_the_previous_file_and_a_retry_delivers(delivered):
    delivered.faults.drop_after = 40_000
    with pytest.raises(SftpTransientError) as caught:
        delivery(delivered, max_retries=0).deliver({"wt_users.csv": NEW})
    assert "the connection dropped while uploading wt_users.csv" in str(caught.value)
    assert "unchanged" in str(caught.value)
    assert delivered.ops("drop")
    assert delivered.files() == {USERS: OLD}  # a new connection removed the temporary file

    delivered.reset()
    delivered.faults.drop_after = 40_000
    # The pause between attempts lifts the fault: the retry, on a new connection, delivers.
    sizes = delivery(delivered, pause=lambda seconds: delivered.reset() or True).deliver({"wt_users.csv": NEW})
    assert sizes == {"wt_users.csv": len(NEW)} and delivered.files() == {USERS: NEW}


def test_retries_are_bounded_and_the_error_says_so(delivered):
    delivered.faults.drop_after = 40_000
    pauses = []
    with pytest.raises(SftpTransientError) as caught:
        delivery(delivered, max_retries=2, pause=lambda s: pauses.append(s) or True).deliver({"wt_users.csv": NEW})
    assert "Gave up after 3 attempts (max_retries: 2)" in str(caught.value)
    assert len(pauses) == 2 and len(delivered.ops("drop")) == 3
    assert delivered.files() == {USERS: OLD}


def test_a_server_that_stops_answering_times_out(delivered):
    delivered.faults.slow_seconds = 2
    with pytest.raises(SftpTransientError) as caught:
        delivery(delivered, transfer_timeout=0.3, max_retries=0).deliver({"wt_users.csv": NEW})
    assert "timed out (transfer_timeout)" in str(caught.value)
    delivered.faults.slow_seconds = 0
    assert delivered.files()[USERS] == OLD


def test_without_posix_rename_the_file_is_replaced_by_remove_and_rename(delivered):
    delivered.faults.no_posix_rename = True
    assert delivery(delivered).deliver({"wt_users.csv": NEW, "wt_groups.csv": b"g\n"})["wt_users.csv"] == len(NEW)
    assert delivered.files() == {USERS: NEW, GROUPS: b"g\n"}
    assert len(delivered.ops("posix_rename")) == 1  # asked once, then not again
    assert [op["ok"] for op in delivered.ops("rename")] == [False, True, True]  # refused over the old file
    assert [op["path"] for op in delivered.ops("remove")] == ["/upload/wt_users.csv"]


@pytest.mark.parametrize("key_type", ["rsa", "ecdsa", "ed25519"])
def test_keys_of_every_type_with_a_passphrase_log_in(key_type):
    with SftpSandbox(client_key_type=key_type, passphrase="correct horse") as sandbox:
        assert delivery(sandbox).deliver({"wt_users.csv": OLD}) == {"wt_users.csv": len(OLD)}
        with pytest.raises(SftpAuthError, match="could not be read: .* or the passphrase is wrong"):
            delivery(sandbox, private_key_passphrase=_secret("wrong horse")).deliver({"wt_users.csv": NEW})
        with pytest.raises(SftpAuthError, match=r"needs private_key_passphrase"):
            delivery(sandbox, private_key_passphrase=None).deliver({"wt_users.csv": NEW})
        assert sandbox.files() == {USERS: OLD}


def _secret(value):
    from hrsync import Secret

    return Secret(value, "test")


def test_check_passes_on_a_writable_folder_and_leaves_nothing(delivered):
    lines = delivery(delivered).check()
    assert delivered.host_key_fingerprint in lines[0] and "is the pinned one" in lines[0]
    assert "wt_users.csv" in lines[1] and "writable" in lines[2]
    assert delivered.files() == {USERS: OLD}
    assert [op["ok"] for op in delivered.ops("write")] == [True]


def test_check_fails_clearly_on_a_missing_or_read_only_folder(delivered):
    with pytest.raises(SftpError, match=r"no such file or folder while listing /nope: check remote_folder"):
        delivery(delivered, remote_folder="/nope").check()
    delivered.faults.read_only = True
    with pytest.raises(SftpError, match=r"permission denied while writing a test file in /upload: the account hrsync "
                                        r"may not write"):
        delivery(delivered).check()
    assert delivered.files() == {USERS: OLD}


def test_secrets_appear_in_no_error_repr_or_log(caplog):
    caplog.set_level(logging.DEBUG)
    with SftpSandbox(passphrase="s3cret-passphrase") as sandbox:
        texts = []
        settings = SftpSchema().load(sandbox.settings())
        texts += [repr(settings), repr(delivery(sandbox))]
        for fault, error in (("refuse_key", SftpAuthError), ("changed_host_key", SftpHostKeyError),
                             ("disk_full_after", SftpError), ("drop_after", SftpTransientError)):
            sandbox.reset()
            sandbox.set_faults(**{fault: 40_000 if fault.endswith("_after") else True})
            with pytest.raises(error) as caught:
                delivery(sandbox, max_retries=0).deliver({"wt_users.csv": NEW})
            texts += [str(caught.value), repr(caught.value)]
        with pytest.raises(SftpAuthError) as caught:
            delivery(sandbox, private_key_passphrase=_secret("not-the-passphrase")).check()
        texts += [str(caught.value), caplog.text]
        lines = [line for line in sandbox.client_key_text.splitlines() if not line.startswith("-----")]
        for text in texts:
            assert "s3cret-passphrase" not in text and "not-the-passphrase" not in text
            assert not any(line in text for line in lines)


#: The child: one delivery of a big file from the settings in $SFTP_SETTINGS (the key in $SFTP_KEY).
CHILD = """
import json, os, sys
from hrsync_plugins.winningtemp.sftp_delivery import SftpDelivery
from hrsync_plugins.winningtemp.sftp_settings import SftpSchema
settings = SftpSchema().load(json.loads(os.environ["SFTP_SETTINGS"]))
SftpDelivery(settings).deliver({"wt_users.csv": sys.stdin.buffer.read()})
"""


def test_a_delivery_killed_mid_upload_leaves_the_previous_file_and_the_next_one_cleans_up(delivered):
    settings = {key: value for key, value in delivered.settings().items() if key != "private_key"}
    env = {**os.environ, "SFTP_KEY": delivered.client_key_text,
           "SFTP_SETTINGS": json.dumps({**settings, "private_key": {"env": "SFTP_KEY"}})}
    delivered.faults.slow_seconds = 0.1
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, env=env,
                             stderr=subprocess.DEVNULL)
    child.stdin.write(NEW)
    child.stdin.close()
    try:
        wait_until(lambda: delivered.ops("write"), timeout=30)  # bytes of the temporary file arrived
        child.send_signal(signal.SIGKILL)
        assert child.wait(30) == -signal.SIGKILL
    finally:
        child.kill()
    delivered.faults.slow_seconds = 0
    wait_until(lambda: delivered.ops("disconnect"), timeout=30)
    assert delivered.files()[USERS] == OLD  # never partial
    assert temporary(delivered)  # what the killed process left, hidden from an importer of *.csv
    assert not delivered.ops("posix_rename")

    assert delivery(delivered).deliver({"wt_users.csv": NEW}) == {"wt_users.csv": len(NEW)}
    assert delivered.files() == {USERS: NEW}  # the leftover removed


def test_a_server_that_is_not_there_is_retried_then_named(sftp_sandbox):
    settings = sftp_sandbox.settings()
    sftp_sandbox.stop()
    pauses = []
    with pytest.raises(SftpTransientError) as caught:
        SftpDelivery(SftpSchema().load(settings), pause=lambda s: pauses.append(s) or True).deliver({"a.csv": b"a"})
    assert f"127.0.0.1:{settings['port']}: cannot connect (connection refused); check host and port" in str(
        caught.value)
    assert len(pauses) == 3 and "Gave up after 4 attempts" in str(caught.value)


@pytest.mark.parametrize("hashed", [False, True])
def test_a_known_hosts_file_pins_the_server(sftp_sandbox, tmp_path, hashed):
    line = sftp_sandbox.known_hosts_line
    if hashed:  # as `ssh-keyscan -H` writes it
        name, rest = line.split(" ", 1)
        line = f"{paramiko.HostKeys.hash_host(name)} {rest}"
    (tmp_path / "known_hosts").write_text(f"other.example.com {line.split(' ', 1)[1]}\n{line}\n")
    settings = {"host_key_fingerprint": None, "known_hosts": str(tmp_path / "known_hosts")}
    assert delivery(sftp_sandbox, **settings).deliver({"wt_users.csv": OLD}) == {"wt_users.csv": len(OLD)}


@pytest.mark.parametrize(("encoding", "form"), [
    (serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL),  # BEGIN RSA PRIVATE KEY
    (serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8),  # BEGIN (ENCRYPTED) PRIVATE KEY
    (serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH)])
@pytest.mark.parametrize("passphrase", [None, "pass phrase"])
def test_private_keys_in_each_text_form_are_read(sftp_sandbox, encoding, form, passphrase):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    encryption = (serialization.BestAvailableEncryption(passphrase.encode()) if passphrase
                  else serialization.NoEncryption())
    text = key.private_bytes(encoding, form, encryption).decode()
    settings = SftpSchema().load(sftp_sandbox.settings(
        private_key=_secret(text), private_key_passphrase=_secret(passphrase) if passphrase else None))
    loaded = load_private_key(settings)
    assert isinstance(loaded, paramiko.RSAKey) and loaded.get_base64() == paramiko.RSAKey(key=key).get_base64()
