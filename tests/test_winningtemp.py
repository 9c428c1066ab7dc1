"""The Winningtemp sink against scim2-server (an independent SCIM 2.0 server) on loopback."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import requests
from urllib3 import HTTPResponse

from hrsync.report.render import render_text
from hrsync.sync.engine import RunOptions, sync_connection
from hrsync_plugins.personio.sandbox_data import generate_employees, make_employee
from hrsync_plugins.winningtemp.retries import RateLimitRetry
from hrsync_plugins.winningtemp.sandbox import DEFAULT_URN

URN = DEFAULT_URN


def small_company(personio, *people):
    personio.employees = [make_employee(**p) for p in people]


def anna(**extra):
    return {"id": 1, "first_name": "Anna", "last_name": "Berg", "email": "Anna.Berg@Example.com",
            "gender": "female", "status": "active", "hire_date": "2020-02-01T00:00:00+01:00",
            "birthday": "1988-03-04", **extra}


def bo(**extra):
    return {"id": 2, "first_name": "Bo", "last_name": "Ek", "email": "bo.ek@example.com", "gender": "male",
            "status": "active", "hire_date": "2021-05-01T00:00:00+0100", **extra}


def sync(load, **options):
    cfg, host = load
    return sync_connection(cfg, "acme", host, RunOptions(**options))


def patches(scim):
    return [r for r in scim.requests if r["method"] == "PATCH"]


@pytest.mark.scim_profile("extended")
def test_create_sends_a_complete_scim_user(e2e_config, personio, scim):
    small_company(personio, anna())
    result = sync(e2e_config())
    assert result.status == "ok"
    (post,) = [r for r in scim.requests if r["method"] == "POST"]
    body = post["body"]
    assert body["userName"] == "anna.berg@example.com"
    assert body["emails"] == [{"value": "anna.berg@example.com", "type": "work", "primary": True}]
    assert body["name"] == {"givenName": "Anna", "familyName": "Berg"}
    assert body["externalId"] == "1" and body["active"] is True
    assert body[URN] == {"gender": "female", "birthDate": "1988-03-04", "hireDate": "2020-02-01"}
    assert URN in body["schemas"]
    (user,) = scim.users()
    assert user[URN]["birthDate"] == "1988-03-04"


@pytest.mark.parametrize("patch_returns_body", [False, True], ids=["204", "200"])
def test_update_sends_only_changed_paths(e2e_config, personio, scim, patch_returns_body):
    small_company(personio, anna(), bo())
    loaded = e2e_config()
    sync(loaded)
    scim.clear_log()
    scim.faults.patch_returns_body = patch_returns_body
    personio.change(1, last_name="Berg-Öst")
    result = sync(loaded)
    assert result.status == "ok" and result.plan.counts()["updated"] == 1
    (patch,) = patches(scim)
    assert patch["status"] == (200 if patch_returns_body else 204)
    assert patch["body"]["Operations"] == [{"op": "replace", "path": "name.familyName", "value": "Berg-Öst"}]
    assert scim.by_user_name("anna.berg@example.com")["name"]["familyName"] == "Berg-Öst"


def test_deactivate_patches_active_false_and_never_deletes(e2e_config, personio, scim):
    small_company(personio, anna(), bo())
    loaded = e2e_config(missing="deactivate", guards={"max_deactivation_percent": 100, "max_shrink_percent": 60})
    sync(loaded)
    personio.remove(2)
    scim.clear_log()
    result = sync(loaded)
    assert result.plan.counts()["deactivated"] == 1
    (patch,) = patches(scim)
    assert patch["body"]["Operations"] == [{"op": "replace", "path": "active", "value": False}]
    assert scim.by_user_name("bo.ek@example.com")["active"] is False
    assert not [r for r in scim.requests if r["method"] == "DELETE"]


def test_termination_in_the_past_deactivates_and_future_does_not(e2e_config, personio, scim):
    past = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    future = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    small_company(personio, anna(termination_date=f"{future}T00:00:00+01:00"),
                  bo(termination_date=f"{past}T00:00:00+01:00"))
    sync(e2e_config(create_leavers=True))
    assert scim.by_user_name("anna.berg@example.com")["active"] is True
    assert scim.by_user_name("bo.ek@example.com")["active"] is False


def test_conflict_on_create_links_the_existing_user(e2e_config, personio, scim):
    small_company(personio, anna())
    loaded = e2e_config()
    sync(loaded)  # history exists now: the next new person is created without listing
    scim.seed_users([{"userName": "BO.EK@example.com", "name": {"givenName": "Bo", "familyName": "Old"},
                "emails": [{"value": "bo.ek@example.com", "type": "work", "primary": True}]}])
    personio.add(**bo())
    result = sync(loaded)
    methods = [(r["method"], r["status"]) for r in scim.requests]
    assert ("POST", 409) in methods
    assert any(r["method"] == "GET" and "filter" in r["query"] for r in scim.requests)
    assert len(scim.users()) == 2
    (action,) = result.plan.of("update")
    assert action.matched and action.changes["last_name"] == ("Old", "Ek")
    scim.clear_log()
    assert sync(loaded).plan.counts()["unchanged"] == 2 and scim.write_requests() == []


def test_initial_sync_into_300_existing_users_makes_no_duplicates_and_one_list_pass(e2e_config, personio, scim):
    employees = generate_employees(320, seed=21)
    personio.employees = employees
    existing = []
    for e in employees[:300]:
        email = e["email"]["value"].strip()
        existing.append({"userName": email.upper() if e["id"]["value"] % 2 else email,
                         "emails": [{"value": email, "type": "work", "primary": True}]})
    scim.seed_users(existing)
    result = sync(e2e_config(sink={"page_size": 100}))
    assert result.status == "ok", result.message
    assert len(scim.users()) == 320
    gets = [r for r in scim.requests if r["method"] == "GET" and r["path"] == "/v2/Users"]
    assert all("filter" not in r["query"] for r in gets)
    assert [r["query"] for r in gets] == [f"startIndex={s}&count=100" for s in (1, 101, 201)]
    assert len([r for r in scim.requests if r["method"] == "POST"]) == 20


@pytest.mark.parametrize("status,headers", [
    (429, {}),
    (429, {"retry_after": "0"}),
    (503, {"rate_limit_reset": "0.01"}),
])
def test_throttling_bursts_are_retried(e2e_config, personio, scim, status, headers):
    small_company(personio, anna(), bo())
    scim.faults.throttle_next, scim.faults.throttle_status = 3, status
    for key, value in headers.items():
        setattr(scim.faults, key, value)
    result = sync(e2e_config())
    assert result.status == "ok" and len(scim.users()) == 2
    assert sum(1 for r in scim.requests if r["status"] == status) == 3


def test_retry_after_and_rate_limit_reset_headers_are_read():
    retry = RateLimitRetry()
    assert retry.get_retry_after(HTTPResponse(headers={"Retry-After": "7"})) == 7
    reset = retry.get_retry_after(HTTPResponse(headers={"X-RateLimit-Reset": str(time.time() + 30)}))
    assert 25 < reset <= 30
    assert retry.get_retry_after(HTTPResponse(headers={"X-RateLimit-Reset": "4"})) == 4


def test_rejected_token_is_a_run_level_error(e2e_config, personio, scim, monkeypatch):
    small_company(personio, anna())
    monkeypatch.setenv("WINNINGTEMP_TOKEN", "wrong-token")
    result = sync(e2e_config())
    assert result.status == "stopped" and result.exit_code == 2
    assert "refused the SCIM token" in result.message and "wrong-token" not in result.message
    assert scim.users() == []


def test_a_rejected_person_fails_alone_with_the_scim_detail(e2e_config, personio, scim):
    small_company(personio, anna(), bo())
    scim.faults.fail_emails = frozenset({"bo.ek@example.com"})
    result = sync(e2e_config())
    (failed,) = [a for a in result.plan.actions if a.outcome == "failed"]
    assert failed.email == "bo.ek@example.com" and "invalidValue" in failed.message
    assert result.status == "partial" and len(scim.users()) == 1


def test_extension_off_sends_core_fields_and_warns_once(e2e_config, personio, scim):
    small_company(personio, anna(), bo())
    result = sync(e2e_config(sink={"extension": False}))
    posts = [r["body"] for r in scim.requests if r["method"] == "POST"]
    assert all(URN not in body and URN not in body["schemas"] for body in posts)
    assert len([w for w in result.plan.warnings if "does not receive gender, birthday" in w]) == 1


def test_keep_inactive_never_reactivates_a_user_paused_in_winningtemp(e2e_config, personio, scim):
    small_company(personio, anna())
    scim.seed_users([{"userName": "anna.berg@example.com", "active": False,
                "emails": [{"value": "anna.berg@example.com", "type": "work", "primary": True}]}])
    result = sync(e2e_config())
    assert scim.by_user_name("anna.berg@example.com")["active"] is False
    (action,) = result.plan.of("update")
    assert "active" not in action.changes and any("keep_inactive" in n for n in action.notes)


def test_pre_hire_window_defers_future_hires(e2e_config, personio, scim):
    soon = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    later = (dt.date.today() + dt.timedelta(days=40)).isoformat()
    small_company(personio, anna(status="onboarding", hire_date=f"{soon}T00:00:00+01:00"),
                  bo(status="onboarding", hire_date=f"{later}T00:00:00+01:00"))
    result = sync(e2e_config(sink={"pre_hire_days": 14}))
    assert [u["userName"] for u in scim.users()] == ["anna.berg@example.com"]
    (deferred,) = result.plan.of("defer")
    assert deferred.email == "bo.ek@example.com" and "pre_hire_days" in deferred.reason


@pytest.mark.scim_profile("extended")
def test_invitations_travel_in_the_extension_and_are_counted(e2e_config, personio, scim):
    small_company(personio, anna(), bo())
    result = sync(e2e_config(sink={"invite_new_users": True}))
    posts = [r["body"] for r in scim.requests if r["method"] == "POST"]
    assert all(body[URN]["sendInvitation"] is True for body in posts)
    assert result.plan.counts()["invited"] == 2
    assert "Winningtemp was asked to invite 2 new users (sink setting invite_new_users)." in render_text(result.report)


def test_user_deleted_in_winningtemp_fails_with_a_hint_and_full_recreates_it(e2e_config, personio, scim):
    small_company(personio, anna(), bo())
    loaded = e2e_config()
    sync(loaded)
    user = scim.by_user_name("bo.ek@example.com")
    requests.delete(f"{scim.url}/Users/{user['id']}", headers={"Authorization": f"Bearer {scim.token}"})
    personio.change(2, last_name="Eklund")
    result = sync(loaded)
    (failed,) = [a for a in result.plan.actions if a.outcome == "failed"]
    assert "--full" in failed.message and result.status == "partial"
    repaired = sync(loaded, full=True)
    assert repaired.plan.counts()["created"] == 1
    assert scim.by_user_name("bo.ek@example.com")["name"]["familyName"] == "Eklund"
    assert len(scim.users()) == 2


def test_scim_sandbox_admin_api(scim):
    admin = scim.admin_url
    assert requests.post(f"{admin}/faults", json={"throttle_next": 1, "throttle_status": 503}).ok
    throttled = requests.get(f"{scim.url}/Users", headers={"Authorization": f"Bearer {scim.token}"})
    assert throttled.status_code == 503
    log = requests.get(f"{admin}/requests").json()
    assert [(r["method"], r["path"], r["status"]) for r in log] == [("GET", "/v2/Users", 503)]
    assert requests.post(f"{admin}/faults", json={"nonsense": 1}).status_code == 400
    assert requests.delete(f"{admin}/requests").ok and scim.requests == []
