"""Run reports: rendering, escaping, personal data, and delivery over real SMTP (aiosmtpd) or the outbox."""

from __future__ import annotations

import ssl

import pytest
import trustme
import yaml

from hrsync.config.load import parse_config
from hrsync.report.render import render_html, render_text
from hrsync.results import PersonLine, RunReport
from hrsync.sandbox.smtp import SmtpCapture
from hrsync.service.runner import run_and_report
from hrsync.sync.engine import RunOptions
from hrsync_plugins.personio.sandbox_data import make_employee
from tests.helpers import bundled_plugins, connection_dict, run_cli

SMTP_PASSWORD = "smtp-pass-never-shown"


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture
def server_tls(ca):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
def ca_file(ca, tmp_path):
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def company(personio):
    personio.employees = [
        make_employee(id=1, first_name="<script>alert(1)</script>", last_name="Berg", email="anna@example.com",
                      gender="female", birthday="1977-07-17", status="active",
                      hire_date="2020-01-01T00:00:00+01:00"),
        make_employee(id=2, first_name="Bo", last_name="Ek", email="", status="active"),
        make_employee(id=3, first_name="Cy", last_name="Lo", email="cy@example.com", gender="diverse",
                      birthday="1966-06-16", status="active"),
    ]


def config(tmp_path, personio, scim, smtp=None, **overrides):
    host_section = {"state": "state.db", "outbox": "outbox"}
    if smtp:
        host_section["smtp"] = smtp
    overrides.setdefault("report", {"recipients": ["hr@example.com", "it@example.com"]})
    conn = connection_dict(personio, scim, **overrides)
    host = bundled_plugins()
    return parse_config({"host": host_section, "connections": {"acme": conn}}, host,
                        path=tmp_path / "hosts.yaml"), host


def assert_clean(data: bytes) -> None:
    for forbidden in (b"1977-07-17", b"1966-06-16", b"diverse", SMTP_PASSWORD.encode()):
        assert forbidden not in data, forbidden


def test_plain_smtp_delivers_both_parts_with_escaping(tmp_path, personio, scim, secrets_env):
    company(personio)
    with SmtpCapture() as smtp:
        cfg, host = config(tmp_path, personio, scim, smtp={"host": "127.0.0.1", "port": smtp.port,
                                                           "security": "none", "sender": "hrsync@example.com"})
        result, delivery = run_and_report(cfg, "acme", host)
        (received,) = smtp.wait_for(1)
    assert delivery.how == "sent"
    message = received.message
    assert message["Subject"] == "acme: 2 created, 1 needs attention"
    assert received.recipients == ["hr@example.com", "it@example.com"]
    assert message.get_content_type() == "multipart/mixed"  # the text and HTML alternatives, and the CSV
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Bo Ek (id 2) has no e-mail in Personio\r\n    What to do: Add one there" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    assert "<script>alert(1)</script> Berg" in text  # plain text carries the name as typed
    assert "birthday: " not in text and "gender: " not in text
    assert_clean(received.data)
    (table,) = message.iter_attachments()  # every line, as a CSV: names and field names, never their values
    assert table.get_filename() == "hrsync-acme-run-1.csv"
    assert_clean(table.get_payload(decode=True))
    assert "Bo Ek (id 2),,needs attention" in table.get_payload(decode=True).decode("utf-8-sig")


def test_starttls_with_auth(tmp_path, personio, scim, secrets_env, server_tls, ca_file, monkeypatch):
    company(personio)
    monkeypatch.setenv("SMTP_PASSWORD", SMTP_PASSWORD)
    with SmtpCapture(starttls=server_tls, users={"reporter": SMTP_PASSWORD}) as smtp:
        cfg, host = config(tmp_path, personio, scim, smtp={
            "host": "127.0.0.1", "port": smtp.port, "security": "starttls", "username": "reporter",
            "password": "${SMTP_PASSWORD}", "sender": "hrsync@example.com", "ca_file": ca_file})
        _, delivery = run_and_report(cfg, "acme", host)
        (received,) = smtp.wait_for(1)
    assert delivery.how == "sent" and received.authenticated_as == "reporter"
    assert_clean(received.data)


def test_implicit_tls(tmp_path, personio, scim, secrets_env, server_tls, ca_file):
    company(personio)
    with SmtpCapture(implicit_tls=server_tls) as smtp:
        cfg, host = config(tmp_path, personio, scim, smtp={
            "host": "127.0.0.1", "port": smtp.port, "security": "tls", "sender": "hrsync@example.com",
            "ca_file": ca_file})
        _, delivery = run_and_report(cfg, "acme", host)
        smtp.wait_for(1)
    assert delivery.how == "sent"


def test_wrong_smtp_password_is_reported_without_the_password(tmp_path, personio, scim, secrets_env, server_tls,
                                                              ca_file, monkeypatch):
    company(personio)
    monkeypatch.setenv("SMTP_PASSWORD", "wrong-" + SMTP_PASSWORD)
    with SmtpCapture(starttls=server_tls, users={"reporter": SMTP_PASSWORD}) as smtp:
        cfg, host = config(tmp_path, personio, scim, smtp={
            "host": "127.0.0.1", "port": smtp.port, "username": "reporter", "password": "${SMTP_PASSWORD}",
            "sender": "hrsync@example.com", "ca_file": ca_file})
        result, delivery = run_and_report(cfg, "acme", host)
    assert result.status == "partial"  # the run itself is unaffected
    assert delivery.how == "failed" and "host.smtp.password" in delivery.detail
    assert SMTP_PASSWORD not in delivery.detail


