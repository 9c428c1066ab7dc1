"""The File integration's two files alone: a Snapshot in, the bytes of wt_users.csv and wt_groups.csv out,
read back with Python's csv module as Winningtemp's import would read them."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random

import pytest

from hrsync import SinkError
from hrsync.sink_snapshots import Snapshot, SnapshotGroup, SnapshotPerson
from hrsync_plugins.winningtemp.file_format import render_files
from hrsync_plugins.winningtemp.file_settings import FileFormat, FileFormatSchema

TODAY = dt.date(2024, 6, 15)
SALES, SUPPORT = SnapshotGroup("department:10", "Sales", "department", "10"), \
    SnapshotGroup("department:20", "Support", "department", "20")
INBOUND, GUILD = SnapshotGroup("team:7", "Inbound", "team", "7"), SnapshotGroup("team:8", "Guild", "team", "8")
STOCKHOLM = SnapshotGroup("office:1", "Stockholm", "office", "1")


def fmt(**settings) -> FileFormat:
    return FileFormatSchema().load(settings)


def person(external_id: str, groups: tuple[str, ...] = (), **values) -> SnapshotPerson:
    record = {"email": f"p{external_id}@example.com", "first_name": "Ann", "last_name": "Lind", "status": "active",
              **values}
    return SnapshotPerson(external_id, record, groups)


ASA = person("1001", ("department:10", "team:7"), email="asa.oberg@example.com", first_name="Åsa",
             last_name="Öberg", gender="female", birthday="1990-04-01", hire_date="2020-01-15", status="onboarding")
BO = person("0999", ("department:10",), email="bo@example.com", first_name="Bo", last_name="Ek", gender="diverse",
            status="leave")
CARL = person("1002", ("department:20", "team:8"), email="carl@example.com", first_name="Carl", last_name="Holm",
              gender="male", hire_date="2015-05-01", termination_date="2024-06-01", status="active")


def snapshot(people=(ASA, BO, CARL), groups=(SALES, SUPPORT, INBOUND, GUILD), **kwargs) -> Snapshot:
    return Snapshot("acme", TODAY, tuple(people), tuple(groups), **kwargs)


def rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=";"))


def users(snap: Snapshot, **settings) -> list[list[str]]:
    return rows(render_files(snap, fmt(**settings))["wt_users.csv"])


def groups(snap: Snapshot, **settings) -> list[list[str]]:
    return rows(render_files(snap, fmt(**settings))["wt_groups.csv"])


def test_the_users_file_holds_every_column_sorted_by_external_id():
    assert users(snapshot()) == [
        ["External ID", "First name", "Last name", "Username", "E-mail", "Gender", "Birthday", "Employed since",
         "Employed until", "Status", "Groups"],
        ["0999", "Bo", "Ek", "bo@example.com", "bo@example.com", "Other", "", "", "", "Active", "department:10"],
        ["1001", "Åsa", "Öberg", "asa.oberg@example.com", "asa.oberg@example.com", "Female", "1990-04-01",
         "2020-01-15", "", "Active", "department:10,team:7"],
        # Past their termination date, still "active" in the source: written inactive, with the date.
        ["1002", "Carl", "Holm", "carl@example.com", "carl@example.com", "Male", "", "2015-05-01", "2024-06-01",
         "Inactive", "department:20,team:8"],
    ]


def test_the_groups_file_puts_teams_under_their_department_parents_first():
    assert groups(snapshot()) == [
        ["External ID", "Name", "Parent External ID"],
        ["department:10", "Sales", ""], ["team:7", "Inbound", "department:10"],
        ["department:20", "Support", ""], ["team:8", "Guild", "department:20"],
    ]


def test_utf8_without_bom_semicolons_and_crlf_line_ends():
    files = render_files(snapshot(), fmt())
    assert list(files) == ["wt_users.csv", "wt_groups.csv"]
    data = files["wt_users.csv"]
    assert data.startswith(b"External ID;First name;")
    assert "Åsa;Öberg".encode() in data
    assert data.endswith(b"\r\n") and data.count(b"\r\n") == 4 and data.count(b"\n") == 4


@pytest.mark.parametrize("value", ["=SUM(A1)", "+1", "-2", "@x", "\tx", "\rx", "\0x"])
def test_a_cell_starting_like_a_formula_is_written_as_text(value):
    team = SnapshotGroup(value, value, "team", value)
    snap = snapshot([person(value, (value,), first_name=value, last_name=value)], [team])
    assert users(snap)[1][:4] == ["'" + value, "'" + value, "'" + value, f"p{value}@example.com"]
    assert users(snap)[1][-1] == "'" + value  # the membership names the group as the groups file writes it
    assert groups(snap)[1] == ["'" + value, "'" + value, ""]


def test_each_membership_is_guarded_like_its_row_in_the_groups_file():
    team = SnapshotGroup("=x", "Team", "team", "x")
    snap = snapshot([person("1", ("department:10", "=x"))], [SALES, team], parents={"=x": "department:10"})
    assert users(snap)[1][-1] == "department:10,'=x"
    assert groups(snap)[1:] == [["department:10", "Sales", ""], ["'=x", "Team", "department:10"]]


@pytest.mark.parametrize("value", ["Anne-Marie", "'Ann", "A=B", " -Ann"])
def test_a_cell_not_starting_like_a_formula_is_left_alone(value):
    assert users(snapshot([person("1", first_name=value)], []))[1][1] == value


@pytest.mark.parametrize("name", ["Berg; Lind", 'Ann "Annie"', "Two\nlines", "Two\r\nlines", '";"\n'])
def test_delimiters_quotes_and_line_ends_in_names_round_trip(name):
    group = SnapshotGroup("team:1", name, "team", "1")
    snap = snapshot([person("1", ("team:1",), first_name=name, last_name=name)], [group])
    assert users(snap)[1][1:3] == [name, name]
    assert groups(snap)[1] == ["team:1", name, ""]


def test_columns_renamed_dropped_and_reordered_as_configured():
    snap = snapshot([ASA], [SALES, INBOUND])
    assert users(snap, user_columns={"external_id": "EmployeeId", "email": False, "birthday": None,
                                     "groups": "Teams"})[:2] == [
        ["EmployeeId", "First name", "Last name", "Username", "Gender", "Employed since", "Employed until",
         "Status", "Teams"],
        ["1001", "Åsa", "Öberg", "asa.oberg@example.com", "Female", "2020-01-15", "", "Active",
         "department:10,team:7"],
    ]
    every = {"username": "User", "external_id": "Id", "first_name": "Given", "last_name": "Family"}
    every |= dict.fromkeys(["email", "gender", "birthday", "hire_date", "termination_date", "status", "groups"], False)
    assert users(snap, user_columns=every) == [["User", "Id", "Given", "Family"],
                                               ["asa.oberg@example.com", "1001", "Åsa", "Öberg"]]
    assert groups(snap, group_columns={"parent_external_id": False, "name": "Group"}) == [
        ["External ID", "Group"], ["department:10", "Sales"], ["team:7", "Inbound"]]


def test_username_from_the_external_id_and_configured_values():
    settings = {"username": "external_id", "status_values": {"leave": "On leave"}, "gender_values": {"diverse": "X"},
                "group_separator": "|", "users_file": "users.csv", "groups_file": "groups.csv"}
    files = render_files(snapshot([BO, ASA]), fmt(**settings))
    assert list(files) == ["users.csv", "groups.csv"]
    assert [row[3:11] for row in rows(files["users.csv"])[1:]] == [
        ["0999", "bo@example.com", "X", "", "", "", "On leave", "department:10"],
        ["1001", "asa.oberg@example.com", "Female", "1990-04-01", "2020-01-15", "", "Active", "department:10|team:7"],
    ]


def test_a_team_spanning_two_departments_is_top_level_under_the_root_group():
    dana = person("1003", ("department:20", "team:7"))  # in Inbound with Åsa, but in Support
    eva = person("1004", ("team:8",))  # in Guild with Carl, but in no department
    snap = snapshot([ASA, BO, CARL, dana, eva], [SALES, SUPPORT, INBOUND, GUILD, STOCKHOLM])
    root = {"external_id": "acme", "name": "Acme AB"}
    assert groups(snap, root_group=root)[1:] == [
        ["acme", "Acme AB", ""], ["department:10", "Sales", "acme"], ["department:20", "Support", "acme"],
        ["office:1", "Stockholm", "acme"], ["team:7", "Inbound", "acme"], ["team:8", "Guild", "acme"],
    ]


def test_flat_puts_every_group_at_the_top():
    assert groups(snapshot(), hierarchy="flat")[1:] == [
        ["department:10", "Sales", ""], ["department:20", "Support", ""], ["team:7", "Inbound", ""],
        ["team:8", "Guild", ""]]
    assert groups(snapshot(parents={"team:7": "department:20"}), hierarchy="flat",
                  root_group={"external_id": "r", "name": "R"})[2] == ["department:10", "Sales", "r"]


def test_the_sources_parents_win_when_the_parent_is_in_the_file():
    snap = snapshot(parents={"team:7": "department:20", "department:20": "office:1", "team:8": "department:99"},
                    groups=(SALES, SUPPORT, INBOUND, GUILD, STOCKHOLM))
    assert groups(snap)[1:] == [
        ["department:10", "Sales", ""], ["office:1", "Stockholm", ""], ["department:20", "Support", "office:1"],
        ["team:7", "Inbound", "department:20"],
        ["team:8", "Guild", "department:20"],  # department:99 is not in the file: the members' department instead
    ]


def test_a_cycle_in_the_sources_parents_is_refused():
    stuck = "department:10, department:20, team:7, team:8"  # team:8 under department:20, by its members
    with pytest.raises(SinkError, match=f"has a cycle: {stuck} never reach the top"):
        render_files(snapshot(parents={"department:10": "department:20", "department:20": "department:10"}), fmt())


def test_the_root_group_needs_its_own_external_id():
    with pytest.raises(SinkError, match="root_group's External ID 'team:7' is also a group"):
        render_files(snapshot(), fmt(root_group={"external_id": "team:7", "name": "All"}))


def test_a_group_id_holding_the_separator_is_refused():
    team = SnapshotGroup("team:Sales, EMEA", "Sales, EMEA", "team", "Sales, EMEA")
    with pytest.raises(SinkError, match="contains the group_separator ','.*e.g. '|'"):
        render_files(snapshot([person("1", ("team:Sales, EMEA",))], [team]), fmt())
    assert users(snapshot([person("1", ("team:Sales, EMEA",))], [team]), group_separator="|")[1][-1] == \
        "team:Sales, EMEA"


@pytest.mark.parametrize(("values", "settings", "missing"), [
    ({"email": None}, {}, "1 (username)"), ({"last_name": ""}, {}, "1 (last_name)"),
    ({"first_name": None, "email": None}, {"username": "external_id"}, "1 (first_name)"),
])
def test_a_row_without_a_mandatory_value_stops_the_file(values, settings, missing):
    with pytest.raises(SinkError) as caught:
        render_files(snapshot([person("1", **values)], []), fmt(**settings))
    assert str(caught.value) == f"Winningtemp needs external_id, first_name, last_name, username on every row; " \
                                f"empty for {missing}."


def test_identical_input_gives_identical_bytes_whatever_the_order_given():
    people, group_list = [ASA, BO, CARL], [SALES, SUPPORT, INBOUND, GUILD]
    first = render_files(snapshot(people, group_list), fmt())
    random.Random(7).shuffle(people)
    group_list.reverse()
    assert render_files(snapshot(people, group_list), fmt()) == first
    assert render_files(snapshot(), fmt()) == first
