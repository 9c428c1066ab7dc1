"""The File integration's format settings alone: defaults, partial overrides, and each refusal at its path."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from hrsync_plugins.winningtemp.file_settings import (
    GROUP_COLUMNS,
    MANDATORY_GROUP_COLUMNS,
    MANDATORY_USER_COLUMNS,
    USER_COLUMNS,
    Column,
    FileFormat,
    FileFormatSchema,
    RootGroup,
)


def load(**settings) -> FileFormat:
    return FileFormatSchema().load(settings)


def refusal(**settings) -> dict:
    with pytest.raises(ValidationError) as caught:
        load(**settings)
    return caught.value.messages


def test_defaults():
    fmt = load()
    assert [c.key for c in fmt.user_columns] == list(USER_COLUMNS)
    assert fmt.user_columns[0] == Column("external_id", "External ID")
    assert dict(fmt.group_columns) == GROUP_COLUMNS
    assert (fmt.username, fmt.group_separator, fmt.hierarchy, fmt.root_group) == ("email", ",", "nested", None)
    assert dict(fmt.status_values) == {"active": "Active", "onboarding": "Active", "leave": "Active",
                                       "inactive": "Inactive"}
    assert dict(fmt.gender_values) == {"male": "Male", "female": "Female", "diverse": "Other"}
    assert (fmt.keep_leavers_days, fmt.pre_hire_days) == (30, 0)
    assert (fmt.users_file, fmt.groups_file) == ("wt_users.csv", "wt_groups.csv")


def test_a_partial_mapping_renames_and_drops_only_what_it_names_in_the_default_order():
    fmt = load(user_columns={"groups": "Teams", "email": False, "birthday": None, "external_id": "EmployeeId"})
    assert fmt.user_columns == (
        Column("external_id", "EmployeeId"), Column("first_name", "First name"), Column("last_name", "Last name"),
        Column("username", "Username"), Column("gender", "Gender"), Column("hire_date", "Employed since"),
        Column("termination_date", "Employed until"), Column("status", "Status"), Column("groups", "Teams"))
    assert load(group_columns={"parent_external_id": False}).group_columns == (
        Column("external_id", "External ID"), Column("name", "Name"))


def test_a_mapping_naming_every_key_sets_the_order():
    order = ["username", "external_id", "last_name", "first_name", "email", "status", "groups", "gender",
             "birthday", "hire_date", "termination_date"]
    columns = {key: USER_COLUMNS[key] for key in order} | {"gender": False}
    assert [c.key for c in load(user_columns=columns).user_columns] == [k for k in order if k != "gender"]


@pytest.mark.parametrize("key", MANDATORY_USER_COLUMNS)
@pytest.mark.parametrize("drop", [False, None])
def test_a_mandatory_user_column_cannot_be_dropped(key, drop):
    messages = refusal(user_columns={key: drop})
    assert messages == {"user_columns": {key: [
        "Cannot be dropped: Winningtemp requires external_id, first_name, last_name and username on every row."]}}


@pytest.mark.parametrize("key", MANDATORY_GROUP_COLUMNS)
def test_a_mandatory_group_column_cannot_be_dropped(key):
    messages = refusal(group_columns={key: False})
    assert messages == {"group_columns": {key: [
        "Cannot be dropped: Winningtemp requires external_id and name on every row."]}}


def test_an_unknown_column_key_is_refused_naming_the_allowed_ones():
    messages = refusal(user_columns={"mail": "E-mail", "first_name": "Given name"})
    assert messages == {"user_columns": {"mail": [
        "Unknown key: use external_id, first_name, last_name, username, email, gender, birthday, hire_date, "
        "termination_date, status, groups."]}}
    assert refusal(group_columns={"parent": "Parent"}) == {"group_columns": {"parent": [
        "Unknown key: use external_id, name, parent_external_id."]}}


def test_two_columns_with_one_header_are_refused():
    assert refusal(user_columns={"email": "username "}) == {"user_columns": {"email": [
        "Same header as username ('username '): each column needs its own."]}}


@pytest.mark.parametrize("header", [True, "", "  ", 3])
def test_a_header_must_be_a_text(header):
    assert refusal(user_columns={"email": header}) == {"user_columns": {"email": [
        "Give the column's header, or false to drop the column."]}}


def test_columns_must_be_a_mapping():
    assert "user_columns" in refusal(user_columns=["email"])


def test_value_maps_override_some_values_and_refuse_unknown_keys():
    fmt = load(status_values={"leave": "Inactive"}, gender_values={"diverse": "Diverse"})
    assert fmt.status_values["leave"] == "Inactive" and fmt.status_values["active"] == "Active"
    assert fmt.gender_values["diverse"] == "Diverse" and fmt.gender_values["male"] == "Male"
    assert refusal(status_values={"retired": "Inactive"}) == {"status_values": {"retired": [
        "Unknown key: use active, onboarding, leave, inactive."]}}
    assert refusal(gender_values={"male": ""}) == {"gender_values": {"male": ["Give a non-empty text."]}}


@pytest.mark.parametrize("separator", [";", "", '"', "\n", "a;b"])
def test_the_group_separator_cannot_break_the_row(separator):
    assert list(refusal(group_separator=separator)) == ["group_separator"]


def test_root_group():
    assert load(root_group={"external_id": "root", "name": "Acme"}).root_group == RootGroup("root", "Acme")
    assert refusal(root_group={"name": "Acme"}) == {"root_group": {"external_id": ["Missing data for required field."]}}


@pytest.mark.parametrize(("settings", "path"), [
    ({"username": "mail"}, "username"), ({"hierarchy": "tree"}, "hierarchy"),
    ({"keep_leavers_days": -1}, "keep_leavers_days"), ({"pre_hire_days": -1}, "pre_hire_days"),
    ({"users_file": "../wt_users.csv"}, "users_file"), ({"groups_file": "wt_users.csv"}, "groups_file"),
    ({"delimiter": ","}, "delimiter"),
])
def test_other_refusals(settings, path):
    assert list(refusal(**settings)) == [path]
