"""Exit codes: one per outcome (usage error, invalid hosts.yaml, a lock held, a report not delivered…), the same
in README.md's table and in ``hrsync run --help``, and an undelivered report never hidden by attention items."""

from __future__ import annotations

import re

import pytest
import yaml

from hrsync.errors import EXIT_CODES, EXIT_CONFIG, EXIT_LOCKED, EXIT_REPORT, EXIT_STOPPED, EXIT_USAGE, HrsyncError
from hrsync.sandbox.smtp import SmtpCapture
from hrsync.state.store import open_state
from hrsync_plugins.personio.sandbox_data import generate_employees
from tests.helpers import ROOT, connection_dict, run_cli
from tests.test_cli_loose_ends import smtp_hosts


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_readmes_exit_code_table_matches_run_help():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| (\d+) \| (.+?) \|$", readme.split("| Exit code | Meaning |", 1)[1], re.M))
    assert {int(code): meaning for code, meaning in table.items()} == EXIT_CODES
    shown = run_cli("run", "--help")
    assert shown.returncode == 0, shown.stderr
    for code, meaning in EXIT_CODES.items():
        assert _flat(f"{code} {meaning}") in _flat(shown.stdout), code
    assert len(set(EXIT_CODES)) == len(EXIT_CODES) and HrsyncError("x").exit_code == EXIT_STOPPED


def test_usage_errors_an_invalid_file_and_a_held_lock_each_have_their_own_code(tmp_path, personio, scim,
                                                                                secrets_env):
    path = tmp_path / "hosts.yaml"
    path.write_text(yaml.safe_dump({"host": {"state": "state.db"}, "connections": {"acme": connection_dict(
        personio, scim)}}))
    config = ("--config", str(path))
    for args, words in ((["run"], "Missing argument"), (["run", "acme", "--bogus"], "No such option"),
                        (["run", "nosuch"], "No such connection (configured: acme)"),
                        (["runs", "--connection", "nosuch"], "No such connection (configured: acme)"),
                        (["report", "999"], "No finished run with id 999")):
        result = run_cli(*config, *args)
        assert result.returncode == EXIT_USAGE and words in result.stderr, (args, result.stderr)
    with open_state(tmp_path / "state.db") as state, state.lock("acme"):
        held = run_cli(*config, "run", "acme")
    assert held.returncode == EXIT_LOCKED and "already running" in held.stderr, held.stderr
    assert personio.requests_to("/v1/auth") == []  # nothing ran
    path.write_text("connections: {acme: {source: {plugin: personio}}}\n")
    for args in (["run", "acme"], ["check", "--offline"]):
        invalid = run_cli(*config, *args)
        assert invalid.returncode == EXIT_CONFIG and "problem" in invalid.stderr, (args, invalid.stderr)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # a loopback test server
def test_a_run_with_attention_items_and_an_undelivered_report_exits_3(tmp_path, personio, scim, secrets_env):
    personio.employees = generate_employees(4, seed=5)
    personio.change(1000, email="")  # this person needs attention
    path = tmp_path / "hosts.yaml"
    with SmtpCapture(users={"hr": "right"}) as smtp:
        smtp_hosts(path, personio, scim, smtp.port)
        run = run_cli("--config", str(path), "run", "acme", env={"SMTP_PASSWORD": "wrong"})
    assert run.returncode == EXIT_REPORT, run.stdout + run.stderr
    assert "has no e-mail in Personio" in run.stdout and "saved to" in run.stdout
