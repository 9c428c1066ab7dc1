"""End to end: Personio sandbox → engine → scim2-server, through the API and the real `hrsync` command."""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
import signal
import subprocess

import pytest

from hrsync.state.store import open_state
from hrsync.sync.engine import sync_connection
from hrsync.sync.records import normalise_email
from hrsync_plugins.personio.sandbox_data import BIRTHDAY_KEY, generate_employees
from hrsync_plugins.winningtemp.sandbox import DEFAULT_URN as URN
from tests.helpers import HRSYNC, cli_env, run_cli, wait_until


def value(employee, key):
    attr = employee.get(key)
    return attr["value"] if attr else None


def day(text):
    return text[:10] if text else None


def expected_active(employee, today):
    termination = day(value(employee, "termination_date"))
    return value(employee, "status") != "inactive" and not (termination and termination < today.isoformat())


@pytest.mark.scim_profile("extended")
def test_500_people_all_eight_fields_then_zero_writes_then_precise_patches(e2e_config, personio, scim):
    personio.employees = generate_employees(500, seed=31)
    loaded = e2e_config(create_leavers=True)
    cfg, host = loaded
    first = sync_connection(cfg, "acme", host)
    assert first.status == "ok", first.message
    assert len(scim.users()) == 500
    today = dt.date.today()
    users = {u["userName"]: u for u in scim.users()}
    for employee in personio.employees:
        user = users[normalise_email(value(employee, "email"))]
        ext = user.get(URN) or {}
        assert user["name"]["givenName"] == value(employee, "first_name")
        assert user["name"]["familyName"] == value(employee, "last_name")
        assert user["emails"][0]["value"] == normalise_email(value(employee, "email"))
        assert ext.get("gender") == (value(employee, "gender") or None)
        assert ext.get("birthDate") == value(employee, BIRTHDAY_KEY)
        assert ext.get("hireDate") == day(value(employee, "hire_date"))
        assert ext.get("terminationDate") == day(value(employee, "termination_date"))
        assert user["active"] is expected_active(employee, today)
        assert user["externalId"] == str(value(employee, "id"))

    scim.clear_log()
    second = sync_connection(cfg, "acme", host)
    assert second.plan.counts()["unchanged"] == 500 and scim.write_requests() == []
    # Linked people need no listing either: only the service's capabilities are read.
    assert [r["path"] for r in scim.requests] == ["/v2/ServiceProviderConfig", "/v2/ResourceTypes", "/v2/Schemas"]

    active = [e for e in personio.employees if expected_active(e, today)]
    renamed, leaver, mover = (value(e, "id") for e in active[:3])
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    personio.change(renamed, last_name="Åström-Nieminen")
    personio.change(leaver, status="inactive", termination_date=f"{yesterday}T00:00:00+0100")
    personio.change(mover, email="New.Mover@Example.com")
    third = sync_connection(cfg, "acme", host)
    assert third.plan.counts()["updated"] == 3 and third.plan.counts()["created"] == 0
    by_user = {r["path"].rsplit("/", 1)[1]: r["body"]["Operations"] for r in scim.write_requests()}
    actions = {a.source_id: a for a in third.plan.of("update")}
    assert by_user[actions[str(renamed)].sink_id] == [
        {"op": "replace", "path": "name.familyName", "value": "Åström-Nieminen"}]
    assert by_user[actions[str(leaver)].sink_id] == [
        {"op": "replace", "path": "active", "value": False},
        {"op": "replace", "path": f"{URN}:terminationDate", "value": yesterday}]
    assert by_user[actions[str(mover)].sink_id] == [
        {"op": "replace", "path": "userName", "value": "new.mover@example.com"},
        {"op": "replace", "path": "emails[primary eq true].value", "value": "new.mover@example.com"}]
    moved = scim.user(actions[str(mover)].sink_id)
    assert moved["userName"] == "new.mover@example.com" and moved["emails"][0]["value"] == "new.mover@example.com"
    assert len(scim.users()) == 500


