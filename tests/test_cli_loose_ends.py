"""The operator's loose ends, each measured: the outbox after a report is sent again, ``status`` listing every
undelivered report, ``prune`` asking first, ``check --offline`` without the secrets, a runnable dry-run hint,
shell completion of connections and run ids, and what a terminal shows (a stop request on its own line, FAILED
in red - never in a pipe or JSON)."""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
from pathlib import Path

import pytest
import yaml

from hrsync.errors import EXIT_USAGE
from hrsync.report.render import render_text
from hrsync.sandbox.smtp import SmtpCapture
from hrsync.state.store import open_state
from hrsync_plugins.personio.sandbox_data import generate_employees
from tests.helpers import HRSYNC, Terminal, cli_env, connection_dict, person, run_cli, sync_memory, wait_until

SECRETS = ("PERSONIO_CLIENT_ID", "PERSONIO_CLIENT_SECRET", "WINNINGTEMP_TOKEN")


def _hrsync(*args: str, stdin=subprocess.DEVNULL, env: dict | None = None) -> subprocess.CompletedProcess:
    """``hrsync`` with stdin not a terminal and, unless ``env`` says otherwise, none of the secrets set."""
    base = {k: v for k, v in cli_env().items() if k not in SECRETS}
    return subprocess.run([HRSYNC, *args], stdin=stdin, capture_output=True, text=True, env={**base, **(env or {})},
                          timeout=120)


def smtp_hosts(path, personio, scim, port: int, **report) -> None:
    """hosts.yaml for `acme` reporting over SMTP on ``port`` as user hr, password $SMTP_PASSWORD: a server that
    refuses the login refuses at once (no retries), which is how these tests make a report undeliverable."""
    path.write_text(yaml.safe_dump({
        "host": {"state": "state.db", "outbox": "outbox",
                 "smtp": {"host": "127.0.0.1", "port": port, "security": "none", "sender": "h@example.com",
                          "username": "hr", "password": "${SMTP_PASSWORD}", "allow_plaintext_auth": True}},
        "connections": {"acme": connection_dict(personio, scim, report={"recipients": ["hr@example.com"],
                                                                         **report})}}))


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # a loopback test server
def test_a_sent_report_leaves_the_outbox_and_status_lists_every_undelivered_one(tmp_path, personio, scim,
                                                                                 secrets_env):
    personio.employees = generate_employees(4, seed=3)
    path = tmp_path / "hosts.yaml"
    wrong, right = {"SMTP_PASSWORD": "wrong"}, {"SMTP_PASSWORD": "right"}
    with SmtpCapture(users={"hr": "right"}) as smtp:
        smtp_hosts(path, personio, scim, smtp.port, send="always")
        for _ in range(2):
            assert run_cli("--config", str(path), "run", "acme", env=wrong).returncode == 3
        assert len(list((tmp_path / "outbox").glob("*.eml"))) == 2
        status = run_cli("--config", str(path), "status", env=wrong)
        assert "report not delivered (run 1, " in status.stdout and "report not delivered (run 2, " in status.stdout
        sent = run_cli("--config", str(path), "report", "1", "--send", env=right)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        smtp.wait_for(1)
    assert "removed from the outbox: acme-1-" in sent.stdout
    (left,) = (tmp_path / "outbox").glob("*.eml")
    assert left.name.startswith("acme-2-")
    rows = json.loads(run_cli("--config", str(path), "status", "--json", env=right).stdout)
    assert [r["id"] for r in rows[0]["undelivered"]] == [2]


def test_prune_says_what_it_would_delete_and_asks_first(tmp_path, memory_config, world):
    sync_memory(memory_config())
    with open_state(tmp_path / "state.db") as state, state.batch():
        state.db.execute("update runs set started_at = '2020-01-01T00:00:00+00:00'")
    (tmp_path / "hosts.yaml").write_text("connections: {}\nhost: {state: state.db}\n")
    config = ("--config", str(tmp_path / "hosts.yaml"))
    dry = _hrsync(*config, "prune", "--older-than", "1", "--dry-run")
    assert dry.returncode == 0 and "Would delete 1 run(s) older than 1 day(s) (runs 1)" in dry.stdout, dry.stderr
    refused = _hrsync(*config, "prune", "--older-than", "1")
    assert refused.returncode == EXIT_USAGE and "add --yes" in refused.stderr
    primary, secondary = pty.openpty()
    try:
        os.write(primary, b"n\n")
        declined = _hrsync(*config, "prune", "--older-than", "1", stdin=secondary)
    finally:
        os.close(secondary)
        os.close(primary)
    assert declined.returncode == 0 and "Delete 1 run(s)" in declined.stdout and "Nothing deleted" in declined.stdout
    with open_state(tmp_path / "state.db", read_only=True) as state:
        assert len(state.runs()) == 1
    done = _hrsync(*config, "prune", "--older-than", "1", "--yes")
    assert done.returncode == 0 and "Deleted 1 run(s)" in done.stdout


