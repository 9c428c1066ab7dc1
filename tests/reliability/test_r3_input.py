"""Round 3 of the adversarial review (issue 24, items 11–16): input and files.

Unicode e-mails, YAML bombs, names with a trailing newline, a full or read-only disk, symlinks in the
state's folder and secrets a protocol cannot carry: each ends in a clear message, never in a traceback,
a mangled file or a quoted secret.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import os
import re
import shutil
import subprocess
import unicodedata

import pytest
import yaml

from hrsync import ConfigError
from hrsync.config.load import load_config, parse_config
from hrsync.errors import StorageError
from hrsync.registry import load_plugins
from hrsync.sandbox.smtp import SmtpCapture
from hrsync.service.runner import run_and_report
from hrsync.state.store import open_state
from hrsync.sync.engine import sync_connection
from hrsync.testing import memory_plugin
from tests.helpers import HRSYNC, ROOT, bundled_plugins, cli_env, connection_dict, person, run_cli

# prctl(2): drop a capability from the bounding set (inherited over exec); CAP_DAC_OVERRIDE's number.
PR_CAPBSET_DROP, CAP_DAC_OVERRIDE = 24, 1


def test_r3_11_unicode_emails_are_one_form_one_case_and_a_bad_one_says_why(memory_config, memory_world):
    jose = unicodedata.normalize("NFD", "JOSÉ@example.com")
    assert jose != "JOSÉ@example.com" and len(jose) == len("JOSÉ@example.com") + 1
    memory_world.people = [person(1, email="FİLİZ@example.com"), person(2, email=jose),
                           person(3, email="ann smith@example.com"), person(4, email="bo@@example.com")]
    config, plugins = memory_config()
    result = sync_connection(config, "mem", plugins)
    emails = sorted(str(user["email"]) for user in memory_world.users.values())
    assert emails == ["filiz@example.com", "josé@example.com"]
    assert all(unicodedata.is_normalized("NFC", e) for e in emails)
    reasons = {line.source_id: line.reason for line in result.report.actions if line.action == "skip"}
    assert set(reasons) == {"3", "4"}
    assert "U+0020 SPACE" in reasons["3"] and "before the @" in reasons["3"]
    assert "more than one @" in reasons["4"]


def test_r3_12_a_yaml_alias_bomb_is_refused_at_load_naming_the_file(tmp_path):
    # 2**24 values in about 600 bytes (the review's 896-byte file stood for 2**32): refused before anything walks it.
    lines = ["l0: &l0 [x, x]"] + [f"l{i}: &l{i} [*l{i - 1}, *l{i - 1}]" for i in range(1, 25)]
    path = tmp_path / "hosts.yaml"
    path.write_text("x-anchors:\n" + "".join(f"  {line}\n" for line in lines) + "connections: {}\n")
    assert path.stat().st_size < 1000
    with pytest.raises(ConfigError) as info:
        load_config(path, bundled_plugins())
    assert str(path) in str(info.value) and "alias-expansion bomb" in str(info.value)
    path.write_text("a: &a [1, *a]\n")
    with pytest.raises(ConfigError, match="refers to the node it is inside of"):
        load_config(path, bundled_plugins())


def test_r3_13_a_trailing_newline_in_a_name_that_becomes_a_path_or_header_is_refused(personio, scim, secrets_env):
    conn = connection_dict(personio, scim, source={"app_id": "HRSYNC\n"}, schedule={"daily_at": "03:00\n"})
    with pytest.raises(ConfigError) as info:
        parse_config({"connections": {"acme\n": conn}}, bundled_plugins())
    errors = info.value.errors
    assert "Connection names use letters" in errors["connections.acme\\n"][0]  # the line break shown, not obeyed
    assert "UPPER_SNAKE_CASE" in errors["connections.acme\\n.source.app_id"][0]
    assert "HH:MM" in errors["connections.acme\\n.schedule.daily_at"][0]
    # Every anchored pattern in the code ends with \Z: `$` also matches before a final newline.
    sources = [*(ROOT / "core").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")]
    anchored = [f"{p.name}: {line.strip()}" for p in sources for line in p.read_text().splitlines()
                if re.search(r'r"\^[^"]*\$"', line)]
    assert anchored == []


def test_r3_14_a_full_disk_stops_the_run_with_a_clear_message_and_the_next_run_completes(memory_config,
                                                                                          memory_world, tmp_path):
    memory_world.people = [person(i) for i in range(3)]
    config, plugins = memory_config()
    assert sync_connection(config, "mem", plugins).status == "ok"
    memory_world.people = [person(i, position="x" * 2000) for i in range(200)]
    state = open_state(config.state)
    # The disk fills up: SQLite may not grow the file past the pages it has now (vacuumed first, so no free
    # page left over from a migration holds the run's outcome after all).
    state.db.execute("vacuum")
    pages = state.db.execute("pragma page_count").fetchone()[0]
    state.db.execute(f"pragma max_page_count = {pages}")
    with pytest.raises(StorageError) as info:
        sync_connection(config, "mem", plugins, state=state)
    state.close()
    message = str(info.value)
    assert str(tmp_path / "state.db") in message and "disk is full" in message and "run again" in message
    assert "rollback" not in message and info.value.exit_code == 2
    # With room again, the next run completes: everyone once, nobody lost or doubled.
    result = sync_connection(config, "mem", plugins)
    assert result.status == "ok", result.report.message
    assert sorted(str(u["email"]) for u in memory_world.users.values()) == sorted(
        f"person{i}@example.com" for i in range(200))


def _no_root_override() -> None:
    """In the child, before exec: root gives up overriding file modes (CAP_DAC_OVERRIDE), as an ordinary user
    never had it, so a folder without write permission is one it cannot write."""
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE)")


def test_r3_14_a_read_only_state_folder_is_a_clear_message_and_exit_2(tmp_path, personio, scim, secrets_env):
    folder = tmp_path / "state"
    folder.mkdir()
    path = tmp_path / "hosts.yaml"
    path.write_text(yaml.safe_dump({"host": {"state": str(folder / "state.db")},
                                    "connections": {"acme": connection_dict(personio, scim)}}))
    folder.chmod(0o555)
    try:
        result = subprocess.run([HRSYNC, "--config", str(path), "run", "acme"], capture_output=True, text=True,
                                env=cli_env(), timeout=120, preexec_fn=_no_root_override)
    finally:
        folder.chmod(0o700)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"cannot write {folder / 'state.db'}" in result.stderr and "read-only" in result.stderr
    assert "Traceback" not in result.stderr and "Errno" not in result.stderr
    assert list(folder.iterdir()) == []  # nothing half-written
    assert run_cli("--config", str(path), "run", "acme").returncode == 0


def test_r3_15_symlinked_state_lock_and_outbox_files_are_refused_and_their_targets_untouched(
        memory_config, memory_world, tmp_path):
    memory_world.people = [person(1)]
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    victim.chmod(0o644)

    def untouched() -> bool:
        return victim.read_text() == "precious\n" and oct(victim.stat().st_mode)[-3:] == "644"

    config, plugins = memory_config()
    state = tmp_path / "state.db"
    for link in (state, tmp_path / "state.db.mem.lock", tmp_path / "state.db-wal"):
        link.symlink_to(victim)
        with pytest.raises(StorageError, match="is a symbolic link") as info:
            run_and_report(config, "mem", plugins)
        assert str(link) in str(info.value) and untouched(), link
        link.unlink()
    # A shared outbox: links planted at the names the next report may take never receive it.
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    start = dt.datetime.now()
    for second in range(30):
        stamp = (start + dt.timedelta(seconds=second)).strftime("%Y%m%dT%H%M%S")
        (outbox / f"mem-1-{stamp}.eml").symlink_to(victim)  # no run started above: this is run 1
    result, delivery = run_and_report(config, "mem", plugins)
    assert result.status == "ok" and result.run_id == 1 and delivery.how == "outbox", delivery.detail
    assert delivery.path.name.startswith(f"mem-1-{start.strftime('%Y%m%d')}") and delivery.path.name.count("-") == 3
    assert untouched() and not delivery.path.is_symlink() and "Subject:" in delivery.path.read_text()
    assert [p.name for p in outbox.iterdir() if p.name.startswith(".")] == []
    # The outbox itself a link: refused, with the report's delivery saying why.
    shutil.rmtree(outbox)
    outbox.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    result, delivery = run_and_report(config, "mem", plugins)
    assert delivery.how == "lost" and "is a symbolic link" in delivery.detail
    assert not (tmp_path / "elsewhere").exists()


def test_r3_16_a_token_an_http_header_cannot_carry_is_refused_on_load_without_quoting_it(personio, scim,
                                                                                         monkeypatch):
    monkeypatch.setenv("PERSONIO_CLIENT_ID", personio.client_id)
    monkeypatch.setenv("PERSONIO_CLIENT_SECRET", personio.client_secret)
    monkeypatch.setenv("WINNINGTEMP_TOKEN", "tok-en-with-a-euro-€-0451")
    with pytest.raises(ConfigError) as info:
        parse_config({"connections": {"acme": connection_dict(personio, scim)}}, bundled_plugins())
    (message,) = info.value.errors["connections.acme.sink.token"]
    assert "WINNINGTEMP_TOKEN" in message and "HTTP header" in message
    for leak in ("€", "\\u20ac", "0451", "position", "tok-en"):
        assert leak not in str(info.value), leak


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # a loopback test server
@pytest.mark.parametrize("given", ["pässwörd-€-77", "wrong-€-77"], ids=["accepted", "refused"])
def test_r3_16_an_smtp_password_beyond_ascii_logs_in_or_is_refused_and_the_report_is_kept(
        memory_world, tmp_path, monkeypatch, given):
    memory_world.people = [person(1)]
    monkeypatch.setenv("SMTP_PASSWORD", given)
    with SmtpCapture(users={"reporter": "pässwörd-€-77"}) as smtp:
        world = {"plugin": "memory", "world": memory_world}
        data = {"host": {"state": str(tmp_path / "state.db"), "smtp": {
                    "host": "127.0.0.1", "port": smtp.port, "security": "none", "allow_plaintext_auth": True,
                    "username": "reporter", "password": "${SMTP_PASSWORD}", "sender": "hrsync@example.com"}},
                "connections": {"mem": {"source": world, "sink": world, "report": {"recipients": ["hr@example.com"]}}}}
        plugins = load_plugins(entry_points=False, plugins=[("memory", memory_plugin())])
        config = parse_config(data, plugins, path=tmp_path / "hosts.yaml")
        result, delivery = run_and_report(config, "mem", plugins)
        if given.startswith("wrong"):  # refused: the report is kept in the outbox, the password never quoted
            assert delivery.how == "failed" and delivery.path.exists(), delivery.detail
            assert "host.smtp.password" in delivery.detail and "77" not in delivery.detail
        else:
            (received,) = smtp.wait_for(1)
            assert delivery.how == "sent" and received.authenticated_as == "reporter"
    assert result.status == "ok"
