"""The README's File integration section stays true: every format setting documented, the sample files exactly
what render_files writes for the people it describes, the YAML example loadable."""

from __future__ import annotations

import datetime as dt
import re

import yaml

from hrsync.sink_snapshots import Snapshot, SnapshotGroup, SnapshotPerson
from hrsync_plugins.winningtemp.file_format import render_files
from hrsync_plugins.winningtemp.file_settings import FileFormatSchema
from hrsync_plugins.winningtemp.status_rules import keeps
from tests.helpers import ROOT

README = (ROOT / "plugins" / "winningtemp" / "README.md").read_text(encoding="utf-8")
SECTION = README.split("## The File integration (winningtemp-file)", 1)[1].split("\n## ", 1)[0]


def person(external_id: str, groups: tuple[str, ...], **record) -> SnapshotPerson:
    return SnapshotPerson(external_id, record, groups)


SAMPLE = Snapshot("acme", dt.date(2024, 6, 15), (
    person("1001", ("department:10", "team:7"), email="asa.oberg@example.com", first_name="Åsa", last_name="Öberg",
           status="active", gender="female", birthday="1990-04-01", hire_date="2020-01-15"),
    person("1002", ("department:20",), email="carl.holm@example.com", first_name="Carl", last_name="Holm",
           status="active", gender="male", hire_date="2015-05-01", termination_date="2024-06-01"),
    person("1003", ("department:10", "team:9"), email="dana.ek@example.com", first_name="-Dana", last_name="Ek",
           status="leave", gender="diverse", birthday="1985-11-30", hire_date="2018-09-01"),
    person("1004", ("department:20", "team:9"), email="eli.berg@example.com", first_name="Eli", last_name="Berg",
           status="onboarding", hire_date="2024-06-03"),
), (SnapshotGroup("department:10", "Sales", "department", "10"),
    SnapshotGroup("department:20", "Support", "department", "20"),
    SnapshotGroup("team:7", "Inbound", "team", "7"), SnapshotGroup("team:9", "Nordics; key accounts", "team", "9")))


def test_every_format_setting_is_documented():
    missing = [key for key in FileFormatSchema().fields if f"| `{key}` |" not in SECTION]
    assert not missing, f"plugins/winningtemp/README.md does not document {missing}"


def test_the_sample_files_are_what_render_files_writes():
    fmt = FileFormatSchema().load({"root_group": {"external_id": "acme", "name": "Acme AB"}})
    assert all(keeps(p.record, SAMPLE.today, fmt) for p in SAMPLE.people)
    files = render_files(SAMPLE, fmt)
    shown = re.findall(r"```\n(External ID;.*?)```", SECTION, re.S)
    assert [text.replace("\n", "\r\n").encode() for text in shown] == [files["wt_users.csv"], files["wt_groups.csv"]]


def test_the_yaml_example_loads():
    settings = yaml.safe_load(re.findall(r"```yaml\n(.*?)```", SECTION, re.S)[0])["sink"]
    settings.pop("plugin")
    fmt = FileFormatSchema().load(settings)
    assert fmt.user_columns[0].header == "EmployeeNumber"
