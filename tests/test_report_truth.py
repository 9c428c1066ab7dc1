"""Reports never overstate: counts are what the sink confirmed, and a first run shows whom it linked."""

from __future__ import annotations

import json
import re
import signal
import subprocess

from hrsync.report.render import render_html, render_text
from hrsync.sync.engine import RunOptions, sync_connection
from hrsync_plugins.personio.sandbox_data import generate_employees, make_employee
from tests.helpers import HRSYNC, Terminal, cli_env, run_cli, wait_until


def test_an_interrupted_sync_reports_exactly_what_the_sink_holds_in_every_format(hosts_file, personio, scim):
    personio.employees = generate_employees(60, seed=81)
    scim.faults.slow_seconds = 0.03
    path = hosts_file(create_leavers=True)
    proc = subprocess.Popen([HRSYNC, "--config", str(path), "run", "acme"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=cli_env())
    wait_until(lambda: len(scim.write_requests()) >= 8)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2
    held = {u["userName"] for u in scim.users()}
    assert 0 < len(held) < 60
    outputs = {fmt: run_cli("--config", str(path), "report", "1", "--format", fmt).stdout
               for fmt in ("text", "html", "json", "eml")}
    stored = json.loads(outputs["json"])
    assert stored["counts"]["created"] == len(held) and stored["counts"]["not_applied"] == 60 - len(held)
    for text in (out, outputs["text"]):
        assert f"interrupted — {len(held)} created, {60 - len(held)} not applied" in text
        assert text.splitlines()[1].startswith("INTERRUPTED on request")
        created = re.search(r"Created \((\d+)\)", text)
        assert created and int(created.group(1)) == len(held)
    assert f"interrupted — {len(held)} created" in outputs["html"] and "INTERRUPTED on request" in outputs["html"]
    assert "interrupted" in re.search(r"^Subject: (.*)$", outputs["eml"], re.M).group(1)
    listed = {a["email"] for a in stored["actions"] if a["action"] == "create" and a["outcome"] == "applied"}
    assert listed == held
    runs = json.loads(run_cli("--config", str(path), "runs", "--json").stdout)
    assert runs[0]["created"] == len(held) and runs[0]["status"] == "interrupted"


def test_a_first_run_into_a_populated_sink_shows_whom_it_links_and_whom_nobody_matches(e2e_config, personio,
                                                                                      scim):
    personio.employees = [make_employee(id=i, first_name=f"P{i}", last_name="L", email=f"p{i}@example.com",
                                        status="active") for i in range(1, 6)]
    scim.seed_users([{"userName": f"P{i}@example.com", "name": {"givenName": f"P{i}", "familyName": "L"},
                      "emails": [{"value": f"p{i}@example.com", "type": "work", "primary": True}]} for i in (1, 2, 3)]
                    + [{"userName": f"old{i}@example.com", "name": {"givenName": "Old", "familyName": str(i)},
                        "emails": [{"value": f"old{i}@example.com", "type": "work", "primary": True}]}
                       for i in (1, 2)])
    config, plugins = e2e_config()
    dry = sync_connection(config, "acme", plugins, RunOptions(dry_run=True))
    text = render_text(dry.report)
    assert "To link to existing Winningtemp users by e-mail (3)" in text
    assert "In Winningtemp, not in Personio (2)" in text and "old1@example.com" in text
    result = sync_connection(config, "acme", plugins)
    html = render_html(result.report)
    assert "Linked to existing Winningtemp users by e-mail (3)" in html
    assert "In Winningtemp, not in Personio (2)" in html and "Old 2" in html
    assert result.report.counts["created"] == 2


def test_a_report_smtp_refuses_is_kept_in_the_outbox_and_can_be_sent_again(tmp_path, personio, scim, secrets_env):
    import yaml

    from hrsync.sandbox.smtp import SmtpCapture
    from tests.helpers import connection_dict

    personio.employees = generate_employees(5, seed=2)
    with SmtpCapture() as down:
        port = down.port  # a port nobody listens on once this capture stops
    path = tmp_path / "hosts.yaml"

    def write(smtp_port):
        path.write_text(yaml.safe_dump({
            "host": {"state": "state.db", "outbox": "outbox",
                     "smtp": {"host": "127.0.0.1", "port": smtp_port, "security": "none", "sender": "h@example.com"}},
            "connections": {"acme": connection_dict(personio, scim, report={"recipients": ["hr@example.com"]})}}))

    write(port)
    run = run_cli("--config", str(path), "run", "acme")
    assert run.returncode == 3, run.stdout + run.stderr
    # the command to send it again reads the same hosts.yaml and names the connection (run ids are per state file)
    assert "saved to" in run.stdout and f"hrsync --config {path} report 1 --connection acme --send" in run.stdout
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    assert oct(eml.stat().st_mode)[-3:] == "600" and oct(eml.parent.stat().st_mode)[-3:] == "700"
    status = run_cli("--config", str(path), "status")
    assert "report not delivered" in status.stdout
    with SmtpCapture() as smtp:
        write(smtp.port)
        again = run_cli("--config", str(path), "report", "1", "--send")
        assert again.returncode == 0, again.stdout + again.stderr
        (received,) = smtp.wait_for(1)
    assert received.recipients == ["hr@example.com"] and "created" in received.message["Subject"]
    assert "report not delivered" not in run_cli("--config", str(path), "status").stdout


def test_check_answers_in_seconds_with_one_line_per_problem(tmp_path, personio, scim, secrets_env):
    import yaml

    from tests.helpers import connection_dict

    path = tmp_path / "hosts.yaml"
    conn = connection_dict(personio, scim, source={"base_url": "http://127.0.0.1:1"},
                           sink={"base_url": "https://hrsync-test.invalid/scim"})
    path.write_text(yaml.safe_dump({"host": {"state": "state.db"}, "connections": {"acme": conn}}))
    # The subprocess timeout is a guard against the minutes retries would take, not a measurement.
    result = run_cli("--config", str(path), "check", timeout=30)
    assert result.returncode == 2
    lines = result.stdout.splitlines()
    (source,) = [line for line in lines if "source personio" in line]
    (sink,) = [line for line in lines if "sink winningtemp" in line]
    assert "FAILED" in source and "http://127.0.0.1:1/v1/auth: connection refused" in source
    assert "FAILED" in sink and "https://hrsync-test.invalid/scim/ServiceProviderConfig: DNS: host not found" in sink
    assert "Retrying" not in result.stderr and "urllib3" not in result.stderr


def test_cli_consistency_options_after_the_command_env_vars_json_check_and_host_times(tmp_path, personio, scim,
                                                                                     secrets_env):
    import yaml

    from tests.helpers import connection_dict

    path = tmp_path / "hosts.yaml"
    path.write_text(yaml.safe_dump({"host": {"state": "state.db", "timezone": "Europe/Stockholm"},
                                    "connections": {"acme": connection_dict(personio, scim)}}))
    checked = run_cli("check", "--json", "--config", str(path))  # --config after the command
    assert checked.returncode == 0, checked.stdout + checked.stderr
    body = json.loads(checked.stdout)
    assert body["valid"] and {r["what"] for r in body["results"]} == {"source personio", "sink winningtemp"}
    assert all(r["ok"] for r in body["results"])
    assert run_cli("run", "acme", env={"HRSYNC_CONFIG": str(path)}).returncode == 0
    table = run_cli("runs", env={"HRSYNC_CONFIG": str(path)}).stdout
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d CES?T", table), table  # the host's time zone, abbreviated
    started = json.loads(run_cli("runs", "--json", "--config", str(path)).stdout)[0]["started"]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$", started)  # JSON: ISO 8601 with its offset
    debug = run_cli("--config", str(path), "report", "999", env={"HRSYNC_DEBUG": "1"})
    assert "Traceback" in debug.stderr  # HRSYNC_DEBUG=1 is --debug


def on_a_terminal(*args: str) -> str:
    """Run `hrsync` with its stderr on a pseudo-terminal; returns what the terminal showed."""
    code, seen = Terminal(*args).finish()
    assert code == 0
    return seen


def test_a_run_shows_progress_on_a_terminal_and_nothing_extra_otherwise(hosts_file, personio, scim):
    path = hosts_file(create_leavers=True)
    text = on_a_terminal("--config", str(path), "run", "acme")
    assert "Reading Personio: 60 people" in text and "Applying to Winningtemp" in text and "60/60" in text
    assert "people/s" in text  # the rate
    personio.change(1003, last_name="Changed")
    piped = run_cli("--config", str(path), "run", "acme")
    assert piped.returncode == 0 and "Reading" not in piped.stderr and "Applying" not in piped.stderr
    personio.change(1004, last_name="Changed")
    as_json = on_a_terminal("--config", str(path), "run", "acme", "--json")
    assert "Reading" not in as_json and "Applying" not in as_json


def test_a_run_against_an_unreachable_source_says_how_long_it_tried(e2e_config, personio, scim):
    config, plugins = e2e_config(source={"base_url": "http://127.0.0.1:1", "max_retries": 2, "retry_backoff": 0.6})
    result = sync_connection(config, "acme", plugins)
    assert result.status == "stopped"
    assert "http://127.0.0.1:1/v1/company/employees/attributes: connection refused, after trying for" in \
        result.message or "http://127.0.0.1:1/v1/auth: connection refused, after trying for" in result.message


def test_options_that_change_a_run_never_come_from_the_environment(hosts_file, personio, scim):
    path = hosts_file(missing="deactivate")
    assert run_cli("--config", str(path), "run", "acme").returncode == 0
    personio.employees = personio.employees[:10]  # a source that lost most people: the guard must hold
    result = run_cli("--config", str(path), "run", "acme", env={"HRSYNC_RUN_OVERRIDE_GUARDS": "1"})
    assert result.returncode == 2 and "fewer than the" in result.stdout
