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
    assert "No Mail (id 3) has no e-mail in the CSV export\n    What to do: Add one there" in result.stdout
    assert sorted(u["userName"] for u in scim.users()) == ["anna@example.com", "bo@example.com"]
    assert scim.by_user_name("bo@example.com")["name"]["givenName"] == "Bö"


def test_departments_and_teams_of_a_csv_export_become_groups(tmp_path, scim, monkeypatch):
    """Units by name, or by id where the export has one: a renamed department keeps its group."""
    export = tmp_path / "export.csv"
    rows = ["Nr;Mail;Vorname;Nachname;Abteilung;AbtNr;Team",
            "1;anna@example.com;Anna;Berg;Sales;10;Alpha", "2;bo@example.com;Bö;Ek;Sales;10;",
            "3;cy@example.com;Cy;Lund;Support;20;Alpha"]
    export.write_text("\n".join(rows) + "\n", encoding="utf-8")
    config = {"host": {"state": "state.db"}, "connections": {"from-csv": {
        "source": {"plugin": "csv", "path": str(export), "delimiter": ";",
                   "columns": {"Nr": "id", "Mail": "email", "Vorname": "first_name", "Nachname": "last_name",
                               "Abteilung": "department", "AbtNr": "department_id", "Team": "team"}},
        "sink": {"plugin": "winningtemp", "token": "${WINNINGTEMP_TOKEN}", "base_url": scim.url},
        "groups": ["department", "team"]}}}
    path = tmp_path / "hosts.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    env = {"WINNINGTEMP_TOKEN": scim.token}
    first = run_cli("--config", str(path), "run", "from-csv", env=env, plugins=WITH_CSV)
    assert first.returncode == 0, first.stdout + first.stderr
    held = {g["external_id"]: (g["name"], g["members"]) for g in scim.held_groups()}
    assert held == {"department:10": ("Sales", ["anna@example.com", "bo@example.com"]),
                    "department:20": ("Support", ["cy@example.com"]),
                    "team:Alpha": ("Alpha", ["anna@example.com", "cy@example.com"])}
    export.write_text("\n".join(rows).replace(";Sales;", ";Revenue;") + "\n", encoding="utf-8")
    second = run_cli("--config", str(path), "run", "from-csv", env=env, plugins=WITH_CSV)
    assert "Department 'Sales' renamed to 'Revenue'" in second.stdout, second.stdout
    assert {g["external_id"]: g["name"] for g in scim.held_groups()}["department:10"] == "Revenue"
