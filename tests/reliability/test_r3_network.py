"""Round 3 of the adversarial review (issue 24, items 6-10): servers that answer oddly, redirect, trickle,
never end, or lie about their lists. Each test runs a real sync against the loopback sandboxes, switched to
misbehave (plugins/personio/README.md, plugins/winningtemp/README.md)."""

from __future__ import annotations

import signal
import subprocess
import threading

import pytest

from hrsync.report.render import subject
from hrsync.sync.engine import RunOptions, sync_connection
from hrsync_plugins.personio.sandbox import PersonioSandbox
from hrsync_plugins.personio.sandbox_data import make_employee
from hrsync_plugins.winningtemp.sandbox import ScimSandbox
from tests.helpers import HRSYNC, cli_env, wait_until


def people(*ids):
    return [make_employee(id=i, first_name=f"P{i}", last_name="L", email=f"p{i}@example.com", status="active")
            for i in ids]


# -- 6: a write counts only with a well-formed success -------------------------------------------------------


def test_r3_6_a_create_answered_200_with_a_scim_error_fails_and_is_created_next_run(e2e_config, personio, scim):
    personio.employees = people(1)
    config, plugins = e2e_config()
    scim.faults.write_answer = "error-200"
    result = sync_connection(config, "acme", plugins)
    assert result.status == "partial" and result.report.counts["created"] == 0
    (failed,) = result.report.attention
    assert failed.source_id == "1" and "did not confirm the create" in failed.message
    assert "Rejected, but answered 200" in failed.message  # the service's own message
    assert scim.users() == []
    scim.faults.write_answer = None
    again = sync_connection(config, "acme", plugins)
    assert again.status == "ok" and again.report.counts["created"] == 1
    (user,) = scim.users()
    assert again.report.actions[0].sink_id == user["id"]


def test_r3_6_writes_answered_with_a_redirect_are_failures_and_never_followed(e2e_config, personio, scim):
    personio.employees = people(1, 2)
    config, plugins = e2e_config()
    assert sync_connection(config, "acme", plugins).status == "ok"
    personio.change(1, last_name="Moved")
    personio.employees.extend(people(3))
    scim.faults.write_answer = "redirect"
    scim.clear_log()
    result = sync_connection(config, "acme", plugins)
    assert result.status == "partial"
    assert result.report.counts["created"] == 0 and result.report.counts["updated"] == 0
    assert sorted(a.source_id for a in result.report.attention) == ["1", "3"]
    assert all("redirect (HTTP 302" in a.message for a in result.report.attention)
    assert not [r for r in scim.requests if r["method"] == "GET" and r["path"].endswith("/Users")
                and not r["query"]]  # the redirect was not followed to the user list
    scim.faults.write_answer = None
    again = sync_connection(config, "acme", plugins)
    assert again.status == "ok"
    assert again.report.counts["created"] == 1 and again.report.counts["updated"] == 1
    assert scim.by_user_name("p1@example.com")["name"]["familyName"] == "Moved"
    assert scim.by_user_name("p3@example.com") is not None


# -- 7: no redirect carries credentials elsewhere; error envelopes of any shape ----------------------------------


@pytest.fixture
def elsewhere():
    with PersonioSandbox() as other:
        yield other


def test_r3_7_a_redirected_personio_auth_never_sends_the_credentials_to_another_host(e2e_config, personio, scim,
                                                                                       elsewhere):
    personio.employees = people(1)
    config, plugins = e2e_config()
    personio.faults.redirect_to = elsewhere.url.replace("127.0.0.1", "localhost")
    result = sync_connection(config, "acme", plugins)
    assert result.status == "stopped"
    assert "redirect (HTTP 307" in result.message and "does not follow" in result.message
    assert elsewhere.requests == []  # neither client_id and client_secret nor a token went there
    assert scim.users() == []


