"""The record loader alone (sync/loading.py): the same answers as ``Schema.load``, each distinct plain value
checked once."""

from __future__ import annotations

import copy
import datetime as dt
import functools

import pytest
from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load, validate

from hrsync.fields import standard_field
from hrsync.sync.loading import MEMO_SIZE, RecordLoader
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


class Renaming(Schema):
    """The usual marshmallow idiom: a pre_load hook that changes the record in place."""

    class Meta:
        unknown = EXCLUDE

    birthday = standard_field("birthday")

    @pre_load
    def rename(self, data, **kwargs):
        data["birthday"] = data.pop("dynamic_7", None)
        return data


class Dropping(Schema):
    name = fields.String()

    @pre_load
    def nothing(self, data, **kwargs):
        return None


class Defaulting(Schema):
    name = fields.String()

    def load(self, data, **kwargs):
        return super().load({"name": "default", **data}, **kwargs)


class EmptyKey(Schema):
    class Meta:
        unknown = EXCLUDE

    name = fields.String(data_key="")


class Instants(Schema):
    class Meta:
        unknown = EXCLUDE

    day = standard_field("hire_date")
    share = fields.Float()


UTC, CET = dt.UTC, dt.timezone(dt.timedelta(hours=1))


@pytest.mark.parametrize(("schema_class", "records"), [
    (Renaming, [{"dynamic_7": "1990-13-01"}, {"dynamic_7": "1990-12-01"}]),
    (Dropping, [{"name": "x"}]),
    (Defaulting, [{}]),
    (EmptyKey, [{"": "from-empty-key", "name": "from-name"}]),
    # The same instant in two time zones is equal, and so are 0.0 and -0.0: neither may answer for the other.
    (Instants, [{"day": dt.datetime(2020, 1, 1, 23, 30, tzinfo=UTC)},
                {"day": dt.datetime(2020, 1, 2, 0, 30, tzinfo=CET)}, {"share": 0.0}, {"share": -0.0}]),
])
def test_unusual_schemas_and_values_answer_as_the_schema(schema_class, records):
    loader = RecordLoader(schema_class())
    for record in records:
        expected = _outcome(schema_class().load, copy.deepcopy(record))
        got = _outcome(loader.load, record)
        assert got == expected and str(got) == str(expected), record  # str: -0.0 is == 0.0


def test_code_beyond_the_value_is_asked_every_time():
    """Field processors, validators wrapping other code and subclasses changing a helper may look elsewhere."""
    directory = {"B": "B1"}

    def known_team(value):
        if value not in directory["teams"]:
            raise ValidationError("Unknown team.")

    class Scaled(fields.Integer):
        def _format_num(self, value):
            return int(value) * directory["scale"]

    class Plugin(Schema):
        class Meta:
            unknown = EXCLUDE

        boss = standard_field("supervisor", post_load=lambda value: directory.get(value, value))
        team = fields.String(validate=validate.And(known_team))
        size = Scaled()

    loader = RecordLoader(Plugin())
    directory.update(scale=1, teams={"Ops"})
    assert loader.load({"boss": "B", "team": "Ops", "size": 5}) == {"boss": "B1", "team": "Ops", "size": 5}
    directory.update(B="B2", scale=100, teams=set())
    with pytest.raises(ValidationError) as caught:
        loader.load({"boss": "B", "team": "Ops", "size": 5})
    assert set(caught.value.messages) == {"team"}
    assert loader.load({"boss": "B", "size": 5}) == {"boss": "B2", "size": 500}


def test_long_values_are_not_kept():
    loader = RecordLoader(Keyed())
    note = "x" * 100_000
    assert loader.load({"id": "1", "team": note})["team_name"] == note
    memo = next(memo for name, _, _, memo in loader.fields if name == "team_name")
    assert memo == {}
