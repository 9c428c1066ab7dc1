"""Mapping rules alone: compiled against two RecordSchemas (the memory source's and sink's), then applied."""

from __future__ import annotations

import pytest

from hrsync.config.mapping import compile_mapping, flatten_errors
from hrsync.testing.memory import MemoryRecord, MemorySinkRecord

RECORD = {"id": "7", "email": "anna@example.com", "first_name": "Anna", "last_name": "Berg", "gender": "female",
          "birthday": "1988-03-04", "hire_date": "2020-02-01", "status": "onboarding", "office": "  Malmö   Hub "}


def compiled(rules):
    mapping, errors = compile_mapping(rules, MemoryRecord, MemorySinkRecord)
    assert errors == {}
    return mapping


def errors_of(rules) -> dict[str, list[str]]:
    return compile_mapping(rules, MemoryRecord, MemorySinkRecord)[1]


def test_without_rules_each_sink_field_takes_the_same_named_source_field():
    mapping = compiled({})
    assert mapping.apply(RECORD) == {"email": "anna@example.com", "first_name": "Anna", "last_name": "Berg",
                                     "gender": "female", "birthday": "1988-03-04", "hire_date": "2020-02-01",
                                     "termination_date": None, "status": "onboarding"}
    assert all(rule.copies for rule in mapping.rules)  # plain copies: the fast path, checked once (records.py)
    assert mapping.create_only == set()


def test_rename_reads_another_source_field():
    mapping = compiled({"last_name": {"from": "office"}})
    assert mapping.apply(RECORD)["last_name"] == "  Malmö   Hub "
    assert "office" in mapping.source_fields and mapping.targets_of({"office"}) == {"last_name"}


def test_a_constant_is_always_that_value_and_reads_no_source_field():
    mapping = compiled({"status": {"constant": "active"}})
    assert mapping.apply({**RECORD, "status": "leave"})["status"] == "active"
    assert "status" not in mapping.source_fields and mapping.targets_of({"status"}) == set()
    (rule,) = [r for r in mapping.rules if r.target == "status"]
    assert not rule.copies


def test_a_default_fills_empty_values_only():
    mapping = compiled({"last_name": {"default": "Unknown"}})
    assert mapping.apply(RECORD)["last_name"] == "Berg"
    assert mapping.apply({**RECORD, "last_name": ""})["last_name"] == "Unknown"
    assert mapping.apply({**RECORD, "last_name": None})["last_name"] == "Unknown"
    assert mapping.targets_of({"last_name"}) == set()  # an unreadable source field falls back on the default


def test_a_value_map_maps_the_values_it_names_and_keeps_the_others():
    mapping = compiled({"status": {"map": {"onboarding": "active", "leave": None}}})
    assert mapping.apply(RECORD)["status"] == "active"
    assert mapping.apply({**RECORD, "status": "leave"})["status"] is None
    assert mapping.apply({**RECORD, "status": "inactive"})["status"] == "inactive"
    assert mapping.apply({**RECORD, "status": None})["status"] is None
    # hosts.yaml's `None:` is the string "None": it maps that word, never a missing value.
    assert compiled({"status": {"map": {"None": "active"}}}).apply({**RECORD, "status": None})["status"] is None


def test_transforms_run_in_order_and_a_single_one_may_be_a_string():
    mapping = compiled({"last_name": {"from": "office", "transform": ["collapse_spaces", "upper"]},
                        "first_name": {"transform": "lower"},
                        "hire_date": {"from": "office", "transform": ["empty_to_none"], "default": "2000-01-01"}})
    out = mapping.apply(RECORD)
    assert out["last_name"] == "MALMÖ HUB" and out["first_name"] == "anna"
    assert mapping.apply({**RECORD, "office": ""})["hire_date"] == "2000-01-01"
    assert compiled({"email": {"transform": ["upper", "lower"]}}).apply(RECORD)["email"] == "anna@example.com"


def test_parse_date_reads_the_format_given_and_leaves_empty_values_alone():
    mapping = compiled({"hire_date": {"from": "office", "transform": ["strip", "parse_date:%d.%m.%Y"]}})
    assert mapping.apply({**RECORD, "office": " 01.02.2020 "})["hire_date"] == "2020-02-01"
    assert mapping.apply({**RECORD, "office": ""})["hire_date"] == ""
    assert compiled({"hire_date": {"transform": "leading_date"}}).apply(
        {**RECORD, "hire_date": "2020-02-01T00:00:00+01:00"})["hire_date"] == "2020-02-01"


def test_create_only_and_skip():
    mapping = compiled({"hire_date": {"apply": "create_only"}, "gender": {"skip": True}, "birthday": None})
    assert mapping.create_only == {"hire_date"}
    out = mapping.apply(RECORD)
    assert "gender" not in out and "birthday" not in out and out["hire_date"] == "2020-02-01"


@pytest.mark.parametrize(("rules", "path", "says"), [
    ({"firstname": {}}, "mapping.firstname", "did you mean 'first_name'?"),
    ({"last_name": {"from": "surname"}}, "mapping.last_name.from", "Unknown source field 'surname'"),
    ({"last_name": {"transform": ["shout"]}}, "mapping.last_name.transform", "Unknown transform 'shout'"),
    ({"hire_date": {"transform": ["parse_date"]}}, "mapping.hire_date.transform", "parse_date needs a format"),
    ({"last_name": {"transform": ["lower:x"]}}, "mapping.last_name.transform", "takes no argument"),
    ({"gender": {"constant": "robot"}}, "mapping.gender.constant", "The sink would refuse 'robot'"),
    ({"birthday": {"default": "soon"}}, "mapping.birthday.default", "The sink would refuse 'soon'"),
    ({"status": {"map": {"leave": "away"}}}, "mapping.status.map.leave", "The sink would refuse 'away'"),
    ({"hire_date": {"from": "office"}}, "mapping.hire_date", "Type mismatch: source field 'office' is an org unit"),
    ({"status": {"constant": "active", "from": "status"}}, "mapping.status", "cannot be combined"),
    ({"status": {"colour": "red"}}, "mapping.status.colour", "Unknown field"),
    ({"status": {"apply": "sometimes"}}, "mapping.status.apply", "Must be one of"),
])
def test_each_mistake_is_reported_at_its_path_before_any_run(rules, path, says):
    errors = errors_of(rules)
    assert list(errors) == [path] and says in " ".join(errors[path])


def test_every_mistake_of_a_mapping_is_reported_at_once():
    errors = errors_of({"firstname": {}, "last_name": {"from": "surname"}, "gender": {"constant": "robot"}})
    assert set(errors) == {"mapping.firstname", "mapping.last_name.from", "mapping.gender.constant"}


def test_a_transform_or_map_makes_a_type_mismatch_the_authors_choice():
    assert errors_of({"hire_date": {"from": "office", "transform": "strip"}}) == {}
    assert errors_of({"email": {"from": "last_name"}}) == {}  # string to e-mail: the sink's schema checks it


def test_nested_errors_flatten_to_dotted_paths():
    messages = {"a": {"b": ["bad"], "_schema": ["whole"]}, "c": [{"d": ["x"]}, "plain"], "e": 3}
    assert flatten_errors(messages) == {"a.b": ["bad"], "a": ["whole"], "c.d": ["x"], "c": ["plain"], "e": ["3"]}
