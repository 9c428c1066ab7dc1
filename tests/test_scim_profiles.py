"""The Winningtemp sink against SCIM services that say no: every sandbox profile, read-back, e-mails,
rate limits, broken paging, and `hrsync check` probing like Entra's "Test connection"."""

from __future__ import annotations

import datetime as dt

import pytest
import requests
import yaml

from hrsync.config.load import parse_config
from hrsync.state.store import open_state
from hrsync.sync.engine import RunOptions, sync_connection
from hrsync_plugins.personio.sandbox_data import generate_employees, make_employee
from hrsync_plugins.winningtemp import scim as scim_reading
from hrsync_plugins.winningtemp.sandbox import ScimSandbox
from hrsync_plugins.winningtemp.sandbox_profiles import PROFILES
from hrsync_plugins.winningtemp.settings import DEFAULT_URN as URN
from tests.helpers import bundled_plugins, connection_dict, run_cli

NOT_RECEIVED = "Winningtemp does not receive gender, birthday, hire date and termination date"


@pytest.fixture
def connect(tmp_path, personio, monkeypatch):
    """Load a config for `acme`: the Personio sandbox → the given SCIM sandbox."""
    monkeypatch.setenv("PERSONIO_CLIENT_ID", personio.client_id)
    monkeypatch.setenv("PERSONIO_CLIENT_SECRET", personio.client_secret)

    def load(scim: ScimSandbox, **overrides):
        monkeypatch.setenv("WINNINGTEMP_TOKEN", scim.token)
        plugins = bundled_plugins()
        data = {"host": {"state": "state.db"}, "connections": {"acme": connection_dict(personio, scim, **overrides)}}
        return parse_config(data, plugins, path=tmp_path / "hosts.yaml"), plugins

    return load


def run(loaded, **options):
    config, plugins = loaded
    return sync_connection(config, "acme", plugins, RunOptions(**options))


def value(employee, key):
    return (employee.get(key) or {}).get("value")


@pytest.mark.parametrize("profile", list(PROFILES))
def test_300_people_against_every_profile(profile, connect, personio):
    personio.employees = generate_employees(300, seed=61)
    # The rate-limited profile announces Winningtemp's 20 per second; a wider window keeps the suite quick.
    with ScimSandbox(profile=profile, rate_limit=(60, 0.5) if profile == "rate-limited" else None) as scim:
        loaded = connect(scim, create_leavers=True)
        first = run(loaded)
        assert first.status == "ok", first.message
        names = [u["userName"] for u in scim.users()]
        assert len(names) == len(set(names)) == 300 and first.report.counts["created"] == 300
        assert (NOT_RECEIVED in " ".join(first.report.warnings)) is (profile != "extended")
        assert not [r for r in scim.requests if r["status"] == 429], "a request was spent on a 429"
        for again in ({}, {"full": True}):
            scim.clear_log()
            result = run(loaded, **again)
            assert result.status == "ok" and scim.write_requests() == [], (again, scim.write_requests())
        active = [e for e in personio.employees if value(e, "status") == "active" and not value(e, "termination_date")]
        mover, leaver = value(active[0], "id"), value(active[1], "id")
        yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
        personio.change(mover, email=f"moved.{profile}@example.com")
        personio.change(leaver, status="inactive", termination_date=f"{yesterday}T00:00:00+01:00")
        third = run(loaded)
        assert third.status == "ok" and third.report.counts["updated"] == 2, third.report.actions
        assert len(scim.users()) == 300
        assert scim.by_user_name(f"moved.{profile}@example.com") is not None
        assert scim.by_user_name(value(active[1], "email").strip())["active"] is False


def test_a_server_that_drops_the_extension_is_caught_by_read_back_and_not_re_sent(connect, personio):
    personio.employees = [make_employee(id=i, first_name=f"P{i}", last_name="L", email=f"p{i}@example.com",
                                        status="active", gender="female", birthday=f"1980-01-0{i}") for i in (1, 2)]
    with ScimSandbox(profile="lenient") as scim:
        loaded = connect(scim, sink={"extension": True, "retry_backoff": 0.01})
        first = run(loaded)
        assert first.status == "ok" and len(scim.users()) == 2
        warnings = " ".join(first.report.warnings)
        assert "Winningtemp did not keep birthday" in warnings and "did not keep gender" in warnings
        assert "not advertise" in warnings  # forced although not advertised: said once
        state = open_state(loaded[0].state, read_only=True)
        assert {"birthday", "gender"} <= state.dropped_fields("acme")
        state.close()
        personio.change(1, birthday="1980-02-01")
        for options in ({}, {"full": True}):
            scim.clear_log()
            assert run(loaded, **options).status == "ok"
            assert scim.write_requests() == [], "a field the server does not keep was sent again"


