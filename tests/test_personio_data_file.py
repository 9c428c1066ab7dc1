"""A Personio sandbox fed a data file (`hrsync sandbox --personio-data FILE`) speaks of that company only:
its attribute listing is the file's (keys, labels, types, universal ids), nothing generated beside it, and a
sync carries the birthdays the file holds under the company's own date-of-birth attribute."""

from __future__ import annotations

import json

import pytest
import requests

from hrsync.config.load import parse_config
from hrsync.registry import load_plugins
from hrsync.sync.engine import RunOptions, sync_connection
from hrsync_plugins.personio.sandbox import PersonioSandbox
from hrsync_plugins.personio.sandbox_data import BIRTHDAY_KEY
from hrsync_plugins.winningtemp.sandbox import ScimSandbox
from hrsync_plugins.winningtemp.settings import DEFAULT_URN
from tests.helpers import connection_dict

GEBURTSTAG = "dynamic_771203"
#: How this company's Personio describes its attributes: German labels, its own keys.
COMPANY = {
    "first_name": ("Vorname", "standard", "first_name"),
    "last_name": ("Nachname", "standard", "last_name"),
    "email": ("E-Mail", "standard", "email"),
    "status": ("Status", "standard", "status"),
    "hire_date": ("Eintrittsdatum", "date", "hire_date"),
    GEBURTSTAG: ("Geburtstag", "date", "date_of_birth"),
    "dynamic_990417": ("Schuhgröße", "decimal", None),
}


def employee(n: int) -> dict:
    values = {"first_name": f"Person{n}", "last_name": "Ek", "email": f"p{n}@example.com", "status": "active",
              "hire_date": "2020-03-01T00:00:00+01:00", GEBURTSTAG: f"19{70 + n}-0{n % 9 + 1}-1{n % 10}T00:00:00+01:00",
              "dynamic_990417": 40 + n}
    attributes = {"id": {"label": "ID", "value": n, "type": "integer", "universal_id": "id"}}
    for key, value in values.items():
        label, kind, universal_id = COMPANY[key]
        attributes[key] = {"label": label, "value": value, "type": kind, "universal_id": universal_id}
    return attributes


@pytest.fixture
def company_file(tmp_path):
    path = tmp_path / "company.json"
    body = {"success": True, "metadata": {"total_elements": 6, "current_page": 0, "total_pages": 1},
            "offset": 0, "limit": 50, "data": [{"type": "Employee", "attributes": employee(n)} for n in range(1, 7)]}
    path.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    return path


def listed_attributes(sandbox: PersonioSandbox) -> list[dict]:
    token = requests.post(f"{sandbox.url}/v1/auth", json={"client_id": sandbox.client_id,
                                                          "client_secret": sandbox.client_secret}).json()
    headers = {"Authorization": f"Bearer {token['data']['token']}"}
    answer = requests.get(f"{sandbox.url}/v1/company/employees/attributes", headers=headers)
    assert answer.status_code == 200
    return answer.json()["data"]


def test_the_attribute_listing_of_a_data_file_sandbox_is_the_files(company_file):
    with PersonioSandbox.create(data_file=str(company_file)) as sandbox:  # what `--personio-data FILE` starts
        listed = listed_attributes(sandbox)
    assert [(a["key"], a["label"], a["type"], a["universal_id"]) for a in listed] == [
        (key, *described) for key, described in COMPANY.items()]
    assert BIRTHDAY_KEY not in {a["key"] for a in listed}  # nothing generated stands beside the file's


def test_a_sync_from_a_data_file_carries_every_birthday(company_file, tmp_path, monkeypatch):
    with PersonioSandbox.create(data_file=str(company_file)) as personio, ScimSandbox(profile="extended") as scim:
        monkeypatch.setenv("PERSONIO_CLIENT_ID", personio.client_id)
        monkeypatch.setenv("PERSONIO_CLIENT_SECRET", personio.client_secret)
        monkeypatch.setenv("WINNINGTEMP_TOKEN", scim.token)
        plugins = load_plugins()
        config = parse_config({"host": {"state": "state.db"},
                               "connections": {"acme": connection_dict(personio, scim)}},
                              plugins, path=tmp_path / "hosts.yaml")
        result = sync_connection(config, "acme", plugins, RunOptions())
        assert result.status == "ok", result.message
        assert not [w for w in result.report.warnings if "birthday" in w], result.report.warnings
        asked = {q for r in personio.requests_to("/v1/company/employees") for q in r["query"].split("&")}
        assert f"attributes%5B%5D={GEBURTSTAG}" in asked, asked
        birthdays = {u["userName"]: (u.get(DEFAULT_URN) or {}).get("birthDate") for u in scim.users()}
    assert birthdays == {f"p{n}@example.com": employee(n)[GEBURTSTAG]["value"][:10] for n in range(1, 7)}


def test_the_birthday_of_a_data_file_sandbox_is_the_companys_own_attribute(company_file):
    with PersonioSandbox.create(data_file=str(company_file), personio_readable="email,birthday") as sandbox:
        assert sandbox.birthday_key == GEBURTSTAG
        added = sandbox.add(email="new@example.com", first_name="Neu", birthday="1990-01-02")
        assert added[GEBURTSTAG] == {"label": "Geburtstag", "value": "1990-01-02", "type": "date",
                                     "universal_id": "date_of_birth"}
        assert added["first_name"]["label"] == "Vorname" and BIRTHDAY_KEY not in added
        # `readable` names the birthday `birthday`: on this company, that is its own attribute.
        assert {a["key"] for a in listed_attributes(sandbox)} == {"email", GEBURTSTAG}


def test_data_put_through_the_admin_api_brings_its_attribute_listing(company_file):
    body = json.loads(company_file.read_text(encoding="utf-8"))
    with PersonioSandbox.create(employees=5, seed=1) as sandbox:
        assert sandbox.birthday_key == BIRTHDAY_KEY
        assert requests.put(f"{sandbox.admin_url}/employees", json=body).json() == {"count": 6}
        assert [a["key"] for a in listed_attributes(sandbox)] == list(COMPANY)
        for item in body["data"]:
            item["attributes"].pop(GEBURTSTAG)
        requests.put(f"{sandbox.admin_url}/employees", json=body).raise_for_status()
        assert sandbox.birthday_key is None
        refused = requests.post(f"{sandbox.admin_url}/employees", json={"email": "x@example.com",
                                                                        "birthday": "1990-01-02"})
        assert refused.status_code == 400 and "date-of-birth" in refused.json()["error"]
