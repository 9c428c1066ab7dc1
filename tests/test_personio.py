"""The Personio source against the Personio sandbox: paging, retries, auth, dates, birthday, withheld data."""

from __future__ import annotations

from pathlib import Path

import pytest

from hrsync import AuthError, SourceError
from hrsync_plugins.personio.sandbox import PersonioSandbox
from hrsync_plugins.personio.sandbox_data import BIRTHDAY_KEY, generate_employees, make_employee
from tests.helpers import read_all, source_for

SPECS = Path(__file__).resolve().parents[2] / "shared" / "specs" / "personio"


def employee_pages(sandbox):
    return [r for r in sandbox.requests if r["path"] == "/v1/company/employees"]


def test_full_read_of_1050_people_arrives_complete_in_11_pages():
    with PersonioSandbox(generate_employees(1050, seed=2)) as sandbox:
        records = read_all(source_for(sandbox))
    assert len(records) == 1050 and len({r["id"] for r in records}) == 1050
    pages = employee_pages(sandbox)
    assert len(pages) == 11
    assert all("limit=100" in p["query"] for p in pages)
    assert all(r["app_id"] == "HRSYNC" for r in sandbox.requests)


def test_ten_thousand_people_cost_exactly_102_requests():
    with PersonioSandbox(generate_employees(10_000, seed=3), rate_limit=False) as sandbox:
        records = read_all(source_for(sandbox))
    assert len(records) == 10_000
    assert len(employee_pages(sandbox)) == 100
    assert len(sandbox.requests_to("/v1/company/employees/attributes")) == 1
    assert len(sandbox.requests_to("/v1/auth")) == 1
    assert len(sandbox.requests) == 102


def test_pacing_stays_under_the_burst_limit():
    with PersonioSandbox(generate_employees(40, seed=4), burst_per_second=15) as sandbox:
        records = read_all(source_for(sandbox, page_size=2, max_requests_per_second=12))
    assert len(records) == 40
    assert not [r for r in sandbox.requests if r["status"] == 429]


def test_429_storm_is_retried_without_retry_after():
    with PersonioSandbox(generate_employees(250, seed=5)) as sandbox:
        sandbox.faults.throttle_next = 5
        records = read_all(source_for(sandbox))
    assert len(records) == 250
    assert sum(1 for r in sandbox.requests if r["status"] == 429) == 5


def test_retries_are_bounded_then_the_run_stops_saying_what_failed():
    with PersonioSandbox(generate_employees(30, seed=5)) as sandbox:
        sandbox.faults.throttle_next = 1000
        with pytest.raises(SourceError, match="kept answering HTTP 429"):
            read_all(source_for(sandbox, max_retries=3))
    assert sum(1 for r in sandbox.requests if r["status"] == 429) == 4


def test_server_errors_and_a_failing_page_are_retried():
    with PersonioSandbox(generate_employees(500, seed=6), seed=1) as sandbox:
        sandbox.faults.error_rate = 0.3
        sandbox.faults.fail_offsets_once = {200}
        records = read_all(source_for(sandbox, max_retries=20))
    assert len(records) == 500
    assert any(r["status"] == 503 for r in sandbox.requests)
    assert any(r["status"] == 500 and "offset=200" in r["query"] for r in sandbox.requests)


def test_a_slow_answer_times_out_and_is_retried():
    with PersonioSandbox(generate_employees(120, seed=6)) as sandbox:
        sandbox.faults.slow_seconds, sandbox.faults.slow_next = 1.0, 1
        records = read_all(source_for(sandbox, read_timeout=0.3))
    assert len(records) == 120


def test_token_revoked_mid_run_reauthenticates_once():
    with PersonioSandbox(generate_employees(300, seed=8)) as sandbox:
        sandbox.faults.revoke_after = 2
        records = read_all(source_for(sandbox))
    assert len(records) == 300
    assert len(sandbox.requests_to("/v1/auth")) == 2


def test_bad_credentials_are_a_run_level_error_naming_the_settings():
    with PersonioSandbox(generate_employees(3, seed=9)) as sandbox:
        source = source_for(sandbox)
        source.client._client_secret = "wrong"
        with pytest.raises(AuthError) as info:
            read_all(source)
    message = str(info.value)
    assert "client_id" in message and "client_secret" in message and "wrong" not in message


def test_dates_keep_the_leading_calendar_day_whatever_the_offset():
    employees = [
        make_employee(id=1, email="a@example.com", hire_date="2014-11-09T00:00:00+01:00",
                      termination_date="2024-03-31T00:00:00+0100", birthday="1983-08-18"),
        make_employee(id=2, email="b@example.com", hire_date="1900-01-01T00:00:00+00:53",
                      termination_date="2025-01-01T00:00:00-05:00", birthday=""),
    ]
    with PersonioSandbox(employees) as sandbox:
        records = {r["id"]: r for r in read_all(source_for(sandbox))}
    assert records["1"]["hire_date"] == "2014-11-09" and records["1"]["termination_date"] == "2024-03-31"
    assert records["1"]["birthday"] == "1983-08-18"
    assert records["2"]["hire_date"] == "1900-01-01" and records["2"]["termination_date"] == "2025-01-01"
    assert records["2"]["birthday"] is None