def run_and_kill_after(hosts_path, scim, writes: int) -> None:
    """Start `hrsync run acme` and SIGKILL it once the sink has confirmed `writes` writes."""
    def confirmed() -> int:
        return len([r for r in scim.write_requests() if r["status"] and r["status"] < 300])

    baseline = confirmed()
    proc = subprocess.Popen([HRSYNC, "--config", str(hosts_path), "run", "acme"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=cli_env())
    try:
        wait_until(lambda: confirmed() >= baseline + writes or proc.poll() is not None)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def assert_exactly_once(scim, personio, state_path):
    names = [u["userName"] for u in scim.users()]
    assert len(names) == len(set(names)) == len(personio.employees)
    users = {u["userName"]: u for u in scim.users()}
    for employee in personio.employees:
        user = users[normalise_email(value(employee, "email"))]
        assert user["name"]["familyName"] == value(employee, "last_name")
    state = open_state(state_path, read_only=True)
    links = state.links("acme")
    state.close()
    assert {link.sink_id for link in links.values()} == {u["id"] for u in scim.users()}


@pytest.mark.parametrize("kill_after", [1, 37, 110])
def test_sigkill_mid_apply_then_rerun_leaves_every_person_once(hosts_file, personio, scim, kill_after):
    personio.employees = generate_employees(150, seed=41)
    scim.faults.slow_seconds = 0.01  # pace writes so the kill lands mid-apply
    path = hosts_file(create_leavers=True)
    run_and_kill_after(path, scim, kill_after)
    assert 0 < len(scim.users()) < 150
    # Updates interrupted too: change people, then kill while those PATCHes go out.
    finish = run_cli("--config", str(path), "run", "acme")
    assert finish.returncode == 0, finish.stdout + finish.stderr
    for employee in personio.employees[:60]:
        personio.change(value(employee, "id"), last_name=value(employee, "last_name") + " II")
    run_and_kill_after(path, scim, kill_after % 50 + 1)
    rerun = run_cli("--config", str(path), "run", "acme")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert_exactly_once(scim, personio, path.parent / "state.db")
    scim.clear_log()
    again = run_cli("--config", str(path), "run", "acme")
    assert again.returncode == 0 and scim.write_requests() == []


def test_sigkill_with_eight_writes_in_flight_then_rerun_leaves_every_person_once(hosts_file, personio, scim):
    personio.employees = generate_employees(150, seed=47)
    scim.faults.slow_seconds = 0.05  # slow writes: the kill lands while eight are out
    path = hosts_file(create_leavers=True, sink={"max_in_flight": 8})
    run_and_kill_after(path, scim, 40)
    state = open_state(path.parent / "state.db", read_only=True)
    unrecorded = state.intents("acme")
    state.close()
    assert len(unrecorded) > 1  # several creates were between their intent and their outcome
    scim.faults.slow_seconds = 0
    rerun = run_cli("--config", str(path), "run", "acme")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert_exactly_once(scim, personio, path.parent / "state.db")


def test_a_second_ctrl_c_aborts_at_once_with_writes_out_and_a_rerun_repairs(hosts_file, personio, scim):
    personio.employees = generate_employees(300, seed=49)
    path = hosts_file(create_leavers=True)
    proc = subprocess.Popen([HRSYNC, "--config", str(path), "run", "acme"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=cli_env())
    wait_until(lambda: any(r["method"] == "POST" for r in scim.requests))
    scim.faults.slow_seconds = 3600  # from now on, writes never answer while this run lives
    wait_until(lambda: len([r for r in scim.requests if r["method"] == "POST" and r["status"] is None]) == 4)
    proc.send_signal(signal.SIGINT)
    for line in proc.stderr:  # the first Ctrl-C is taken: a second one now aborts
        if "Stopping after the writes in flight" in line:
            break
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=60)[1]  # not the hour the four writes would take
    assert proc.returncode == 130 and "Aborted" in err
    scim.faults.slow_seconds = 0
    rerun = run_cli("--config", str(path), "run", "acme")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert_exactly_once(scim, personio, path.parent / "state.db")


def test_cli_run_dry_run_and_exit_codes(hosts_file, personio, scim):
    path = hosts_file()
    dry = run_cli("--config", str(path), "run", "acme", "--dry-run")
    assert dry.returncode == 0 and "Plan (dry run" in dry.stdout and scim.users() == []
    assert not (path.parent / "state.db").exists()
    hint = re.search(r"see `(hrsync [^`]+)`", dry.stdout)  # 60 to create: more than a report lists
    assert hint.group(1) == f"hrsync --config {path} run acme --dry-run --json"  # run from anywhere, it reads path
    whole = run_cli(*shlex.split(hint.group(1))[1:], cwd=path.parent.parent)
    assert whole.returncode == 0 and len(json.loads(whole.stdout)["actions"]) > 50
    personio.change(1003, email="")
    run = run_cli("--config", str(path), "run", "acme")
    assert run.returncode == 1 and "has no e-mail in Personio\n    What to do: Add one there" in run.stdout
    personio.client_secret = "rotated"
    stopped = run_cli("--config", str(path), "run", "acme")
    assert stopped.returncode == 2 and "client_secret" in stopped.stdout


def test_check_tests_each_connections_credentials(hosts_file, personio, scim, monkeypatch):
    path = hosts_file()
    ok = run_cli("--config", str(path), "check")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "acme: source personio: ok" in ok.stdout and "acme: sink winningtemp: ok" in ok.stdout
    bad = run_cli("--config", str(path), "check", env={"WINNINGTEMP_TOKEN": "revoked-token"})
    assert bad.returncode == 2
    assert "acme: sink winningtemp: FAILED: Winningtemp refused the SCIM token" in bad.stdout
    assert "revoked-token" not in bad.stdout + bad.stderr
    assert scim.write_requests() == []


def test_sigterm_during_a_cli_run_finishes_the_writes_in_flight(hosts_file, personio, scim):
    personio.employees = generate_employees(120, seed=43)
    scim.faults.slow_seconds = 0.02
    path = hosts_file(create_leavers=True)
    proc = subprocess.Popen([HRSYNC, "--config", str(path), "run", "acme"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=cli_env())
    wait_until(lambda: len(scim.write_requests()) >= 10)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "interrupted" in out
    assert "Stopping after the writes in flight" in err
    state = open_state(path.parent / "state.db", read_only=True)
    (run,) = state.runs("acme")
    links = state.links("acme")
    state.close()
    assert run["status"] == "interrupted"
    assert {link.sink_id for link in links.values()} == {u["id"] for u in scim.users()}
