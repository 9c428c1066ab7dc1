"""Security and privacy: secrets never leave, HR data never forges logs or terminals, logins never in clear."""

from __future__ import annotations

import logging

import pytest

from hrsync import ConfigError
from hrsync.cli.common import setup_logging
from hrsync.config.load import parse_config
from hrsync.report.render import render_text
from hrsync.secrets import REDACTOR, Secret
from hrsync.sync.engine import sync_connection
from hrsync_plugins.personio.sandbox_data import make_employee
from tests.helpers import bundled_plugins, connection_dict

TOKEN = "tok-en-with\nnewline-0451"


def test_12_a_secret_with_a_line_break_is_refused_on_load_and_never_shown(personio, scim, monkeypatch):
    monkeypatch.setenv("PERSONIO_CLIENT_ID", personio.client_id)
    monkeypatch.setenv("PERSONIO_CLIENT_SECRET", personio.client_secret)
    monkeypatch.setenv("WINNINGTEMP_TOKEN", TOKEN)
    with pytest.raises(ConfigError) as info:
        parse_config({"connections": {"acme": connection_dict(personio, scim)}}, bundled_plugins())
    (message,) = info.value.errors["connections.acme.sink.token"]
    assert "line break or another control character" in message and "WINNINGTEMP_TOKEN" in message
    assert "tok-en" not in str(info.value) and "0451" not in str(info.value)


def test_12_escaped_and_encoded_forms_of_a_secret_are_redacted():
    Secret('sec"ret\\value-7781')
    for leaked in ('sec\\"ret\\\\value-7781', "sec%22ret%5Cvalue-7781", "'sec\"ret\\\\value-7781'"):
        assert "7781" not in REDACTOR.redact(f"header {leaked} refused"), leaked


def test_15_hr_data_cannot_forge_log_lines_or_drive_a_terminal(e2e_config, personio, scim, capsys):
    personio.employees = [make_employee(id=1, first_name="Eve\n2026-01-01 CRITICAL forged", last_name="\x1b[2J",
                                        email="eve@example.com", status="retired")]
    setup_logging("INFO")
    logging.getLogger("hrsync.test").warning("skipped %s", personio.employees[0]["first_name"]["value"])
    config, plugins = e2e_config()
    result = sync_connection(config, "acme", plugins)
    text = render_text(result.report)
    assert "\x1b" not in text and "Eve\\n2026-01-01 CRITICAL forged \\x1b[2J" in text
    err = capsys.readouterr().err
    assert "Eve\\n2026-01-01 CRITICAL forged" in err and "\nforged" not in err
    logging.getLogger().handlers.clear()


def test_16_an_smtp_login_in_clear_is_refused_except_on_this_machine(personio, scim, secrets_env, monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", "smtp-password-44")

    def smtp(**settings):
        return {"host": {"smtp": {"sender": "h@example.com", "security": "none", "username": "u",
                                  "password": "${SMTP_PASSWORD}", **settings}},
                "connections": {"acme": connection_dict(personio, scim)}}

    with pytest.raises(ConfigError) as info:
        parse_config(smtp(host="mail.example.com"), bundled_plugins())
    assert "unencrypted is refused" in info.value.errors["host.smtp.security"][0]
    with pytest.raises(ConfigError) as info:
        parse_config(smtp(host="mail.example.com", allow_plaintext_auth=True), bundled_plugins())
    assert "only for a server on this machine" in info.value.errors["host.smtp.allow_plaintext_auth"][0]
    assert parse_config(smtp(host="127.0.0.1", allow_plaintext_auth=True), bundled_plugins()).smtp.allow_plaintext_auth
