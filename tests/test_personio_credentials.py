"""Personio as real credentials see it: what they may read, former employees, Personio's signals,
and an independent client library that agrees with our sandbox."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs

import pytest
import yaml

from hrsync.sync.engine import sync_connection
from hrsync_plugins.personio.sandbox import PersonioSandbox
from hrsync_plugins.personio.sandbox_data import BIRTHDAY_KEY, generate_employees, make_employee
from hrsync_plugins.winningtemp.settings import DEFAULT_URN as URN
from tests.helpers import connection_dict, run_cli


def readable_without(*missing: str) -> list[str]:
    return [a for a in ("first_name", "last_name", "email", "status", "gender", "hire_date", "termination_date",
                        "birthday", "position", "department", "office", "team") if a not in missing]


def use_credential(personio, monkeypatch, *missing: str) -> None:
    client_id, secret = personio.add_credential(readable_without(*missing))
    monkeypatch.setenv("PERSONIO_CLIENT_ID", client_id)
    monkeypatch.setenv("PERSONIO_CLIENT_SECRET", secret)


def employees_requests(personio):
    return [r for r in personio.requests if r["path"] == "/v1/company/employees"]


def test_a_credential_that_cannot_read_status_stops_the_run_before_any_write(e2e_config, personio, scim,
                                                                             monkeypatch):
    use_credential(personio, monkeypatch, "status")
    config, plugins = e2e_config()
    result = sync_connection(config, "acme", plugins)
    assert result.status == "stopped" and result.exit_code == 2
    assert "cannot read status" in result.message and "Marketplace → Connected integrations" in result.message
    assert scim.write_requests() == [] and employees_requests(personio) == []


@pytest.mark.scim_profile("extended")
def test_without_the_birthday_attribute_birthdays_stay_as_they_are(e2e_config, personio, scim, monkeypatch):
    personio.employees = [make_employee(id=1, first_name="Ann", last_name="Ek", email="ann@example.com",
                                        status="active", birthday="1980-05-06")]
    config, plugins = e2e_config()
    assert sync_connection(config, "acme", plugins).status == "ok"
    assert scim.users()[0][URN]["birthDate"] == "1980-05-06"
    use_credential(personio, monkeypatch, "birthday")
    scim.clear_log()
    config, plugins = e2e_config()
    result = sync_connection(config, "acme", plugins)
    assert result.status == "ok" and scim.write_requests() == []
    assert scim.users()[0][URN]["birthDate"] == "1980-05-06"
    assert [w for w in result.report.warnings if "birthday" in w.lower()], result.report.warnings


def test_former_employees_are_not_created_and_a_linked_leaver_is_deactivated(e2e_config, personio, scim):
    employees = generate_employees(40, seed=71)
    for employee in employees[:12]:  # 30 % have left
        employee["status"]["value"] = "inactive"
    personio.employees = employees
    config, plugins = e2e_config()
    first = sync_connection(config, "acme", plugins)
    assert first.status == "ok"
    left = {str(e["id"]["value"]) for e in employees if e["status"]["value"] == "inactive"}
    held = {u["externalId"] for u in scim.users()}
    assert not left & held and len(held) == 40 - len(left)
    assert first.report.counts["not_created"] == len(left)
    named = [a for a in first.report.actions if a.action == "left"]
    assert {a.source_id for a in named} == left and all(a.email is None for a in named)
    stayer = next(e for e in employees[12:] if e["status"]["value"] == "active")
    personio.change(stayer["id"]["value"], status="inactive")
    second = sync_connection(config, "acme", plugins)
    assert second.report.counts["updated"] == 1 and second.report.counts["not_created"] == len(left)
    assert scim.by_user_name(stayer["email"]["value"].strip())["active"] is False
    assert not [a for a in second.report.actions if a.action == "left"]  # named once, on the first sync


def test_list_requests_ask_only_for_the_attributes_the_mapping_uses(e2e_config, personio, scim):
    config, plugins = e2e_config(mapping={"gender": {"skip": True}})
    assert sync_connection(config, "acme", plugins).status == "ok"
    for request in employees_requests(personio):
        asked = set(parse_qs(request["query"])["attributes[]"])
        assert asked == {"first_name", "last_name", "email", "status", "hire_date", "termination_date",
                         BIRTHDAY_KEY}, asked


def test_sunset_and_deprecation_headers_reach_the_report(e2e_config, personio, scim):
    personio.faults.sunset = "Wed, 30 Jun 2027 23:59:59 GMT"
    personio.faults.deprecation = "@1767225600"
    config, plugins = e2e_config()
    result = sync_connection(config, "acme", plugins)
    (warning,) = [w for w in result.report.warnings if "being retired" in w]
    assert "Sunset: Wed, 30 Jun 2027 23:59:59 GMT" in warning and "Deprecation: @1767225600" in warning


def test_the_partner_id_travels_on_every_request(e2e_config, personio, scim):
    config, plugins = e2e_config(source={"partner_id": "ACME_PARTNER"})
    assert sync_connection(config, "acme", plugins).status == "ok"
    assert personio.requests and all(r["partner_id"] == "ACME_PARTNER" for r in personio.requests
                                     if r["path"] != "/v1/auth")


def test_check_warns_about_unreadable_optional_attributes_and_fails_on_required_ones(tmp_path, personio, scim):
    path = tmp_path / "hosts.yaml"
    path.write_text(yaml.safe_dump({"host": {"state": "state.db"},
                                    "connections": {"acme": connection_dict(personio, scim)}}))
    env = {"WINNINGTEMP_TOKEN": scim.token}
    client_id, secret = personio.add_credential(readable_without("gender", "hire_date"))
    warned = run_cli("--config", str(path), "check", env={**env, "PERSONIO_CLIENT_ID": client_id,
                                                           "PERSONIO_CLIENT_SECRET": secret})
    assert warned.returncode == 0, warned.stdout + warned.stderr
    assert "note: Personio's API credential cannot read gender and hire date" in warned.stdout
    client_id, secret = personio.add_credential(readable_without("email"))
    refused = run_cli("--config", str(path), "check", env={**env, "PERSONIO_CLIENT_ID": client_id,
                                                           "PERSONIO_CLIENT_SECRET": secret})
    assert refused.returncode == 2 and "acme: source personio: FAILED: Personio's API credential cannot read " \
                                       "email" in refused.stdout


def test_an_independent_client_library_reads_the_sandbox_as_it_reads_personio():
    import personio_py  # an independent client (at-gmbh/personio-py), installed unmodified by the test extra

    employees = generate_employees(130, seed=9, today=dt.date(2026, 11, 1))
    with PersonioSandbox(employees) as sandbox:
        client = personio_py.Personio(base_url=f"{sandbox.url}/v1/", client_id=sandbox.client_id,
                                      client_secret=sandbox.client_secret)
        client.authenticate()
        people, offset = {}, 0
        while True:
            page = client.request_json("company/employees", params={"limit": 100, "offset": offset})
            for data in page["data"]:
                person = personio_py.Employee.from_dict(data, client)
                people[person.id_] = person
            offset += len(page["data"])
            if not page["data"] or offset >= page["metadata"]["total_elements"]:
                break
        assert len(people) == 130
        one = client.get_employee(1005)
    expected = employees[5]
    assert (one.first_name, one.last_name, one.email) == (
        expected["first_name"]["value"], expected["last_name"]["value"], expected["email"]["value"])
    assert one.hire_date.isoformat() == expected["hire_date"]["value"][:10]