def test_a_strict_server_refuses_a_forced_extension_person_by_person(connect, personio):
    personio.employees = [make_employee(id=1, first_name="A", last_name="B", email="a@example.com",
                                        status="active", gender="male")]
    with ScimSandbox(profile="strict") as scim:
        result = run(connect(scim, sink={"extension": True, "retry_backoff": 0.01}))
    (failed,) = [a for a in result.report.actions if a.outcome == "failed"]
    assert "invalidSyntax" in failed.message and result.status == "partial"


def test_an_email_without_primary_still_links_and_a_change_replaces_the_emails(connect, personio):
    personio.employees = [make_employee(id=7, first_name="Ann", last_name="Ek", email="ann@example.com",
                                        status="active")]
    with ScimSandbox() as scim:
        scim.seed_users([{"userName": "ann@example.com", "name": {"givenName": "Ann", "familyName": "Ek"},
                          "emails": [{"value": "ANN@example.com"}]}])
        loaded = connect(scim)
        first = run(loaded)
        assert first.status == "ok" and len(scim.users()) == 1 and first.report.counts["created"] == 0
        personio.change(7, email="ann.ek@example.com")
        scim.clear_log()
        second = run(loaded)
        assert second.status == "ok", second.report.actions
        patches = [r for r in scim.requests if r["method"] == "PATCH"]
        assert [r["status"] for r in patches] == [400, 204]
        assert any(op["path"] == "emails" for op in patches[1]["body"]["Operations"])
        (user,) = scim.users()
        assert user["userName"] == "ann.ek@example.com" and user["emails"][0]["value"] == "ann.ek@example.com"


def test_rate_limit_headers_are_honoured_without_a_single_429(connect, personio):
    personio.employees = generate_employees(45, seed=3)
    with ScimSandbox(profile="rate-limited", rate_limit=(10, 0.3)) as scim:
        result = run(connect(scim, create_leavers=True))
        assert result.status == "ok" and len(scim.users()) == 45
        assert not [r for r in scim.requests if r["status"] == 429]


def test_429s_with_writes_in_flight_halve_them_and_everyone_is_still_created_once(connect, personio):
    personio.employees = generate_employees(60, seed=4)
    with ScimSandbox() as scim:
        # A fractional Retry-After is not HTTP's whole seconds, but must slow the run, not stop it.
        scim.faults.throttle_next, scim.faults.throttle_only, scim.faults.retry_after = 4, "POST", "0.05"
        result = run(connect(scim, create_leavers=True, sink={"max_in_flight": 8, "retry_backoff": 0.01}))
        assert result.status == "ok" and len(scim.users()) == 60
        assert len([r for r in scim.requests if r["status"] == 429]) == 4
        (warning,) = [w for w in result.report.warnings if "slow down" in w]
        assert "4 time(s)" in warning and "went down to 4 of 8" in warning  # once per window of writes


def test_rate_limit_reset_formats():
    now = 1_772_189_311.0  # 2026-02-27T10:48:31Z
    assert scim_reading.reset_delay("2026-02-27T10:48:41.9817984Z", now=now) == pytest.approx(10.98, abs=0.01)
    assert scim_reading.reset_delay(str(now + 30), now=now) == pytest.approx(30)
    assert scim_reading.reset_delay("12", now=now) == 12
    assert scim_reading.reset_delay("2026-02-27T10:48:21Z", now=now) == 0  # already past
    assert scim_reading.reset_delay("soon", now=now) is None and scim_reading.reset_delay(None) is None


@pytest.mark.parametrize("mode,message", [("echo", "does not page as SCIM requires"), ("silent", "repeated user")])
def test_broken_paging_stops_the_run_instead_of_reading_wrong_data(connect, personio, mode, message):
    personio.employees = generate_employees(12, seed=5)
    with ScimSandbox() as scim:
        scim.seed([{"email": f"existing{i}@example.com", "first_name": "E", "last_name": str(i)} for i in range(5)])
        scim.faults.ignore_paging = mode
        result = run(connect(scim, sink={"page_size": 2, "retry_backoff": 0.01}))
        assert result.status == "stopped" and message in result.message
        assert scim.write_requests() == []