def test_check_offline_validates_references_without_their_values(tmp_path):
    path = tmp_path / "hosts.yaml"
    conn = {"source": {"plugin": "personio", "client_id": "${PERSONIO_CLIENT_ID}",
                       "client_secret": {"file": str(tmp_path / "absent")}},
            "sink": {"plugin": "winningtemp", "token": "${WINNINGTEMP_TOKEN}"}}
    sftp = {"host": "sftp.example.com", "username": "acme", "private_key": {"file": str(tmp_path / "key")},
            "known_hosts": str(tmp_path / "known_hosts")}  # files only connecting to the server reads
    files = {"source": conn["source"], "sink": {"plugin": "winningtemp-file", "sftp": sftp}}
    path.write_text(yaml.safe_dump({"host": {"state": "state.db"}, "connections": {"acme": conn, "files": files}}))
    offline = _hrsync("--config", str(path), "check", "--offline")
    assert offline.returncode == 0, offline.stdout + offline.stderr
    assert "note: client_id: environment variable PERSONIO_CLIENT_ID is not set; a run needs it" in offline.stdout
    assert f"secret file {tmp_path / 'absent'} cannot be read" in offline.stdout
    assert f"note: known_hosts: file {tmp_path / 'known_hosts'} is not there; a run needs it" in offline.stdout
    notes = json.loads(_hrsync("--config", str(path), "check", "--offline", "--json").stdout)["notes"]
    assert len(notes) == 7
    online = _hrsync("--config", str(path), "check")  # a run needs the values: still an error there
    assert online.returncode == 4 and "Environment variable PERSONIO_CLIENT_ID is not set" in online.stderr
    assert f"connections.files.sink.sftp.known_hosts: No file {tmp_path / 'known_hosts'}" in online.stderr
    conn["sink"]["token"] = "written-inline"  # a reference that is not one stays an error offline too
    path.write_text(yaml.safe_dump({"host": {"state": "state.db"}, "connections": {"acme": conn}}))
    assert _hrsync("--config", str(path), "check", "--offline").returncode == 4


def test_the_dry_run_hint_is_a_command_that_runs(memory_config, memory_world):
    memory_world.people = [person(i) for i in range(60)]  # more than a report lists
    report = sync_memory(memory_config(), dry_run=True).report
    assert "`hrsync run mem --dry-run --json`" in render_text(report)
    assert "`hrsync run mem --dry-run --json`" in render_text(report, config=Path("hosts.yaml"))  # the default
    quoted = render_text(report, config=Path("/etc/hr sync/hosts.yaml"))  # any other file is named, quoted
    assert "`hrsync --config '/etc/hr sync/hosts.yaml' run mem --dry-run --json`" in quoted


def test_shell_completion_offers_connection_names_and_run_ids(tmp_path, memory_config, world):
    sync_memory(memory_config())
    conn = {"source": {"plugin": "personio", "client_id": "${PERSONIO_CLIENT_ID}", "client_secret": "${NOPE}"},
            "sink": {"plugin": "winningtemp", "token": "${WINNINGTEMP_TOKEN}"}}
    path = tmp_path / "hosts.yaml"
    path.write_text(yaml.safe_dump({"host": {"state": "state.db"}, "connections": {"acme": conn, "beta": conn}}))

    def complete(*words: str) -> list[str]:
        line = ["hrsync", "--config", str(path), *words]
        env = {"_HRSYNC_COMPLETE": "bash_complete", "COMP_WORDS": " ".join(line), "COMP_CWORD": str(len(line) - 1)}
        return _hrsync(env=env).stdout.split()

    assert complete("run", "") == ["plain,acme", "plain,beta"]
    assert complete("resume", "b") == ["plain,beta"]
    assert complete("report", "") == ["plain,1"]


def test_a_stop_request_is_said_on_its_own_line_below_the_progress_bar(hosts_file, personio, scim):
    personio.employees = generate_employees(60, seed=7)
    scim.faults.slow_seconds = 0.03
    terminal = Terminal("--config", str(hosts_file(create_leavers=True)), "run", "acme")
    wait_until(lambda: len(scim.write_requests()) >= 8)
    terminal.proc.send_signal(signal.SIGINT)
    code, seen = terminal.finish()
    assert code == 2 and "Applying to Winningtemp" in seen
    assert re.search(r"\nStopping after the writes in flight", seen), seen


def test_failed_is_red_on_a_terminal_only(tmp_path, personio, scim, secrets_env):
    path = tmp_path / "hosts.yaml"
    conn = connection_dict(personio, scim, source={"base_url": "http://127.0.0.1:1", "max_retries": 0})
    path.write_text(yaml.safe_dump({"host": {"state": "state.db"}, "connections": {"acme": conn}}))
    code, seen = Terminal("--config", str(path), "check", fd="stdout").finish()
    assert code == 2 and "\x1b[31m\x1b[1mFAILED\x1b[0m" in seen, seen
    piped = run_cli("--config", str(path), "check")
    assert "FAILED" in piped.stdout and "\x1b[" not in piped.stdout
    assert "\x1b[" not in run_cli("--config", str(path), "check", "--json").stdout


def test_the_license_is_apache_2_and_every_required_distribution_is_imported():
    import ast
    import configparser
    import importlib.metadata

    from tests.helpers import ROOT

    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    assert config["metadata"]["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.split()[:5] == ["Apache", "License", "Version", "2.0,", "January"]
    assert "END OF TERMS AND CONDITIONS" in text and "APPENDIX: How to apply the Apache License" in text
    required = {re.split(r"[<>=!~;\s\[]", line.strip())[0].lower().replace("_", "-")
                for line in config["options"]["install_requires"].splitlines() if line.strip()
                and not line.strip().startswith("#")}
    modules = set()
    for path in [*(ROOT / "core").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                modules.add(node.module.split(".")[0])
    owners = importlib.metadata.packages_distributions()
    imported = {dist.lower().replace("_", "-") for module in modules for dist in owners.get(module, [])}
    # tzdata is data, read by the standard library's zoneinfo where the system has no time zone database.
    assert required - imported == {"tzdata"}
