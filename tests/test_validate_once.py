"""Each value is validated once: the sink schema skips what the source schema already checked the same way."""

from __future__ import annotations

from types import SimpleNamespace

from marshmallow import EXCLUDE, ValidationError, fields, post_load, validate, validates_schema

from hrsync.config.mapping import FieldRule
from hrsync.sync.engine import sync_connection
from hrsync.sync.records import _checked_once
from hrsync.testing.memory import MemoryRecord, MemorySinkRecord


class StricterSink(MemorySinkRecord):
    status = fields.String(allow_none=True, validate=validate.OneOf(["active"]), metadata={"standard": "status"})


class NoNullSink(MemorySinkRecord):
    first_name = fields.String(metadata={"standard": "first_name"})  # a missing name is refused, not None


class ListSource(MemoryRecord):
    office = fields.List(fields.String(), metadata={"standard": "office"})


class ListSink(MemorySinkRecord):
    office = fields.List(fields.String(validate=validate.Length(max=3)), metadata={"standard": "office"})


class ReshapingSource(MemoryRecord):
    @post_load
    def _shout(self, data, **kwargs):
        return {**data, "first_name": (data.get("first_name") or "").upper()}


class HookedSink(MemorySinkRecord):
    @validates_schema
    def _names(self, data, **kwargs):
        if data.get("first_name") == data.get("last_name"):
            raise ValidationError("first and last name are the same", "last_name")


def test_only_plain_copies_between_identical_standard_fields_skip_the_sink_schema(memory_config):
    config, _ = memory_config(mapping={"first_name": {"from": "first_name"}, "last_name": {"from": "last_name",
                                                                                  "transform": "upper"}})
    conn = config.connection("mem")
    source = MemoryRecord(unknown=EXCLUDE)
    once = _checked_once(conn, source, MemorySinkRecord(unknown=EXCLUDE))
    assert "first_name" in once and "gender" in once
    assert "last_name" not in once  # transformed: the sink checks what the transform made
    assert "email" in once  # required by the sink: the sink's schema checks it only when it is missing
    assert "status" not in _checked_once(conn, source, StricterSink(unknown=EXCLUDE))
    assert _checked_once(conn, source, HookedSink(unknown=EXCLUDE)) == frozenset()
    assert _checked_once(conn, ReshapingSource(unknown=EXCLUDE), MemorySinkRecord(unknown=EXCLUDE)) == frozenset()
    lists = SimpleNamespace(mapping=SimpleNamespace(rules=[FieldRule("office", "office")]))
    assert "office" not in _checked_once(lists, ListSource(unknown=EXCLUDE), ListSink(unknown=EXCLUDE))


def test_a_value_the_source_accepts_and_the_sink_refuses_is_still_skipped(memory_config, memory_world, monkeypatch):
    from hrsync.testing.memory import MemorySink

    monkeypatch.setattr(MemorySink, "RecordSchema", StricterSink)
    memory_world.people = [{"id": "1", "email": "a@example.com", "first_name": "A", "status": "active"},
                           {"id": "2", "email": "b@example.com", "first_name": "B", "status": "leave"}]
    config, plugins = memory_config()
    result = sync_connection(config, "mem", plugins)
    (skipped,) = result.plan.of("skip")
    assert skipped.source_id == "2" and "status" in skipped.reason
    assert [u["email"] for u in memory_world.users.values()] == ["a@example.com"]


def test_a_value_the_sink_refuses_as_missing_is_still_refused(memory_config, memory_world, monkeypatch):
    from hrsync.testing.memory import MemorySink

    monkeypatch.setattr(MemorySink, "RecordSchema", NoNullSink)
    memory_world.people = [{"id": "1", "email": "a@example.com", "first_name": "A", "status": "active"},
                           {"id": "2", "email": "b@example.com", "status": "active"}]  # no first name
    config, plugins = memory_config()
    result = sync_connection(config, "mem", plugins)
    (skipped,) = result.plan.of("skip")
    assert skipped.source_id == "2" and "first_name" in skipped.reason
    assert [u["email"] for u in memory_world.users.values()] == ["a@example.com"]
