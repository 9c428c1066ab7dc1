"""Reliability of people's records: hostile or odd data never breaks a run or reaches the wrong person."""

from __future__ import annotations

import pytest

from hrsync.report.render import render_text
from hrsync.sync.engine import sync_connection
from hrsync_plugins.personio.sandbox_data import make_employee


def company(personio, *people):
    personio.employees = [make_employee(**p) for p in people]


def test_06_two_people_without_an_id_are_skipped_not_a_false_incomplete_list(e2e_config, personio, scim):
    company(personio, {"id": 1, "first_name": "A", "last_name": "B", "email": "a@example.com", "status": "active"},
            {"first_name": "No", "last_name": "Id", "email": "noid1@example.com", "status": "active"},
            {"first_name": "Also", "last_name": "None", "email": "noid2@example.com", "status": "active"})
    config, plugins = e2e_config()
    result = sync_connection(config, "acme", plugins)
    assert result.status == "partial", result.message
    assert result.report.counts["created"] == 1 and result.report.counts["skipped"] == 2
    assert all("has no id in Personio" in a.reason for a in result.report.actions if a.action == "skip")


def test_17_failures_name_the_person_and_the_real_connection(e2e_config, personio, scim):
    import requests

    company(personio, {"id": 1, "first_name": "Ann", "last_name": "Ek", "email": "ann@example.com",
                       "status": "active"})
    config, plugins = e2e_config()
    sync_connection(config, "acme", plugins)
    user = scim.by_user_name("ann@example.com")
    requests.delete(f"{scim.url}/Users/{user['id']}", headers={"Authorization": f"Bearer {scim.token}"})
    personio.change(1, last_name="Ekdahl")
    result = sync_connection(config, "acme", plugins)
    text = render_text(result.report)
    attention = text.split("Needs your attention")[1]
    assert "Ann Ekdahl (id 1) <ann@example.com>: The linked Winningtemp user no longer exists" in attention
    assert "hrsync run acme --full" in attention and "CONNECTION" not in attention


class DiesAfterCreate(BaseException):
    """Stands for the process dying after the sink confirmed a create, before hrsync recorded it."""


def test_01_a_lost_create_then_an_email_change_never_makes_a_second_user(e2e_config, personio, scim, monkeypatch):
    from hrsync_plugins.winningtemp.sink import WinningtempSink

    company(personio, {"id": 1, "first_name": "A", "last_name": "B", "email": "a@example.com", "status": "active"})
    config, plugins = e2e_config()
    sync_connection(config, "acme", plugins)  # history exists: the next create is not preceded by a listing
    personio.add(id=2, first_name="Cy", last_name="D", email="cy@example.com", status="active")
    original = WinningtempSink.create

    def create_then_die(self, record):
        original(self, record)
        raise DiesAfterCreate

    monkeypatch.setattr(WinningtempSink, "create", create_then_die)
    try:
        sync_connection(config, "acme", plugins)
    except DiesAfterCreate:
        pass
    monkeypatch.setattr(WinningtempSink, "create", original)
    personio.change(2, email="cy.d@example.com")
    result = sync_connection(config, "acme", plugins)
    assert result.status == "ok", result.report.actions
    carrying = [u for u in scim.users() if u.get("externalId") == "2"]
    assert len(carrying) == 1 and carrying[0]["userName"] == "cy.d@example.com"
    assert len(scim.users()) == 2


@pytest.mark.parametrize("listing", [
    "listed", pytest.param("looked up", marks=pytest.mark.scim_profile("no-list"))])  # a sink that refuses listing
def test_01_a_lost_state_file_then_an_email_change_never_makes_a_second_user(e2e_config, personio, scim, tmp_path,
                                                                            listing):
    company(personio, {"id": 1, "first_name": "A", "last_name": "B", "email": "a@example.com", "status": "active"})
    config, plugins = e2e_config()
    sync_connection(config, "acme", plugins)
    for path in tmp_path.glob("state.db*"):
        path.unlink()
    personio.change(1, email="a.b@example.com")
    result = sync_connection(config, "acme", plugins)
    assert result.status == "ok"
    (user,) = scim.users()
    assert user["externalId"] == "1" and user["userName"] == "a.b@example.com"


