"""Departments and teams as Winningtemp groups, end to end: Personio sandbox → scim2-server's /Groups."""

from __future__ import annotations

import signal
import subprocess
from collections import Counter

import pytest
import requests

from hrsync.sync.engine import RunOptions, sync_connection
from hrsync_plugins.personio.sandbox_data import generate_employees
from tests.helpers import HRSYNC, cli_env, wait_until

GROUPS = {"fields": ["department", "team"]}


@pytest.fixture
def company(personio):
    personio.employees[:] = generate_employees(200, seed=7)
    return personio


def value(employee, key):
    return employee[key]["value"]


def expected_groups(personio, scim):
    """Group name → e-mails of its members, from Personio's data, for the people Winningtemp holds."""
    held = {u["userName"] for u in scim.users()}
    out: dict[str, set[str]] = {}
    for employee in personio.employees:
        email = value(employee, "email").strip().lower()
        if email not in held:
            continue
        for key in ("department", "team"):
            unit = value(employee, key)
            if unit:
                out.setdefault(unit["attributes"]["name"], set()).add(email)
    return out


def held_groups(scim):
    names = {u["id"]: u["userName"] for u in scim.users()}
    return {g["displayName"]: {names[m["value"]] for m in g.get("members") or []} for g in scim.groups()}


def group_writes(scim):
    return [r for r in scim.write_requests() if r["path"].startswith("/v2/Groups")]


def test_a_first_sync_places_everyone_and_later_runs_write_only_what_changed(company, scim, e2e_config):
    config, plugins = e2e_config(groups=GROUPS)
    first = sync_connection(config, "acme", plugins)
    assert first.status == "ok"
    assert len(scim.groups()) == 18 and held_groups(scim) == expected_groups(company, scim)
    assert Counter(g["externalId"].split(":")[0] for g in scim.groups()) == {"department": 6, "team": 12}
    assert any("apart from the existing structure" in n for n in first.report.notices)
    scim.clear_log()
    second = sync_connection(config, "acme", plugins)
    assert second.report.groups == [] and scim.write_requests() == []
    # Five people move to another department: exactly five removals and five additions.
    moved = [e for e in company.employees if value(e, "status") == "active"][:5]
    target = next(value(e, "department") for e in company.employees
                  if value(e, "department")["attributes"]["name"] == "Finance")
    movers = [e for e in moved if value(e, "department")["attributes"]["name"] != "Finance"]
    for employee in movers:
        employee["department"]["value"] = target
    scim.clear_log()
    third = sync_connection(config, "acme", plugins, RunOptions(override_guards=True))
    operations = [op for r in group_writes(scim) for op in r["body"]["Operations"]]
    assert sum(1 for op in operations if op["op"] == "remove") == len(movers)
    assert sum(len(op["value"]) for op in operations if op["op"] == "add") == len(movers)
    assert held_groups(scim) == expected_groups(company, scim) and third.status == "ok"
    # A renamed department keeps its group: same id, new name.
    sales = next(g for g in scim.groups() if g["displayName"] == "Sales")
    for employee in company.employees:
        if value(employee, "department") and value(employee, "department")["attributes"]["name"] == "Sales":
            employee["department"]["value"]["attributes"]["name"] = "Revenue"
    fourth = sync_connection(config, "acme", plugins)
    assert [g["displayName"] for g in scim.groups() if g["id"] == sales["id"]] == ["Revenue"]
    assert "Department 'Sales' renamed to 'Revenue'" in [g.describe() for g in fourth.report.groups]


def test_a_manual_membership_survives_managed_and_goes_under_overwrite(company, scim, e2e_config):
    config, plugins = e2e_config(groups=GROUPS)
    sync_connection(config, "acme", plugins)
    outsider = scim.users()[0]
    team = next(g for g in scim.groups() if outsider["id"] not in {m["value"] for m in g.get("members") or []})
    answer = requests.patch(f"{scim.url}/Groups/{team['id']}", headers={"Authorization": f"Bearer {scim.token}"},
                            json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
                                {"op": "add", "path": "members", "value": [{"value": outsider["id"]}]}]})
    assert answer.status_code < 300  # an admin places someone by hand
    assert sync_connection(config, "acme", plugins).report.groups == []
    assert outsider["userName"] in held_groups(scim)[team["displayName"]]
    config, plugins = e2e_config(groups={**GROUPS, "memberships": "overwrite"})
    result = sync_connection(config, "acme", plugins)
    assert outsider["userName"] not in held_groups(scim)[team["displayName"]]
    assert [g.describe() for g in result.report.groups] == [f"{team['displayName']}: 1 member removed"]


def kill_after_group_writes(hosts_path, scim, count):
    proc = subprocess.Popen([HRSYNC, "--config", str(hosts_path), "run", "acme"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=cli_env())
    try:
        wait_until(lambda: len([r for r in group_writes(scim) if r["status"] and r["status"] < 300]) >= count
                      or proc.poll() is not None)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


@pytest.mark.parametrize("kill_after,answer_held", [(1, True), (9, False)])
def test_sigkills_during_a_first_sync_with_groups_leave_no_duplicate_group(company, scim, hosts_file, kill_after,
                                                                          answer_held):
    """Killed after the service made a group and before hrsync heard of it (its answer held back), or
    between member batches: the rerun finds the group by its external id instead of making a second
    one, and every membership ends right."""
    path = hosts_file(groups=GROUPS)
    scim.faults.slow_seconds, scim.faults.hold_answers_of = 0.01, "/Groups" if answer_held else None
    kill_after_group_writes(path, scim, kill_after)
    scim.faults.slow_seconds, scim.faults.hold_answers_of = 0, None
    rerun = subprocess.run([HRSYNC, "--config", str(path), "run", "acme"], capture_output=True, text=True,
                           env=cli_env())
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    external_ids = [g["externalId"] for g in scim.groups()]
    assert len(external_ids) == len(set(external_ids)) == 18
    assert held_groups(scim) == expected_groups(company, scim)


def test_a_credential_without_department_changes_no_department_group(company, scim, e2e_config):
    config, plugins = e2e_config(groups=GROUPS)
    sync_connection(config, "acme", plugins)
    before = held_groups(scim)
    company.readable = set(company.employees[0]) - {"department"}
    for employee in company.employees[:20]:
        employee["team"]["value"] = None  # team changes still travel
    result = sync_connection(config, "acme", plugins, RunOptions(override_guards=True))
    assert any("could not be read for department" in w for w in result.report.warnings)
    after = held_groups(scim)
    departments = {n for n in before if not n.startswith("Team")}
    assert {n: after[n] for n in departments} == {n: before[n] for n in departments}
    assert after != before


@pytest.mark.scim_profile("no-groups")
def test_a_service_without_groups_syncs_people_and_warns_once(company, scim, e2e_config):
    config, plugins = e2e_config(groups=GROUPS)
    result = sync_connection(config, "acme", plugins)
    assert result.status == "ok" and result.report.counts["created"] > 150
    warnings = [w for w in result.report.warnings if "does not list Groups" in w]
    assert len(warnings) == 1 and result.report.groups == []
    assert not any(r["path"].startswith("/v2/Groups") for r in scim.requests)