def test_nested_objects_empty_gender_and_unknown_attributes():
    employee = make_employee(id=5, email=" Mixed.Case@Example.com ", gender="", department="Sales",
                             office="Malmö", team="Blue", status="active")
    employee["supervisor"] = {"label": "Supervisor", "type": "standard", "universal_id": "supervisor",
                              "value": {"type": "Employee", "attributes": {"id": {"value": 2},
                                                                           "email": {"value": "boss@example.com"}}}}
    employee["dynamic_999"] = {"label": "Shoe size", "value": "44", "type": "standard", "universal_id": None}
    with PersonioSandbox([employee]) as sandbox:
        (record,) = read_all(source_for(sandbox))
    assert record["gender"] is None and record["department"]["name"] == "Sales" and record["office"]["name"] == "Malmö"
    assert record["department"]["id"] == str(employee["department"]["value"]["attributes"]["id"])
    assert record["supervisor"] == "boss@example.com" and record["supervisor_id"] == "2"
    assert record["email"] == "Mixed.Case@Example.com"
    assert "dynamic_999" not in record


def test_missing_birthday_attribute_is_reported_once():
    employees = generate_employees(40, seed=10)
    allowed = {k for k in employees[0] if k != BIRTHDAY_KEY}
    with PersonioSandbox(employees, readable=allowed) as sandbox:
        source = source_for(sandbox)
        records = read_all(source)
    assert all(r.get("birthday") is None for r in records)
    assert len(source.context.warnings) == 1 and "birthday" in source.context.warnings[0]


def test_birthday_attribute_setting_for_tenants_without_universal_id():
    employees = [make_employee(id=1, email="a@example.com")]
    employees[0]["dynamic_77"] = {"label": "Geburtstag", "value": "1970-05-06", "type": "date",
                                  "universal_id": None}
    with PersonioSandbox(employees) as sandbox:
        assert read_all(source_for(sandbox))[0].get("birthday") is None
        (record,) = read_all(source_for(sandbox, birthday_attribute="dynamic_77"))
    assert record["birthday"] == "1970-05-06"


def test_withheld_attributes_are_absent_not_fatal():
    employees = generate_employees(20, seed=11)
    with PersonioSandbox(employees, readable={"email", "first_name", "last_name", "status"}) as sandbox:
        records = read_all(source_for(sandbox))
    assert len(records) == 20 and all(r.get("gender") is None and r.get("hire_date") is None for r in records)


def test_invalid_record_becomes_a_skipped_person_in_a_run(e2e_config, personio, scim):
    personio.employees = generate_employees(10, seed=12)
    personio.change(1003, hire_date="not a date", status="retired")
    cfg, host = e2e_config()
    from hrsync.sync.engine import sync_connection

    result = sync_connection(cfg, "acme", host)
    (skip,) = result.plan.of("skip")
    assert skip.source_id == "1003" and "hire_date" in skip.reason and "status" in skip.reason
    assert len(scim.users()) == 9 and result.exit_code == 1


@pytest.mark.parametrize("shift", [-60, 7])
def test_a_total_that_shifts_between_pages_makes_the_client_read_again(shift):
    with PersonioSandbox(generate_employees(250, seed=15)) as sandbox:
        sandbox.faults.shift_total_by = shift
        records = read_all(source_for(sandbox))
    assert len(records) == 250
    assert len([r for r in employee_pages(sandbox) if "offset=0" in r["query"]]) == 2


def test_a_total_that_keeps_shifting_stops_the_run():
    with PersonioSandbox(generate_employees(250, seed=15)) as sandbox:
        sandbox.faults.shift_total_by, sandbox.faults.shift_total_reads = -60, 10
        with pytest.raises(SourceError, match="kept changing"):
            read_all(source_for(sandbox))


def test_fewer_rows_than_the_total_stops_the_run():
    with PersonioSandbox(generate_employees(50, seed=15)) as sandbox:
        sandbox.employees.append(sandbox.employees[0])  # a duplicated row: 51 reported, 50 distinct
        with pytest.raises(SourceError, match="only 50 could be read"):
            read_all(source_for(sandbox))


def test_retries_of_one_request_stop_at_max_retry_seconds():
    with PersonioSandbox(generate_employees(10, seed=5)) as sandbox:
        sandbox.faults.throttle_next = 1000
        with pytest.raises(SourceError, match="HTTP 429.*after retries"):
            read_all(source_for(sandbox, max_retries=50, retry_backoff=0.2, max_retry_seconds=1))
    throttled = sum(1 for r in sandbox.requests if r["status"] == 429)
    assert 1 <= throttled < 10  # the deadline, not the 50 tries, ended it


def test_one_connection_pool_serves_the_whole_read():
    with PersonioSandbox(generate_employees(300, seed=5)) as sandbox:
        source = source_for(sandbox, page_size=50)
        adapter = source.client.session.get_adapter(sandbox.url)
        read_all(source)
        assert source.client.session.get_adapter(sandbox.url) is adapter


def test_pacing_keeps_both_of_personios_windows_without_waiting_more_than_needed():
    from hrsync_plugins.personio.pacing import Pacer

    now = [0.0]
    pacer = Pacer(14, 290, clock=lambda: now[0], sleep=lambda seconds: now.__setitem__(0, now[0] + seconds))
    times = []
    for _ in range(600):
        pacer.pace()
        times.append(now[0])
    assert times[13] == 0.0 and times[14] == pytest.approx(1.0)  # a burst of 14, then the next second
    for i, t in enumerate(times):
        assert sum(1 for u in times[:i + 1] if t - u < 1) <= 14
        assert sum(1 for u in times[:i + 1] if t - u < 60) <= 290
    assert times[289] < 60 <= times[290] and times[-1] < 180  # sustained: 290 a minute, no slower