def test_r3_7_a_redirected_scim_service_gets_neither_token_nor_data_elsewhere(e2e_config, personio, scim):
    personio.employees = people(1)
    config, plugins = e2e_config()
    with ScimSandbox() as other:
        scim.faults.redirect_to = other.url.removesuffix("/v2").replace("127.0.0.1", "localhost")
        result = sync_connection(config, "acme", plugins)
        assert result.status == "stopped" and "redirect (HTTP 307" in result.message
        assert other.requests == []
    assert scim.users() == []


@pytest.mark.parametrize("body", [
    {"success": False, "error": "Die Zugangsdaten sind ungültig"},
    {"message": "Die Zugangsdaten sind ungültig"},
    {"errors": [{"message": "Die Zugangsdaten sind ungültig"}]},
    ["Die Zugangsdaten sind ungültig"],
    "Die Zugangsdaten sind ungültig",
])
def test_r3_7_an_error_envelope_of_any_shape_is_a_clear_message(e2e_config, personio, scim, body):
    personio.employees = people(1)
    config, plugins = e2e_config()
    personio.faults.error_body = body
    result = sync_connection(config, "acme", plugins)
    assert result.status == "stopped"
    assert "Personio refused the API credentials (HTTP 400" in result.message
    assert "AttributeError" not in result.message and "Traceback" not in result.message
    if isinstance(body, dict):
        assert "Die Zugangsdaten sind ungültig" in result.message


# -- 8: a whole-request deadline, and a stop request ends a request in flight -----------------------------------


def test_r3_8_a_trickling_server_meets_the_request_deadline(e2e_config, personio, scim):
    personio.employees = people(1)
    config, plugins = e2e_config(sink={"read_timeout": 3, "request_deadline": 1})
    scim.faults.trickle_seconds = 0.5  # a byte every half second: no read ever waits 3 s
    result = sync_connection(config, "acme", plugins)
    assert result.status == "stopped"
    assert "within the sink setting request_deadline (1 s)" in result.message
    wait_until(lambda: scim.odd_answers.cut == 1)  # the server was still sending when the client gave up
    assert scim.odd_answers.completed == 0 and scim.users() == []


def test_r3_8_a_trickling_personio_meets_the_request_deadline(e2e_config, personio, scim):
    personio.employees = people(1)
    config, plugins = e2e_config(source={"read_timeout": 3, "request_deadline": 1})
    personio.faults.trickle_seconds = 0.5
    result = sync_connection(config, "acme", plugins)
    assert result.status == "stopped"
    assert "Personio did not finish answering POST /v1/auth within the source setting request_deadline (1 s)" \
        in result.message
    wait_until(lambda: personio.cut_answers == 1)  # it was still sending
    assert scim.users() == []


def test_r3_8_a_stop_request_ends_a_request_in_flight(e2e_config, personio, scim):
    personio.employees = people(1)
    config, plugins = e2e_config(sink={"read_timeout": 3})  # the default request_deadline: 120 s
    scim.faults.trickle_seconds = 0.5
    stop = threading.Event()
    outcome = []
    run = threading.Thread(target=lambda: outcome.append(
        sync_connection(config, "acme", plugins, RunOptions(should_stop=stop.is_set))))
    run.start()
    wait_until(lambda: scim.odd_answers.sending == 1)  # a request in flight, trickling
    stop.set()  # SIGTERM, as `hrsync run` and the daemon turn it into a stop request
    run.join(60)
    assert outcome, "the run did not end"
    (result,) = outcome
    assert result.status == "stopped" and "Stopped on request during GET" in result.message
    wait_until(lambda: scim.odd_answers.cut == 1)
    assert scim.odd_answers.completed == 0


