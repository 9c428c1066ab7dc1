"""The winningtemp-file sink end to end: Personio sandbox → CSV files → a real SFTP server on loopback."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import stat
import subprocess

import pytest
import yaml

from hrsync.config.load import parse_config
from hrsync.sync.engine import RunOptions, sync_connection
from hrsync_plugins.personio.sandbox_data import generate_employees
from tests.helpers import HRSYNC, bundled_plugins, cli_env, run_cli, wait_until

GUARDS = {"max_deactivations": 10, "max_deactivation_percent": 10}
PLACEHOLDER_BIRTHDAYS = ("", None)


@pytest.fixture
def company(personio):
    personio.employees[:] = generate_employees(200, seed=7)
    return personio


@pytest.fixture
def file_config(tmp_path, company, sftp_sandbox, monkeypatch):
    monkeypatch.setenv("PERSONIO_CLIENT_ID", company.client_id)
    monkeypatch.setenv("PERSONIO_CLIENT_SECRET", company.client_secret)
    return make_config(tmp_path, company, sftp_sandbox)


def make_config(tmp_path, company, sftp_sandbox, **sink):
    key = tmp_path / "sftp_key"
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(sftp_sandbox.client_key_text)
    sftp = {**sftp_sandbox.settings(), "private_key": {"file": str(key)}, "max_retries": 0}
    conn = {"source": {"plugin": "personio", "client_id": "${PERSONIO_CLIENT_ID}",
                       "client_secret": "${PERSONIO_CLIENT_SECRET}", "base_url": company.url, "retry_backoff": 0.01},
            "sink": {"plugin": "winningtemp-file", "sftp": sftp, **sink}, "groups": ["department", "team"],
            "guards": GUARDS}
    data = {"host": {"state": str(tmp_path / "state.db")}, "connections": {"acme": conn}}
    path = tmp_path / "hosts.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    plugins = bundled_plugins(memory=False)
    return parse_config(data, plugins, path=path), plugins, path


def run(loaded, **options):
    config, plugins = loaded[0], loaded[1]
    return sync_connection(config, "acme", plugins, RunOptions(**options))


def rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=";"))


def users(sftp_sandbox) -> dict[str, dict[str, str]]:
    return {row["External ID"]: row for row in rows(sftp_sandbox.files()["upload/wt_users.csv"])}


def uploads(sftp_sandbox) -> int:
    """Users files that replaced the last one (a plain rename, or OpenSSH's posix-rename)."""
    return len([op for op in sftp_sandbox.ops("rename") + sftp_sandbox.ops("posix_rename")
                if op.get("ok", True) and op["to"].endswith("/wt_users.csv")])


def in_scope(personio) -> dict[str, dict]:
    """Personio's employees the file must hold today: everyone with an e-mail who has started, leavers for 30
    days (future hires wait, reported as deferred)."""
    import datetime as dt

    out = {}
    for e in personio.employees:
        v = {k: (e[k]["value"] if isinstance(e.get(k), dict) else None) for k in e}
        end = (v.get("termination_date") or "")[:10]
        if not (v.get("email") or "").strip() or dt.date.fromisoformat(v["hire_date"][:10]) > dt.date.today():
            continue
        if v["status"] == "inactive" and (not end or dt.date.fromisoformat(end) + dt.timedelta(30) < dt.date.today()):
            continue
        out[str(v["id"])] = v
    return out


@pytest.fixture
def delivered(file_config, sftp_sandbox):
    first = run(file_config)
    assert first.status in ("ok", "partial"), first.message
    return (*file_config, first)


def delivered_result(delivered):
    return delivered[3]


def test_a_first_run_uploads_both_files_with_all_eight_fields_and_the_groups(delivered, company, sftp_sandbox):
    held = users(sftp_sandbox)
    expected = in_scope(company)
    assert set(held) == set(expected)
    waiting = [a for a in delivered_result(delivered).plan.actions if a.kind == "defer"]
    assert waiting and all("enters the file on" in a.reason for a in waiting)
    some = next(i for i, v in expected.items() if v.get("gender") and v["status"] == "active")
    row = held[some]
    assert row["E-mail"] == expected[some]["email"].strip().lower() and row["Username"] == row["E-mail"]
    assert row["First name"] and row["Last name"] and row["Gender"] in ("Male", "Female", "Other")
    assert row["Status"] == "Active" and row["Employed since"][:4].isdigit() and len(row["Birthday"]) == 10
    groups = {g["External ID"]: g for g in rows(sftp_sandbox.files()["upload/wt_groups.csv"])}
    assert sum(k.startswith("department:") for k in groups) == 6 and sum(k.startswith("team:") for k in groups) == 12
    assert all(g in groups for g in row["Groups"].split(","))
    assert not [n for n in sftp_sandbox.files() if "/." in n]  # no temporary file left


def test_a_run_without_changes_uploads_nothing_and_reports_no_change(delivered, sftp_sandbox):
    before = uploads(sftp_sandbox)
    assert before == 1
    again = run(delivered)
    assert uploads(sftp_sandbox) == before
    counts = again.report.counts
    assert counts["created"] == counts["updated"] == counts["deactivated"] == 0


def test_five_people_changed_in_personio_are_named_in_the_report(delivered, company, sftp_sandbox):
    changed = [e for e in company.employees if e["status"]["value"] == "active" and e["email"]["value"]][:5]
    for e in changed:
        company.change(e["id"]["value"], last_name="Renamed")
    result = run(delivered)
    named = {a.source_id for a in result.plan.actions if a.kind == "update"}
    assert named == {str(e["id"]["value"]) for e in changed}
    held = users(sftp_sandbox)
    assert all(held[str(e["id"]["value"])]["Last name"] == "Renamed" for e in changed)


def test_a_guard_trip_uploads_nothing(delivered, company, sftp_sandbox):
    before = dict(sftp_sandbox.files())
    del company.employees[:40]
    stopped = run(delivered)
    assert stopped.status == "stopped" and "Nothing was changed" in stopped.message
    assert sftp_sandbox.files() == before


@pytest.mark.parametrize("fault,message", [
    ({"changed_host_key": True}, "SHA256:"),
    ({"refuse_key": True}, "refused"),
    ({"disk_full_after": 2000}, "out of space"),
    ({"drop_after": 2000}, "dropped"),
])
def test_a_failing_server_stops_the_run_and_leaves_the_previous_file(delivered, company, sftp_sandbox, fault,
                                                                      message):
    before = dict(sftp_sandbox.files())
    company.change(company.employees[0]["id"]["value"], last_name="Changed")
    sftp_sandbox.set_faults(**fault)
    stopped = run(delivered)
    assert stopped.status == "stopped" and message in stopped.message, stopped.message
    assert sftp_sandbox.files() == before  # never a partial file, no temporary one left visible
    sftp_sandbox.reset()
    assert run(delivered).report.counts["updated"] == 1  # the change was not lost: the next run delivers it


def test_a_sigkill_during_upload_leaves_no_partial_file_and_the_next_run_delivers(delivered, company, sftp_sandbox):
    before = sftp_sandbox.files()["upload/wt_users.csv"]
    company.change(company.employees[0]["id"]["value"], last_name="Killed")
    sftp_sandbox.set_faults(slow_seconds=0.05)
    path = delivered[2]
    proc = subprocess.Popen([HRSYNC, "--config", str(path), "run", "acme"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=cli_env())
    try:
        wait_until(lambda: sftp_sandbox.ops("write") or proc.poll() is not None)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert sftp_sandbox.files()["upload/wt_users.csv"] == before
    sftp_sandbox.reset()
    again = run(delivered)
    assert again.status in ("ok", "partial") and again.report.counts["updated"] == 1
    assert "Killed" in sftp_sandbox.files()["upload/wt_users.csv"].decode()
    assert not [n for n in sftp_sandbox.files() if "/." in n]


def test_check_connects_lists_the_folder_and_tests_that_it_can_write(file_config, sftp_sandbox):
    path = file_config[2]
    checked = run_cli("--config", str(path), "check", "--json", env={})
    assert checked.returncode == 0, checked.stdout + checked.stderr
    (sink,) = [row for row in json.loads(checked.stdout)["results"] if row["what"] == "sink winningtemp-file"]
    assert sink["ok"] and any("is writable" in note for note in sink["notes"])
    assert not [n for n in sftp_sandbox.files() if "/." in n]  # the probe is gone
    sftp_sandbox.set_faults(read_only=True)
    refused = run_cli("--config", str(path), "check", "--json")
    (sink,) = [row for row in json.loads(refused.stdout)["results"] if row["what"] == "sink winningtemp-file"]
    assert not sink["ok"] and "permission denied" in sink["problem"]


def test_local_copies_are_kept_only_when_asked_the_last_n_at_0600(file_config, company, sftp_sandbox, tmp_path):
    assert not list(tmp_path.glob("**/wt_users.csv"))  # none by default: they hold birthdays
    copies = tmp_path / "copies"
    loaded = make_config(tmp_path, company, sftp_sandbox, keep_local_copies=2, local_copies_folder=str(copies))
    for name in ("One", "Two", "Three"):
        company.change(company.employees[0]["id"]["value"], last_name=name)
        assert run(loaded).status in ("ok", "partial")
    kept = sorted(copies.iterdir())
    assert len(kept) == 2 and "Three" in (kept[-1] / "wt_users.csv").read_text(encoding="utf-8")
    assert stat.S_IMODE((kept[-1] / "wt_users.csv").stat().st_mode) == 0o600
    assert stat.S_IMODE(copies.stat().st_mode) == 0o700


def test_a_leaver_turns_inactive_the_day_after_their_termination_date_with_no_change_in_personio(
        delivered, company, sftp_sandbox):
    import datetime as dt

    import time_machine

    leaver = next(e for e in company.employees if str(e["id"]["value"]) in users(sftp_sandbox))
    today = dt.date.today()
    company.change(leaver["id"]["value"], termination_date=f"{today}T00:00:00+00:00")
    run(delivered)
    assert users(sftp_sandbox)[str(leaver["id"]["value"])]["Status"] == "Active"  # their last day
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=1), tick=True):
        next_day = run(delivered)
    assert users(sftp_sandbox)[str(leaver["id"]["value"])]["Status"] == "Inactive"
    (line,) = [a for a in next_day.plan.actions if a.kind == "update"]
    assert line.source_id == str(leaver["id"]["value"]) and line.changes["active"].new is False


