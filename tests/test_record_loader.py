"""RecordLoader: the same answers as ``Schema.load``, each distinct plain value checked once."""

from __future__ import annotations

import functools

import pytest
from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate

from hrsync.fields import standard_field
from hrsync.loading import MEMO_SIZE, RecordLoader
from hrsync.testing.memory import MemoryRecord, MemorySinkRecord
from hrsync_plugins.personio.source import RecordSchema as PersonioRecord


class Keyed(Schema):
    """Data keys, attributes, defaults and required fields: the parts of Schema._deserialize the loader repeats."""

    class Meta:
        unknown = EXCLUDE

    ident = fields.String(required=True, data_key="id")
    team = fields.String(attribute="team_name", allow_none=True)
    count = fields.Integer(load_default=0)
    flag = fields.Boolean(allow_none=True)
    grade = fields.String(validate=validate.OneOf(["a", "b"]))
    email = standard_field("email")
    hired = standard_field("hire_date")


RECORDS = [
    {"id": "1", "team": "Ops", "count": 3, "flag": True, "grade": "a", "email": " A@Example.com ",
     "hired": "2020-01-02"},
    {"id": "2", "team": "Ops", "flag": "yes", "grade": "a", "email": "", "hired": None},
    {"id": "3", "team": None, "count": True, "grade": "a"},  # a bool is not an integer
    {"id": "4", "count": 1, "grade": "c"},  # not one of the choices
    {"id": "5", "team": ["Ops"]},  # unhashable where a string belongs
    {"team": "Ops"},  # required id missing
    {"id": "7", "email": "not-an-address", "hired": "2020-13-01", "extra": "ignored"},
    {"id": 8, "flag": 1, "count": "12"},
    {"id": "9", "first_name": "  Zoë ", "gender": " Female ", "status": "ACTIVE", "birthday": "1990-02-03",
     "email": "zoe@example.com", "hire_date": "2019-01-01T00:00:00+01:00"},
    {"id": "10", "gender": "robot", "status": "active", "email": "x@example.com"},
]


def _outcome(load, record):
    try:
        return "ok", load(record)
    except ValidationError as exc:
        return "invalid", exc.normalized_messages()


@pytest.mark.parametrize("schema_class", [Keyed, MemoryRecord, MemorySinkRecord, PersonioRecord])
def test_the_loader_answers_as_the_schema_does_every_record_twice(schema_class):
    schema = schema_class(unknown=EXCLUDE)
    loader = RecordLoader(schema)
    for record in RECORDS + RECORDS:  # the second pass answers from the memos
        assert _outcome(loader.load, record) == _outcome(schema.load, record), record


def test_each_distinct_value_is_checked_once(monkeypatch):
    calls = []
    original = fields.String._deserialize

    @functools.wraps(original)
    def counting(self, value, attr, data, **kwargs):
        calls.append((attr, value))
        return original(self, value, attr, data, **kwargs)

    monkeypatch.setattr(fields.String, "_deserialize", counting)
    loader = RecordLoader(Keyed())
    for number in range(50):
        loader.load({"id": str(number), "team": "Ops", "grade": "a"})
    assert calls.count(("team", "Ops")) == 1
    assert calls.count(("grade", "a")) == 1
    assert len([c for c in calls if c[0] == "id"]) == 50  # ids never repeat: each is checked


def test_true_is_not_taken_for_one():
    loader = RecordLoader(Keyed())
    assert loader.load({"id": "1", "count": 1})["count"] == 1
    with pytest.raises(ValidationError) as caught:
        loader.load({"id": "2", "count": True})  # equal to 1 as a dict key, but not an integer to marshmallow
    assert "count" in caught.value.messages


def test_a_plugin_field_or_validator_is_asked_every_time():
    """A plugin's own field class or validator function may look beyond the value: never remembered."""
    seen = []

    class ByCountry(fields.String):
        def _deserialize(self, value, attr, data, **kwargs):
            return f"{value}-{data.get('country')}"

    class Plugin(Schema):
        office = ByCountry()
        team = fields.String(validate=lambda value: seen.append(value) is None)

    loader = RecordLoader(Plugin(unknown=EXCLUDE))
    assert loader.plain
    assert loader.load({"office": "HQ", "country": "se", "team": "Ops"})["office"] == "HQ-se"
    assert loader.load({"office": "HQ", "country": "de", "team": "Ops"})["office"] == "HQ-de"
    assert seen == ["Ops", "Ops"]


def test_a_schema_with_hooks_is_loaded_by_marshmallow():
    class Hooked(Schema):
        name = fields.String()

        @post_load
        def shout(self, data, **kwargs):
            return {**data, "name": data["name"].upper()}

    loader = RecordLoader(Hooked())
    assert not loader.plain
    assert loader.load({"name": "ops"}) == {"name": "OPS"}


def test_memos_stop_growing_at_their_size():
    loader = RecordLoader(Keyed())
    for number in range(MEMO_SIZE + 100):
        loader.load({"id": f"person-{number}"})
    memo = next(memo for name, _, _, memo in loader.fields if name == "ident")
    assert len(memo) == MEMO_SIZE
    assert loader.load({"id": "person-new"})["ident"] == "person-new"