def test_r3_8_a_stop_request_ends_personios_back_off(e2e_config, personio, scim):
    personio.employees = people(1)
    config, plugins = e2e_config(source={"retry_backoff": 30})  # each back-off half a minute or more
    personio.faults.throttle_next = 100
    stop = threading.Event()
    outcome = []
    run = threading.Thread(target=lambda: outcome.append(
        sync_connection(config, "acme", plugins, RunOptions(should_stop=stop.is_set))))
    run.start()
    wait_until(lambda: any(r["status"] == 429 for r in personio.requests))  # now backing off
    stop.set()
    run.join(60)
    assert outcome, "the run did not end"
    assert outcome[0].status == "stopped" and "Stopped on request during GET" in outcome[0].message


def test_r3_8_sigterm_ends_a_cli_run_stuck_in_a_trickling_request(hosts_file, personio, scim):
    personio.employees = people(1)
    path = hosts_file(sink={"read_timeout": 3})
    scim.faults.trickle_seconds = 0.5  # the discovery answer would take minutes
    proc = subprocess.Popen([HRSYNC, "--config", str(path), "run", "acme"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=cli_env())
    try:
        wait_until(lambda: scim.odd_answers.sending == 1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)  # a bound for a hung test, not a measured time
    finally:
        proc.kill()
    assert proc.returncode == 2 and "Stopped on request during GET" in out, out + err
    assert scim.odd_answers.completed == 0 and scim.users() == []


# -- 9: a cap on an answer's size ---------------------------------------------------------------------------------


def test_r3_9_an_endless_answer_is_cut_at_max_response_mb(e2e_config, personio, scim):
    personio.employees = people(1)
    config, plugins = e2e_config(sink={"max_response_mb": 1})
    scim.faults.padding_mb = float("inf")  # an answer that never ends
    result = sync_connection(config, "acme", plugins)
    assert result.status == "stopped"
    assert "answer to GET /ServiceProviderConfig was larger than the sink setting max_response_mb (1 MB)" \
        in result.message
    wait_until(lambda: scim.odd_answers.cut == 1)
    assert scim.users() == []


def test_r3_9_a_huge_personio_answer_is_cut_at_max_response_mb(e2e_config, personio, scim):
    personio.employees = people(1)
    config, plugins = e2e_config(source={"max_response_mb": 1})
    personio.faults.padding_mb = 3
    result = sync_connection(config, "acme", plugins)
    assert result.status == "stopped"
    assert "Personio's answer to POST /v1/auth was larger than the source setting max_response_mb (1 MB)" \
        in result.message
    assert scim.users() == []


# -- 10: lying list metadata is broken paging; a duplicate refused and linked is said -----------------------------


def test_r3_10_a_list_with_too_small_total_results_stops_a_full_run(e2e_config, personio, scim):
    personio.employees = people(*range(1, 26))
    config, plugins = e2e_config(sink={"page_size": 10})
    assert sync_connection(config, "acme", plugins).status == "ok"
    scim.faults.total_results_off_by = 10  # says 15 users, holds 25
    scim.clear_log()
    result = sync_connection(config, "acme", plugins, RunOptions(full=True))
    assert result.status == "stopped"
    assert "user list contradicts itself" in result.message and "totalResults 15" in result.message
    assert scim.write_requests() == []  # no needless creates
    assert len(scim.users()) == 25


def test_r3_10_a_create_refused_as_a_duplicate_is_reported_as_linked(e2e_config, personio, scim):
    personio.employees = people(1, 2)
    scim.seed_users([{"userName": "p2@example.com", "name": {"givenName": "P2", "familyName": "L"},
                      "emails": [{"value": "p2@example.com", "type": "work", "primary": True}]}])
    scim.faults.hidden_from_lists = frozenset({"p2@example.com"})  # the list misses p2, consistently
    config, plugins = e2e_config()
    result = sync_connection(config, "acme", plugins)
    assert result.status == "ok"
    assert result.report.counts["created"] == 1
    (linked,) = [a for a in result.report.actions if a.source_id == "2"]
    assert linked.matched and any("refused the create as a duplicate" in note for note in linked.notes)
    assert any("refused the creates as duplicates" in w for w in result.report.warnings)
    assert "1 linked" in subject(result.report)
    assert len(scim.users()) == 2
