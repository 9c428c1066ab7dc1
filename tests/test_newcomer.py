"""The newcomer path: `hrsync demo`, `hrsync sandbox`, and the sandbox hook."""

from __future__ import annotations

import json
import re
import signal
import subprocess

import pytest

from hrsync_plugins.personio.sandbox_data import generate_employees, list_response
from tests.helpers import HRSYNC, bundled_plugins, cli_env, run_cli

NOT_RECEIVED = "Winningtemp does not receive gender, birthday, hire date and termination date"


def test_demo_end_to_end(tmp_path):
    result = run_cli("demo", "--folder", str(tmp_path / "demo"), timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "First sync ok: 166 created, 0 skipped, 0 failed, 12 not created (had left)" in out
    first_report = out.split("HR changes")[0]
    hosts = tmp_path / "demo" / "hosts.yaml"  # the pointer reads the demo's hosts.yaml, wherever it is run
    assert "Created (166):" in first_report
    assert f"… and 161 more (see `hrsync --config {hosts} report 1 --connection " in first_report
    assert "Waiting for their start date (22):" in first_report  # onboarding: created on their hire date
    assert "Not created, had already left (12):" in first_report
    assert f"{NOT_RECEIVED}" in first_report  # the documented SCIM profile: said plainly
    second_report = out.split("HR changes")[1]
    assert "sandbox: 1 created, 3 updated, 1 needs attention" in second_report  # the subject names the connection
    numbers = re.search(r"In numbers: (.*)", second_report).group(1)
    assert numbers == ("1 created, 3 updated, 1 needs attention, 22 waiting for their start date, "
                       "12 not created (had already left), 162 unchanged.")
    assert "Not created, had already left" not in second_report  # named once, on the first sync
    assert "has no e-mail in Personio\n    What to do: Add one there" in second_report
    assert "E-mail: katarzyna.akesson@example.com → moved." in out and "set inactive" in out and "-Nyström" in out
    # A standing condition: in full on the first report, then one quiet line.
    assert f"Warning: {NOT_RECEIVED}" not in second_report
    assert f"Still as reported before: {NOT_RECEIVED}." in second_report
    assert "Groups (18):" in first_report and "New group: Sales (" in first_report  # 6 departments, 12 teams
    second_groups = out.split("HR changes")[1].split("Groups (2):")[1]
    assert "New group: Customer Success (1 member)" in second_groups and ": 1 member removed" in second_groups
    saved = re.findall(r"^  (/\S+\.(?:eml|html))$", out, flags=re.M)
    assert len(saved) == 2 and all((tmp_path / "demo" / "mail").joinpath(p.rsplit("/", 1)[1]).exists()
                                   for p in saved)
    assert "mail.log" not in result.stderr  # quiet: no SMTP chatter


def test_hook_register_sandboxes():
    host = bundled_plugins()
    assert set(host.sandboxes("source")) == {"personio"}
    assert set(host.sandboxes("sink")) == {"winningtemp", "winningtemp-file"}
    assert [name for name, cls in host.sandboxes("sink").items() if not cls.only_when_named] == ["winningtemp"]


def test_sandbox_command_serves_until_sigterm_and_writes_a_working_config(tmp_path):
    data = tmp_path / "company.json"
    data.write_text(json.dumps(list_response(generate_employees(12, seed=5))))
    config = tmp_path / "sb" / "hosts.yaml"
    proc = subprocess.Popen([HRSYNC, "sandbox", "--json", "--personio-data", str(data), "--write-config",
                             str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env())
    try:
        info = json.loads(proc.stdout.readline())
        assert info["personio"]["base_url"].startswith("http://127.0.0.1:")
        assert info["winningtemp"]["base_url"].endswith("/v2") and info["winningtemp"]["token"]
        assert info["config"] == str(config)
        text = config.read_text()
        assert info["winningtemp"]["token"] not in text and "file:" in text
        run = run_cli("--config", str(config), "run", "sandbox", timeout=60)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "9 created" in run.stdout and "1 not created (had already left)" in run.stdout
        assert "2 waiting for their start date" in run.stdout
        assert "report e-mailed to" in run.stdout + run.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    assert list((tmp_path / "sb" / "mail").glob("*.eml"))
    secrets = list((tmp_path / "sb" / "secrets").iterdir())
    assert secrets and all(oct(p.stat().st_mode)[-3:] == "600" for p in secrets)


def test_sandbox_help_lists_the_source_data_option():
    result = run_cli("sandbox", "--help")
    assert "--personio-data" in result.stdout and "--employees" in result.stdout


def test_sandbox_choice_is_required_when_two_of_a_kind_are_installed():
    from hrsync import PluginError, hookimpl
    from hrsync.cli.launch import pick
    from hrsync.sandbox import SourceSandbox

    class OtherSandbox(SourceSandbox):
        name = "other"

    class Other:
        @staticmethod
        @hookimpl
        def register_sandboxes(register):
            register(OtherSandbox)

    plugins = bundled_plugins(("other", Other))
    with pytest.raises(PluginError, match="Several source sandboxes are installed .*choose one with --source"):
        pick(plugins, "source", None)
    assert pick(plugins, "source", "other") is OtherSandbox
    assert pick(plugins, "sink", None).name == "winningtemp"  # the only one: no choice needed
    result = run_cli("demo", "--source", "nowhere")
    assert result.returncode == 2 and "No source sandbox named 'nowhere'" in result.stderr


def test_the_sandbox_credential_can_be_restricted_like_a_real_one(tmp_path):
    result = run_cli("demo", "--folder", str(tmp_path / "demo"), "--employees", "10",
                     "--personio-readable", "first_name,last_name,email,hire_date", timeout=120)
    assert result.returncode == 2
    assert "Personio's API credential cannot read status, which the sync needs" in result.stdout


def test_without_the_sandbox_extra_demo_and_sandbox_name_it_in_one_line(tmp_path):
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    for module in ("scim2_server", "aiosmtpd"):  # what `pip install hrsync` without [sandbox] lacks
        (blocked / f"{module}.py").write_text("raise ImportError('not installed')\n")
    env = {"PYTHONPATH": str(blocked)}
    for command in (["demo", "--folder", str(tmp_path / "demo")], ["sandbox"]):
        result = run_cli(*command, env=env)
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [result.stderr.strip()]  # one line, no traceback
        assert "pip install 'hrsync[sandbox]'" in result.stderr


def test_the_demo_with_the_file_integration_shows_the_files_with_personal_data_masked(tmp_path):
    result = run_cli("demo", "--sink", "winningtemp-file", "--folder", str(tmp_path / "demo"), timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    shown = result.stdout.split("What winningtemp-file now holds (birthdays and gender masked):")[1]
    header, first = shown.split("wt_users.csv (")[1].splitlines()[1:3]
    assert header.strip().startswith("External ID;First name;Last name;Username;E-mail;Gender;Birthday")
    assert first.split(";")[5:7] == ["***", "***"]
    assert "wt_groups.csv (19 rows):" in shown  # 6 departments, 12 teams and the new Customer Success
    assert "New group: Customer Success (1 member)" in result.stdout