def test_filters_are_percent_encoded_with_20(connect, personio):
    personio.employees = [make_employee(id=1, first_name="A", last_name="B", email="a@example.com", status="active")]
    with ScimSandbox(profile="no-list") as scim:
        result = run(connect(scim))
        assert result.status == "ok" and len(scim.users()) == 1
        lookups = [r["query"] for r in scim.requests if r["method"] == "GET" and "filter" in r["query"]]
        assert lookups and all("%20eq%20" in q and "+" not in q for q in lookups)
        assert any("looked up 1 people one by one" in w for w in result.report.warnings)


@pytest.mark.parametrize("profile", ["documented", "no-list"])
def test_check_probes_like_entra_and_names_the_fields_not_received(tmp_path, personio, profile):
    with ScimSandbox(profile=profile) as scim:
        path = tmp_path / "hosts.yaml"
        path.write_text(yaml.safe_dump({"host": {"state": "state.db"},
                                        "connections": {"acme": connection_dict(personio, scim)}}))
        env = {"PERSONIO_CLIENT_ID": personio.client_id, "PERSONIO_CLIENT_SECRET": personio.client_secret,
               "WINNINGTEMP_TOKEN": scim.token}
        result = run_cli("--config", str(path), "check", env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "acme: sink winningtemp: ok" in result.stdout and f"note: {NOT_RECEIVED}" in result.stdout
        users = [r for r in scim.requests if r["path"] == "/v2/Users"]
        assert len(users) == 1 and 'userName%20eq%20%22hrsync-check-' in users[0]["query"]


def test_only_the_extension_attributes_the_service_defines_are_sent(connect, personio):
    personio.employees = [make_employee(id=1, first_name="A", last_name="B", email="a@example.com", status="active",
                                        gender="female", birthday="1980-01-02",
                                        hire_date="2020-01-01T00:00:00+01:00")]
    with ScimSandbox(profile="extended", extension_attributes=["gender", "hireDate"]) as scim:
        result = run(connect(scim, sink={"invite_new_users": True, "retry_backoff": 0.01}))
        assert result.status == "ok", result.report.actions
        (post,) = [r["body"] for r in scim.requests if r["method"] == "POST"]
        assert post[URN] == {"gender": "female", "hireDate": "2020-01-01"}
        warnings = " ".join(result.report.warnings)
        assert "does not receive birthday, termination date: its extension" in warnings
        assert "does not define sendInvitation" in warnings and result.report.counts["invited"] == 0


def test_a_duplicate_answered_400_uniqueness_is_looked_up_and_linked_like_a_409(connect, personio):
    personio.employees = [make_employee(id=1, first_name="A", last_name="B", email="a@example.com", status="active")]
    with ScimSandbox(profile="entra") as scim:
        loaded = connect(scim)
        assert run(loaded).status == "ok"  # history: the next create is not preceded by a listing
        scim.seed([{"email": "c@example.com", "first_name": "C", "last_name": "Old"}])
        personio.add(id=2, first_name="C", last_name="D", email="c@example.com", status="active")
        result = run(loaded)
        assert result.status == "ok", result.report.actions
        assert ("POST", 400) in [(r["method"], r["status"]) for r in scim.requests]
        assert len([u for u in scim.users() if u["userName"] == "c@example.com"]) == 1
        (linked,) = result.report.matched
        assert linked.source_id == "2" and scim.by_user_name("c@example.com")["name"]["familyName"] == "D"


@pytest.mark.parametrize("profile", ["entra", "documented"])
def test_booleans_written_as_strings_are_still_read(connect, personio, profile):
    """Not valid SCIM, so no profile answers so (test_scim_conformance.py); the `string_booleans` fault does."""
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    personio.employees = [make_employee(id=1, first_name="A", last_name="B", email="a@example.com", status="active"),
                          make_employee(id=2, first_name="C", last_name="D", email="c@example.com", status="inactive",
                                        termination_date=f"{yesterday}T00:00:00+01:00")]
    with ScimSandbox(profile=profile) as scim:
        scim.faults.string_booleans = True
        loaded = connect(scim, create_leavers=True)
        assert run(loaded).status == "ok" and scim.by_user_name("c@example.com")["active"] is False
        listed = requests.get(f"{scim.url}/Users", headers={"Authorization": f"Bearer {scim.token}"}).json()
        assert {scim_reading.get(u, "active") for u in listed["Resources"]} == {"True", "False"}
        scim.clear_log()
        full = run(loaded, full=True)  # compares with what the service lists: "False" must read as false
        assert full.status == "ok" and scim.write_requests() == [], scim.write_requests()