def test_run_level_failure_still_sends_a_report(tmp_path, personio, scim, secrets_env, monkeypatch):
    company(personio)
    monkeypatch.setenv("PERSONIO_CLIENT_SECRET", "not-the-secret")
    with SmtpCapture() as smtp:
        cfg, host = config(tmp_path, personio, scim, smtp={"host": "127.0.0.1", "port": smtp.port,
                                                           "security": "none", "sender": "hrsync@example.com"})
        result, _ = run_and_report(cfg, "acme", host)
        (received,) = smtp.wait_for(1)
    assert result.status == "stopped"
    assert received.message["Subject"] == "acme: run stopped — action needed"
    text = received.message.get_body(("plain",)).get_content()
    assert "client_id and client_secret" in text
    assert b"not-the-secret" not in received.data


def test_outbox_fallback_and_send_policy(tmp_path, personio, scim, secrets_env):
    personio.employees = [make_employee(id=1, first_name="A", last_name="B", email="a@example.com",
                                        status="active")]
    cfg, host = config(tmp_path, personio, scim)
    _, delivery = run_and_report(cfg, "acme", host)
    assert delivery.how == "outbox" and delivery.path.exists()
    assert delivery.path.parent == tmp_path / "outbox"
    assert b"Subject: =?utf-8?" in delivery.path.read_bytes() or b"Subject:" in delivery.path.read_bytes()
    quiet, host = config(tmp_path, personio, scim, report={"recipients": ["hr@example.com"], "send": "changes"})
    _, second = run_and_report(quiet, "acme", host)
    assert second.how == "skipped" and len(list((tmp_path / "outbox").iterdir())) == 1
    _, dry = run_and_report(quiet, "acme", host, RunOptions(dry_run=True))
    assert dry.how == "skipped"


def test_long_lists_are_capped_with_a_pointer():
    actions = [PersonLine("create", f"P{i}", str(i), f"p{i}@x.com", outcome="applied") for i in range(120)]
    report = RunReport("acme", run_id=7, source="Personio", sink="Winningtemp", counts={"created": 120},
                       actions=actions)
    text = render_text(report)
    assert "… and 70 more (see `hrsync report 7 --connection acme`)" in text and "P49" in text and "P50 " not in text
    assert "hrsync report 7 --connection acme" in render_html(report)


def test_report_command_formats(tmp_path, hosts_file, personio, scim):
    company(personio)
    path = hosts_file(report={"recipients": ["hr@example.com"]})
    run_cli("--config", str(path), "run", "acme")
    outputs = {}
    for fmt in ("text", "html", "eml", "json"):
        result = run_cli("--config", str(path), "report", "1", "--format", fmt)
        assert result.returncode == 0, result.stderr
        outputs[fmt] = result.stdout
        assert "1977-07-17" not in result.stdout and "diverse" not in result.stdout
    assert "&lt;script&gt;" in outputs["html"]
    assert "multipart/alternative" in outputs["eml"] and "To: hr@example.com" in outputs["eml"]
    assert '"status": "partial"' in outputs["json"]


def test_times_are_shown_in_the_host_time_zone():
    report = RunReport("acme", run_id=3, source="Personio", sink="Winningtemp", timezone="Europe/Berlin",
                       started_at="2026-11-25T01:00:00+00:00", ended_at="2026-11-25T01:02:00+00:00")
    assert "Started 2026-11-25 02:00 CET, ended 2026-11-25 02:02 CET" in render_text(report)


def test_check_probes_the_smtp_login_without_sending(tmp_path, personio, scim, secrets_env, server_tls, ca_file,
                                                     monkeypatch):
    with SmtpCapture(starttls=server_tls, users={"reporter": SMTP_PASSWORD}) as smtp:
        smtp_section = {"host": "127.0.0.1", "port": smtp.port, "username": "reporter",
                        "password": "${SMTP_PASSWORD}", "sender": "hrsync@example.com", "ca_file": ca_file}
        path = tmp_path / "hosts.yaml"
        path.write_text(yaml.safe_dump({"host": {"state": "state.db", "smtp": smtp_section},
                                        "connections": {"acme": connection_dict(personio, scim)}}))
        good = run_cli("--config", str(path), "check", env={"SMTP_PASSWORD": SMTP_PASSWORD})
        bad = run_cli("--config", str(path), "check", env={"SMTP_PASSWORD": "wrong"})
    assert good.returncode == 0 and f"host: smtp 127.0.0.1:{smtp.port}: ok" in good.stdout
    assert bad.returncode == 2 and f"host: smtp 127.0.0.1:{smtp.port}: FAILED" in bad.stdout
    assert "host.smtp.password" in bad.stdout
    assert smtp.messages == [] and SMTP_PASSWORD not in good.stdout + bad.stdout


def test_stored_reports_round_trip():
    report = RunReport("acme", run_id=4, status="partial", counts={"created": 1, "failed": 1}, actions=[
        PersonLine("create", "Ann", "1", "ann@example.com", changes={"first_name": {"old": None, "new": "Ann"}},
                   outcome="applied", matched=True),
        PersonLine("update", "Bo", "2", "bo@example.com", outcome="failed", message="refused")])
    assert RunReport.from_dict(report.to_dict()) == report
    assert [a.person for a in report.attention] == ["Bo"] and report.exit_code == 1
