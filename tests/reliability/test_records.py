"""Reliability of people's records: hostile or odd data never breaks a run or reaches the wrong person."""

from __future__ import annotations

from hrsync.engine import run_connection
from hrsync.report import render_text
from hrsync_plugins.personio.sandbox_data import make_employee


def company(personio, *people):
    personio.employees = [make_employee(**p) for p in people]


def test_06_two_people_without_an_id_are_skipped_not_a_false_incomplete_list(e2e_config, personio, scim):
    company(personio, {"id": 1, "first_name": "A", "last_name": "B", "email": "a@example.com", "status": "active"},
            {"first_name": "No", "last_name": "Id", "email": "noid1@example.com", "status": "active"},
            {"first_name": "Also", "last_name": "None", "email": "noid2@example.com", "status": "active"})
    config, plugins = e2e_config()
    result = run_connection(config, "acme", plugins)
    assert result.status == "partial", result.message
    assert result.report.counts["created"] == 1 and result.report.counts["skipped"] == 2
    assert all("has no id in Personio" in a.reason for a in result.report.actions if a.action == "skip")


def test_17_failures_name_the_person_and_the_real_connection(e2e_config, personio, scim):
    import requests

    company(personio, {"id": 1, "first_name": "Ann", "last_name": "Ek", "email": "ann@example.com",
                       "status": "active"})
    config, plugins = e2e_config()
    run_connection(config, "acme", plugins)
    user = scim.by_user_name("ann@example.com")
    requests.delete(f"{scim.url}/Users/{user['id']}", headers={"Authorization": f"Bearer {scim.token}"})
    personio.change(1, last_name="Ekdahl")
    result = run_connection(config, "acme", plugins)
    text = render_text(result.report)
    attention = text.split("Needs your attention")[1]
    assert "Ann Ekdahl (id 1) <ann@example.com>: The linked Winningtemp user no longer exists" in attention
    assert "hrsync run acme --full" in attention and "CONNECTION" not in attention
