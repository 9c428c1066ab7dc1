"""The example third-party plugin (examples/hrsync-csv-source), installed from its own distribution."""

from __future__ import annotations

import json

import yaml

from tests.helpers import BUNDLED, run_cli

WITH_CSV = (*BUNDLED, "csv")


def test_plugins_lists_the_csv_source():
    result = run_cli("plugins", plugins=WITH_CSV)
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["csv"]["distribution"] == "hrsync-csv-source" and rows["csv"]["kind"] == "source"
    assert {f["name"] for f in rows["csv"]["config"]} >= {"path", "delimiter", "encoding", "columns"}


def test_csv_to_winningtemp_sandbox(tmp_path, scim, monkeypatch):
    export = tmp_path / "export.csv"
    export.write_text("Nr;Mail;Vorname;Nachname;Status\n1;anna@example.com;Anna;Berg;active\n"
                      "2;bo@example.com;Bö;Ek;active\n3;;No;Mail;active\n", encoding="utf-8")
    monkeypatch.setenv("WINNINGTEMP_TOKEN", scim.token)
    config = {"host": {"state": "state.db"}, "connections": {"from-csv": {
        "source": {"plugin": "csv", "path": str(export), "delimiter": ";",
                   "columns": {"Nr": "id", "Mail": "email", "Vorname": "first_name", "Nachname": "last_name",
                               "Status": "status"}},
        "sink": {"plugin": "winningtemp", "token": "${WINNINGTEMP_TOKEN}", "base_url": scim.url}}}}
    path = tmp_path / "hosts.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    result = run_cli("--config", str(path), "run", "from-csv", env={"WINNINGTEMP_TOKEN": scim.token},
                     plugins=WITH_CSV)
    assert result.returncode == 1, result.stderr  # the person without e-mail needs attention
    assert "No Mail (id 3) has no e-mail in the CSV export — add one there" in result.stdout
    assert sorted(u["userName"] for u in scim.users()) == ["anna@example.com", "bo@example.com"]
    assert scim.by_user_name("bo@example.com")["name"]["givenName"] == "Bö"