def test_02_a_reused_email_never_takes_over_a_former_employees_user(e2e_config, personio, scim):
    company(personio, {"id": 1, "first_name": "Old", "last_name": "Timer", "email": "desk@example.com",
                       "status": "active"})
    config, plugins = e2e_config()
    sync_connection(config, "acme", plugins)
    personio.remove(1)  # she left; HR gives her address to a new hire
    personio.add(id=2, first_name="New", last_name="Hire", email="desk@example.com", status="active")
    result = sync_connection(config, "acme", plugins)
    (user,) = scim.users()
    assert user["externalId"] == "1" and user["name"]["givenName"] == "Old"
    (failed,) = result.report.attention
    assert failed.source_id == "2" and "belongs to a" in failed.message and "another person" in failed.message
    # A first run into a populated app (no state) does not link it either.
    fresh, fresh_plugins = e2e_config()
    fresh.state = fresh.state.with_name("other.db")
    again = sync_connection(fresh, "acme", fresh_plugins)
    (skipped,) = again.report.attention
    assert skipped.action == "skip" and "belongs to another person's user" in skipped.reason
    assert scim.users()[0]["name"]["givenName"] == "Old"


def test_03_mass_reactivation_is_stopped_like_mass_deactivation(e2e_config, personio, scim):
    from hrsync.sync.engine import RunOptions
    from hrsync_plugins.personio.sandbox_data import generate_employees

    employees = generate_employees(40, seed=91)
    for employee in employees[:12]:
        employee["status"]["value"] = "inactive"
        employee.pop("termination_date", None)
    personio.employees = employees
    config, plugins = e2e_config(create_leavers=True)
    assert sync_connection(config, "acme", plugins).status == "ok"
    for employee in employees[:12]:  # e.g. an import glitch in the HR system: everyone who left is back
        personio.change(employee["id"]["value"], status="active")
    scim.clear_log()
    stopped = sync_connection(config, "acme", plugins)
    assert stopped.status == "stopped" and "would make inactive people active again: 12 people" in stopped.message
    assert scim.write_requests() == []
    allowed = sync_connection(config, "acme", plugins, RunOptions(override_guards=True))
    assert allowed.report.counts["updated"] == 12


def test_04_a_person_one_read_missed_is_confirmed_by_id_before_any_deactivation(e2e_config, personio, scim):
    company(personio, *({"id": i, "first_name": f"P{i}", "last_name": "L", "email": f"p{i}@example.com",
                         "status": "active"} for i in range(1, 11)))
    config, plugins = e2e_config(missing="deactivate", guards={"max_deactivations": 5,
                                                                "max_deactivation_percent": 50})
    sync_connection(config, "acme", plugins)
    personio.faults.missed_by_lists = {3}  # the list skips p3 (paging shifted); p7 really left
    personio.remove(7)
    result = sync_connection(config, "acme", plugins)
    assert scim.by_user_name("p3@example.com")["active"] is True
    assert scim.by_user_name("p7@example.com")["active"] is False
    assert result.report.counts["deactivated"] == 1
    assert any("found when looked up again" in w for w in result.report.warnings)


def test_09_an_outage_stops_the_run_after_a_few_failures_in_a_row(e2e_config, personio, scim):
    company(personio, *({"id": i, "first_name": f"P{i}", "last_name": "L", "email": f"p{i}@example.com",
                         "status": "active"} for i in range(1, 31)))
    config, plugins = e2e_config(sink={"max_retries": 0, "retry_backoff": 0.01})
    sync_connection(config, "acme", plugins)  # discovery and history first; now the service goes down
    for i in range(31, 61):
        personio.add(id=i, first_name=f"P{i}", last_name="L", email=f"p{i}@example.com", status="active")
    scim.faults.throttle_next, scim.faults.throttle_status, scim.faults.throttle_only = 1000, 503, "POST"
    scim.clear_log()
    result = sync_connection(config, "acme", plugins)
    assert result.status == "stopped" and "5 writes in a row" in result.message and "outage" in result.message
    sent = len([r for r in scim.requests if r["method"] == "POST"])
    assert 5 <= sent < 5 + 4  # the breaker's fifth failure, and the writes still in flight then (max_in_flight 4)
    assert result.report.counts["failed"] == sent and result.report.counts["not_applied"] == 30 - sent
