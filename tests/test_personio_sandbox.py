"""The Personio sandbox itself: Personio's limits and errors, its admin API, its data, and its answers
checked against Personio's own OpenAPI schemas."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import requests
import yaml

from hrsync_plugins.personio.sandbox import PersonioSandbox
from hrsync_plugins.personio.sandbox_data import BIRTHDAY_KEY, generate_employees, list_response
from tests.helpers import read_all, source_for

SPECS = Path(__file__).resolve().parents[2] / "shared" / "specs" / "personio"


def test_sandbox_limits_and_errors_follow_personio():
    with PersonioSandbox(generate_employees(120, seed=1)) as sandbox:
        assert requests.get(f"{sandbox.url}/v1/company/employees").status_code == 401
        bad = requests.get(f"{sandbox.url}/v1/company/employees", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 403 and bad.json()["success"] is False and "message" in bad.json()["error"]
        auth = requests.post(f"{sandbox.url}/v1/auth", data={"client_id": sandbox.client_id,
                                                                "client_secret": sandbox.client_secret})
        token = auth.json()["data"]["token"]
        assert auth.headers["authorization"] == f"Bearer {token}"
        headers = {"Authorization": f"Bearer {token}"}
        assert len(requests.get(f"{sandbox.url}/v1/company/employees", headers=headers).json()["data"]) == 50
        over = requests.get(f"{sandbox.url}/v1/company/employees", params={"limit": 101}, headers=headers)
        assert over.status_code == 400 and over.json()["success"] is False
        sandbox.faults.throttle_next = 1
        throttled = requests.get(f"{sandbox.url}/v1/company/employees", headers=headers)
        assert throttled.status_code == 429
        assert not any(h.lower().startswith(("retry-after", "x-ratelimit")) for h in throttled.headers)


def test_sandbox_admin_api(tmp_path):
    with PersonioSandbox(generate_employees(5, seed=1)) as sandbox:
        admin = sandbox.admin_url
        assert requests.patch(f"{admin}/employees/1002", json={"first_name": "Zoë"}).status_code == 200
        assert sandbox.find(1002)["first_name"]["value"] == "Zoë"
        created = requests.post(f"{admin}/employees", json={"email": "new@example.com", "status": "onboarding"})
        assert created.status_code == 201 and len(sandbox.employees) == 6
        assert requests.delete(f"{admin}/employees/1000").status_code == 204
        body = list_response(generate_employees(3, seed=2))
        assert requests.put(f"{admin}/employees", json=body).json() == {"count": 3}
        assert requests.post(f"{admin}/faults", json={"throttle_next": 2}).status_code == 204
        assert sandbox.faults.throttle_next == 2
        assert requests.get(f"{sandbox.url}/v1/company/employees").status_code == 401
        (entry,) = requests.get(f"{admin}/requests").json()  # admin calls stay out of the log
        assert {"method", "path", "query", "status"} <= set(entry) and entry["status"] == 401


def test_sandbox_loads_a_list_response_file(tmp_path):
    from hrsync_plugins.personio.sandbox_data import load_list_response

    path = tmp_path / "employees.json"
    import json

    path.write_text(json.dumps(list_response(generate_employees(7, seed=3))))
    with PersonioSandbox(load_list_response(path)) as sandbox:
        assert len(read_all(source_for(sandbox))) == 7




def _load_spec(name: str) -> dict:
    """The YAML file as OpenAPI expects it: YAML reads unquoted status codes as ints."""

    def keys_to_str(node):
        if isinstance(node, dict):
            return {str(k): keys_to_str(v) for k, v in node.items()}
        if isinstance(node, list):
            return [keys_to_str(v) for v in node]
        return node

    return keys_to_str(yaml.safe_load((SPECS / name).read_text()))


@pytest.mark.skipif(not SPECS.exists(), reason="Personio's OpenAPI files (../shared/specs/personio) are absent "
                                                 "on this machine; they are not redistributed with hrsync")
def test_sandbox_responses_validate_against_personios_openapi_schemas():
    from openapi_schema_validator import OAS30Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    def validator(file: str, pointer: str) -> OAS30Validator:
        resource = Resource.from_contents(_load_spec(file), default_specification=DRAFT4)
        registry = Registry().with_resource("spec", resource)
        return OAS30Validator({"$ref": f"spec#{pointer}"}, registry=registry)

    # Personio's `Response` base says `data: object` while the list branch of the same
    # allOf says `data: array`: no real list response satisfies both, so lists are checked
    # against the list branch (envelope, metadata, Employee attributes) plus `success`.
    personnel = "personio-personnel-data-api-oa3.yaml"
    list_schema = validator(personnel, "/components/schemas/EmployeesResponse/allOf/1")
    one_schema = validator(personnel, "/components/schemas/EmployeeResponse")
    error_schema = validator(personnel, "/components/schemas/ErrorResponse")
    auth_schema = validator("personio-auth-api.yaml", "/components/schemas/AuthenticationTokenResponse")
    with PersonioSandbox(generate_employees(30, seed=13)) as sandbox:
        auth = requests.post(f"{sandbox.url}/v1/auth", json={"client_id": sandbox.client_id,
                                                              "client_secret": sandbox.client_secret})
        auth_schema.validate(auth.json())
        headers = {"Authorization": f"Bearer {auth.json()['data']['token']}"}
        page = requests.get(f"{sandbox.url}/v1/company/employees?limit=10&offset=20", headers=headers).json()
        list_schema.validate(page)
        assert page["success"] is True and len(page["data"]) == 10
        assert page["metadata"] == {"total_elements": 30, "current_page": 2, "total_pages": 3}
        one_schema.validate(requests.get(f"{sandbox.url}/v1/company/employees/1003", headers=headers).json())
        error_schema.validate(requests.get(f"{sandbox.url}/v1/company/employees").json())
        broken = dict(page, metadata={"total_elements": "many"})
        with pytest.raises(Exception, match="many"):
            list_schema.validate(broken)


def test_dates_in_generated_data_use_every_offset_style():
    employees = generate_employees(200, seed=14, today=dt.date(2026, 1, 1))
    hires = [e["hire_date"]["value"] for e in employees]
    assert any(h.endswith("+0100") for h in hires) and any(h.endswith("+00:53") for h in hires)
    statuses = {e["status"]["value"] for e in employees}
    assert statuses == {"onboarding", "active", "leave", "inactive"}
    assert any(e[BIRTHDAY_KEY]["value"] is None for e in employees)
    assert any(any(ord(c) > 127 for c in e["first_name"]["value"]) for e in employees)


def test_generated_emails_keep_every_letter_of_the_name():
    from hrsync_plugins.personio.sandbox_data import FIRST, LAST

    employees = generate_employees(3000, seed=15)
    by_name = {(e["first_name"]["value"], e["last_name"]["value"]): e["email"]["value"].lower() for e in employees}
    assert by_name[("Søren", "Østergaard")].startswith("soren.ostergaard")
    assert by_name[("Łukasz", "Weiß")].startswith("lukasz.weiss") and by_name[("Oğuz", "Yılmaz")].startswith("oguz.y")
    assert {first for first, _ in by_name} == set(FIRST) and {last for _, last in by_name} == set(LAST)
    for (first, last), email in by_name.items():
        local_first, local_last = email.split("@")[0].split(".", 1)
        # A letter becomes one or more ASCII letters (ß → ss), never none; a suffix tells namesakes apart.
        assert len(local_first) >= sum(c.isalpha() for c in first), (first, email)
        assert len(local_last.rstrip("0123456789")) >= sum(c.isalpha() for c in last), (last, email)
        assert email.isascii()
