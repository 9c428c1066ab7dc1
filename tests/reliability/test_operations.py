"""Operations: a locked state and a hardened systemd service end in clear messages, not tracebacks."""

from __future__ import annotations

import configparser
import sqlite3

import yaml

from hrsync.errors import EXIT_LOCKED
from tests.helpers import ROOT, connection_dict, run_cli


def test_10_a_locked_state_database_is_a_clear_message_and_exit_5(tmp_path, personio, scim, secrets_env):
    path = tmp_path / "hosts.yaml"
    path.write_text(yaml.safe_dump({"host": {"state": "state.db", "busy_timeout": 0.3},
                                    "connections": {"acme": connection_dict(personio, scim)}}))
    assert run_cli("--config", str(path), "run", "acme").returncode == 0
    holder = sqlite3.connect(tmp_path / "state.db")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        for command in (["run", "acme"], ["resume", "acme"]):  # writers (readers go on: WAL)
            result = run_cli("--config", str(path), *command)
            assert result.returncode == EXIT_LOCKED, result.stdout + result.stderr
            assert "locked by another program" in result.stderr + result.stdout
            assert "Traceback" not in result.stderr
    finally:
        holder.rollback()
        holder.close()


def test_11_the_systemd_unit_keeps_hosts_yaml_read_only_and_the_state_private(tmp_path, personio, scim,
                                                                             secrets_env):
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(ROOT / "docs" / "hrsync.service")
    service = unit["Service"]
    assert service["ProtectSystem"] == "strict" and service["UMask"] == "0077"
    assert service["StateDirectory"] == "hrsync" and service["Environment"] == "HRSYNC_CONFIG=/etc/hrsync/hosts.yaml"
    # As under that unit: hosts.yaml in a read-only folder, $STATE_DIRECTORY writable, no host.state given.
    etc, var = tmp_path / "etc", tmp_path / "var"
    etc.mkdir()
    var.mkdir(mode=0o700)
    (etc / "hosts.yaml").write_text(yaml.safe_dump({"connections": {"acme": connection_dict(personio, scim)}}))
    etc.chmod(0o555)
    try:
        result = run_cli("--config", str(etc / "hosts.yaml"), "run", "acme", env={"STATE_DIRECTORY": str(var)})
    finally:
        etc.chmod(0o755)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (var / "hrsync-state.db").exists() and (var / "outbox").is_dir()
    assert oct((var / "hrsync-state.db").stat().st_mode)[-3:] == "600"
    assert sorted(p.name for p in etc.iterdir()) == ["hosts.yaml"]