def test_everyone_turning_inactive_at_once_is_stopped_by_the_deactivation_guard(delivered, company, sftp_sandbox):
    before = dict(sftp_sandbox.files())
    for e in company.employees:
        company.change(e["id"]["value"], status="inactive")
    stopped = run(delivered)
    assert stopped.status == "stopped" and "would deactivate" in stopped.message
    assert sftp_sandbox.files() == before


def test_someone_who_left_the_file_and_comes_back_is_delivered_and_reported(delivered, company, sftp_sandbox):
    back = company.employees.pop(0)
    run(delivered)
    assert str(back["id"]["value"]) not in users(sftp_sandbox)
    company.employees.insert(0, back)
    returned = run(delivered)
    assert str(back["id"]["value"]) in users(sftp_sandbox)
    assert [a.source_id for a in returned.plan.actions if a.kind == "update"] == [str(back["id"]["value"])]


def test_a_column_the_credential_cannot_read_is_never_uploaded_blank(delivered, company, sftp_sandbox, monkeypatch,
                                                                    tmp_path):
    from tests.test_personio_credentials import readable_without

    before = dict(sftp_sandbox.files())
    client_id, secret = company.add_credential(readable_without("birthday"))
    monkeypatch.setenv("PERSONIO_CLIENT_ID", client_id)
    monkeypatch.setenv("PERSONIO_CLIENT_SECRET", secret)
    company.change(company.employees[0]["id"]["value"], last_name="Changed")
    stopped = run(make_config(tmp_path, company, sftp_sandbox))
    assert stopped.status == "stopped" and "could not be read for birthday" in stopped.message
    assert sftp_sandbox.files() == before


def test_a_skipped_person_whose_row_is_gone_from_the_server_stops_the_upload(delivered, company, sftp_sandbox):
    (sftp_sandbox.root / "upload" / "wt_users.csv").unlink()  # an importer that moves processed files away
    company.change(company.employees[0]["id"]["value"], email="not an address")
    company.change(company.employees[1]["id"]["value"], last_name="Changed")
    stopped = run(delivered)
    assert stopped.status == "stopped" and "would drop them" in stopped.message
    assert "upload/wt_users.csv" not in sftp_sandbox.files()
