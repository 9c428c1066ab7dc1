"""`hrsync check` (issue 25): it offers each report recipient to the SMTP server without sending, it probes every
service at once and prints each result as it arrives; a run whose report a server refuses says who and why."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from hrsync.config.load import parse_config
from hrsync.sandbox.smtp import SmtpCapture
from hrsync.service.runner import run_and_report
from hrsync_plugins.personio.sandbox_data import make_employee
from tests.helpers import HRSYNC, bundled_plugins, cli_env, connection_dict, run_cli, wait_until
from tests.reliability.hung import HungServer

RECIPIENTS = ["hr@example.com", "outside@elsewhere.example"]


def hosts(tmp_path, personio, scim, smtp_port=None, **connections):
    host = {"state": "state.db", "outbox": "outbox"}
    if smtp_port:
        host["smtp"] = {"host": "127.0.0.1", "port": smtp_port, "security": "none", "sender": "hrsync@example.com"}
    connections = connections or {"acme": connection_dict(personio, scim, report={"recipients": RECIPIENTS})}
    data = {"host": host, "connections": connections}
    path = tmp_path / "hosts.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, data


def test_check_offers_each_recipient_and_fails_on_a_refused_one_without_sending(tmp_path, personio, scim,
                                                                                 secrets_env):
    with SmtpCapture(refuse={"outside@elsewhere.example"}) as smtp:
        path, _ = hosts(tmp_path, personio, scim, smtp.port)
        result = run_cli("--config", str(path), "check")
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("host: smtp")]
    assert "FAILED" in line and "outside@elsewhere.example: 550 5.7.1 relaying denied" in line
    assert "hr@example.com:" not in line  # the accepted one is not blamed
    assert "report.recipients" in line and "host, port" not in line
    assert smtp.messages == []


def test_check_passes_when_every_recipient_is_accepted(tmp_path, personio, scim, secrets_env):
    with SmtpCapture() as smtp:
        path, _ = hosts(tmp_path, personio, scim, smtp.port)
        result = run_cli("--config", str(path), "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"host: smtp 127.0.0.1:{smtp.port}: ok" in result.stdout
    assert "recipients accepted (not sent to): hr@example.com, outside@elsewhere.example" in result.stdout
    assert smtp.messages == [] and "All 3 checks ok." in result.stdout


@pytest.mark.parametrize("refused", [RECIPIENTS, RECIPIENTS[1:]], ids=["all", "one"])
def test_a_run_whose_recipient_is_refused_names_the_recipient_and_the_servers_reason(tmp_path, personio, scim,
                                                                                     secrets_env, refused):
    personio.employees = [make_employee(id=1, first_name="Ann", last_name="Berg", email="ann@example.com",
                                        status="active")]
    with SmtpCapture(refuse=set(refused)) as smtp:
        _, data = hosts(tmp_path, personio, scim, smtp.port)
        plugins = bundled_plugins(memory=False)
        config = parse_config(data, plugins, path=tmp_path / "hosts.yaml")
        _, delivery = run_and_report(config, "acme", plugins)
    assert "outside@elsewhere.example: 550 5.7.1 relaying denied" in delivery.detail
    assert "SMTPRecipientsRefused" not in delivery.detail and "host, port" not in delivery.detail
    if len(refused) == 2:
        assert delivery.how == "failed" and "hr@example.com: 550 5.7.1 relaying denied" in delivery.detail
        assert delivery.path is not None and delivery.path.exists()  # kept in the outbox, to send again
    else:
        assert delivery.how == "sent" and "report.recipients" in delivery.detail
        (received,) = smtp.wait_for(1)
        assert received.recipients == ["hr@example.com"]


def test_check_prints_each_result_as_it_arrives_while_a_hung_service_is_still_waited_for(tmp_path, personio, scim,
                                                                                        secrets_env):
    with HungServer() as hung:
        # Two accounts in one tenant: each connection has its own external_id_prefix.
        hung_conn = connection_dict(personio, scim, source={"base_url": hung.url, "read_timeout": 60},
                                    sink={"external_id_prefix": "zulu-"})
        path, _ = hosts(tmp_path, personio, scim, acme=connection_dict(personio, scim,
                                                                       sink={"external_id_prefix": "acme-"}),
                        zulu=hung_conn)
        process = subprocess.Popen([HRSYNC, "--config", str(path), "check"], stdout=subprocess.PIPE, text=True,
                                   env=cli_env())
        try:
            lines = []
            # The healthy source is probed after the hung one is already waiting (sorted: acme first, but a
            # pool runs them at once); its line must come while the hung probe still holds its connection.
            while not any(line.startswith("acme: source personio: ok") for line in lines):
                line = process.stdout.readline()
                assert line, "check ended without the healthy line: " + "".join(lines)
                lines.append(line)
            wait_until(lambda: hung.open() >= 1)
            assert hung.open() >= 1 and not any(line.startswith("zulu: source") for line in lines)
            hung.close()  # the hung service hangs up: its probe fails now, not after its timeout
            rest = process.communicate(timeout=60)[0]
        finally:
            process.kill()
    assert process.returncode == 2
    assert "zulu: source personio: FAILED" in rest and "1 of 4 checks FAILED." in rest
